"""Maximise the log-likelihood: Newton's method on exact derivatives, globalised by a trust region
on the equilibrated information.

Every point evaluated gets value, gradient and Hessian from one compiled call; every point
accepted has its observed information factorised once (:func:`~hessstats.core.linalg.equilibrated_eigh`,
an eigen-decomposition of the information scaled to unit diagonal), and that one factorisation
gives the Newton step, the trust-region step, the Newton decrement and, at the optimum, the
covariance (carried by :attr:`Optimum.eigen`). Rejected trial points are never factorised.

``method="auto"`` (default) is a trust-region Newton method in *equilibrated* coordinates: each
parameter is measured in its conditional standard errors (``1 / sqrt(|H_jj|)``), so parameters of
very different units, as in ill-conditioned problems, are treated alike. The radius starts at the
Newton step: while the information is positive definite and the log-likelihood follows its
quadratic model, every step is a full Newton step. On negative curvature or a poor step, the exact
trust-region step is taken instead (the equilibrated information damped by a Levenberg-Marquardt
shift, computed from the same eigen-decomposition; Moré & Sorensen 1983). Near the maximum the
radius stops binding and the iteration ends with full Newton steps, accurate to rounding.

Where the observed information is indefinite and the model has an expected information
(``Model(expected_information=fn)``, which the built-in models supply), ``"auto"`` steps with that
instead (Fisher scoring, the likelihood analogue of Gauss-Newton, in the same trust region) until
the observed information is positive definite again: for nonlinear least squares (a normal
likelihood) this is what lets Levenberg-Marquardt solve problems on which exact-Hessian methods
crawl or stop at saddles (NIST StRD Lanczos, Bennett5, MGH10).

``"trust-exact"``: the same trust region on the observed information only, with the radius
starting at one conditional standard error. ``"newton"``: Newton steps with a backtracking line
search only, which stop at negative curvature.

A trial point where the log-likelihood or its derivatives are not finite (a parameter beyond the
edge of its space: ``sigma <= 0``, the log of a negative number) is rejected like a poor step and
the region shrinks; the result records where (:attr:`Optimum.nonfinite`), and :func:`certify`'s
warning says so, with a fix.

Stopping is relative: when the Newton decrement ``g'(-H)^-1 g`` (twice the gain a Newton step
promises) reaches the rounding scale of the log-likelihood (:data:`ROUNDING_DECREMENT` times
``max(1, |llf|)``), full Newton steps polish the estimate until the decrement stops shrinking
(its rounding floor) or falls below :data:`NEGLIGIBLE_DECREMENT`; no absolute tolerance in
log-likelihood units decides when to stop.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hessstats.core import fused
from hessstats.core.compilation import compile_totals
from hessstats.core.linalg import InformationEigen, InverseInformation, equilibrated_eigh
from hessstats.core.stopping import (
    ACCEPT,
    MAX_RADIUS_GROWTH,
    MIN_RADIUS,
    NEGLIGIBLE_DECREMENT,
    POLISH_SHRINK,
    ROUNDING_DECREMENT,
)
from hessstats.errors import (
    ConvergenceWarning,
    HessstatsError,
    IdentificationWarning,
    SpecificationError,
    message,
    warn,
)

if TYPE_CHECKING:
    from hessstats.model import Model

NR_TOL = 1e-5
"""Convergence needs the scaled gradient ``g' (-H)^-1 g`` below this (Stata's ``nrtolerance``)."""


class OptimizerMethod(enum.StrEnum):
    """How the Newton iteration is globalised (``method=``).

    Example
    -------
    >>> OptimizerMethod("trust-exact") is OptimizerMethod.TRUST_EXACT
    True
    """

    AUTO = "auto"
    NEWTON = "newton"
    TRUST_EXACT = "trust-exact"


METHODS = tuple(m.value for m in OptimizerMethod)


class NewtonStatus(enum.Enum):
    """Why the iteration stopped; each member's value is its message.

    Example
    -------
    >>> NewtonStatus.LINE_SEARCH_FAILED.value
    'line search failed'
    """

    CONVERGED = "converged"
    ITERATION_LIMIT = "iteration limit"
    NEGATIVE_CURVATURE = "negative curvature"
    LINE_SEARCH_FAILED = "line search failed"
    STALLED = "no acceptable step: the trust region shrank below 1e-8 standard errors"


def _scale(llf: float) -> float:
    return max(1.0, abs(llf))


@dataclass(frozen=True)
class Optimum:
    """Where the optimiser stopped, with the exact derivatives there and their one factorisation.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
    >>> opt = maximize(m, m.start)
    >>> isinstance(opt, Optimum), round(opt.llf, 6), opt.hessian.tolist(), opt.hit_maxiter
    (True, -2.0, [[-4.0]], False)
    """

    theta: np.ndarray
    llf: float
    gradient: np.ndarray
    hessian: np.ndarray
    iterations: int
    message: str
    hit_maxiter: bool
    eigen: InformationEigen | None = None
    """The equilibrated eigen-decomposition of ``-hessian`` (None when the Hessian is not finite)."""
    nonfinite: str = ""
    """Where trial points had a non-finite log-likelihood or derivatives (empty if none did)."""
    evaluations: int = 0
    """How many points were evaluated (value, gradient and Hessian), the start included."""
    score_squares: np.ndarray | None = None
    """``sum_i w_i s_ij^2`` at ``theta`` for the parameters ``maximize(..., score_positions=)`` named, when the
    fit ran in one compiled call (:mod:`hessstats.core.fused`) and computed them there; else None."""

    @property
    def decrement(self) -> float:
        """The Newton decrement ``g'(-H)^+ g`` at the optimum (NaN when the Hessian is not finite)."""
        return self.eigen.decrement(self.gradient) if self.eigen is not None else float("nan")


class _Point:
    """One evaluated point: value, gradient and Hessian, and the information's factorisation,
    computed at most once (on first use)."""

    def __init__(self, theta: np.ndarray, llf: float, grad: np.ndarray, hess: np.ndarray):
        self.theta, self.llf, self.grad, self.hess = theta, float(llf), grad, hess
        self.finite = math.isfinite(self.llf) and bool(np.isfinite(grad).all()) and bool(np.isfinite(hess).all())
        self._eigen: InformationEigen | None = None

    @property
    def eigen(self) -> InformationEigen | None:
        """The factorisation of ``-H`` here (None if anything is not finite)."""
        if self._eigen is None and self.finite:
            self._eigen = equilibrated_eigh(-self.hess)
        return self._eigen


class _Evaluator:
    """Evaluate points of ``model`` and remember the non-finite ones (parameters at a boundary)."""

    def __init__(self, model: Model):
        self.model = model
        self.evaluations = 0
        self.rejected = 0
        self.last_bad: tuple[np.ndarray, str] | None = None

    def __call__(self, theta: np.ndarray) -> _Point:
        self.evaluations += 1
        point = _Point(theta, *self.model.evaluate(theta))
        if not point.finite:
            self.rejected += 1
            what = "log-likelihood" if not np.isfinite(point.llf) else "derivatives"
            self.last_bad = (theta, what)
        return point

    def describe(self, names: tuple[str, ...], current: np.ndarray) -> str:
        """Which trial points were not finite, and which parameters moved to get there."""
        if self.last_bad is None:
            return ""
        theta, what = self.last_bad
        moved = theta != current
        shown = [f"{n} = {v:.6g}" for n, v, m in zip(names, theta, moved) if m][:8]
        return (f"{self.rejected} trial point(s) had a non-finite {what} and were rejected "
                f"(the last at {', '.join(shown) or 'the current point'})")


def check_start(model: Model, theta0: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Evaluate at the start; a non-finite value or derivative raises, naming observations.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
    >>> value, grad, hess = check_start(m, m.start)
    >>> float(value), grad.tolist(), hess.tolist()
    (-10.0, [8.0], [[-4.0]])
    """
    llf, grad, hess = model.evaluate(theta0)
    if np.isfinite(llf) and np.all(np.isfinite(grad)) and np.all(np.isfinite(hess)):
        return llf, grad, hess
    where = ""
    if model.per_observation:
        obs = model.loglike_obs(theta0)
        bad = np.flatnonzero(~np.isfinite(obs))
        if bad.size:
            where = f"; non-finite at observations {bad[:10].tolist()}" + (" ..." if bad.size > 10 else "")
    what = "value" if not np.isfinite(llf) else "derivatives"
    bad_params = [n for n, g in zip(model.names, grad) if not np.isfinite(g)]
    bad_hess = [n for n, row in zip(model.names, hess) if not np.all(np.isfinite(row))]
    got = f"loglike = {llf}{where}" + (f"; non-finite gradient for {bad_params}" if bad_params else "")
    if not bad_params and bad_hess:
        got += f"; non-finite Hessian rows for {bad_hess}"
    raise SpecificationError(message(
        f"the log-likelihood {what} is not finite at the start values",
        expected="a finite log-likelihood, gradient and Hessian at start",
        got=got,
        fix="choose start values inside the parameter space (e.g. sigma > 0, or fit log_sigma), "
            "and guard logs of zero (jnp.log1p, jnp.logaddexp, jnp.where with the double-where trick)"))


def maximize(model: Model, theta0: np.ndarray, *, method: str | OptimizerMethod = "auto", maxiter: int = 100,
             scoring: bool = True, gtol: float | None = None, polish_steps: int | None = None,
             score_positions: np.ndarray | None = None) -> Optimum:
    """Maximise ``sum(loglike)`` from ``theta0``; see the module docstring.

    ``maxiter`` bounds the trial points evaluated (trust region) or the Newton steps taken
    (``"newton"``). ``scoring``: with ``method="auto"``, use ``model.expected_information`` (when
    the model has one) where the observed information is indefinite. ``gtol`` and
    ``polish_steps`` are accepted for compatibility and ignored (the stopping rule is the
    relative decrement, and polishing is part of the iteration).

    With ``"auto"``, small in-memory models whose kernel shape has already cost the host iteration
    about one compile of the one-call kernel (:func:`hessstats.core.fused.break_even`) run the
    iteration in one compiled call (:mod:`hessstats.core.fused`); wherever that needs more than full
    Newton steps, this host iteration runs from ``theta0`` instead. ``score_positions``: parameters whose scores' squares
    the one-call fit also returns (:attr:`Optimum.score_squares`).

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
    >>> maximize(m, m.start).theta.round(12).tolist()
    [2.0]
    """
    try:
        method = OptimizerMethod(method)
    except ValueError:
        raise SpecificationError(message(
            "unknown optimisation method", expected=f"one of {METHODS}", got=repr(method),
            fix="use method='auto' (default), 'newton' or 'trust-exact'")) from None
    theta0 = np.array(theta0, dtype=np.float64)
    if method is OptimizerMethod.AUTO:
        quick = _one_call(model, theta0, maxiter, score_positions)
        if quick is not None:
            return quick
    started, (_, compiled) = time.perf_counter(), compile_totals()
    optimum = _host_iteration(model, theta0, method, maxiter, scoring)
    if method is OptimizerMethod.AUTO:  # the host seconds of this kernel shape, compiles excluded (fused.fit)
        fused.charge(model, score_positions, time.perf_counter() - started - (compile_totals()[1] - compiled))
    return optimum


def _host_iteration(model: Model, theta0: np.ndarray, method: OptimizerMethod, maxiter: int, scoring: bool) -> Optimum:
    """The iteration on the host: a kernel call per point, factorisations with numpy."""
    evaluate = _Evaluator(model)
    point = _Point(theta0, *check_start(model, theta0))  # raises if not finite
    evaluate.evaluations = 1  # the start, evaluated by check_start
    if method is OptimizerMethod.NEWTON:
        point, iterations, status = _newton(evaluate, point, maxiter)
    else:
        expected = model.expected_information if method is OptimizerMethod.AUTO and scoring else None
        point, iterations, status = _trust_region(evaluate, point, maxiter, method, expected)
    point = _nearest_on_flat_ridge(evaluate, theta0, point)
    nonfinite = evaluate.describe(model.names, point.theta)
    notes = [status.value] + ([nonfinite] if nonfinite else [])
    return Optimum(point.theta, point.llf, point.grad, point.hess, iterations, "; ".join(notes),
                   hit_maxiter=status is NewtonStatus.ITERATION_LIMIT, eigen=point.eigen, nonfinite=nonfinite,
                   evaluations=evaluate.evaluations)


def _one_call(model: Model, theta0: np.ndarray, maxiter: int, positions: np.ndarray | None) -> Optimum | None:
    """The optimum from :func:`hessstats.core.fused.fit` when it converged by full Newton steps to a
    point whose information (factorised here, on the host) identifies every parameter; else None."""
    out = fused.fit(model, theta0, maxiter, positions)
    if out is None or out.status is not fused.FusedStatus.CONVERGED:
        return None
    eigen = out.eigen
    if not eigen.identified().all():
        return None
    return Optimum(out.theta, out.llf, out.gradient, out.hessian, out.iterations, NewtonStatus.CONVERGED.value,
                   hit_maxiter=False, eigen=eigen, evaluations=out.evaluations, score_squares=out.score_squares)


class _Stop:
    """The relative stopping rule shared by both globalisations.

    A decrement at or below :data:`NEGLIGIBLE_DECREMENT` stops at once. A decrement at the
    log-likelihood's rounding scale (:data:`ROUNDING_DECREMENT` times ``max(1, |llf|)``) starts
    polishing: full Newton steps without the sufficient-increase test, until the decrement no
    longer shrinks by :data:`POLISH_SHRINK` (its rounding floor, set by the gradient's rounding).
    """

    def __init__(self) -> None:
        self.previous: float | None = None

    def check(self, point: _Point, decrement: float) -> tuple[bool, bool]:
        """``(stop, polish)``: stop now, or take the next Newton step without the increase test."""
        if decrement <= NEGLIGIBLE_DECREMENT:
            return True, False
        if decrement <= ROUNDING_DECREMENT * _scale(point.llf):
            if self.previous is not None and decrement > POLISH_SHRINK * self.previous:
                return True, False
            self.previous = decrement
            return False, True
        self.previous = None
        return False, False


def _scoring_eigen(point: _Point, expected: Callable[[np.ndarray], np.ndarray]) -> InformationEigen | None:
    """The factorisation of the expected information at ``point`` (None if it is unusable)."""
    try:
        info = np.asarray(expected(point.theta), dtype=np.float64)
    except Exception:  # a user's function: any failure means "do not score here"
        return None
    k = point.theta.shape[0]
    if info.shape != (k, k) or not np.all(np.isfinite(info)):
        return None
    eigen = equilibrated_eigh((info + info.T) / 2.0)
    return None if eigen.indefinite() or eigen.eigenvalues[-1] <= 0 else eigen


def _metric(point: _Point, expected: Callable[[np.ndarray], np.ndarray] | None) -> tuple[InformationEigen, bool]:
    """The information the step is computed from: the observed one, unless it is indefinite and
    an expected information is given (then Fisher scoring: ``(metric, scoring)``)."""
    eigen = point.eigen
    assert eigen is not None  # accepted points are finite
    if expected is not None and eigen.indefinite():
        scoring = _scoring_eigen(point, expected)
        if scoring is not None:
            return scoring, True
    return eigen, False


def _trust_region(evaluate: _Evaluator, point: _Point, maxiter: int, method: OptimizerMethod,
                  expected: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[_Point, int, NewtonStatus]:
    """The trust-region iteration in equilibrated coordinates (module docstring)."""
    metric, scoring = _metric(point, expected)
    radius = _initial_radius(point.grad, metric, method)
    stop, iterations = _Stop(), 0
    while True:
        polish = False
        if not scoring and not metric.indefinite():
            done, polish = stop.check(point, metric.decrement(point.grad))
            if done:
                return point, iterations, NewtonStatus.CONVERGED
        else:
            stop.previous = None
        if iterations >= maxiter:
            return point, iterations, NewtonStatus.ITERATION_LIMIT
        if radius < MIN_RADIUS and not polish:
            return point, iterations, NewtonStatus.STALLED
        step = metric.trust_step(point.grad, math.inf if polish else radius)
        theta = point.theta + step.step
        if np.array_equal(theta, point.theta):
            return point, iterations, NewtonStatus.CONVERGED if polish else NewtonStatus.STALLED
        iterations += 1
        trial = evaluate(theta)
        rounding = ROUNDING_DECREMENT * _scale(point.llf)
        if polish:
            if not (trial.finite and trial.llf >= point.llf - rounding):
                return point, iterations, NewtonStatus.CONVERGED  # rounding: nothing left to gain
            point = trial
            metric, scoring = _metric(point, expected)
            continue
        gain = trial.llf - point.llf if trial.finite else -math.inf
        ratio = gain / step.predicted if step.predicted > 0 else -math.inf
        noise = step.predicted <= rounding
        if ratio < 0.25:
            radius = 0.25 * step.length
        elif ratio > 0.75 and step.length >= 0.99 * radius:
            radius = MAX_RADIUS_GROWTH * radius
        if not (ratio >= ACCEPT or (noise and gain >= -rounding)):
            continue
        point = trial
        metric, scoring = _metric(point, expected)
        # the radius is in conditional standard errors: re-measure the step at the new point
        rescale = float(np.linalg.norm(metric.d * step.step)) / step.length if step.length > 0 else 1.0
        if np.isfinite(rescale) and rescale > 0:
            radius *= rescale


def _initial_radius(grad: np.ndarray, eigen: InformationEigen, method: OptimizerMethod) -> float:
    """``"auto"``: the Newton step's length when the information is positive definite (so the
    first step is a Newton step), else the Cauchy step's (at least 1); ``"trust-exact"``: 1."""
    if method is OptimizerMethod.TRUST_EXACT:
        return 1.0
    if not eigen.indefinite():
        length = eigen.trust_step(grad, math.inf).length
        if length > 0:
            return length
    scaled = grad / eigen.d
    curvature = float(scaled @ ((eigen.vectors * eigen.eigenvalues) @ (eigen.vectors.T @ scaled)))
    norm = float(np.linalg.norm(scaled))
    cauchy = norm ** 3 / curvature if curvature > 0 else norm
    return max(1.0, cauchy) if np.isfinite(cauchy) else 1.0


def _newton(evaluate: _Evaluator, point: _Point, max_steps: int) -> tuple[_Point, int, NewtonStatus]:
    """Newton steps with backtracking while the information is positive semidefinite.

    Returns the point, the number of steps taken, and why it stopped (a :class:`NewtonStatus`):
    converged (the next step would be negligible), iteration limit, negative curvature or line
    search failed. Trial points that are not finite count as failed trials of the line search.
    """
    stop = _Stop()
    for steps in range(max_steps + 1):
        eigen = point.eigen
        if eigen is None or eigen.indefinite():
            return point, steps, NewtonStatus.NEGATIVE_CURVATURE
        step = eigen.solve(point.grad)
        decrement = float(point.grad @ step)
        if not np.isfinite(decrement):
            return point, steps, NewtonStatus.LINE_SEARCH_FAILED
        done, polish = stop.check(point, decrement)
        if done:
            return point, steps, NewtonStatus.CONVERGED
        if steps == max_steps:
            return point, steps, NewtonStatus.ITERATION_LIMIT
        rounding = ROUNDING_DECREMENT * _scale(point.llf)
        for halvings in range(31):
            alpha = 0.5 ** halvings
            trial = evaluate(point.theta + alpha * step)
            if trial.finite and (trial.llf >= point.llf + ACCEPT * alpha * decrement
                                 or (polish and trial.llf >= point.llf - rounding)):
                point = trial
                break
            if polish:  # rounding: nothing left to gain
                return point, steps, NewtonStatus.CONVERGED
        else:
            return point, steps, NewtonStatus.LINE_SEARCH_FAILED
    return point, max_steps, NewtonStatus.ITERATION_LIMIT


def _nearest_on_flat_ridge(evaluate: _Evaluator, theta0: np.ndarray, point: _Point, rtol: float = 1e-12) -> _Point:
    """Where the information is singular the log-likelihood is flat along its null directions,
    and the optimiser may have drifted far along them. Move back to the point of the ridge nearest
    the start (in equilibrated coordinates), if that does not lower the log-likelihood."""
    eigen = point.eigen
    if eigen is None:
        return point
    d, eigenvalues, vectors = eigen
    null = vectors[:, np.abs(eigenvalues) <= rtol * np.max(np.abs(eigenvalues))]
    if null.shape[1] == 0:
        return point
    candidate = evaluate(point.theta - (null @ (null.T @ ((point.theta - theta0) * d))) / d)
    if candidate.finite and candidate.llf >= point.llf - 1e-12 * _scale(point.llf):
        return candidate
    return point


ATTAINED_SPREAD = 100.0
"""The maximum is probed (:func:`unattained`) when the standard error along the information's weakest
direction exceeds this many times ``max(1, |theta|)``: where diverging estimates end up."""
ATTAINED_STEP = 4.0
"""The probe points lie this many standard errors along the weakest direction, on both sides: a
quadratic maximum is lower there by ``ATTAINED_STEP**2 / 2 = 8`` log-likelihood units."""


NOT_IDENTIFIED = "the information matrix is not positive definite"
"""How a fit's ``convergence_message`` states an identification problem (NaN standard errors for the
unidentified parameters; inference on the identified ones stays valid)."""
_NAN_SES = "NaN standard errors for "


def beyond_identification(convergence_message: str) -> list[str]:
    """The problems a fit's ``convergence_message`` (written by :func:`certify`) states other than an
    identification problem, whose NaN standard errors confine it to the unidentified parameters.

    Example
    -------
    >>> beyond_identification("converged"), beyond_identification(f"{NOT_IDENTIFIED}; {_NAN_SES}['b']")
    ([], [])
    """
    return [p for p in convergence_message.split("; ")
            if p != "converged" and not p.startswith(NOT_IDENTIFIED) and not p.startswith(_NAN_SES)]


def unattained(opt: Optimum, value: Callable[[np.ndarray], float], names: tuple[str, ...]) -> str | None:
    """Why the point ``opt`` is not an attained maximum, or None when it is (or is not probed).

    Where the supremum of the log-likelihood lies at infinity (perfect prediction or separation in a
    hand-written binary model, a rate or a variance running to a limit), the optimiser stops once the
    gradient and the curvature have both died away: the certificate holds numerically, and the
    standard errors are astronomical. Such a point is recognised by the log-likelihood ``value``
    failing to come down at :data:`ATTAINED_STEP` standard errors along the weakest direction of the
    information, probed only where that standard error exceeds :data:`ATTAINED_SPREAD` times the
    parameters' size (two evaluations; non-finite values count as coming down).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> y, x = np.array([0.0, 0.0, 1.0, 1.0]), np.array([-2.0, -1.0, 1.0, 2.0])  # separated by x
    >>> m = hs.Model(lambda p, d: d[0] * p["b"] * d[1] - jnp.logaddexp(0.0, p["b"] * d[1]), {"b": 0.0}, (y, x))
    >>> opt = maximize(m, m.start)
    >>> print(unattained(opt, lambda t: m.evaluate(t)[0], m.names).split(":")[0])
    the maximum is not attained
    """
    if opt.eigen is None or not np.isfinite(opt.llf):
        return None
    scale = ATTAINED_SPREAD * max(1.0, float(np.linalg.norm(opt.theta)))
    eigen = opt.eigen
    positive = eigen.eigenvalues > 0
    # trace(info^-1) bounds the weakest direction's variance from above: below scale^2, no probe
    if np.sum(eigen.vectors[:, positive] ** 2 / eigen.eigenvalues[positive] / eigen.d[:, None] ** 2) <= scale ** 2:
        return None
    info = -(opt.hessian + opt.hessian.T) / 2.0
    eigenvalues, vectors = np.linalg.eigh(info)
    if not eigenvalues[0] > 0:
        return None  # not identified: the identification check reports it
    spread = 1.0 / math.sqrt(eigenvalues[0])
    if not spread > scale:
        return None
    direction = vectors[:, 0]
    near = min(ATTAINED_STEP * spread, scale / ATTAINED_SPREAD)  # max(1, |theta|): where the far point is not finite
    for sign in (1.0, -1.0):
        for step, drop in ((ATTAINED_STEP * spread, 0.0), (near, 0.1 * near ** 2 / (2.0 * spread ** 2))):
            probe = _probe(value, opt.theta + sign * step * direction)
            if probe is None:
                continue  # not finite there: a wall, or a parameter beyond its range (try nearer)
            if drop and drop <= 1e-12 * _scale(opt.llf):
                break  # the quadratic model's drop is below what the values resolve: no conclusion
            if probe >= opt.llf - max(drop, 1e-9 * _scale(opt.llf) if not drop else 0.0):
                loads = ", ".join(f"{n} ({sign * l:+.3f})" for n, l in sorted(zip(names, direction),
                                                                              key=lambda t: -abs(t[1])) if abs(l) >= 0.1)
                return (f"the maximum is not attained: the log-likelihood is {probe:.10g} (at the estimates "
                        f"{opt.llf:.10g}) {step:.3g} further along {loads} ({step / spread:.3g} standard errors), so it "
                        "keeps rising or stays flat in that direction and the estimates there diverge")
            break
    return None


def _probe(value: Callable[[np.ndarray], float], theta: np.ndarray) -> float | None:
    """The log-likelihood at ``theta``, or None where it is not finite or cannot be evaluated."""
    try:
        out = float(value(theta))
    except (HessstatsError, FloatingPointError, OverflowError):
        return None
    return out if np.isfinite(out) else None


def certify(opt: Optimum, inverse: InverseInformation, nr_tol: float, names: tuple[str, ...],
            value: Callable[[np.ndarray], float] | None = None) -> tuple[bool, str]:
    """Stata-style certificate: small scaled gradient and a negative definite Hessian; warn otherwise.
    With the log-likelihood ``value``, also a maximum that is attained (:func:`unattained`).

    The certificate is the whole test: a point that passes it is converged even when the
    optimiser used up its iterations on the way (``opt.hit_maxiter``).

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> from hessstats.core.linalg import invert_information
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
    >>> opt = maximize(m, m.start)
    >>> certify(opt, invert_information(opt.hessian, m.names, eigen=opt.eigen), 1e-5, m.names)
    (True, 'converged')
    """
    decrement = abs(opt.decrement)
    problems = []
    if not np.isfinite(decrement) or decrement > nr_tol:
        problems.append(
            f"the optimiser stopped after {opt.iterations} iterations with scaled gradient "
            f"g'(-H)^-1 g = {decrement:.3g} (tolerance {nr_tol:g}; optimiser said: {opt.message})")
        fix = "try better start values, a larger maxiter, or rescaling the data/parameters"
        if opt.nonfinite:
            fix = ("trial steps reached points where the log-likelihood is not finite, so a parameter may be at "
                   "the edge of its space: reparametrise so every value is allowed (log_sigma instead of sigma, "
                   "a logit for a probability), start inside the space, or check the data (a zero variance, "
                   "perfect prediction); otherwise " + fix)
        warn(message(
            "not converged: the estimates are not a certified maximum",
            expected=f"scaled gradient g'(-H)^-1 g < {nr_tol:g} at a point where the Hessian is negative definite",
            got=problems[-1], fix=fix), ConvergenceWarning)
    if not inverse.ok:
        groups = []
        for eig, frame in inverse.diagnostics.groupby("eigenvalue", sort=True):
            loads = ", ".join(f"{p} ({l:+.3f})" for p, l in zip(frame["parameter"], frame["loading"]))
            groups.append(f"eigenvalue {eig:.3g} [{frame['problem'].iloc[0]}]: {loads}")
        bad = [n for n, b in zip(names, inverse.bad) if b]
        problems.append(f"{NOT_IDENTIFIED}; {_NAN_SES}{bad}")
        fix = "drop or combine the collinear parameters, fix one of them, or reparametrise; inspect res.identification"
        if opt.nonfinite:
            fix += (f". The optimiser also met points where the log-likelihood is not finite ({opt.nonfinite}): "
                    "a parameter may be at the edge of its space (sigma -> 0, a probability -> 0 or 1), where "
                    "the maximum does not exist; check the data (a zero variance, perfect prediction)")
        warn(message(
            "the Hessian is not negative definite at the optimum, so these parameters are not identified "
            f"and get NaN standard errors: {bad}",
            expected="a negative definite Hessian (every parameter identified by the data)",
            got="\n  ".join(groups), fix=fix), IdentificationWarning)
    why = unattained(opt, value, names) if value is not None and not problems else None
    if why is not None:
        problems.append(why)
        warn(message(
            "not converged: the maximum is not attained", expected="a log-likelihood that comes down on every side "
            "of the estimates", got=why, fix="the data may predict the outcome perfectly (separation), or a "
            "parameter may run to the edge of its space (a variance to 0, a probability to 0 or 1): check the "
            "data, drop or merge the variables named, or fix that parameter; these standard errors mean nothing"),
            ConvergenceWarning)
    return (not problems), ("converged" if not problems else "; ".join(problems))
