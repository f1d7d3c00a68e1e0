"""A whole small fit in one compiled call: the trust-region iteration's full-Newton path on the device.

At small ``n`` a fit is dominated by fixed costs per iteration (a kernel call, a host
eigen-decomposition, Python bookkeeping), not by arithmetic. For in-memory models whose
``(value, gradient, Hessian)`` is one XLA call and small (:data:`FUSED_MAX_CELLS`), :func:`newton_fit`
runs the iteration of :func:`hessstats.core.optimize.maximize` (``method="auto"``) as one
``lax.while_loop`` in one kernel, and computes there the scores' squares that the mean-log-likelihood
check of ``Model.fit`` needs.

It is the same iteration while every step is a full Newton step: the same equilibrated eigen-
decomposition (unit-diagonal information), the same decrement on the identified eigenspace, the same
acceptance test (gain over predicted gain), radius updates and relative stopping rule with polishing
(:class:`hessstats.core.optimize._Stop`). Wherever the host iteration would do anything else (a step
limited by the trust region, an indefinite or singular information, Fisher scoring, a non-finite
point, the iteration limit), the kernel stops and reports :data:`FusedStatus.HANDED_BACK`; ``maximize``
then runs the host iteration from the start, so results on hard problems are those of the host path,
and on easy ones the same maximum (both polish to the log-likelihood's rounding floor).

Example
-------
>>> FusedStatus.CONVERGED.value, FusedStatus.HANDED_BACK.value
(1, 2)
"""

from __future__ import annotations

import collections
import enum
import weakref
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hessstats._config import x64
from hessstats.core import derivatives, engine
from hessstats.core.compilation import TRACES, call_kernel, compile_estimate
from hessstats.core.linalg import DEFAULT_RTOL, FACTORISATIONS, InformationEigen
from hessstats.core.stopping import (
    ACCEPT,
    MAX_RADIUS_GROWTH,
    MIN_RADIUS,
    NEGLIGIBLE_DECREMENT,
    POLISH_SHRINK,
    ROUNDING_DECREMENT,
)

FUSED_MAX_CELLS = 2_000_000
"""Models with at most this many ``rows * k^2`` (padded rows) fit in one call; larger ones spend
their time in arithmetic, where a kernel call per iteration costs nothing extra."""
FUSED_MAX_PARAMS = 64
"""At most this many parameters (the in-kernel eigen-decomposition is a small LAPACK call)."""
COMPILE_GUESS = 0.5
"""Seconds assumed for compiling the one-call kernel before one has been compiled in this process (a
1000 x 5 logit on a 2-core CPU: 0.3-0.5 s); afterwards the mean measured compile time is used."""
SWITCH_AFTER_SECONDS: float | None = None
"""Seconds of host-iteration fits on one kernel shape after which that shape's fits run in one call.
None (default): :func:`break_even`. A number overrides it (0: from the first fit)."""

_SPENT: collections.Counter[int] = collections.Counter()
"""Host-iteration seconds per kernel shape (hashes only: no reference to any model or its arrays is kept)."""

_PLANS: weakref.WeakKeyDictionary[Any, tuple | None] = weakref.WeakKeyDictionary()
"""Per model (immutable; weakly held): its kernel rows, weights, :func:`kernel_for` answer and shape hash."""



class FusedStatus(enum.IntEnum):
    """How the one-call iteration ended.

    Example
    -------
    >>> FusedStatus(1).name
    'CONVERGED'
    """

    RUNNING = 0
    CONVERGED = 1
    HANDED_BACK = 2
    """Anything but full Newton steps was needed: the host iteration takes over from the start."""


class FusedFit(NamedTuple):
    """What :func:`run` returns (numpy, unpacked from :func:`newton_fit`'s one vector): the point where
    it stopped, its derivatives, how it got there, and the scores' squares (``None`` when not asked for).

    Example
    -------
    >>> FusedFit._fields[:4]
    ('theta', 'llf', 'gradient', 'hessian')
    """

    theta: np.ndarray
    llf: float
    gradient: np.ndarray
    hessian: np.ndarray
    iterations: int
    evaluations: int
    status: FusedStatus
    score_squares: np.ndarray | None
    eigen: InformationEigen
    """The equilibrated eigen-decomposition of ``-hessian`` at ``theta``, computed in the kernel."""


def _scale(llf):
    return jnp.maximum(1.0, jnp.abs(llf))


def _eigen(hess, rtol):
    """Equilibrated eigen-decomposition of ``-hess`` (as :func:`~hessstats.core.linalg.equilibrated_eigh`)
    and whether every eigenvalue is identified (``> rtol * top``; so the Newton step is the host's)."""
    info = -hess
    diag = jnp.diagonal(info)
    d = jnp.where(jnp.isfinite(diag) & (diag != 0), jnp.sqrt(jnp.abs(diag)), 1.0)
    lam, vectors = jnp.linalg.eigh(info / d[:, None] / d[None, :])
    top = jnp.maximum(jnp.max(jnp.abs(lam)), jnp.finfo(jnp.float64).tiny)
    return d, lam, vectors, jnp.all(lam > rtol * top)


def _newton(grad, d, lam, vectors):
    """The Newton step, its predicted gain, its length in equilibrated units and the decrement."""
    c = vectors.T @ (grad / d)
    p = c / lam
    predicted = c @ p - 0.5 * jnp.sum(lam * p ** 2)
    return (vectors @ p) / d, predicted, jnp.linalg.norm(p), c @ p


@partial(jax.jit, static_argnames=("vgh", "loglike", "spec", "rtol", "program"))
def newton_fit(theta0, data, weights, consts, directions, program_consts, maxiter, *, vgh, loglike, spec,
               rtol=DEFAULT_RTOL, program=None):
    """The iteration in one call; see the module docstring.

    ``vgh(theta, data, loglike, spec, weights, consts)`` is the traced body of a ``(value, gradient,
    Hessian)`` kernel (the generic one, or an index model's). With ``directions`` (``(k, b)``), also
    ``sum_i w_i (s_i . v)^2`` per column at the final point, from ``program`` (the model's generic
    log-likelihood) and ``program_consts``. Returns one float64 vector (:func:`_unpack`).
    """
    TRACES["newton_fit"] += 1
    k = theta0.shape[0]
    zero, inf = jnp.zeros(()), jnp.asarray(jnp.inf)

    def body(s):
        # evaluate the pending point: the start, or a trial step from the current point
        value, grad, hess = vgh(s["next"], data, loglike, spec, weights, consts)
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad)) & jnp.all(jnp.isfinite(hess))
        d, lam, vectors, definite = _eigen(jnp.where(finite, hess, -jnp.eye(k)), rtol)
        first = s["evaluations"] == 0
        rounding = ROUNDING_DECREMENT * _scale(s["value"])
        gain = jnp.where(finite, value - s["value"], -jnp.inf)
        ratio = jnp.where(s["predicted"] > 0, gain / s["predicted"], -jnp.inf)
        noise = s["predicted"] <= rounding
        accept = first | jnp.where(s["polish"], finite & (value >= s["value"] - rounding),
                                   (ratio >= ACCEPT) | (noise & (gain >= -rounding)))
        radius = jnp.where(ratio < 0.25, 0.25 * s["length"],
                           jnp.where((ratio > 0.75) & (s["length"] >= 0.99 * s["radius"]), MAX_RADIUS_GROWTH * s["radius"],
                                     s["radius"]))
        radius = jnp.where(s["polish"] | first, s["radius"], radius)
        rescale = jnp.where(s["length"] > 0, jnp.linalg.norm(d * s["step"]) / s["length"], 1.0)
        radius = jnp.where(accept & ~first & ~s["polish"] & jnp.isfinite(rescale) & (rescale > 0),
                           radius * rescale, radius)
        cur = {key: jnp.where(accept, new, s[key]) for key, new in
               (("theta", s["next"]), ("value", value), ("grad", grad), ("hess", hess), ("d", d), ("lam", lam),
                ("vectors", vectors))}
        # the host iteration at the current point (optimize._trust_region, observed information)
        step, predicted, length, decrement = _newton(cur["grad"], cur["d"], cur["lam"], cur["vectors"])
        radius = jnp.where(first, jnp.where(length > 0, length, 1.0), radius)
        at_floor = decrement <= ROUNDING_DECREMENT * _scale(cur["value"])
        converged = (decrement <= NEGLIGIBLE_DECREMENT) | (at_floor & (decrement > POLISH_SHRINK * s["previous"]))
        polish = at_floor & ~converged
        theta = cur["theta"] + step
        unmoved = jnp.all(theta == cur["theta"])
        iterations = s["iterations"] + jnp.where(first, 0, 1)
        handed_back = (accept & ~(finite & definite)) | ~jnp.isfinite(decrement) | (iterations >= maxiter) \
            | (~polish & ((radius < MIN_RADIUS) | (length > radius))) | (unmoved & ~polish)
        status = jnp.where(s["polish"] & ~accept, FusedStatus.CONVERGED,  # a polishing step that lost value
                           jnp.where(accept & ~(finite & definite), FusedStatus.HANDED_BACK,
                                     jnp.where(converged | (unmoved & polish), FusedStatus.CONVERGED,
                                               jnp.where(handed_back, FusedStatus.HANDED_BACK, FusedStatus.RUNNING))))
        return dict(cur, next=theta, step=step, predicted=predicted, length=length, radius=radius, polish=polish,
                    previous=jnp.where(polish, decrement, inf), iterations=iterations,
                    evaluations=s["evaluations"] + 1, status=status.astype(jnp.int32))

    start = dict(theta=theta0, value=zero, grad=jnp.zeros(k), hess=jnp.zeros((k, k)), d=jnp.ones(k), lam=jnp.ones(k),
                 vectors=jnp.eye(k), next=theta0, step=jnp.zeros(k), predicted=zero, length=zero, radius=inf,
                 polish=jnp.asarray(False), previous=inf, iterations=jnp.asarray(0, jnp.int64),
                 evaluations=jnp.asarray(0, jnp.int64), status=jnp.asarray(FusedStatus.RUNNING, jnp.int32))
    end = jax.lax.while_loop(lambda s: s["status"] == FusedStatus.RUNNING, body, start)
    squares = jnp.zeros(0)
    if directions is not None:
        squares = derivatives.score_squares_traced(end["theta"], data, directions, program, spec, weights, program_consts)
    # one float64 vector (the counts and the status are small integers, exact): one output buffer to
    # create and convert instead of twelve (about 25 us a fit); _unpack reads it
    return jnp.concatenate([end["theta"], end["value"][None], end["grad"], end["hess"].ravel(),
                            jnp.stack([end["iterations"], end["evaluations"], end["status"]]).astype(jnp.float64),
                            end["d"], end["lam"], end["vectors"].ravel(), squares.astype(jnp.float64)])


def _unpack(out: np.ndarray, k: int, squares: bool) -> FusedFit:
    """The :class:`FusedFit` in :func:`newton_fit`'s packed output ``out`` (``k`` parameters).

    Example
    -------
    >>> packed = np.concatenate([[1.0], [-2.0], [0.0], [-4.0], [3.0, 4.0, 1.0], [2.0], [1.0], [1.0]])
    >>> fit = _unpack(packed, 1, squares=False)
    >>> fit.theta.tolist(), round(fit.llf, 12), fit.hessian.tolist(), fit.iterations, fit.status.name
    ([1.0], -2.0, [[-4.0]], 3, 'CONVERGED')
    """
    parts, start = [], 0
    for size in (k, 1, k, k * k, 3, k, k, k * k):  # slices, not np.split (a tenth of the time: about 5 us)
        parts.append(out[start:start + size])
        start += size
    theta, value, grad, hess, counts, d, lam, vectors = parts
    iterations, evaluations, status = (int(c) for c in counts)
    return FusedFit(theta, float(value[0]), grad, hess.reshape(k, k), iterations, evaluations,
                    FusedStatus(status), out[start:] if squares else None, InformationEigen(d, lam, vectors.reshape(k, k)))


def kernel_for(model: Any, data: Any = None) -> tuple[Any, Any, tuple] | None:
    """``(vgh kernel, its static log-likelihood, its constants)`` when ``model`` can fit in one call:
    in memory (not sharded, chunked or a row source), one XLA call per evaluation, no loop of its own
    (:func:`_loops`), and small
    (:data:`FUSED_MAX_CELLS`, :data:`FUSED_MAX_PARAMS`); else None. ``data``: the model's kernel rows
    (:func:`~hessstats.core.engine.kernel_rows`), when the caller has them.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(5.0))
    >>> kernel_for(m)[0] is derivatives.value_grad_hess_traced
    True
    """
    if engine.model_source(model) is not None or getattr(model, "weights", None) is not None \
            or getattr(model, "chunk_size", None) is not None:
        return None
    k = model.k_params
    data = engine.kernel_rows(model)[0] if data is None else data
    leaves = jax.tree_util.tree_leaves(data)
    rows = max((int(np.shape(a)[0]) for a in leaves if np.ndim(a) >= 1), default=1)
    if k > FUSED_MAX_PARAMS or rows * k * k > FUSED_MAX_CELLS:
        return None
    index = getattr(model, "index", None)
    if index is None:
        if model.program is not None and _loops(model.program):
            return None
        return derivatives.value_grad_hess_traced, model.program, model.consts
    one_call = getattr(index, "one_call", None)
    return one_call(data) if one_call is not None else None


_LOOPS: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _loops(program: Any) -> bool:
    """Whether a log-likelihood program runs a loop of its own (``while``, ``scan``: an inner solve such
    as a Laplace approximation's Newton iteration). Its one-call kernel, a loop around that loop
    differentiated twice, takes seconds to compile (5.5 s for a GLMM's profile refits) for little gain
    per call, so such models keep the host iteration.

    Example
    -------
    >>> import hessstats as hs, jax
    >>> def loop(p, d):
    ...     return jax.lax.fori_loop(0, 3, lambda i, s: s * 0.5, d * p["mu"])
    >>> m = hs.Model(loop, {"mu": 1.0}, np.arange(1.0, 4.0))
    >>> _loops(m.program), kernel_for(m) is None
    (True, True)
    """
    found = _LOOPS.get(program)
    if found is None:
        found = _LOOPS[program] = _has_loop(program.jaxpr)
    return found


def _has_loop(jaxpr: Any) -> bool:
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in ("while", "scan"):
            return True
        for value in eqn.params.values():
            inner = getattr(value, "jaxpr", value)
            if hasattr(inner, "eqns") and _has_loop(inner):
                return True
    return False


def break_even() -> float:
    """Host-fit seconds on one kernel shape worth one compile of its one-call kernel (the rule of
    renting until the rent paid equals the price: whatever the number of fits that follow, the time
    spent is at most about twice that of the best choice made in hindsight). A loop of a few hundred
    small fits keeps the host iteration (compiling would cost more than it saves); bootstrap refits
    and simulations with thousands of fits switch after their first few hundred milliseconds.

    Example
    -------
    >>> break_even() > 0
    True
    """
    if SWITCH_AFTER_SECONDS is not None:
        return float(SWITCH_AFTER_SECONDS)
    return compile_estimate("newton_fit", guess=COMPILE_GUESS)


def _key(plan: tuple, positions: np.ndarray | None) -> int:
    return hash((plan[3], positions is None or len(positions)))


def fit(model: Any, theta0: np.ndarray, maxiter: int, positions: np.ndarray | None) -> FusedFit | None:
    """:func:`run` once the host iteration has spent :func:`break_even` seconds on fits of this
    kernel shape (the same program, parameter structure and padded data shape; :func:`charge` counts
    them); None before that and when :func:`kernel_for` declines.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(5.0))
    >>> fit(m, m.start, 100, None) is None   # no host fit of this shape yet: not worth a compile
    True
    """
    plan = _plan(model)
    if plan is None or _SPENT[_key(plan, positions)] < break_even():
        return None
    return run(model, theta0, maxiter, positions)


def charge(model: Any, positions: np.ndarray | None, seconds: float) -> None:
    """Count ``seconds`` of host-iteration fitting against ``model``'s kernel shape (see :func:`fit`).

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(5.0))
    >>> charge(m, None, 1e9)   # as if the host had fitted this shape for a long time
    >>> fit(m, m.start, 100, None).status.name
    'CONVERGED'
    >>> _SPENT.clear()
    """
    plan = _plan(model)
    if plan is None:
        return
    if len(_SPENT) > 10_000:
        _SPENT.clear()
    _SPENT[_key(plan, positions)] += seconds


def run(model: Any, theta0: np.ndarray, maxiter: int, positions: np.ndarray | None) -> FusedFit | None:
    """Run :func:`newton_fit` for ``model`` from ``theta0``; ``positions``: the parameters whose scores'
    squares to return (None: none). None when :func:`kernel_for` declines.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(5.0))
    >>> out = run(m, m.start, 100, None)
    >>> out.status.name, round(float(out.theta[0]), 12), out.iterations
    ('CONVERGED', 2.0, 1)
    """
    plan = _plan(model)
    if plan is None:
        return None
    data, weights, (vgh, loglike, consts), _ = plan
    directions = None
    if positions is not None:
        directions = np.zeros((len(theta0), len(positions)))
        directions[positions, np.arange(len(positions))] = 1.0
    FACTORISATIONS[0] += 1  # the kernel's factorisation at the optimum is the one the fit uses
    with x64():
        out = call_kernel("newton_fit", newton_fit, np.asarray(theta0, dtype=np.float64), data, weights, consts,
                          directions, model.consts, np.int64(maxiter), vgh=vgh, loglike=loglike, spec=model.spec,
                          program=model.program if directions is not None else None)
    # a fresh host copy (np.array): the fit's arrays are the caller's to keep, not views of a device buffer
    return _unpack(np.array(out, dtype=np.float64), len(theta0), directions is not None)


def _plan(model: Any) -> tuple | None:
    """``(kernel rows, row weights, kernel_for's answer, shape hash)`` of ``model``, or None when it
    cannot fit in one call; computed once per model (models are immutable)."""
    try:
        return _PLANS[model]
    except (KeyError, TypeError):
        pass
    data, weights = engine.kernel_rows(model)
    found = kernel_for(model, data)
    plan = None
    if found is not None:
        vgh, loglike, _ = found
        shape = hash((vgh, loglike, model.spec, model.program, weights is None,
                      tuple((np.shape(a), str(getattr(a, "dtype", ""))) for a in jax.tree_util.tree_leaves(data))))
        plan = (data, weights, found, shape)
    try:
        _PLANS[model] = plan
    except TypeError:  # not weakly referenceable: recomputed per fit
        pass
    return plan
