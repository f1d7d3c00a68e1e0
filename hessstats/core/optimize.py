"""Maximise the log-likelihood: Newton's method on exact derivatives, globalised two ways.

``method="auto"`` (default) takes Newton steps with a backtracking line search while the
information is positive (semi)definite, which is the usual case for MLEs and needs the fewest
Hessian evaluations (one compiled call gives value, gradient and Hessian). If a step meets negative
curvature or the line search fails, it hands over to ``scipy.optimize.minimize(method=
"trust-exact")``, a trust-region Newton method that handles indefinite Hessians, and finishes with
Newton steps so the estimate is accurate to rounding, not merely to the optimiser's tolerance.
``"newton"`` and ``"trust-exact"`` force one globalisation. The optimiser's own inverse-Hessian
approximations are never used as a covariance.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.optimize

from hessstats.core.linalg import InformationEigen, InverseInformation, equilibrated_eigh
from hessstats.errors import ConvergenceWarning, IdentificationWarning, SpecificationError, message, warn

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
    """Why the Newton iteration stopped; each member's value is its message.

    Example
    -------
    >>> NewtonStatus.LINE_SEARCH_FAILED.value
    'line search failed'
    """

    CONVERGED = "converged"
    ITERATION_LIMIT = "iteration limit"
    NEGATIVE_CURVATURE = "negative curvature"
    LINE_SEARCH_FAILED = "line search failed"

NEGLIGIBLE_DECREMENT = 1e-20
"""A Newton step whose decrement ``g'(-H)^-1 g`` is below this moves every parameter by less than
1e-10 standard errors: not worth another evaluation of the Hessian."""


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

    @property
    def decrement(self) -> float:
        """The Newton decrement ``g'(-H)^+ g`` at the optimum (NaN when the Hessian is not finite)."""
        return self.eigen.decrement(self.gradient) if self.eigen is not None else float("nan")


class _Cache:
    """Evaluate (value, gradient, Hessian) and factorise the information once per point; scipy
    asks for them separately."""

    def __init__(self, model: Model, scale: float):
        self.model, self.scale = model, scale
        self.key: bytes | None = None
        self.evaluations = 0
        self._eigen: InformationEigen | None = None

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if key != self.key:
            self.value = self.model.evaluate(theta)
            self.key, self._eigen = key, None
            self.evaluations += 1
        return self.value

    def eigen(self, theta: np.ndarray) -> InformationEigen | None:
        """The factorisation of ``-H`` at ``theta`` (computed once per point; None if not finite)."""
        hess = self(theta)[2]
        if not np.all(np.isfinite(hess)):
            return None
        if self._eigen is None:
            self._eigen = equilibrated_eigh(-hess)
        return self._eigen

    def fun(self, theta):
        llf = self(theta)[0]
        return -llf / self.scale if np.isfinite(llf) else np.inf

    def jac(self, theta):
        return -self(theta)[1] / self.scale

    def hess(self, theta):
        return -self(theta)[2] / self.scale


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
    raise SpecificationError(message(
        f"the log-likelihood {what} is not finite at the start values",
        expected="a finite log-likelihood, gradient and Hessian at start",
        got=f"loglike = {llf}{where}" + (f"; non-finite gradient for {bad_params}" if bad_params else ""),
        fix="choose start values inside the parameter space (e.g. sigma > 0, or fit log_sigma), "
            "and guard logs of zero (jnp.log1p, jnp.logaddexp, jnp.where with the double-where trick)"))


def maximize(model: Model, theta0: np.ndarray, *, method: str | OptimizerMethod = "auto", maxiter: int = 100,
             gtol: float = 1e-10, polish_steps: int = 10) -> Optimum:
    """Maximise ``sum(loglike)`` from ``theta0``; see the module docstring.

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
    start = check_start(model, theta0)
    cache = _Cache(model, scale=max(abs(start[0]), 1.0))
    cache.key, cache.value = np.asarray(theta0, dtype=np.float64).tobytes(), start  # no second evaluation
    theta, iterations, notes = np.array(theta0, dtype=np.float64), 0, []
    status = None
    if method in (OptimizerMethod.AUTO, OptimizerMethod.NEWTON):
        theta, iterations, status = _newton(cache, theta, maxiter)
        notes.append(status.value)
    if method is OptimizerMethod.TRUST_EXACT or (
            method is OptimizerMethod.AUTO and status not in (NewtonStatus.CONVERGED, NewtonStatus.ITERATION_LIMIT)):
        out = scipy.optimize.minimize(cache.fun, theta, jac=cache.jac, hess=cache.hess, method="trust-exact",
                                      options={"gtol": gtol, "maxiter": max(maxiter - iterations, 1)})
        theta = np.asarray(out.x, dtype=np.float64)
        notes.append(f"trust-exact: {out.message}")
        iterations += int(out.nit)
        theta, steps, _ = _newton(cache, theta, polish_steps)
        iterations += steps
    theta = _nearest_on_flat_ridge(cache, theta0, theta)
    llf, grad, hess = cache(theta)
    return Optimum(theta, llf, grad, hess, iterations, "; ".join(notes), hit_maxiter=iterations >= maxiter,
                   eigen=cache.eigen(theta))


def _newton(cache: _Cache, theta: np.ndarray, max_steps: int) -> tuple[np.ndarray, int, NewtonStatus]:
    """Newton steps with backtracking while the information is positive semidefinite.

    Returns the point, the number of steps taken, and why it stopped (a :class:`NewtonStatus`):
    converged (the next step would be negligible), iteration limit, negative curvature or line
    search failed.
    """
    for steps in range(max_steps + 1):
        llf, grad, hess = cache(theta)
        eigen = cache.eigen(theta)
        if eigen is None or eigen.indefinite():
            return theta, steps, NewtonStatus.NEGATIVE_CURVATURE
        step = eigen.solve(grad)
        decrement = float(grad @ step)
        if not np.isfinite(decrement):
            return theta, steps, NewtonStatus.LINE_SEARCH_FAILED
        if decrement <= NEGLIGIBLE_DECREMENT:
            return theta, steps, NewtonStatus.CONVERGED
        if steps == max_steps:
            return theta, steps, NewtonStatus.ITERATION_LIMIT
        rounding = 1e-13 * max(1.0, abs(llf))  # llf can only be compared to about this
        for halvings in range(31):
            alpha = 0.5 ** halvings
            llf_trial = cache(theta + alpha * step)[0]
            if np.isfinite(llf_trial) and (llf_trial >= llf + 1e-4 * alpha * decrement
                                           or (decrement < 1e3 * rounding and llf_trial >= llf - rounding)):
                theta = theta + alpha * step
                break
        else:
            return theta, steps, NewtonStatus.LINE_SEARCH_FAILED
    return theta, max_steps, NewtonStatus.ITERATION_LIMIT


def _nearest_on_flat_ridge(cache: _Cache, theta0: np.ndarray, theta: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """Where the information is singular the log-likelihood is flat along its null directions,
    and the optimiser may have drifted far along them. Move back to the point of the ridge nearest
    the start (in equilibrated coordinates), if that does not lower the log-likelihood."""
    llf = cache(theta)[0]
    eigen = cache.eigen(theta)
    if eigen is None:
        return theta
    d, eigenvalues, vectors = eigen
    null = vectors[:, np.abs(eigenvalues) <= rtol * np.max(np.abs(eigenvalues))]
    if null.shape[1] == 0:
        return theta
    candidate = theta - (null @ (null.T @ ((theta - theta0) * d))) / d
    llf_candidate, grad, _ = cache(candidate)
    if np.isfinite(llf_candidate) and llf_candidate >= llf - 1e-12 * max(1.0, abs(llf)) and np.all(np.isfinite(grad)):
        return candidate
    cache(theta)  # back to the point returned, so its factorisation is the cached one
    return theta


def certify(opt: Optimum, inverse: InverseInformation, nr_tol: float, names: tuple[str, ...]) -> tuple[bool, str]:
    """Stata-style certificate: small scaled gradient and a negative definite Hessian; warn otherwise.

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
    if not np.isfinite(decrement) or decrement > nr_tol or opt.hit_maxiter:
        problems.append(
            f"the optimiser stopped after {opt.iterations} iterations with scaled gradient "
            f"g'(-H)^-1 g = {decrement:.3g} (tolerance {nr_tol:g}; optimiser said: {opt.message})")
        warn(
            f"not converged: {problems[-1]}. Try better start values, a larger maxiter, or rescaling "
            "the data/parameters; the estimates below are not a certified maximum.", ConvergenceWarning)
    if not inverse.ok:
        groups = []
        for eig, frame in inverse.diagnostics.groupby("eigenvalue", sort=True):
            loads = ", ".join(f"{p} ({l:+.3f})" for p, l in zip(frame["parameter"], frame["loading"]))
            groups.append(f"eigenvalue {eig:.3g} [{frame['problem'].iloc[0]}]: {loads}")
        bad = [n for n, b in zip(names, inverse.bad) if b]
        problems.append(f"the information matrix is not positive definite; NaN standard errors for {bad}")
        warn(
            "the Hessian is not negative definite at the optimum, so these parameters are not identified "
            f"and get NaN standard errors: {bad}.\n  " + "\n  ".join(groups) +
            "\n  Fix: drop or combine the collinear parameters, fix one of them, or reparametrise; "
            "inspect res.identification.", IdentificationWarning)
    return (not problems), ("converged" if not problems else "; ".join(problems))
