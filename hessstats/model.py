"""The model: a validated log-likelihood, its start values, names and data, ready to fit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hessstats._config import float64, x64
from hessstats.core import engine
from hessstats.core.covariance import covariance_for
from hessstats.core.linalg import DEFAULT_RTOL, invert_information
from hessstats.core.optimize import NR_TOL, OptimizerMethod, certify, maximize
from hessstats.core.params import ParamSpec
from hessstats.errors import PrecisionWarning, SpecificationError, message, warn
from hessstats.inference.defaults import PostEstimationDefaults
from hessstats.inference.restrictions import FixedLoglike
from hessstats.results import FitResult
from hessstats.rows.leaves import leading_length

LogLike = Callable[[Any, Any], Any]


@dataclass(frozen=True, eq=False, init=False)
class Model:
    """A log-likelihood ``loglike(params, data)`` with start values, names and data, validated once.

    ``loglike`` returns per-observation log-likelihood values, shape ``(n,)`` (a scalar total is
    accepted, but then covariances that need per-observation scores are unavailable). It is
    *summed*, never averaged: a mean log-likelihood would rescale standard errors by sqrt(n).

    Data are copied once into float64 device arrays at construction; the caller's objects are
    never modified. ``transforms`` (``{name: fn(params) -> scalar or vector}``) declares
    natural-scale quantities reported by ``FitResult.transformed()``; ``defaults`` (a
    :class:`~hessstats.inference.defaults.PostEstimationDefaults`) what ``lr_test_null()``,
    ``margins()`` and ``transformed()`` use when called without arguments. ``extra`` is free-form
    metadata for the user.

    Scale (issue 7): ``chunk_size=c`` evaluates the same compiled kernel on row blocks of ``c``
    rows and adds them (bounded memory); ``data`` may also be a row source
    (:class:`~hessstats.ParquetSource`, :class:`~hessstats.DaskSource`). ``shard=True`` (or a
    device count, or a mesh) splits the rows over JAX devices. ``index`` is set by
    :func:`~hessstats.IndexModel` (Hessian as ``X' diag(w) X``). ``progress`` shows a tqdm bar
    over row blocks (default: when stderr is a terminal and there are many blocks).

    Example
    -------
    >>> import jax.numpy as jnp, numpy as np
    >>> y = np.array([1.0, 2.0, 4.0])
    >>> def loglike(p, d):
    ...     return -0.5 * ((d["y"] - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
    >>> model = Model(loglike, {"mu": 0.0, "sigma": 1.0}, data={"y": y})
    >>> model.names, model.nobs
    (('mu', 'sigma'), 3)
    """

    loglike: LogLike
    spec: ParamSpec
    start: np.ndarray
    data: Any
    nobs: int | None
    per_observation: bool
    description: Mapping[str, Any]
    expected_information: Callable[[np.ndarray], np.ndarray] | None
    extra: Mapping[str, Any] = field(default_factory=dict)
    defaults: PostEstimationDefaults = field(default_factory=PostEstimationDefaults)
    chunk_size: int | None = None
    index: Any = None
    weights: Any = None
    progress: bool | None = None

    @float64
    def __init__(self, loglike: LogLike, start: Any, data: Any = None, *,
                 names: Mapping[str, Any] | Sequence[str] | None = None, nobs: int | None = None,
                 description: Mapping[str, Any] | None = None,
                 expected_information: Callable[[np.ndarray], np.ndarray] | None = None,
                 extra: Mapping[str, Any] | None = None,
                 transforms: Mapping[str, Callable[[Any], Any]] | None = None,
                 chunk_size: int | None = None, index: Any = None, shard: Any = False,
                 progress: bool | None = None, defaults: PostEstimationDefaults | None = None) -> None:
        if not callable(loglike):
            raise SpecificationError(message(
                "loglike is not callable", expected="a function loglike(params, data)",
                got=f"{type(loglike).__name__}: {loglike!r}"[:200], fix="pass the function itself"))
        spec = ParamSpec.from_start(start, names)
        theta0 = np.asarray(spec.ravel(start), dtype=np.float64)
        data, sample, chunk_size, source_nobs = engine.prepare(data, chunk_size)
        jaxpr, out = _trace(loglike, spec, theta0, sample)  # one trace validates shape and dtypes
        shape = _output_shape(out)
        per_obs = len(shape) == 1
        _check_float32(jaxpr)
        if nobs is None:
            nobs = source_nobs or (shape[0] if per_obs else leading_length(data))
        engine.check(per_obs, chunk_size, shard)
        data, weights = engine.shard(data, nobs, shard)
        values = dict(loglike=loglike, spec=spec, start=theta0, data=data, nobs=nobs,
                      per_observation=per_obs, description=dict(description or {}),
                      expected_information=expected_information,
                      extra=dict(extra or {}), defaults=_defaults(defaults, transforms),
                      chunk_size=chunk_size, index=index, weights=weights, progress=progress)
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the flat parameter vector."""
        return self.spec.names

    @property
    def k_params(self) -> int:
        """Number of free parameters."""
        return self.spec.size

    def evaluate(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``(loglike, gradient, Hessian)`` at the flat vector ``theta``, as float64 numpy.

        In-memory, sharded, chunked (``chunk_size``) and distributed (a Dask source) fits all call
        the same compiled kernel, on all rows or on row blocks whose sums are added.
        """
        return engine.evaluate(self, np.asarray(theta, dtype=np.float64))

    def loglike_obs(self, theta: np.ndarray) -> np.ndarray:
        """Per-observation log-likelihood values at ``theta`` (a 0-d array for a scalar model)."""
        return engine.rows(self, np.asarray(theta, dtype=np.float64), "loglike_obs")

    def scores(self, theta: np.ndarray) -> np.ndarray:
        """Per-observation scores ``(n, k)`` at ``theta``; needs a per-observation log-likelihood."""
        if not self.per_observation:
            raise SpecificationError(message(
                "per-observation scores are unavailable",
                expected="a log-likelihood returning one value per observation, shape (n,)",
                got="a log-likelihood returning a scalar",
                fix="return the per-observation terms (do not sum them) to use OPG, robust or cluster covariances"))
        return engine.rows(self, np.asarray(theta, dtype=np.float64), "scores")

    def params_tree(self, theta: np.ndarray) -> Any:
        """The parameter pytree for a flat vector (numpy leaves)."""
        with x64():
            return jax.tree_util.tree_map(np.asarray, self.spec.unravel(jnp.asarray(theta)))

    def replace(self, **changes: Any) -> Model:
        """A copy with some fields changed (``dataclasses.replace`` without re-validation): what
        restricted fits and profiles use to swap the fixed values in ``data``.

        Example
        -------
        >>> import numpy as np
        >>> m = Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
        >>> m.replace(description={"model": "renamed"}).description
        {'model': 'renamed'}
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise SpecificationError(message(
                "Model.replace got unknown fields", expected=f"fields among {[f.name for f in dataclasses.fields(self)]}",
                got=str(unknown), fix="check the spelling"))
        new = object.__new__(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(new, f.name, changes.get(f.name, getattr(self, f.name)))
        return new

    def fix(self, fixed: Mapping[str, float]) -> Model:
        """This model with the parameters named in ``fixed`` (flat names) held at those values.

        The restricted log-likelihood reads the fixed values from its data, so refits with other
        fixed values (profiles) reuse its compiled kernels.

        Example
        -------
        >>> import numpy as np
        >>> m = Model(lambda p, d: -0.5 * ((d - p["a"]) ** 2 + p["b"] ** 2), {"a": 0.0, "b": 0.0}, np.ones(3))
        >>> m.fix({"b": 1.0}).names
        ('a',)
        """
        names = list(self.names)
        self.spec.positions(list(fixed), context="cannot fix these parameters: ")
        if not fixed or len(fixed) >= len(names):
            raise SpecificationError(message(
                "cannot fix these parameters", expected=f"a non-empty proper subset of {names}",
                got=f"{dict(fixed)}", fix="leave at least one parameter free"))
        base = np.array(self.start, dtype=np.float64)
        for name, value in fixed.items():
            base[names.index(name)] = float(value)
        free = np.array([i for i, n in enumerate(names) if n not in fixed], dtype=np.int64)
        data = {"data": self.data, "base": base, "free": free}
        label = self.description.get("model", getattr(self.loglike, "__name__", "custom"))
        return Model(FixedLoglike(self.loglike, self.spec), np.asarray(self.start)[free], data,
                     names=[names[i] for i in free], nobs=self.nobs, chunk_size=self.chunk_size,
                     description={**self.description, "model": f"{label} with {dict(fixed)} fixed"})

    @float64
    def fit(self, *, start: Any = None, method: str | OptimizerMethod = "auto", cov_type: str = "nonrobust",
            groups: Any = None, cov_options: Mapping[str, Any] | None = None, maxiter: int = 100,
            nr_tol: float = NR_TOL, hessian_rtol: float = DEFAULT_RTOL) -> FitResult:
        """Fit by maximum likelihood: optimise, certify, compute the covariance, return a frozen result.

        - ``method``: ``"auto"`` (default: trust-region Newton on the equilibrated information, full
          Newton steps near the maximum; Fisher scoring where the observed information is indefinite
          and the model has ``expected_information``), ``"newton"`` (line search only) or
          ``"trust-exact"`` (the trust region on the observed information only).
        - ``cov_type``: a name in :data:`hessstats.core.covariance.REGISTRY`: ``"nonrobust"`` (default,
          inverse observed information), ``"opg"``, ``"HC0"``, ``"robust"`` (HC0 x n/(n-1)),
          ``"cluster"`` (needs ``groups``: labels or a data column name; ``cov_options={"correction":
          "stata"|"statsmodels"|"none"}``) or ``"expected"``. See :mod:`hessstats.core.covariance`.
        - ``nr_tol``: converged means ``g'(-H)^-1 g < nr_tol`` **and** a negative definite Hessian.
        - ``hessian_rtol``: eigenvalues of the equilibrated information below ``hessian_rtol`` times
          the largest count as zero (unidentified).

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp
        >>> def loglike(p, d):
        ...     return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
        >>> res = Model(loglike, {"mu": 0.0, "sigma": 1.0}, data=np.array([1.0, 2.0, 4.0])).fit()
        >>> round(float(res.params["mu"]), 6)
        2.333333
        """
        theta0 = self.start if start is None else self.spec.flatten(start, what="start")
        opt = maximize(self, theta0, method=method, maxiter=maxiter)
        inverse = invert_information(opt.hessian, self.names, rtol=hessian_rtol, eigen=opt.eigen)
        converged, why = certify(opt, inverse, nr_tol, self.names)
        cov, codes = covariance_for(self, opt.theta, inverse, cov_type, groups, cov_options)
        return FitResult(model=self, theta=opt.theta, llf=opt.llf, gradient_array=opt.gradient,
                         hessian_array=opt.hessian, cov_type=cov_type, cov_array=cov,
                         inverse_information=inverse, converged=converged, iterations=opt.iterations,
                         convergence_message=why, groups=codes, cov_options=dict(cov_options or {}))


def _defaults(defaults: PostEstimationDefaults | None, transforms: Mapping[str, Callable[[Any], Any]] | None
              ) -> PostEstimationDefaults:
    """The model's post-estimation defaults, with ``transforms=`` merged in."""
    defaults = defaults or PostEstimationDefaults()
    if transforms:
        defaults = dataclasses.replace(defaults, transforms={**defaults.transforms, **dict(transforms)})
    return defaults


def _trace(loglike: LogLike, spec: ParamSpec, theta0: np.ndarray, data: Any) -> tuple[Any, Any]:
    """Trace the log-likelihood once at the start values: ``(closed jaxpr, output shape)``."""
    try:
        return jax.make_jaxpr(lambda t, d: loglike(spec.unravel(t), d), return_shape=True)(jnp.asarray(theta0), data)
    except Exception as exc:  # the user's function failed while tracing: say where
        raise SpecificationError(message(
            "the log-likelihood failed when called with the start values",
            expected="loglike(params, data) to run on a params pytree shaped like start",
            got=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:400],
            fix="call loglike(start, data) yourself to debug; use jax.numpy, not numpy or math, inside it")) from exc


def _output_shape(out: Any) -> tuple[int, ...]:
    shape = getattr(out, "shape", None)
    dtype = getattr(out, "dtype", None)
    if shape is None or dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise SpecificationError(message(
            "the log-likelihood returned the wrong kind of value",
            expected="a float array of per-observation values, shape (n,), or a float scalar",
            got=f"{type(out).__name__} with dtype {dtype}",
            fix="return a jax.numpy float array"))
    if len(shape) > 1 or (len(shape) == 1 and shape[0] == 0):
        raise SpecificationError(message(
            "the log-likelihood returned the wrong shape",
            expected="per-observation values of shape (n,), or a scalar",
            got=f"shape {tuple(shape)}",
            fix="return a 1-d array (e.g. `.ravel()`, or sum over the non-observation axes)"))
    return tuple(shape)


def _check_float32(jaxpr: Any) -> None:
    """Warn when the log-likelihood closes over float32 arrays or computes in float32."""
    consts = [c for c in jaxpr.consts if getattr(c, "dtype", None) in (np.float32, np.float16)]
    ops = {str(e.primitive) for e in jaxpr.jaxpr.eqns
           if any(getattr(v.aval, "dtype", None) in (np.float32, np.float16) for v in e.outvars)}
    if consts or ops:
        what = []
        if consts:
            what.append(f"{len(consts)} captured constant(s) of shape {[tuple(c.shape) for c in consts][:5]}")
        if ops:
            what.append(f"float32 operations {sorted(ops)[:5]}")
        warn(
            "the log-likelihood uses float32: " + " and ".join(what) + ". Results keep only float32 "
            "precision in those terms. Pass such arrays through `data` (converted to float64) or create "
            "them as float64, and do not cast to float32 inside the function.", PrecisionWarning)
