"""Bootstrap covariance: ``cov_type="bootstrap"``, replicates refitted all at once.

Three kinds (``cov_options={"kind": ...}``), each over rows or, with ``cov_options={"cluster": labels}``
(labels or a data column name; or ``groups=`` where the covariance registry accepts optional groups),
over whole clusters (every row of a drawn cluster gets that cluster's weight):

- ``"nonparametric"`` (default; Efron's pairs bootstrap, Stata ``bootstrap``/``vce(bootstrap)``,
  with ``cluster()`` its cluster bootstrap): drawing ``n`` rows (``G`` clusters) with replacement
  is the same as integer frequency weights from a multinomial draw, so replicate ``b`` maximises
  ``sum_i c_bi l_i(theta)``. Every replicate is refitted by Newton's method started from the
  full-sample estimate, the ``B`` replicates at once under ``jax.vmap`` in batches (one compiled
  kernel; no Python loop over replicates).
- ``"bayesian"`` (Rubin 1981, *The Bayesian bootstrap*, Ann. Statist. 9(1) 130-134): the counts are
  replaced by ``n`` times flat Dirichlet weights (normalised standard exponentials); refitted the same way.
- ``"score"`` (Kline & Santos 2012, *A score based approach to wild bootstrap inference*, J. Econometric
  Methods 1(1) 23-41): no refit; replicate ``b`` is the one-step ``theta + (-H)^-1 sum_i w_bi s_i``
  with the exact per-observation scores ``s_i`` at the estimate and the Hessian ``H`` there, and
  multipliers ``w`` (``"multiplier"``: ``"rademacher"`` (default, +-1 with probability 1/2) or
  ``"mammen"`` (Mammen's two-point weights)), one per row or per cluster. Its covariance estimates
  the HC0 (cluster: the uncorrected cluster) sandwich.

The covariance is that of the replicate estimates with divisor ``B - 1`` (Stata's ``bootstrap`` and
R ``boot``'s standard error). Replicates whose refit does not converge (not stopped within
``steps`` Newton steps, a Newton decrement ``g'(-H)^-1 g`` above ``tol``, a non-negative-definite
Hessian, no ascent step, or parameters the replicate does not identify) are counted, reported
with a :class:`~hessstats.errors.ConvergenceWarning` and left out of the covariance and the
intervals. ``FitResult.bootstrap_replicates`` returns the replicates
(:class:`BootstrapReplicates`: percentile intervals, the replicate frame); they are regenerated from
the seed (or taken from a per-model cache), so the result stays a frozen value.

Memory: a batch of ``b`` replicates holds ``b`` Hessian evaluations at once (about ``b n k`` numbers);
batches are sized so that ``b n k <= BATCH_ELEMENTS`` (at most :data:`MAX_BATCH` replicates).
"""

from __future__ import annotations

import enum
import math
import weakref
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np
import pandas as pd

from hessstats._config import x64
from hessstats.core.compilation import TRACES, Program, call_kernel
from hessstats.core.covariance import CovarianceInputs, Needs, register
from hessstats.core.engine import kernel_rows
from hessstats.core.linalg import DEFAULT_RTOL, InverseInformation
from hessstats.core.optimize import NEGLIGIBLE_DECREMENT, NR_TOL, ROUNDING_DECREMENT
from hessstats.core.scores import model_scores, resolve_groups
from hessstats.errors import ConvergenceWarning, CovarianceError, message, warn
from hessstats.rows.source import RowSource

MAX_BATCH = 64
"""At most this many replicates are refitted in one vectorised call."""
BATCH_ELEMENTS = 2 ** 24
"""Batches hold at most about this many ``rows x parameters x replicates`` numbers."""
LINE_SEARCH_HALVINGS = 30
"""A Newton step is halved at most this many times before the replicate counts as failed."""
REFRESH_DECREMENT = 1e-6
"""Replicate Hessians are recomputed while the previous Newton decrement exceeds this, then reused."""
ONE_STEP_ELEMENTS = 2 ** 25
"""Replicates start at the one-step (score) estimate when the ``n x k`` scores fit this many numbers."""


class BootstrapKind(enum.Enum):
    """What a bootstrap replicate reweights (see the module docstring).

    Example
    -------
    >>> [kind.value for kind in BootstrapKind]
    ['nonparametric', 'bayesian', 'score']
    """

    NONPARAMETRIC = "nonparametric"
    BAYESIAN = "bayesian"
    SCORE = "score"


class Multiplier(enum.Enum):
    """Multiplier weights of the score bootstrap (mean 0, variance 1).

    Example
    -------
    >>> [m.value for m in Multiplier]
    ['rademacher', 'mammen']
    """

    RADEMACHER = "rademacher"
    MAMMEN = "mammen"


OPTIONS = {"reps": (), "seed": (), "cluster": (), "kind": tuple(k.value for k in BootstrapKind),
           "multiplier": tuple(m.value for m in Multiplier), "steps": (), "tol": (), "batch": ()}
"""The ``cov_options`` keys of ``cov_type="bootstrap"`` (allowed values, or () for any)."""


@dataclass(frozen=True)
class BootstrapSettings:
    """The validated ``cov_options`` of a bootstrap: ``reps`` (B, default 999), ``seed`` (int >= 0,
    default 0), ``kind``, ``multiplier`` (score kind), ``steps`` (most Newton steps per replicate,
    default 20), ``tol`` (converged: Newton decrement below it, default ``NR_TOL``), ``batch``
    (replicates per vectorised call; default from :data:`BATCH_ELEMENTS`).

    Example
    -------
    >>> s = BootstrapSettings.from_options({"reps": 99, "seed": 3})
    >>> s.reps, s.seed, s.kind.value, s.multiplier.value
    (99, 3, 'nonparametric', 'rademacher')
    """

    reps: int = 999
    seed: int = 0
    kind: BootstrapKind = BootstrapKind.NONPARAMETRIC
    multiplier: Multiplier = Multiplier.RADEMACHER
    steps: int = 20
    tol: float = NR_TOL
    batch: int | None = None

    @classmethod
    def from_options(cls, options: Any) -> BootstrapSettings:
        """Validate a ``cov_options`` mapping (the ``cluster`` entry is read elsewhere)."""
        options = dict(options)
        reps = _integer(options.get("reps", 999), "reps", minimum=2, hint="the number of replicates B, e.g. 999")
        seed = _integer(options.get("seed", 0), "seed", minimum=0, hint="a fixed seed makes the covariance reproducible")
        steps = _integer(options.get("steps", 20), "steps", minimum=1, hint="the most Newton steps per replicate")
        batch = options.get("batch")
        batch = None if batch is None else _integer(batch, "batch", minimum=1, hint="replicates per vectorised call")
        tol = options.get("tol", NR_TOL)
        if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating, np.integer)) or not (
                math.isfinite(float(tol)) and float(tol) > 0):
            raise CovarianceError(message(
                "bad value for cov_options['tol']", expected="a finite number > 0 (Newton decrement tolerance)",
                got=repr(tol), fix=f"omit it (default {NR_TOL:g}) or pass e.g. 1e-8"))
        return cls(reps=reps, seed=seed, kind=BootstrapKind(options.get("kind", "nonparametric")),
                   multiplier=Multiplier(options.get("multiplier", "rademacher")), steps=steps, tol=float(tol),
                   batch=batch)


def _integer(value: Any, name: str, *, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise CovarianceError(message(
            f"bad value for cov_options[{name!r}]", expected=f"an integer >= {minimum} ({hint})",
            got=repr(value), fix=f"pass an integer >= {minimum}"))
    return int(value)


# ----------------------------------------------------------------------------- replicate weights

def _mammen(rng: np.random.Generator, size: int) -> np.ndarray:
    root5 = math.sqrt(5.0)
    low, high = -(root5 - 1.0) / 2.0, (root5 + 1.0) / 2.0
    return np.where(rng.random(size) < (root5 + 1.0) / (2.0 * root5), low, high)


def unit_weights(settings: BootstrapSettings, units: int, replicate: int) -> np.ndarray:
    """The weights of replicate ``replicate`` on ``units`` rows or clusters: multinomial counts
    (nonparametric), ``units`` times flat Dirichlet weights (bayesian) or multipliers (score).

    Each replicate has its own random stream, ``numpy.random.default_rng([seed, replicate])``, so a
    replicate's draw does not depend on the batch size, and it can be regenerated alone.

    Example
    -------
    >>> w = unit_weights(BootstrapSettings(seed=1), 5, 0)
    >>> int(w.sum()), bool(np.all(w == np.round(w)))  # n rows drawn with replacement
    (5, True)
    """
    rng = np.random.default_rng([settings.seed, replicate])
    if settings.kind is BootstrapKind.NONPARAMETRIC:
        return np.bincount(rng.integers(0, units, size=units), minlength=units).astype(np.float64)
    if settings.kind is BootstrapKind.BAYESIAN:
        e = rng.standard_exponential(units)
        return e * (units / e.sum())
    if settings.multiplier is Multiplier.RADEMACHER:
        return 2.0 * rng.integers(0, 2, size=units).astype(np.float64) - 1.0
    return _mammen(rng, units)


def row_weights(settings: BootstrapSettings, nobs: int, codes: np.ndarray | None, replicates: range) -> np.ndarray:
    """``(len(replicates), nobs)`` row weights: the unit weights, through the cluster ``codes``
    (integer codes ``0..G-1``) when given, so every row of a cluster gets its cluster's weight.

    Example
    -------
    >>> w = row_weights(BootstrapSettings(seed=0), 4, np.array([0, 0, 1, 1]), range(3))
    >>> bool(np.all(w[:, 0] == w[:, 1]) and np.all(w[:, 2] == w[:, 3])), w.shape
    (True, (3, 4))
    """
    units = nobs if codes is None else int(codes.max()) + 1
    out = np.stack([unit_weights(settings, units, b) for b in replicates]) if len(replicates) else np.zeros((0, units))
    return out if codes is None else out[:, codes]


# ----------------------------------------------------------------------------- the replicates

@dataclass(frozen=True, eq=False)
class BootstrapReplicates:
    """The bootstrap replicates of a fit (``FitResult.bootstrap_replicates``): a frozen value.

    ``estimates`` is ``(B, k)`` (row ``b``: replicate ``b``'s estimate, in ``names`` order),
    ``converged`` ``(B,)``; failed replicates are kept in :attr:`frame` but left out of
    :meth:`cov` and :meth:`conf_int`.

    Example
    -------
    >>> reps = BootstrapReplicates(np.array([[1.0], [2.0], [4.0]]), np.array([True, True, False]), ("mu",),
    ...                            np.array([1.5]), BootstrapSettings(reps=3))
    >>> reps.n_failed, reps.cov().tolist(), reps.conf_int(0.5).round(3).values.tolist()
    (1, [[0.5]], [[1.25, 1.75]])
    """

    estimates: np.ndarray
    converged: np.ndarray
    names: tuple[str, ...]
    theta: np.ndarray
    """The full-sample estimate."""
    settings: BootstrapSettings
    n_clusters: int | None = None
    """G when whole clusters were resampled, else None."""
    iterations: np.ndarray | None = None
    """Newton steps each replicate took (None for the score bootstrap)."""
    decrement: np.ndarray | None = None
    """Each replicate's final Newton decrement ``g'(-H)^-1 g`` (None for the score bootstrap)."""

    def __post_init__(self) -> None:
        for name in ("estimates", "converged", "theta", "iterations", "decrement"):
            value = getattr(self, name)
            if value is not None:
                value = np.array(value, copy=True)
                value.flags.writeable = False
                object.__setattr__(self, name, value)

    @property
    def reps(self) -> int:
        """B, the number of replicates drawn (converged or not)."""
        return int(self.estimates.shape[0])

    @property
    def n_failed(self) -> int:
        """Replicates whose refit did not converge (left out of the covariance and intervals)."""
        return int(np.sum(~self.converged))

    def _good(self) -> np.ndarray:
        return self.estimates[self.converged]

    def cov(self) -> np.ndarray:
        """Covariance of the converged replicates, divisor ``B - 1`` (Stata ``bootstrap``, R ``boot``)."""
        good = self._good()
        if good.shape[0] < 2:
            return np.full((len(self.names),) * 2, np.nan)
        return np.atleast_2d(np.cov(good, rowvar=False, ddof=1))

    @property
    def bse(self) -> pd.Series:
        """Bootstrap standard errors (the square roots of :meth:`cov`'s diagonal)."""
        return pd.Series(np.sqrt(np.diag(self.cov())), index=list(self.names), name="std_err")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Percentile intervals: the ``alpha/2`` and ``1 - alpha/2`` quantiles of the converged
        replicates (``numpy.quantile``'s default linear interpolation, R ``quantile`` type 7)."""
        if not (isinstance(alpha, (int, float)) and 0.0 < float(alpha) < 1.0):
            raise CovarianceError(message(
                "alpha must be in (0, 1)", expected="e.g. 0.05 for 95% intervals", got=repr(alpha), fix="pass 0 < alpha < 1"))
        good = self._good()
        if good.shape[0] == 0:
            lower = upper = np.full(len(self.names), np.nan)
        else:
            lower, upper = np.quantile(good, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
        return pd.DataFrame({"ci_lower": lower, "ci_upper": upper}, index=list(self.names))

    @property
    def frame(self) -> pd.DataFrame:
        """Every replicate: one row per replicate (index ``replicate``), one column per parameter,
        and a ``converged`` column (a new DataFrame on each access)."""
        out = pd.DataFrame(self.estimates.copy(), columns=list(self.names))
        out.index.name = "replicate"
        out["converged"] = self.converged.copy()
        return out


# ----------------------------------------------------------------------------- vectorised Newton

def _observations(theta, data, loglike, spec, consts):
    if isinstance(loglike, Program):
        out = loglike(consts, theta, data)
    else:
        out = loglike(spec.unravel(theta), data)
    return jnp.asarray(out, dtype=jnp.float64)


@partial(jax.jit, static_argnames=("loglike", "spec", "steps"))
def refit(theta0, start, weights, data, consts, loglike, spec, steps):
    """Newton's method for a batch of reweighted log-likelihoods ``sum_i w_bi l_i(theta)``, all
    replicates at once (``jax.vmap``): ``(estimates (b, k), decrement (b,), identification (b,),
    failed (b,), iterations (b,))``.

    Each replicate starts at ``start[b]`` (the one-step estimate ``theta0 + (-H)^-1 S' w_b`` from the
    full-sample Hessian) where its reweighted log-likelihood is not below that at ``theta0``, else
    at ``theta0``. A replicate stops when its decrement ``g'(-H)^-1 g`` is negligible
    (``NEGLIGIBLE_DECREMENT``) or at the log-likelihood's rounding scale and no longer shrinking (the
    optimiser's rule), after at most ``steps`` Newton steps; each step is halved until the reweighted
    log-likelihood does not fall. The Hessian is recomputed while the previous decrement exceeds
    :data:`REFRESH_DECREMENT` and reused after that (the last step moves the estimate by ~1e-5
    standard errors or less; the Hessian of the batch is computed only when a replicate needs it).
    ``failed``: a non-negative-definite Hessian, no ascent step, or not stopped within ``steps``
    (Newton near the full-sample estimate polishes a well-posed replicate in a few steps; one whose
    maximum does not exist, e.g. a separated logit resample, keeps creeping). ``identification``:
    the smallest over the largest eigenvalue of the equilibrated information at the estimate.
    """
    TRACES["bootstrap_refit"] += 1
    k = theta0.shape[0]
    b = weights.shape[0]

    def total(theta, w):
        return jnp.sum(_observations(theta, data, loglike, spec, consts) * w)

    def hessian(theta, w):
        hess = jax.jacrev(jax.grad(total))(theta, w)  # reverse-over-reverse, as the engine's kernel
        return (hess + hess.T) / 2.0

    value_grad = jax.vmap(jax.value_and_grad(total))
    hessians = jax.vmap(hessian)
    values = jax.vmap(total)

    def cond(state):
        it, _, _, done, *_ = state
        return (it <= steps) & jnp.any(~done)

    def body(state):
        it, theta, hess, done, failed, dec_prev, ratio_prev, stopped, iters = state
        value, grad = value_grad(theta, weights)
        fresh = ~done & ~(dec_prev <= REFRESH_DECREMENT)
        hess = jax.lax.cond(jnp.any(fresh), lambda h: jnp.where(fresh[:, None, None], hessians(theta, weights), h),
                            lambda h: h, hess)
        chol = jnp.linalg.cholesky(-hess)
        step = jax.vmap(lambda c, g: jax.scipy.linalg.cho_solve((c, True), g))(chol, grad)
        dec = jnp.sum(grad * step, axis=1)
        ok = jnp.isfinite(dec) & jnp.all(jnp.isfinite(chol), axis=(1, 2)) & jnp.isfinite(value)
        ratio = jax.vmap(_equilibrated_ratio)(hess)
        scale = ROUNDING_DECREMENT * jnp.maximum(1.0, jnp.abs(value))
        small = (dec <= NEGLIGIBLE_DECREMENT) | ((dec < scale) & (dec >= dec_prev))
        newly_failed = ~done & ~ok
        stop = done | ~ok | small
        moving = ~stop & (it < steps)

        def ls_cond(ls):
            _, accepted, j = ls
            return jnp.any(~accepted) & (j < LINE_SEARCH_HALVINGS)

        def ls_body(ls):
            alpha, accepted, j = ls
            trial = values(theta + alpha[:, None] * step, weights)
            good = jnp.isfinite(trial) & (trial >= value - 1e-12 * jnp.maximum(1.0, jnp.abs(value)))
            accepted_now = accepted | good
            return jnp.where(accepted_now, alpha, alpha / 2.0), accepted_now, j + 1

        alpha, accepted, _ = jax.lax.while_loop(ls_cond, ls_body, (jnp.ones(b), ~moving, 0))
        move = moving & accepted
        theta = jnp.where(move[:, None], theta + alpha[:, None] * step, theta)
        failed = failed | newly_failed | (moving & ~accepted)
        keep = done  # stopped earlier: their diagnostics were recorded at their (unchanged) estimate
        dec_out = jnp.where(keep, dec_prev, jnp.where(ok, dec, jnp.inf))
        ratio_out = jnp.where(keep, ratio_prev, ratio)
        stopped = stopped | (~done & ok & small)
        done = stop | (moving & ~accepted)
        return it + 1, theta, hess, done, failed, dec_out, ratio_out, stopped, iters + move.astype(jnp.int32)

    base = jnp.broadcast_to(theta0, (b, k))
    at_base, at_start = values(base, weights), values(start, weights)
    theta = jnp.where((jnp.isfinite(at_start) & (at_start >= at_base))[:, None], start, base)
    state = (0, theta, jnp.zeros((b, k, k)), jnp.zeros(b, bool), jnp.zeros(b, bool), jnp.full(b, jnp.inf),
             jnp.zeros(b), jnp.zeros(b, bool), jnp.zeros(b, jnp.int32))
    _, theta, _, _, failed, dec, ratio, stopped, iters = jax.lax.while_loop(cond, body, state)
    return theta, dec, ratio, failed | ~stopped, iters


def _equilibrated_ratio(hess):
    """Smallest over largest eigenvalue of the equilibrated information ``D^-1 (-H) D^-1`` (as
    :func:`hessstats.core.linalg.equilibrated_eigh`): near 0 where the replicate does not identify
    every parameter (e.g. a separated logit resample)."""
    info = -hess
    diag = jnp.diag(info)
    d = jnp.where(jnp.isfinite(diag) & (diag != 0), jnp.sqrt(jnp.abs(diag)), 1.0)
    lam = jnp.linalg.eigvalsh(info / d[:, None] / d[None, :])
    return lam[0] / jnp.maximum(jnp.abs(lam[-1]), 1e-300)


def batch_size(settings: BootstrapSettings, rows: int, k: int) -> int:
    """Replicates per vectorised call: ``settings.batch``, else at most :data:`MAX_BATCH` and at
    most ``BATCH_ELEMENTS / (rows k)`` (memory: a batch evaluates that many Hessians at once).

    Example
    -------
    >>> batch_size(BootstrapSettings(), 10_000, 10), batch_size(BootstrapSettings(), 1_000_000, 50)
    (64, 1)
    """
    if settings.batch is not None:
        return min(settings.batch, settings.reps)
    return int(max(1, min(MAX_BATCH, settings.reps, BATCH_ELEMENTS // max(1, rows * k))))


def _refit_all(inputs: CovarianceInputs, theta: np.ndarray, settings: BootstrapSettings, codes: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All replicates, in equal batches (the last padded with copies, so one compile)."""
    model = inputs.model
    n, k = int(model.nobs), theta.shape[0]
    # the rows the model's kernels run on: padded to a bucket or sharded (padding weight 0) x case weights
    data, base = kernel_rows(model)
    base = None if base is None else np.asarray(base, dtype=np.float64)
    rows = n if base is None else base.shape[0]  # padded rows (row buckets, shards)
    batch = batch_size(settings, rows, k)
    program = model.program if model.program is not None else model.loglike
    one_step = None
    if n * k <= ONE_STEP_ELEMENTS:  # the one-step start: scores at the estimate times the inverse information
        one_step = np.asarray(inputs.scores(), dtype=np.float64) @ _bread(inputs)
    estimates, decrements, ratios, failures, iterations = [], [], [], [], []
    with x64():
        theta0 = jnp.asarray(theta)
        for lo in range(0, settings.reps, batch):
            ids = range(lo, min(lo + batch, settings.reps))
            w = row_weights(settings, n, codes, ids)
            if w.shape[0] < batch:
                w = np.concatenate([w, np.repeat(w[:1], batch - w.shape[0], axis=0)])
            start = np.broadcast_to(theta, (batch, k)) if one_step is None else theta[None, :] + w @ one_step
            if base is not None:
                padded = np.zeros((batch, rows))
                padded[:, :n] = w
                w = padded * base[None, :]
            out = call_kernel("bootstrap_refit", refit, theta0, jnp.asarray(start), jnp.asarray(w), data,
                              model.consts, program, model.spec, settings.steps)
            est, dec, ratio, failed, its = (np.asarray(a)[: len(ids)] for a in out)
            estimates.append(est)
            decrements.append(dec)
            ratios.append(ratio)
            failures.append(failed)
            iterations.append(its)
    return (np.concatenate(estimates), np.concatenate(decrements), np.concatenate(ratios),
            np.concatenate(failures), np.concatenate(iterations))


def _bread(inputs: CovarianceInputs) -> np.ndarray:
    inverse = inputs.inverse_information
    return inverse.pseudo_inverse if inverse.pseudo_inverse is not None else inverse.cov


def _score_replicates(inputs: CovarianceInputs, theta: np.ndarray, settings: BootstrapSettings,
                      codes: np.ndarray | None) -> np.ndarray:
    """``theta + (-H)^-1 S_u' w_b`` for every replicate: ``S_u`` the scores (summed by cluster)."""
    scores = np.asarray(inputs.scores(), dtype=np.float64)
    if codes is not None:
        units = np.zeros((int(codes.max()) + 1, scores.shape[1]))
        np.add.at(units, codes, scores)
        scores = units
    bread = _bread(inputs)
    out = []
    for lo in range(0, settings.reps, 256):
        ids = range(lo, min(lo + 256, settings.reps))
        w = row_weights(settings, scores.shape[0], None, ids)
        out.append(theta[None, :] + (w @ scores) @ bread)
    return np.concatenate(out)


# ----------------------------------------------------------------------------- entry points

_CACHE: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()

_NEEDS = frozenset({Needs.OPTIONAL_GROUPS}) if hasattr(Needs, "OPTIONAL_GROUPS") else frozenset()
"""``groups=`` is accepted (as the clusters) where the registry knows optional groups."""


def _codes(model: Any, inputs_groups: np.ndarray | None, cluster: Any) -> np.ndarray | None:
    if cluster is not None and inputs_groups is not None:
        raise CovarianceError(message(
            "the bootstrap clusters are given twice", expected="groups= or cov_options['cluster'], not both",
            got="both", fix="pass the cluster labels once"))
    codes = inputs_groups if cluster is None else resolve_groups(
        cluster, model.data, model.nobs, getattr(model, "row_labels", None))
    if codes is not None and np.ndim(codes) != 1:
        raise CovarianceError(message(
            "the cluster bootstrap resamples one level of clusters", expected="one cluster label per row",
            got=f"cluster codes of shape {np.shape(codes)}", fix="pass a single grouping variable"))
    return codes


def _check_model(model: Any, inputs: CovarianceInputs) -> None:
    if model is None or inputs.theta is None:
        raise CovarianceError(message(
            "the bootstrap needs the model and the estimate", expected="CovarianceInputs(model=..., theta=...)",
            got="none", fix="compute it through fit(cov_type='bootstrap') or res.with_cov('bootstrap')"))
    if not model.per_observation:
        raise CovarianceError(message(
            "a scalar total log-likelihood cannot be bootstrapped by rows",
            expected="a log-likelihood returning one value per observation, shape (n,)",
            got="a log-likelihood returning a scalar",
            fix="return the per-observation terms (do not sum them)"))
    if isinstance(model.data, RowSource):
        raise CovarianceError(message(
            "the bootstrap needs the rows in memory", expected="in-memory arrays (chunk_size is fine)",
            got=type(model.data).__name__, fix="load the data into memory, or use cov_type='robust'/'cluster'"))
    if inputs.inverse_information.bad.any():
        bad = [n for n, b in zip(model.names, inputs.inverse_information.bad) if b]
        raise CovarianceError(message(
            "the bootstrap needs every parameter identified at the estimate",
            expected="a negative definite Hessian at the full-sample estimate",
            got=f"unidentified parameters {bad}", fix="drop or fix the unidentified parameters first"))


def replicates_for(inputs: CovarianceInputs) -> BootstrapReplicates:
    """The bootstrap replicates for a covariance request (computed once per model, estimate and
    options; then taken from a per-model cache). See the module docstring.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(20.0),
    ...              cov_type="bootstrap", cov_options={"reps": 50, "seed": 1})
    >>> reps = res.bootstrap_replicates
    >>> reps.reps, reps.n_failed, bool(np.isclose(reps.bse["mu"], res.bse["mu"]))
    (50, 0, True)
    """
    model, theta = inputs.model, np.asarray(inputs.theta, dtype=np.float64)
    _check_model(model, inputs)
    options = dict(inputs.options)
    settings = BootstrapSettings.from_options(options)
    codes = _codes(model, inputs.groups, options.get("cluster"))
    key = (theta.tobytes(), settings, None if codes is None else codes.tobytes())
    cache = _CACHE.setdefault(model, {})
    if key in cache:
        return cache[key]
    n_clusters = None if codes is None else int(codes.max()) + 1
    if settings.kind is BootstrapKind.SCORE:
        est = _score_replicates(inputs, theta, settings, codes)
        out = BootstrapReplicates(est, np.all(np.isfinite(est), axis=1), model.names, theta, settings, n_clusters)
    else:
        est, dec, ratio, failed, its = _refit_all(inputs, theta, settings, codes)
        converged = (~failed & np.isfinite(dec) & (dec < settings.tol) & (ratio > DEFAULT_RTOL)
                     & np.all(np.isfinite(est), axis=1))
        out = BootstrapReplicates(est, converged, model.names, theta, settings, n_clusters, its, dec)
    cache[key] = out
    return out


def replicates_of(model: Any, theta: np.ndarray, inverse: InverseInformation, cov_options: Any,
                  groups: np.ndarray | None = None) -> BootstrapReplicates:
    """The replicates behind ``cov_type="bootstrap"`` for ``model`` at ``theta`` with these
    ``cov_options`` (what ``FitResult.bootstrap_replicates`` calls; cached per model).

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(10.0))
    >>> reps = replicates_of(res.model, res.theta, res.inverse_information, {"reps": 20, "seed": 2})
    >>> reps.estimates.shape, bool(reps.converged.all())
    ((20, 1), True)
    """
    theta = np.asarray(theta, dtype=np.float64)
    options = tuple(sorted(dict(cov_options or {}).items(), key=lambda kv: kv[0]))
    inputs = CovarianceInputs(inverse, scores=lambda: model_scores(model, theta), nobs=model.nobs, groups=groups,
                              options=options, model=model, theta=theta)
    return replicates_for(inputs)


@register("bootstrap", options=OPTIONS, needs=_NEEDS)
def bootstrap(inputs: CovarianceInputs) -> np.ndarray:
    """Bootstrap covariance of the replicate estimates (nonparametric, cluster, Bayesian or score).

    ``cov_options``: ``reps`` (B, default 999), ``seed`` (default 0), ``kind`` (``"nonparametric"``
    (default), ``"bayesian"``, ``"score"``), ``cluster`` (labels or a data column name: resample whole
    clusters), ``multiplier`` (score kind: ``"rademacher"``, ``"mammen"``), ``steps`` (most Newton
    steps per replicate, default 20), ``tol`` (Newton decrement for convergence), ``batch``
    (replicates per vectorised call). Failed replicates are left out, counted and warned about.

    Example
    -------
    >>> import hessstats as hs
    >>> y = np.random.default_rng(0).normal(size=200)
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y)
    >>> boot = res.with_cov("bootstrap", cov_options={"reps": 400, "seed": 0})
    >>> hc0 = res.with_cov("HC0").bse["mu"]
    >>> bool(abs(boot.bse["mu"] / hc0 - 1) < 0.15)  # Monte Carlo error of B = 400: about 3.5%
    True
    """
    reps = replicates_for(inputs)
    if reps.n_failed:
        warn(f"{reps.n_failed} of {reps.reps} bootstrap replicates did not converge and are left out of the "
             "covariance and the percentile intervals (res.bootstrap_replicates.frame shows them; more Newton "
             "steps: cov_options={'steps': ...})", ConvergenceWarning)
    if reps.reps - reps.n_failed < 2:
        raise CovarianceError(message(
            "too few bootstrap replicates converged", expected="at least 2 converged replicates",
            got=f"{reps.reps - reps.n_failed} of {reps.reps}",
            fix="check the fit (is the estimate interior and well identified?), or raise cov_options['steps']"))
    return reps.cov()

