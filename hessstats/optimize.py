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

from dataclasses import dataclass

import numpy as np
import scipy.optimize

from .covariance import equilibrated_eigh
from .errors import SpecificationError, message
from .model import Model

METHODS = ("auto", "newton", "trust-exact")

NEGLIGIBLE_DECREMENT = 1e-20
"""A Newton step whose decrement ``g'(-H)^-1 g`` is below this moves every parameter by less than
1e-10 standard errors: not worth another evaluation of the Hessian."""


@dataclass(frozen=True)
class Optimum:
    """Where the optimiser stopped, with the exact derivatives there.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp
    >>> m = Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
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


class _Cache:
    """Evaluate (value, gradient, Hessian) once per point; scipy asks for them separately."""

    def __init__(self, model: Model, scale: float):
        self.model, self.scale = model, scale
        self.key: bytes | None = None
        self.evaluations = 0

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if key != self.key:
            self.value = self.model.evaluate(theta)
            self.key = key
            self.evaluations += 1
        return self.value

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
    >>> import numpy as np, jax.numpy as jnp
    >>> m = Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
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


def maximize(model: Model, theta0: np.ndarray, *, method: str = "auto", maxiter: int = 100,
             gtol: float = 1e-10, polish_steps: int = 10) -> Optimum:
    """Maximise ``sum(loglike)`` from ``theta0``; see the module docstring.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp
    >>> m = Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
    >>> maximize(m, m.start).theta.round(12).tolist()
    [2.0]
    """
    if method not in METHODS:
        raise SpecificationError(message(
            "unknown optimisation method", expected=f"one of {METHODS}", got=repr(method),
            fix="use method='auto' (default), 'newton' or 'trust-exact'"))
    start = check_start(model, theta0)
    cache = _Cache(model, scale=max(abs(start[0]), 1.0))
    cache.key, cache.value = np.asarray(theta0, dtype=np.float64).tobytes(), start  # no second evaluation
    theta, iterations, msg = np.array(theta0, dtype=np.float64), 0, ""
    if method in ("auto", "newton"):
        theta, iterations, msg = _newton(cache, theta, maxiter)
    if method == "trust-exact" or (method == "auto" and msg not in ("converged", "iteration limit")):
        out = scipy.optimize.minimize(cache.fun, theta, jac=cache.jac, hess=cache.hess, method="trust-exact",
                                      options={"gtol": gtol, "maxiter": max(maxiter - iterations, 1)})
        theta, msg = np.asarray(out.x, dtype=np.float64), f"{msg + '; ' if msg else ''}trust-exact: {out.message}"
        iterations += int(out.nit)
        theta, steps, _ = _newton(cache, theta, polish_steps)
        iterations += steps
    theta = _nearest_on_flat_ridge(cache, theta0, theta)
    llf, grad, hess = cache(theta)
    return Optimum(theta, llf, grad, hess, iterations, msg, hit_maxiter=iterations >= maxiter)


def _newton(cache: _Cache, theta: np.ndarray, max_steps: int) -> tuple[np.ndarray, int, str]:
    """Newton steps with backtracking while the information is positive semidefinite.

    Returns the point, the number of steps taken, and why it stopped: ``"converged"`` (the next
    step would be negligible), ``"iteration limit"``, ``"negative curvature"`` or
    ``"line search failed"``.
    """
    for steps in range(max_steps + 1):
        llf, grad, hess = cache(theta)
        step = _newton_step(hess, grad)
        if step is None:
            return theta, steps, "negative curvature"
        decrement = float(grad @ step)
        if not np.isfinite(decrement):
            return theta, steps, "line search failed"
        if decrement <= NEGLIGIBLE_DECREMENT:
            return theta, steps, "converged"
        if steps == max_steps:
            return theta, steps, "iteration limit"
        rounding = 1e-13 * max(1.0, abs(llf))  # llf can only be compared to about this
        for halvings in range(31):
            alpha = 0.5 ** halvings
            llf_trial = cache(theta + alpha * step)[0]
            if np.isfinite(llf_trial) and (llf_trial >= llf + 1e-4 * alpha * decrement
                                           or (decrement < 1e3 * rounding and llf_trial >= llf - rounding)):
                theta = theta + alpha * step
                break
        else:
            return theta, steps, "line search failed"
    return theta, max_steps, "iteration limit"


def _newton_step(hess: np.ndarray, grad: np.ndarray, rtol: float = 1e-12) -> np.ndarray | None:
    """Newton step ``(-H)^+ g`` on the identified eigenspace of the (equilibrated) information;
    ``None`` where the information has a clearly negative eigenvalue."""
    if not np.all(np.isfinite(hess)):
        return None
    d, eigenvalues, vectors = equilibrated_eigh(-hess)
    top = np.max(np.abs(eigenvalues))
    if not np.isfinite(top) or eigenvalues[0] < -rtol * top:
        return None
    keep = eigenvalues > rtol * top
    return ((vectors[:, keep] / eigenvalues[keep]) @ (vectors[:, keep].T @ (grad / d))) / d


def _nearest_on_flat_ridge(cache: _Cache, theta0: np.ndarray, theta: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """Where the information is singular the log-likelihood is flat along its null directions,
    and the optimiser may have drifted far along them. Move back to the point of the ridge nearest
    the start (in equilibrated coordinates), if that does not lower the log-likelihood."""
    llf, _, hess = cache(theta)
    if not np.all(np.isfinite(hess)):
        return theta
    d, eigenvalues, vectors = equilibrated_eigh(-hess)
    null = vectors[:, np.abs(eigenvalues) <= rtol * np.max(np.abs(eigenvalues))]
    if null.shape[1] == 0:
        return theta
    candidate = theta - (null @ (null.T @ ((theta - theta0) * d))) / d
    llf_candidate, grad, _ = cache(candidate)
    if np.isfinite(llf_candidate) and llf_candidate >= llf - 1e-12 * max(1.0, abs(llf)) and np.all(np.isfinite(grad)):
        return candidate
    return theta
