"""Random effects integrated out by the Laplace approximation: a Model on the marginal log-likelihood.

:func:`laplace_model` (what ``hs.fit(loglike, start, data, random=["u"])`` builds) turns a joint
log-density ``loglike(params, data)`` of observations and random effects into a
:class:`LaplaceModel`, a :class:`~hessstats.Model` whose log-likelihood is the Laplace marginal of
:mod:`hessstats.core.laplace` in the remaining (fixed) parameters. Everything downstream (the exact
outer Hessian and its certificate, Wald/delta/LR, profile intervals, snapshots) is that of any model;
refits (``fix``, profiles) integrate the random effects out again.

The inner mode is warm-started across the outer evaluations of one model (from the last mode found),
so results may differ from a cold start at the level of rounding only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from hessstats._config import float64, x64
from hessstats.core import engine
from hessstats.core.indices import check_indices
from hessstats.core.laplace import Laplace, Structure, block_check, inner_report, marginal, mode_jacobian, newton, prediction_variance
from hessstats.core.params import ParamSpec
from hessstats.errors import ConvergenceWarning, SpecificationError, message, warn
from hessstats.model import Model
from hessstats.results import FitResult
from hessstats.rows.prepare import index_array, prepare_rows

INNER_GRAD_TOL = 1e-6
"""An inner gradient max-norm above this at the estimate (or an indefinite ``-H_uu``) warns."""


@dataclass(frozen=True, eq=False)
class _Joint:
    """The user's joint log-density as ``joint(fixed params, u flat, data) -> scalar``."""

    loglike: Callable[[Any, Any], Any]
    random_spec: ParamSpec

    def __hash__(self) -> int:
        return hash((self.loglike, self.random_spec))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Joint) and (self.loglike, self.random_spec) == (other.loglike, other.random_spec)

    def __call__(self, theta: Any, u: Any, data: Any) -> Any:
        return jnp.sum(self.loglike({**theta, **self.random_spec.unravel(u)}, data))


@dataclass(frozen=True)
class LaplaceMarginal:
    """``loglike(params, data)`` of a :class:`LaplaceModel`: the Laplace marginal at the fixed
    parameters, with ``data = {"data": ..., "u0": inner start}``.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from hessstats.core.laplace import LOG_2PI
    >>> f = LaplaceMarginal(Laplace(lambda t, u, d: -0.5 * jnp.sum(u ** 2) - LOG_2PI / 2, q=1))
    >>> with x64():
    ...     round(float(f({}, {"data": None, "u0": jnp.zeros(1)})), 12)
    0.0
    """

    laplace: Laplace
    solved: bool = False
    """``data["u0"]`` is the converged inner mode (:func:`~hessstats.core.laplace.at_mode`)."""

    @property
    def __name__(self) -> str:
        joint = self.laplace.joint
        return getattr(getattr(joint, "loglike", joint), "__name__", "laplace")

    def __call__(self, params: Any, data: Any) -> Any:
        return marginal(self.laplace, params, data["data"], data["u0"], solved=self.solved)


class _Warm:
    """The last inner mode (mutable): each outer evaluation starts from it."""

    def __init__(self, u: np.ndarray) -> None:
        self.u = np.asarray(u, dtype=np.float64)


@dataclass(frozen=True, eq=False, init=False)
class LaplaceModel(Model):
    """A :class:`~hessstats.Model` on the Laplace marginal log-likelihood of a joint density.

    Built by :func:`laplace_model` (or ``hs.fit(..., random=[...])``). Adds :meth:`inner` (the
    inner problem's certificate) and :meth:`random_effects` (conditional modes with prediction
    standard errors, as ``FitResult.random_effects()``).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp
    >>> y = np.array([0.5, 1.0, 2.0])
    >>> def joint(p, d):   # y_i | u_i ~ N(u_i, 1), u_i ~ N(mu, 1)
    ...     return (-0.5 * (d - p["u"]) ** 2 - 0.5 * (p["u"] - p["mu"]) ** 2 - jnp.log(2 * jnp.pi)).sum()
    >>> model = laplace_model(joint, {"mu": 0.0, "u": np.zeros(3)}, y, random=["u"], nobs=3)
    >>> model.names, model.laplace.q
    (('mu',), 3)
    """

    laplace: Laplace | None = None
    random_names: tuple[str, ...] = ()
    warm: Any = None
    solved_twin: Any = None
    """``(program, twin)``: a model whose marginal takes ``data["u0"]`` as the converged mode, used by
    :meth:`evaluate` while this model's program is ``program`` (not after a change of log-likelihood)."""

    @float64
    def evaluate(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The marginal's ``(value, gradient, Hessian)``, the inner solve starting from the last mode."""
        theta = np.asarray(theta, dtype=np.float64)
        if self.warm is None:
            return super().evaluate(theta)
        with x64():
            start = jnp.asarray(self.warm.u)
            u = np.asarray(newton(self.laplace, self.spec.unravel_host(theta), self.data["data"], start)[0])
        if np.all(np.isfinite(u)):
            self.warm.u = u
            program, twin = self.solved_twin if self.solved_twin is not None else (None, None)
            if twin is not None and program is self.program:  # u is the mode at theta: no Newton loop compiled in
                return engine.evaluate(twin.replace(data={**self.data, "u0": jnp.asarray(u)}), theta)
        warm = self.replace(data={**self.data, "u0": jnp.asarray(self.warm.u)})
        return engine.evaluate(warm, theta)

    def inner(self, theta: np.ndarray) -> dict[str, Any]:
        """The inner problem at ``theta``: mode, gradient max-norm, smallest eigenvalue of ``-H_uu``,
        Newton iterations and conditional variances ``diag((-H_uu)^-1)``."""
        with x64():
            start = self.data["u0"] if self.warm is None else jnp.asarray(self.warm.u)
            out = inner_report(self.laplace, self.spec.unravel_host(theta), self.data["data"], start)
            return {k: np.asarray(v) for k, v in out.items()}

    def check_inner(self, theta: np.ndarray) -> dict[str, Any]:
        """:meth:`inner`, warning (:class:`~hessstats.errors.ConvergenceWarning`) when the inner
        gradient is not ~0 or ``-H_uu`` is not positive definite at ``theta``."""
        report = self.inner(theta)
        gnorm, eig = float(report["grad_norm"]), float(report["min_eigenvalue"])
        if not (gnorm <= INNER_GRAD_TOL) or not (eig > 0.0):
            warn(f"the inner (random-effects) problem is not certified at the estimate: gradient max-norm "
                 f"{gnorm:.3g} (tolerance {INNER_GRAD_TOL:g}), smallest eigenvalue of -H_uu {eig:.3g} (needs > 0). "
                 "The Laplace approximation needs a strict maximum in the random effects: check the joint "
                 "density (is it concave in the random effects?) and the start values.", ConvergenceWarning)
        return report

    def mode_jacobian(self, theta: np.ndarray) -> np.ndarray:
        """``d u_hat / d theta`` (``q x k``), exact (implicit function theorem)."""
        with x64():
            start = self.data["u0"] if self.warm is None else jnp.asarray(self.warm.u)
            lap = dataclasses.replace(self.laplace, joint=_FlatJoint(self.laplace.joint, self.spec))
            return np.asarray(mode_jacobian(lap, jnp.asarray(theta), self.data["data"], start))

    def random_effects(self, theta: np.ndarray, cov: np.ndarray) -> pd.DataFrame:
        """Conditional modes at ``theta`` with ``cond_se`` (``sqrt diag((-H_uu)^-1)``, the fixed
        parameters taken as known, as lme4's ``condVar``) and ``std_err`` (TMB's ``sdreport``:
        ``(-H_uu)^-1 + J V J'`` with ``J = du_hat/dtheta`` and ``V`` the fixed parameters' covariance)."""
        report = self.check_inner(theta)
        jac = self.mode_jacobian(theta)
        cov = np.where(np.isfinite(cov), cov, np.nan)
        variance = prediction_variance(report["variance"], jac, cov)
        return pd.DataFrame({"mode": report["mode"], "cond_se": np.sqrt(report["variance"]),
                             "std_err": np.sqrt(variance)}, index=pd.Index(list(self.random_names), name="effect"))

    @float64
    def fit(self, **options: Any) -> FitResult:
        """:meth:`Model.fit <hessstats.Model.fit>`, then the inner problem's certificate at the estimate
        (a :class:`~hessstats.errors.ConvergenceWarning` when it fails)."""
        res = super().fit(**options)
        self.check_inner(res.theta)
        return res


@dataclass(frozen=True, eq=False)
class _FlatJoint:
    """A joint density whose ``theta`` is the flat fixed-parameter vector (for Jacobians)."""

    joint: Any
    spec: ParamSpec

    def __hash__(self) -> int:
        return hash((self.joint, self.spec))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _FlatJoint) and (self.joint, self.spec) == (other.joint, other.spec)

    def __call__(self, theta: Any, u: Any, data: Any) -> Any:
        return self.joint(self.spec.unravel(theta), u, data)


def _structure(option: Any, random_start: Mapping[str, Any]) -> tuple[Structure | None, int]:
    """``(structure or None for "auto", block size)`` from the ``random=`` mapping's values."""
    values = {str(v) for v in option.values()} if isinstance(option, Mapping) else {"auto"}
    if len(values) != 1 or not values <= {"auto", "dense", "groups"}:
        raise SpecificationError(message(
            "random= structure not understood", expected='one of "auto", "dense", "groups" for all random keys',
            got=str(sorted(values)), fix='e.g. random={"u": "groups"} (rows of u are independent groups)'))
    value = values.pop()
    leaves = [np.shape(v) for v in jax.tree_util.tree_leaves(dict(random_start))]
    groups_ok = len(leaves) == 1 and len(leaves[0]) >= 1 and leaves[0][0] > 1
    if value == "dense":
        return Structure.DENSE, 1
    if value == "groups" and not groups_ok:
        raise SpecificationError(message(
            'random structure "groups" needs one random array whose rows are the groups',
            expected="one random key with shape (G,) or (G, b)", got=f"shapes {leaves}",
            fix='use "dense" (or "auto")'))
    if not groups_ok:
        return Structure.DENSE, 1
    shape = leaves[0]
    block = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return (Structure.GROUPS if value == "groups" else None), block


def _check_codes(loglike: Callable[..., Any], start: Mapping[str, Any], data: Any) -> None:
    """Group codes in ``data`` that index past a parameter (a random effect's levels) are a
    :class:`DataError` (:func:`~hessstats.core.indices.check_indices`); a function that fails to trace
    is left to the model's construction, which says how."""
    shapes = jax.tree_util.tree_map(lambda v: jax.ShapeDtypeStruct(np.shape(v), jnp.float64), dict(start))
    try:  # in float64: called from laplace_model
        closed = jax.make_jaxpr(lambda p, d: loglike(p, d))(shapes, data)
    except Exception:  # noqa: BLE001
        return
    check_indices(closed, data)


@float64
def laplace_model(loglike: Callable[[Any, Any], Any], start: Mapping[str, Any], data: Any = None, *,
                  random: Sequence[str] | Mapping[str, str], names: Mapping[str, Any] | None = None,
                  nobs: int | None = None, **model_options: Any) -> LaplaceModel:
    """A :class:`LaplaceModel`: ``loglike(params, data)`` (the joint log-density of the observations
    and the random effects; per-observation values or a scalar total) with the keys ``random``
    integrated out by the Laplace approximation.

    ``random``: the top-level keys of ``start`` that are random effects (their start values start the
    inner Newton solve), or a mapping ``{key: structure}`` with ``"auto"`` (default), ``"dense"``
    (one ``q x q`` Hessian) or ``"groups"`` (a single random array of shape ``(G,)`` or ``(G, b)``
    whose rows are independent groups: ``G`` small solves). ``"auto"`` uses ``"groups"`` when there
    is one random array with several rows and one Hessian-vector product at the start confirms that
    the rows do not interact, else ``"dense"``. Integer group codes in ``data`` must be wrapped with
    :func:`~hessstats.index_array`. ``nobs`` defaults to the data's row count.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(20), 5); y = rng.normal(size=20)[g] + rng.normal(size=100) + 1.0
    >>> def joint(p, d):
    ...     u = p["u"][d["g"]]
    ...     prior = -0.5 * (p["u"] / jnp.exp(p["log_sd"])) ** 2 - p["log_sd"] - 0.5 * jnp.log(2 * jnp.pi)
    ...     return jnp.sum(-0.5 * (d["y"] - p["mu"] - u) ** 2 - 0.5 * jnp.log(2 * jnp.pi)) + prior.sum()
    >>> m = laplace_model(joint, {"mu": 0.0, "log_sd": 0.0, "u": np.zeros(20)},
    ...                   {"y": y, "g": index_array(g)}, random=["u"])
    >>> m.laplace.structure.name, m.nobs
    ('GROUPS', 100)
    """
    if not isinstance(start, Mapping):
        raise SpecificationError(message(
            "random= needs start as a dict", expected="start = {name: value}, random = [names]",
            got=type(start).__name__, fix="name the parameters in a dict"))
    keys = list(random.keys()) if isinstance(random, Mapping) else [random] if isinstance(random, str) else list(random)
    missing = [k for k in keys if k not in start]
    if not keys or missing or len(keys) == len(start):
        raise SpecificationError(message(
            "random= must name some (not all) keys of start", expected=f"a non-empty proper subset of {list(start)}",
            got=f"random={keys}", fix="list the keys of the random effects, e.g. random=['u']"))
    fixed_start = {k: v for k, v in start.items() if k not in keys}
    random_start = {k: start[k] for k in keys}
    rnames = {k: v for k, v in (names or {}).items() if k in keys} or None
    fnames = {k: v for k, v in (names or {}).items() if k not in keys} or None
    random_spec = ParamSpec.from_start(random_start, rnames)
    u0 = np.asarray(random_spec.ravel(random_start), dtype=np.float64)
    prepared, _ = prepare_rows(data)
    prepared = jax.tree_util.tree_map(
        lambda a: index_array(a) if getattr(a, "dtype", np.float64).kind in "biu" else a, prepared)
    _check_codes(loglike, start, prepared)
    if nobs is None:
        leaves = jax.tree_util.tree_leaves(prepared)
        nobs = max((int(np.shape(a)[0]) for a in leaves if np.ndim(a) >= 1), default=None)
    structure, block = _structure(random, random_start)
    joint = _Joint(loglike, random_spec)
    fixed_spec = ParamSpec.from_start(fixed_start)
    if structure is None:
        candidate = Laplace(joint, u0.size, Structure.GROUPS, block)
        try:
            with x64():
                theta = fixed_spec.unravel(jnp.asarray(fixed_spec.ravel(fixed_start)))
                data_check = jax.tree_util.tree_map(jnp.asarray, prepared)
                # at the start and at a random nearby point (a start value may hide a coupling, e.g. phi = 0)
                rng = np.random.default_rng(0)
                flat = fixed_spec.ravel(fixed_start)
                moved = fixed_spec.unravel(jnp.asarray(flat + 0.1 * rng.normal(size=np.shape(flat))))
                u1 = jnp.asarray(u0 + 0.1 * rng.normal(size=u0.shape))
                grouped = (block_check(candidate, theta, data_check, jnp.asarray(u0))
                           and block_check(candidate, moved, data_check, u1, seed=1))
        except Exception:  # the function fails: building the model below says how
            grouped = False
        structure = Structure.GROUPS if grouped else Structure.DENSE
    lap = Laplace(joint, u0.size, structure, block if structure is Structure.GROUPS else 1)
    model = LaplaceModel(LaplaceMarginal(lap), fixed_start, {"data": prepared, "u0": u0}, names=fnames, nobs=nobs,
                         **model_options)
    twin = None
    if not model_options:  # the plain marginal only (options such as chunking keep the Newton loop in the kernel)
        twin = (model.program, Model(LaplaceMarginal(lap, solved=True), fixed_start, {"data": prepared, "u0": u0},
                                     names=fnames, nobs=nobs).replace(data=None))  # it borrows the data
    for key, value in {"laplace": lap, "random_names": random_spec.names, "warm": _Warm(u0),
                       "solved_twin": twin}.items():
        object.__setattr__(model, key, value)
    return model

