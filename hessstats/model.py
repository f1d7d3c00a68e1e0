"""The model: a validated log-likelihood, its start values, names and data, ready to fit."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hessstats._checks import check_positive_int, check_tolerance
from hessstats._config import float64, x64
from hessstats.core import engine, survey
from hessstats.core.compilation import Program, cached_program, cached_trace, charge, compile_totals, first_trace, is_trusted
from hessstats.core.covariance import covariance_for
from hessstats.core.derivatives import FlatLoglike
from hessstats.core.indices import check_indices
from hessstats.core.linalg import DEFAULT_RTOL, invert_information
from hessstats.core.optimize import NR_TOL, OptimizerMethod, certify, maximize
from hessstats.core.params import ParamSpec
from hessstats.core.scores import block_rows, uses_row_blocks
from hessstats.errors import PrecisionWarning, SpecificationError, SpecificationWarning, message, warn
from hessstats.inference.defaults import PostEstimationDefaults
from hessstats.inference.restrictions import FixedLoglike
from hessstats.results import FitResult
from hessstats.rows.leaves import leading_length, row_block
from hessstats.rows.prepare import index_array
from hessstats.rows.source import RowSource
from hessstats.rows.weights import WeightType, effective_weights, resolve_weights, weighted_nobs

MEAN_CHECK_MIN_NOBS = 20
"""The mean-log-likelihood check (information-matrix equality) runs from this many observations."""
MEAN_CHECK_PARAMS = 8
"""At most this many parameters' score variances are compared with the Hessian's diagonal."""

LogLike = Callable[[Any, Any], Any]


@dataclass(frozen=True, eq=False, init=False)
class Model:
    """A log-likelihood ``loglike(params, data)`` with start values, names and data, validated once.

    ``loglike`` returns per-observation log-likelihood values, shape ``(n,)`` (a scalar total is
    accepted, but then covariances that need per-observation scores are unavailable). It is
    *summed*, never averaged: a mean log-likelihood would rescale standard errors by sqrt(n).

    Data are copied once into float64 device arrays at construction; the caller's objects are
    never modified. Integer and boolean data become float64 too (so ``x ** 2`` of an int32 column
    cannot overflow); an array the function uses to *index* (group codes, category numbers) keeps
    its integer dtype when wrapped with :func:`~hessstats.rows.prepare.index_array`:
    ``{"g": hs.index_array(codes)}`` (for a DataFrame, pass ``{**df, "g": hs.index_array(df["g"])}``).
    pandas objects in ``data`` are aligned by row label (see
    :func:`~hessstats.rows.prepare.prepare_rows`); the row labels are kept (``row_labels``) to
    align ``groups`` later.

    The function is traced twice when the model is built: it must be pure (a function that draws
    numpy random numbers or keeps Python state is refused), and the arrays it captures from
    globals or closures are copied then, so the model keeps those values whatever happens to the
    originals later (build a new model to use new values). With ``chunk_size``, a row source or
    ``shard``, the per-row values must not depend on other rows (checked on the first rows: lags and
    cumulative sums are refused).

    A scalar total with several data rows cannot be checked for being a sum: it warns
    (:class:`~hessstats.errors.SpecificationWarning`) unless ``nobs=`` is given; a per-observation
    log-likelihood divided by ``n`` is detected after the fit (the scores' outer product is about
    ``1/n`` times the negative Hessian) and warned about in the same way.

    ``transforms`` (``{name: fn(params) -> scalar or vector}``) declares
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

    Parameters
    ----------
    loglike : callable
        ``loglike(params, data)``: per-observation log-likelihood values in ``jax.numpy``.
    start : pytree
        Start values (a dict of scalars/arrays, or one array).
    data : any, optional
        Arrays, dicts of arrays, pandas objects or a row source.
    names : dict or sequence of str, optional
        ``{key: [names of its elements]}``, or a flat list when the dict's keys are in sorted order.
    nobs : int, optional
        Number of observations, for a scalar (total) log-likelihood.
    description : mapping, optional
        What the model is (``model``, ``formula``, ...): shown in reports and stored in snapshots.
    expected_information : callable, optional
        ``fn(theta) -> (k, k)`` expected information, for ``cov_type="expected"`` and Fisher scoring.
    extra : mapping, optional
        Free-form metadata.
    transforms : mapping, optional
        ``{name: fn(params)}`` natural-scale quantities for ``FitResult.transformed()``.
    chunk_size : int, optional
        Evaluate on row blocks of this many rows (bounded memory).
    index : any, optional
        Set by :func:`~hessstats.IndexModel`.
    shard : bool, int or mesh, optional
        Split the rows over JAX devices.
    progress : bool, optional
        A tqdm bar over row blocks (default: on a terminal with many blocks).
    defaults : PostEstimationDefaults, optional
        What argument-free ``lr_test_null()``, ``margins()`` and ``transformed()`` use.
    row_buckets : bool
        In-memory data of at most 131072 rows are evaluated padded to a bucket size (powers of two
        from 64 rows, then steps of ``2^(1/4)``; :func:`~hessstats.core.engine.bucket_rows`) with
        weight 0 on the padding rows, so that models of nearby sizes reuse compiled kernels (default
        True; results are the same). ``False`` evaluates exactly the given rows.

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
    program: Program | None = None
    """The validated log-likelihood (:class:`~hessstats.core.compilation.Program`): what every kernel runs."""
    consts: tuple = ()
    """The arrays the log-likelihood captured, copied when the model was built."""
    row_labels: Any = None
    """The data's pandas row labels (a ``pd.Index``) when the data had them, else None."""
    weight_type: WeightType | None = None
    """What ``weights=`` mean (:class:`~hessstats.rows.weights.WeightType`); None without weights."""
    case_weights: Any = None
    """The weights multiplying each row's log-likelihood (analytic ones rescaled), a float64 device array of
    one weight per row (None without weights, or for a row source, whose blocks carry them as ``weight_key``)."""
    raw_weights: Any = None
    """The weights as given (a read-only float64 numpy copy; None for a row source)."""
    weight_key: str | None = None
    """For a row source: the data key holding the weights in every block."""
    weight_scale: float = 1.0
    """Factor applied to a row source's block weights (analytic weights: n / sum(w))."""
    weighted_nobs: Any = None
    """The number of observations the weighted rows stand for (``nobs`` without weights): ``sum(w)``
    for frequency/importance weights, rows with positive weight for analytic/probability weights."""
    padding: Any = None
    """The rows padded to a bucket size (:class:`~hessstats.core.engine.RowPadding`), what the in-memory
    kernels run on so that models of nearby sizes share compiled kernels; None when not padded."""

    @float64
    def __init__(self, loglike: LogLike, start: Any, data: Any = None, *,
                 names: Mapping[str, Any] | Sequence[str] | None = None, nobs: int | None = None,
                 description: Mapping[str, Any] | None = None,
                 expected_information: Callable[[np.ndarray], np.ndarray] | None = None,
                 extra: Mapping[str, Any] | None = None,
                 transforms: Mapping[str, Callable[[Any], Any]] | None = None,
                 chunk_size: int | None = None, index: Any = None, shard: Any = False,
                 progress: bool | None = None, defaults: PostEstimationDefaults | None = None,
                 weights: Any = None, weight_type: WeightType | str | None = None,
                 row_buckets: bool = True) -> None:
        if not callable(loglike):
            raise SpecificationError(message(
                "loglike is not callable", expected="a function loglike(params, data)",
                got=f"{type(loglike).__name__}: {loglike!r}"[:200], fix="pass the function itself"))
        if not isinstance(row_buckets, (bool, np.bool_)):
            raise SpecificationError(message(
                "row_buckets must be True or False", expected="row_buckets=True (pad rows to shared kernel "
                "sizes) or False", got=f"{type(row_buckets).__name__}: {row_buckets!r}"[:120], fix="pass a bool"))
        if nobs is not None:
            nobs = check_positive_int(nobs, "nobs", hint=" (the number of observations the log-likelihood sums)")
        spec = ParamSpec.from_start(start, names)
        theta0 = np.asarray(spec.ravel(start), dtype=np.float64)
        theta0.flags.writeable = False
        raw_data = data
        data, sample, chunk_size, source_nobs, labels = engine.prepare(data, chunk_size)
        rows = leading_length(sample)
        # a trusted built-in whose rows will be padded is traced at its bucket's shapes only (cached)
        bucket_to = engine.trusted_rows(sample, rows) if (
            row_buckets and nobs is None and chunk_size is None and (shard is False or shard is None)
            and not isinstance(data, RowSource) and is_trusted(loglike)) else None
        first = _trace_bucket(loglike, spec, theta0, sample, bucket_to, rows) if bucket_to else None
        if first is None:
            bucket_to = None
            first = _trace(loglike, spec, theta0, sample, first=True)  # one trace validates shape and dtypes
        shape = _output_shape(first[1])
        per_obs = len(shape) == 1
        _check_float32(first[0].jaxpr, first[0].consts)
        if not is_trusted(loglike):  # the built-ins make their own codes
            check_indices(first[0], sample)
        given_nobs = nobs is not None
        if nobs is None:
            nobs = source_nobs or (shape[0] if per_obs else leading_length(data))
        engine.check(per_obs, chunk_size, shard, source=isinstance(data, RowSource))
        blocked = chunk_size is not None or (shard is not False and shard is not None)
        if (blocked or isinstance(data, RowSource)) and rows is not None:
            engine.check_block_output(shape, rows, what="chunk_size" if chunk_size is not None else "shard")
        unsharded = data
        weighting = _weighting(weights, weight_type, raw_data, data, labels, nobs, per_obs, chunk_size)
        data, weights = engine.shard(data, nobs, shard)
        if weights is not None and weighting.get("case_weights") is not None:  # padding rows keep weight 0
            weights = engine.shard_weights(weights, weighting["case_weights"], nobs)
        found, mark = None, compile_totals()
        if bucket_to:  # a trusted built-in: row by row by construction, no probes
            found = engine.trusted_bucket(FlatLoglike(loglike, spec), loglike, theta0, data, nobs, bucket_to,
                                          weighting.get("case_weights"))
        elif row_buckets and per_obs and not blocked and not isinstance(data, RowSource) and nobs == shape[0]:
            found = engine.bucket(FlatLoglike(loglike, spec), first[0], spec, theta0, data, nobs,
                                  weighting.get("case_weights"))
        if found is not None:  # the kernels run on the rows padded to their bucket size
            program, consts, padding = found
        else:  # the second trace (purity) and the program at the data's own shape
            (program, consts, _), padding = _trace(loglike, spec, theta0, sample, first=None if bucket_to else first), None
        values = dict(loglike=loglike, spec=spec, start=theta0, data=data, nobs=nobs,
                      per_observation=per_obs, description=dict(description or {}),
                      expected_information=expected_information,
                      extra=dict(extra or {}), defaults=_defaults(defaults, transforms),
                      chunk_size=chunk_size, index=index, weights=weights, progress=progress,
                      program=program, consts=consts, row_labels=labels, weighted_nobs=nobs, padding=padding)
        values.update(weighting)
        for key, value in values.items():
            object.__setattr__(self, key, value)
        if padding is not None:  # the bucket check ran the fit's kernel: its compile belongs to this model
            charge(self, mark)
        self._check_rows(sample, rows, unsharded)
        if not given_nobs:
            _check_scalar_total(shape, rows)

    def _check_rows(self, sample: Any, rows: int | None, unsharded: Any) -> None:
        """Row blocks (chunks, a row source's blocks, padded shards) give the per-row values of all
        rows; the program is traced for every block shape the model will use, now."""
        theta = jax.ShapeDtypeStruct(np.shape(self.start), np.float64)  # prepare() needs shapes only
        if isinstance(self.data, RowSource):
            if rows:
                self.program.prepare(theta, row_block(sample, rows, 0, self.chunk_size))
            if rows and rows > 1:
                engine.check_row_blocks(self, sample, rows, min(self.chunk_size, -(-rows // 2)),
                                        what="reading the data in row blocks")
        elif self.chunk_size is not None and self.nobs:
            m = min(self.nobs, 2 * self.chunk_size)
            head = self.data if m == self.nobs else row_block(self.data, self.nobs, 0, m)
            engine.check_row_blocks(self, head, m, self.chunk_size, what="chunk_size")
        elif self.weights is not None and len(self.weights) != self.nobs:
            engine.check_padding(self, unsharded)
        elif self.nobs and uses_row_blocks(self, block_rows(self.k_params)):  # robust covariances' score blocks
            try:
                self.program.prepare(theta, row_block(self.data, self.nobs, 0, block_rows(self.k_params)))
            except SpecificationError:  # not a function of row blocks: score_meat uses all rows at once
                pass

    @property
    def dropped_rows(self) -> list:
        """Row labels that ``missing="drop"`` left out of a formula model (empty otherwise).

        Example
        -------
        >>> import pandas as pd, hessstats as hs
        >>> df = pd.DataFrame({"y": [1.0, 2.0, None, 4.0, 3.0], "x": [0.0, 1.0, 2.0, 3.0, 5.0]}, index=list("abcde"))
        >>> hs.ols("y ~ x", df, missing="drop").dropped_rows
        ['c']
        """
        return list(self.extra.get("dropped_rows", ()))

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

    def reports_boundary(self, theta: np.ndarray) -> bool:
        """Whether the model itself reports estimates at ``theta`` at the edge of their space (with
        its own warning, e.g. a GLMM's random-effect SD at 0); then ``fit`` does not also probe
        whether the maximum is attained (:func:`~hessstats.core.optimize.unattained`). False here.

        Example
        -------
        >>> import numpy as np
        >>> Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.ones(2)).reports_boundary(np.zeros(1))
        False
        """
        return False

    def params_tree(self, theta: np.ndarray) -> Any:
        """The parameter pytree for a flat vector (numpy leaves)."""
        return self.spec.unravel_host(theta)

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
        if self.padding is not None and "padding" not in changes and ("data" in changes or "case_weights" in changes):
            changes["padding"] = self.padding.refresh(changes.get("data", self.data),
                                                      changes.get("case_weights", self.case_weights))
        new = object.__new__(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(new, f.name, changes.get(f.name, getattr(self, f.name)))
        return new

    def with_weights(self, weights: Any, weight_type: WeightType | str) -> Model:
        """This model with observation ``weights`` of the declared ``weight_type`` (see
        :mod:`hessstats.rows.weights`), without tracing the log-likelihood again: what the built-in
        constructors' ``weights=`` use. ``weights`` is an array of one weight per row (a pandas Series
        is aligned with the data's row labels) or the name of a data key. The model's
        ``expected_information`` (a function of the unweighted rows) is dropped. (A model built with
        ``Model(..., weights=, expected_information=fn)`` must give the weighted information in ``fn``.)

        Example
        -------
        >>> import numpy as np
        >>> m = Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
        >>> w = m.with_weights([1, 3], "frequency")
        >>> w.weighted_nobs, round(float(w.fit().params["mu"]), 6)
        (4, 2.5)
        """
        if self.weight_type is not None:
            raise SpecificationError(message(
                "the model already has weights", expected="weights given once",
                got=f"weight_type={self.weight_type.value!r}", fix="build the model from its data with the weights you want"))
        if isinstance(self.data, RowSource):
            raise SpecificationError(message(
                "a row source's weights are given when the model is built", expected="Model(..., weights='key', weight_type=...)",
                got="with_weights on a row-source model", fix="pass weights= to the Model"))
        with x64():
            weighting = _weighting(weights, weight_type, self.data, self.data, self.row_labels, self.nobs,
                                   self.per_observation, self.chunk_size)
        changes = dict(weighting)
        changes["expected_information"] = None  # an unweighted expected information would be wrong now
        if self.weights is not None:  # sharded: padding x case weights
            changes["weights"] = engine.shard_weights(self.weights, weighting["case_weights"], self.nobs)
        return self.replace(**changes)

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
        data = {"data": _keep_index_arrays(self.data), "base": base, "free": index_array(free)}
        label = self.description.get("model", getattr(self.loglike, "__name__", "custom"))
        validated = ValidatedLoglike(self.program, self.consts, self.spec)
        return Model(FixedLoglike(validated, self.spec), np.asarray(self.start)[free], data,
                     names=[names[i] for i in free], nobs=self.nobs, chunk_size=self.chunk_size,
                     description={**self.description, "model": f"{label} with {dict(fixed)} fixed"},
                     weights=self.raw_weights, weight_type=self.weight_type if self.raw_weights is not None else None)

    @float64
    def fit(self, *, start: Any = None, method: str | OptimizerMethod = "auto", cov_type: str | None = None,
            groups: Any = None, cov_options: Mapping[str, Any] | None = None, maxiter: int = 100,
            nr_tol: float = NR_TOL, hessian_rtol: float = DEFAULT_RTOL, design: Any = None) -> FitResult:
        """Fit by maximum likelihood: optimise, certify, compute the covariance, return a frozen result.

        After the fit of a hand-written log-likelihood, the scores' outer product is compared with
        the Hessian (they agree for a summed log-likelihood); a ratio near ``1/n`` warns that the
        function is a mean. Built-in log-likelihoods are sums by construction and are not checked.

        Parameters
        ----------
        start : pytree or array, optional
            Start values (default: the model's); a flat vector is accepted.
        method : {"auto", "newton", "trust-exact"} or OptimizerMethod
            ``"auto"`` (default: trust-region Newton on the equilibrated information, full Newton steps
            near the maximum; Fisher scoring where the observed information is indefinite and the model
            has ``expected_information``), ``"newton"`` (line search only) or ``"trust-exact"`` (the trust
            region on the observed information only).
        cov_type : str
            A name in :data:`hessstats.core.covariance.REGISTRY`: ``"nonrobust"`` (default, inverse
            observed information; the built-in OLS reports ``s^2 (X'X)^-1``), ``"opg"``, ``"HC0"``,
            ``"HC1"`` (x n/(n-k), k the mean parameters), ``"HC2"``/``"HC3"`` (single-index models),
            ``"robust"`` (Stata ``vce(robust)``), ``"cluster"`` (needs ``groups``; one or two ways),
            ``"hac"`` (Newey-West; ``groups=time``: Driscoll-Kraay), ``"bootstrap"``, ``"survey"``
            (needs ``design``) or ``"expected"``. See ``docs/covariance.md``. Default (None):
            ``"nonrobust"``, or ``"robust"`` with probability weights (which allow sandwich covariances
            only), or ``"survey"`` when ``design`` is given.
        groups : array-like or str, optional
            Cluster labels (or two of them for two-way clustering), or the name of a data leaf.
        cov_options : mapping, optional
            Options of the covariance, e.g. ``{"correction": "stata" | "regress" | "none"}``.
        design : mapping, optional
            A survey design ``{"strata": ..., "psu": ..., "fpc": ..., "nest": True}`` for
            ``cov_type="survey"`` (see :mod:`hessstats.core.survey` and ``docs/weights.md``).
        maxiter : int
            An int >= 0 (0 certifies the start values).
        nr_tol : float
            Converged means ``g'(-H)^-1 g < nr_tol`` **and** a negative definite Hessian.
        hessian_rtol : float
            Eigenvalues of the equilibrated information below ``hessian_rtol`` times the largest count as
            zero (unidentified). Tolerances must be finite and >= 0.

        Returns
        -------
        FitResult
            The frozen result (``converged`` is decided by the certificate alone).

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp
        >>> def loglike(p, d):
        ...     return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
        >>> res = Model(loglike, {"mu": 0.0, "sigma": 1.0}, data=np.array([1.0, 2.0, 4.0])).fit()
        >>> round(float(res.params["mu"]), 6)
        2.333333
        """
        maxiter = check_positive_int(maxiter, "maxiter", minimum=0, hint=" (0: certify the start values only)")
        nr_tol = check_tolerance(nr_tol, "nr_tol")
        hessian_rtol = check_tolerance(hessian_rtol, "hessian_rtol")
        theta0 = self.start if start is None else self.spec.flatten(start, what="start")
        cov_type, cov_options = survey.resolve_cov(self.weight_type, cov_type, cov_options, design)
        opt = maximize(self, theta0, method=method, maxiter=maxiter, score_positions=_mean_check_positions(self))
        inverse = invert_information(opt.hessian, self.names, rtol=hessian_rtol, eigen=opt.eigen)
        # the maximum is probed unless the model reports a boundary estimate itself (a GLMM's SD at 0)
        value = None if self.reports_boundary(opt.theta) else (lambda theta: self.evaluate(theta)[0])
        converged, why = certify(opt, inverse, nr_tol, self.names, value=value)
        cov, codes = covariance_for(self, opt.theta, inverse, cov_type, groups, cov_options)
        _check_information_scale(self, opt.theta, opt.hessian, opt.score_squares)
        return FitResult(model=self, theta=opt.theta, llf=opt.llf, gradient_array=opt.gradient,
                         hessian_array=opt.hessian, cov_type=cov_type, cov_array=cov,
                         inverse_information=inverse, converged=converged, iterations=opt.iterations,
                         convergence_message=why, groups=codes, cov_options=dict(cov_options or {}))


def _weighting(weights: Any, weight_type: Any, raw_data: Any, data: Any, labels: Any, nrows: int | None,
               per_obs: bool, chunk_size: int | None) -> dict[str, Any]:
    """The weight fields of a model (empty without weights): validated once, never modifying the caller's arrays."""
    if weights is None and weight_type is None:
        return {}
    if not per_obs:
        raise SpecificationError(message(
            "weights need per-observation log-likelihood values",
            expected="loglike returning one value per observation, shape (n,), which hessstats multiplies by the weights",
            got="a log-likelihood returning a scalar total", fix="return the per-observation terms (do not sum them)"))
    if isinstance(data, RowSource):
        kind, key, scale, total = engine.source_weights(data, weights, weight_type, chunk_size)
        return dict(weight_type=kind, weight_key=key, weight_scale=scale, weighted_nobs=total)
    kind, raw = resolve_weights(weights, weight_type, raw_data, labels, nrows)
    with x64():
        case = jnp.asarray(effective_weights(raw, kind), dtype=jnp.float64)
    return dict(weight_type=kind, raw_weights=raw, case_weights=case, weighted_nobs=weighted_nobs(raw, kind))


def _defaults(defaults: PostEstimationDefaults | None, transforms: Mapping[str, Callable[[Any], Any]] | None
              ) -> PostEstimationDefaults:
    """The model's post-estimation defaults, with ``transforms=`` merged in."""
    defaults = defaults or PostEstimationDefaults()
    if transforms:
        defaults = dataclasses.replace(defaults, transforms={**defaults.transforms, **dict(transforms)})
    return defaults


@dataclass(frozen=True, eq=False)
class ValidatedLoglike:
    """A model's validated log-likelihood as ``loglike(params, data)``: its program run with its own
    captured constants. What restricted models (``Model.fix``) wrap, so they evaluate exactly the
    program their parent validated. Equal (and hashed) by the program: compiled kernels are shared.

    Example
    -------
    >>> import numpy as np
    >>> m = Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
    >>> ll = ValidatedLoglike(m.program, m.consts, m.spec)
    >>> with x64():
    ...     ll({"mu": jnp.asarray(2.0)}, m.data).tolist()
    [-1.0, -1.0]
    """

    program: Program
    consts: tuple
    spec: ParamSpec

    @property
    def __name__(self) -> str:  # the user's function name, for report labels
        return getattr(self.program.fn, "__name__", type(self.program.fn).__name__)

    def __hash__(self) -> int:
        return hash(self.program)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValidatedLoglike) and self.program == other.program

    def __call__(self, params: Any, data: Any) -> Any:
        return self.program(self.consts, self.spec.ravel(params), data)


def _keep_index_arrays(data: Any) -> Any:
    """A model's prepared data, with its integer (index) leaves marked so a second preparation keeps them."""
    return jax.tree_util.tree_map(lambda a: index_array(a) if getattr(a, "dtype", np.float64).kind in "biu" else a, data)


def _trace(loglike: LogLike, spec: ParamSpec, theta0: np.ndarray, data: Any, first: Any = None) -> Any:
    """Trace the log-likelihood at the start values: ``(program, captured constants, output shape)``
    (``first``: one trace already made), or, with ``first=True``, one trace ``(closed jaxpr, output)``.

    A :func:`~hessstats.core.compilation.trusted` built-in is traced once per parameter structure
    and data signature in the process (the cached trace and program are reused; no second trace:
    it is pure); every other function is traced here, twice for a program (the purity check)."""
    fn, theta = FlatLoglike(loglike, spec), jax.device_put(np.asarray(theta0))
    try:
        if is_trusted(loglike):
            if first is True:
                return cached_trace(fn, loglike, theta, data)
            found = cached_program(fn, loglike, theta, data)
            if found is not None:
                return found
        if first is True:
            return first_trace(fn, theta, data)
        return Program.trace(fn, theta, data, first=first)
    except SpecificationError:
        raise
    except Exception as exc:  # the user's function failed while tracing: say where
        raise _trace_failed(exc) from exc


def _trace_failed(exc: Exception) -> SpecificationError:
    return SpecificationError(message(
        "the log-likelihood failed when called with the start values",
        expected="loglike(params, data) to run on a params pytree shaped like start",
        got=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:400],
        fix="call loglike(start, data) yourself to debug; use jax.numpy, not numpy or math, inside it"))


def _trace_bucket(loglike: LogLike, spec: ParamSpec, theta0: np.ndarray, data: Any, bucket_to: int,
                  rows: int) -> Any:
    """``(closed jaxpr, output)`` standing for the first trace of a trusted built-in whose ``rows`` rows
    are padded to ``bucket_to``: the (cached) trace at the bucket's shapes, with the output shape of
    the real rows (a trusted function computes row by row); None when it does not return one value
    per row (the caller traces at the real shapes)."""
    fn = FlatLoglike(loglike, spec)
    theta = jax.ShapeDtypeStruct((len(theta0),), np.float64)
    try:
        closed, out = cached_trace(fn, loglike, theta, engine.padded_shapes(data, bucket_to))
    except Exception:  # noqa: BLE001  (traced again at the real shapes, which says what failed)
        return None
    if tuple(getattr(out, "shape", ())) != (bucket_to,) or closed.consts:
        return None
    return closed, jax.ShapeDtypeStruct((rows,), out.dtype)


def _check_scalar_total(shape: tuple[int, ...], rows: int | None) -> None:
    """A scalar (or one-value) log-likelihood with several data rows: hessstats cannot tell a sum from a mean."""
    if rows is None or rows < 2 or (len(shape) == 1 and shape[0] != 1):
        return
    warn(f"the log-likelihood returns {'a scalar' if not shape else 'one value'} for data with {rows} rows: "
         "hessstats cannot check that it is the *sum* over observations. A mean (jnp.mean, or values divided by "
         "n) makes every standard error sqrt(n) times too large. Return the per-observation values (shape (n,)), "
         "or pass nobs= to confirm that the function returns the sum.", SpecificationWarning)


def _mean_check_positions(model: Model) -> np.ndarray | None:
    """The parameters whose information the mean-log-likelihood check compares (None: no check).

    Built-in log-likelihoods (:func:`~hessstats.core.compilation.trusted`) are sums by construction
    and are not checked: the check guards hand-written ones."""
    n = model.nobs
    if not model.per_observation or n is None or n < MEAN_CHECK_MIN_NOBS or is_trusted(model.loglike):
        return None
    return _spread_positions(model.k_params)


@functools.lru_cache(maxsize=256)
def _spread_positions(k: int) -> np.ndarray:
    """At most :data:`MEAN_CHECK_PARAMS` positions spread evenly over ``k`` parameters (read-only)."""
    out = np.unique(np.linspace(0, k - 1, min(k, MEAN_CHECK_PARAMS)).round().astype(np.int64))
    out.flags.writeable = False
    return out


def _check_information_scale(model: Model, theta: np.ndarray, hessian: np.ndarray,
                             squares: np.ndarray | None = None) -> None:
    """Warn when the log-likelihood looks like a mean (information-matrix equality off by ~1/n).

    At the optimum of a summed log-likelihood the scores' outer product (OPG) and the negative
    Hessian estimate the same information; for per-observation values divided by ``n`` the OPG
    shrinks by ``1/n^2`` and the Hessian by ``1/n``, so their ratio is about ``1/n``. The median
    ratio over (at most :data:`MEAN_CHECK_PARAMS`) diagonal entries is compared, from
    :data:`MEAN_CHECK_MIN_NOBS` observations; misspecification moves the ratio by factors, not by
    ``n``, so a warning needs the ratio within a factor 3 of ``1/n``. Cost: a few forward passes
    (none when ``squares``, the scores' squares at ``theta``, came with the optimum).
    """
    positions = _mean_check_positions(model)
    if positions is None:
        return
    n = model.nobs
    info = -np.diag(hessian)[positions]
    opg = squares if squares is not None else engine.opg_diagonal(model, np.asarray(theta, dtype=np.float64), positions)
    ok = np.isfinite(info) & np.isfinite(opg) & (info > 0) & (opg > 0)
    if not ok.any():
        return
    ratio = float(np.median(opg[ok] / info[ok]))
    if 1.0 / (3.0 * n) <= ratio <= 3.0 / n:
        warn(f"the log-likelihood looks like a mean, not a sum: at the estimate the scores' outer product is "
             f"{ratio:.3g} times the negative Hessian (1/n = {1.0 / n:.3g}; for a summed log-likelihood they agree). "
             f"Every standard error is then about sqrt(n) = {np.sqrt(n):.3g} times too large. Return the "
             "per-observation terms, not jnp.mean(...) or values divided by n.", SpecificationWarning)


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


def _check_float32(jaxpr: Any, consts: tuple) -> None:
    """Warn when the log-likelihood closes over float32 arrays or computes in float32."""
    consts = [c for c in consts if getattr(c, "dtype", None) in (np.float32, np.float16)]
    ops = {str(e.primitive) for e in jaxpr.eqns
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
