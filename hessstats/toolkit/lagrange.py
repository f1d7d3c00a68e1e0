"""Equality-constrained critical points: Lagrange multipliers and the bordered Hessian.

Conventions. ``m`` constraints ``g(x) = 0`` on ``n`` variables (``0 < m < n``), Lagrangian
``L = f - lambda' g`` (some texts use ``f + lambda g``: the multipliers flip sign, the bordered
matrix does not change), ``J`` the ``m x n`` Jacobian of ``g``, and the bordered Hessian
``B = [[0, J], [J', H_L]]`` with ``H_L`` the Hessian of the Lagrangian (not of ``f``: the two
differ unless every constraint is linear).

Second-order test. The primary test is the reduced Hessian ``Z' H_L Z`` (``Z`` an orthonormal
basis of the tangent space, the null space of ``J``): positive definite, a strict local minimum;
negative definite, a strict local maximum; eigenvalues of both signs, a saddle; otherwise
degenerate. It does not depend on the order of the variables. The classical cross-check uses the
last ``n - m`` leading principal minors of ``B`` (orders ``2m+1 .. m+n``; the minor of order
``m + p``): local minimum when all have sign ``(-1)**m``, local maximum when they alternate, the one
of order ``m + p`` having sign ``(-1)**p``. That rule needs the *leading* ``m x m`` block of ``J``
nonsingular, so the variables are first permuted (column-pivoted QR of ``J``; ``variable_order``)
to put the best-conditioned ``m`` columns first: without that, ``x^2 + y^2 + z^2`` on ``z = 1`` gets
a zero minor, and a verdict that depends on the order of the variables.

Tolerances (``s = ||B||_2``, ``s_L = ||H_L||_2``, ``ell = 1 + ||x||``): a minor of order ``k`` is
zero when ``|det| <= tol * s**k``; an eigenvalue of the reduced Hessian is zero when
``|lam| <= tol * s_L``. ``x`` is a constrained critical point (one function,
:func:`_stationarity`, used by :func:`classify_constrained` and for ``converged`` in
:func:`solve_lagrange`, so the two never disagree) when

(a) ``||grad f - J' lambda|| <= gtol * (s_L ell + ||grad f||)`` and
    ``||g(x)|| <= gtol * ||J||_2 ell``, and
(b) Newton's method on ``grad L = 0`` from ``(x, lambda)`` confirms a constrained critical point
    within ``gtol * ell``: the same geometric-series estimate ``||p1|| / (1 - ||p2|| / ||p1||)`` of
    the distance as in :mod:`hessstats.toolkit.critical` (``p1``, ``p2`` the ``x`` parts of two
    successive KKT Newton steps; a step at the rounding level passes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from hessstats._config import as_float64, float64
from hessstats.core import derivatives
from hessstats.errors import SpecificationError, message
from hessstats.toolkit._machinery import count_signs, newton_distances, pinv_steps, require_scalar, signal_steps, verdict_of

Constraints = Callable[[Any], Any] | Sequence[Callable[[Any], Any]]


def _setup(f: Callable, constraints: Constraints, x: Any) -> tuple[Callable, Callable, np.ndarray]:
    v = as_float64(x)
    if v.ndim != 1 or not np.all(np.isfinite(v)):
        raise SpecificationError(message(
            "x must be a finite flat vector", expected="a 1-d list or array of n numbers",
            got=f"shape {v.shape}: {x!r}", fix="pass the point as [x1, ..., xn]"))
    if callable(constraints):
        def g(u):
            return jnp.ravel(jnp.asarray(constraints(u), dtype=jnp.float64))
    elif isinstance(constraints, Sequence) and constraints and all(map(callable, constraints)):
        def g(u):
            return jnp.stack([jnp.asarray(c(u), dtype=jnp.float64).reshape(()) for c in constraints])
    else:
        raise SpecificationError(message(
            "constraints must be a callable or a list of callables", expected="g(x) -> vector, or "
            "[g1, g2, ...] each returning a scalar", got=repr(constraints), fix="wrap constraints"))
    require_scalar(f, jnp.asarray(v))
    m = jax.eval_shape(g, jnp.asarray(v)).shape[0]
    if not 0 < m < v.size:
        raise SpecificationError(message(
            "need between 1 and n - 1 constraints", expected=f"0 < m < n = {v.size}",
            got=f"m = {m}", fix="with m >= n the feasible set is (locally) a point: nothing to test"))
    return (lambda u: jnp.asarray(f(u), dtype=jnp.float64)), g, v


@dataclass(frozen=True, eq=False)
class BorderedHessian:
    """``matrix = [[0, J], [J', H_L]]`` and its parts; ``np.asarray(bh)`` gives the matrix.

    Example
    -------
    >>> bh = bordered_hessian(lambda v: v[0] + v[1], lambda v: v[0]**2 + v[1]**2 - 1, [0.6, 0.8])
    >>> bh.jacobian.round(12).tolist(), round(bh.lagrange_residual, 3)      # (0.6, 0.8) is not optimal
    ([[1.2, 1.6]], 0.2)
    """

    matrix: np.ndarray
    jacobian: np.ndarray
    hessian_lagrangian: np.ndarray
    multipliers: np.ndarray
    gradient: np.ndarray
    constraint_values: np.ndarray
    m: int
    n: int

    def __array__(self, dtype=None, copy=None):
        return self.matrix if dtype is None else self.matrix.astype(dtype)

    @property
    def lagrange_residual(self) -> float:
        """``||grad f - J' lambda||``: zero at a constrained critical point."""
        return float(np.linalg.norm(self.gradient - self.jacobian.T @ self.multipliers))


def _bordered(f, g, v, multipliers) -> BorderedHessian:
    grad, hf = derivatives.gradient(f, v), derivatives.hessian(f, v)
    u = jnp.asarray(v)
    J, hg, gval = (np.asarray(a, dtype=np.float64) for a in (jax.jacfwd(g)(u), jax.hessian(g)(u), g(u)))
    m, n = J.shape
    lam = (np.linalg.lstsq(J.T, grad, rcond=None)[0] if multipliers is None
           else as_float64(multipliers).reshape(-1))
    if lam.shape != (m,):
        raise SpecificationError(message(
            "wrong number of multipliers", expected=f"{m} (one per constraint)",
            got=f"{lam.size}", fix="pass one multiplier per constraint, or None"))
    hl = hf - np.einsum("j,jab->ab", lam, hg)
    hl = (hl + hl.T) / 2
    B = np.block([[np.zeros((m, m)), J], [J.T, hl]])
    return BorderedHessian(B, J, hl, lam, grad, gval, m, n)


@float64
def bordered_hessian(f: Callable[[Any], Any], constraints: Constraints, x: Any,
                     multipliers: Any = None) -> BorderedHessian:
    """The bordered Hessian ``[[0, J], [J', H_L]]`` of ``L = f - lambda' g`` at ``x``.

    ``constraints``: ``g(x) -> vector`` or a list of scalar callables (``g_j(x) = 0``). When
    ``multipliers`` is None they are computed by least squares from ``grad f = J' lambda`` (exact
    at a constrained critical point; see ``lagrange_residual`` elsewhere).

    Example
    -------
    >>> bh = bordered_hessian(lambda v: v[0] * v[1], lambda v: v[0] + v[1] - 10, [5.0, 5.0])
    >>> (bh.matrix.round(12) + 0.0).tolist(), bh.multipliers.round(12).tolist()
    ([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], [5.0])
    """
    return _bordered(*_setup(f, constraints, x), multipliers)


@dataclass(frozen=True)
class _Stationarity:
    ok: bool
    residual: float          # ||grad f - J' lambda||
    residual_tol: float
    constraint_norm: float   # ||g(x)||
    constraint_tol: float
    newton_distance: float
    distance_tol: float

    @property
    def note(self) -> str:
        if self.residual > self.residual_tol or self.constraint_norm > self.constraint_tol:
            return (f"Lagrange residual {self.residual:.3g} (tolerance {self.residual_tol:.3g}), "
                    f"constraint norm {self.constraint_norm:.3g} (tolerance "
                    f"{self.constraint_tol:.3g}): x is not a constrained critical point")
        if self.newton_distance > self.distance_tol:
            return (f"Newton steps on grad L = 0 from x do not settle within {self.distance_tol:.3g} "
                    f"(estimated distance {self.newton_distance:.3g}): x is not a constrained "
                    "critical point")
        return "x is a constrained critical point"


def _kkt_steps(F: np.ndarray, K: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Newton step on ``grad L = 0`` at ``z = (x, lambda)`` from ``F = grad L`` and the KKT matrix
    ``K`` (pseudo-inverse), and the same step without its rounding noise (``signal_steps``)."""
    if not (np.all(np.isfinite(F)) and np.all(np.isfinite(K))):
        return np.full(z.size, np.nan), np.full(z.size, np.nan)
    w, Q = np.linalg.eigh((K + K.T) / 2)
    return pinv_steps(w[None], Q[None], F[None])[0], signal_steps(w[None], Q[None], F[None], z[None])[0]


def _kkt_at(fv: Callable, g: Callable, z: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(grad L, Hessian of L)`` in ``z = (x, lambda)``."""
    def lagrangian(u):
        return fv(u[:n]) - u[n:] @ g(u[:n])

    u = jnp.asarray(z)
    return np.asarray(jax.grad(lagrangian)(u)), np.asarray(jax.hessian(lagrangian)(u))


def _stationarity(fv: Callable, g: Callable, v: np.ndarray, bh: BorderedHessian,
                  gtol: float) -> _Stationarity:
    """The constrained critical-point test of the module docstring, (a) and (b): the one function
    behind ``solve_lagrange(...).converged`` and ``classify_constrained``'s "not a critical point"."""
    ell = 1.0 + float(np.linalg.norm(v))
    s_l, s_j = float(np.linalg.norm(bh.hessian_lagrangian, 2)), float(np.linalg.norm(bh.jacobian, 2))
    res_tol = gtol * (s_l * ell + float(np.linalg.norm(bh.gradient)))
    con, con_tol = float(np.linalg.norm(bh.constraint_values)), gtol * s_j * ell
    dist_tol = gtol * ell
    if bh.lagrange_residual > res_tol or con > con_tol:
        dist = float("inf")
    else:
        n, m, J = bh.n, bh.m, bh.jacobian
        z = np.concatenate([v, bh.multipliers])
        F = np.concatenate([bh.gradient - J.T @ bh.multipliers, -bh.constraint_values])
        K = np.block([[bh.hessian_lagrangian, -J.T], [-J, np.zeros((m, m))]])
        p1, s1 = _kkt_steps(F, K, z)
        s2 = s1 if not np.any(s1) else _kkt_steps(*_kkt_at(fv, g, z + p1, n), z + p1)[1]
        dist = float(newton_distances(s1[None, :n], s2[None, :n])[0])
    ok = bh.lagrange_residual <= res_tol and con <= con_tol and dist <= dist_tol
    return _Stationarity(bool(ok), bh.lagrange_residual, res_tol, con, con_tol, dist, dist_tol)


@dataclass(frozen=True, eq=False)
class LagrangeSolution:
    """Result of :func:`solve_lagrange`. ``converged`` is the constrained critical-point test of
    :func:`classify_constrained` at ``x`` (same function, same ``gtol``); ``note`` says why not.

    Example
    -------
    >>> s = solve_lagrange(lambda v: v[0] * v[1], lambda v: v[0] + v[1] - 10, [1.0, 2.0])
    >>> s.converged, s.x.round(12).tolist(), s.multipliers.round(12).tolist(), round(s.value, 12)
    (True, [5.0, 5.0], [5.0], 25.0)
    """

    x: np.ndarray
    multipliers: np.ndarray
    converged: bool
    iterations: int
    value: float
    residual: float
    note: str = ""


@float64
def solve_lagrange(f: Callable[[Any], Any], constraints: Constraints, x0: Any,
                   multipliers0: Any = None, *, tol: float = 1e-10, gtol: float = 1e-6,
                   max_iter: int = 100) -> LagrangeSolution:
    """Newton's method on ``grad L(x, lambda) = 0`` from ``x0`` (compiled once per call).

    Steps solve the KKT system by least squares (singular systems do not crash) and are halved
    until ``||grad L||`` decreases; the iteration stops when a step is shorter than
    ``tol * (1 + ||x||)`` (or cannot decrease ``||grad L||``, or after ``max_iter`` steps).
    ``converged`` is the constrained critical-point test of :func:`classify_constrained` at the
    final ``x`` with the same ``gtol`` (the module docstring: relative, one function for both), so
    ``classify_constrained(f, constraints, s.x).kind`` is "not a critical point" exactly when
    ``s.converged`` is False. Starting multipliers: least squares at ``x0`` unless given. Newton
    finds *a* stationary point of ``L`` (maximum, minimum or saddle): classify it with
    :func:`classify_constrained`. ``residual`` is ``max |grad L|`` at the end.

    Example
    -------
    >>> s = solve_lagrange(lambda v: v[0] + v[1], lambda v: v[0]**2 + v[1]**2 - 1, [0.5, 0.9])
    >>> s.converged, s.x.round(12).tolist(), round(s.value, 12)
    (True, [0.707106781187, 0.707106781187], 1.414213562373)
    """
    fv, g, v = _setup(f, constraints, x0)
    n = v.size
    lam = _bordered(fv, g, v, multipliers0).multipliers

    def lagrangian(z):
        return fv(z[:n]) - z[n:] @ g(z[:n])

    @jax.jit
    def kkt(z):
        return jax.grad(lagrangian)(z), jax.hessian(lagrangian)(z)

    z = np.concatenate([v, lam])
    F, K = (np.asarray(a) for a in kkt(jnp.asarray(z)))
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (it is reported)
        if not np.any(F):
            it -= 1
            break
        step = np.linalg.lstsq((K + K.T) / 2, -F, rcond=None)[0]
        t, fn = 1.0, np.linalg.norm(F)
        for _ in range(40):
            Ft, Kt = (np.asarray(a) for a in kkt(jnp.asarray(z + t * step)))
            if np.all(np.isfinite(Ft)) and np.linalg.norm(Ft) <= (1 - 1e-4 * t) * fn:
                break
            t /= 2
        else:
            break
        z, F, K = z + t * step, Ft, Kt
        if np.linalg.norm(t * step[:n]) <= tol * (1.0 + np.linalg.norm(z[:n])):
            break
    x = np.asarray(z[:n], dtype=np.float64)
    st = _stationarity(fv, g, x, _bordered(fv, g, x, None), gtol)
    return LagrangeSolution(x, np.asarray(z[n:], dtype=np.float64), st.ok, it, float(fv(jnp.asarray(x))),
                            float(np.max(np.abs(F))), st.note)


@dataclass(frozen=True, eq=False)
class ConstrainedClassification:
    """Verdict of the reduced-Hessian test, cross-checked with the bordered-Hessian minors.

    ``minors`` are those of the bordered Hessian with the variables in ``variable_order`` (see the
    module docstring); ``kind`` follows the reduced Hessian whenever that is conclusive.

    Example
    -------
    >>> c = classify_constrained(lambda v: v[0] + v[1], lambda v: v[0]**2 + v[1]**2 - 1,
    ...                          [-0.5**0.5, -0.5**0.5])
    >>> c.kind, c.reduced_eigenvalues.round(6).tolist(), c.note
    ('local minimum', [1.414214], 'reduced Hessian and bordered-Hessian minors agree')
    """

    kind: str
    minors_kind: str
    reduced_kind: str
    minors: dict[int, float]
    reduced_hessian: np.ndarray
    reduced_eigenvalues: np.ndarray
    bordered: BorderedHessian
    note: str
    variable_order: tuple[int, ...] = ()
    newton_distance: float = 0.0


def _pivot_order(J: np.ndarray) -> tuple[int, ...]:
    """Variables reordered so that the leading ``m x m`` block of ``J`` is the best conditioned
    (column-pivoted QR), the others after them in their own order."""
    m = J.shape[0]
    piv = scipy.linalg.qr(J, mode="r", pivoting=True)[1]
    lead = [int(i) for i in piv[:m]]
    return tuple(lead + [i for i in range(J.shape[1]) if i not in lead])


def _minors_kind(B: np.ndarray, m: int, n: int, tol: float) -> tuple[str, dict[int, float]]:
    s = float(np.linalg.norm(B, 2))
    minors = {k: float(np.linalg.det(B[:k, :k])) for k in range(2 * m + 1, m + n + 1)}
    signs = {k: 0 if abs(d) <= tol * s ** k else int(np.sign(d)) for k, d in minors.items()}
    if 0 in signs.values():
        return "degenerate", minors
    if all(sg == (-1) ** m for sg in signs.values()):
        return "local minimum", minors
    if all(sg == (-1) ** (k - m) for k, sg in signs.items()):
        return "local maximum", minors
    return "saddle point", minors


@float64
def classify_constrained(f: Callable[[Any], Any], constraints: Constraints, x: Any,
                         multipliers: Any = None, *, tol: float = 1e-8,
                         gtol: float = 1e-6) -> ConstrainedClassification:
    """Classify a constrained critical point by the reduced Hessian ``Z' H_L Z`` (``Z`` an
    orthonormal null-space basis of ``J``), cross-checked with the bordered Hessian's last ``n - m``
    leading principal minors (variables permuted so that the leading block of ``J`` is
    nonsingular: the verdict never depends on the order of the variables).

    ``kind`` is the reduced-Hessian verdict; the minors are a cross-check that cannot override a
    conclusive reduced Hessian (``note`` reports a disagreement). "not a critical point" when the
    constrained critical-point test fails (module docstring; the same function decides
    ``solve_lagrange``'s ``converged``), "degenerate" when the constraint gradients are dependent or
    the reduced Hessian has a zero eigenvalue. Both verdicts are always reported (``minors_kind``,
    ``reduced_kind``).

    Example
    -------
    >>> c = classify_constrained(lambda v: v[0] * v[1], lambda v: v[0] + v[1] - 10, [5.0, 5.0])
    >>> c.kind, c.minors_kind, c.reduced_kind, round(c.minors[3], 12)
    ('local maximum', 'local maximum', 'local maximum', 2.0)
    >>> classify_constrained(lambda v: v[0]**2 + v[1]**2 + v[2]**2, lambda v: v[2] - 1,
    ...                      [0.0, 0.0, 1.0]).kind
    'local minimum'
    """
    fv, g, v = _setup(f, constraints, x)
    bh = _bordered(fv, g, v, multipliers)
    m, n, J, hl = bh.m, bh.n, bh.jacobian, bh.hessian_lagrangian
    s_l = float(np.linalg.norm(hl, 2))
    Z = scipy.linalg.null_space(J, rcond=1e-12)
    red = Z.T @ hl @ Z
    lam = np.linalg.eigvalsh(red)
    order = _pivot_order(J)
    idx = np.r_[np.arange(m), m + np.asarray(order)]
    minors_kind, minors = _minors_kind(bh.matrix[np.ix_(idx, idx)], m, n, tol)
    full_rank = Z.shape[1] == n - m
    reduced_kind = verdict_of(*count_signs(lam, tol * s_l)) if full_rank else "degenerate"
    st = _stationarity(fv, g, v, bh, gtol)
    if not st.ok:
        kind, note = "not a critical point", st.note
    elif not full_rank:
        kind, note = "degenerate", "the constraint gradients are linearly dependent (rank of J < m)"
    elif minors_kind == reduced_kind:
        kind, note = reduced_kind, "reduced Hessian and bordered-Hessian minors agree"
    elif reduced_kind != "degenerate":
        kind, note = reduced_kind, (f"the reduced Hessian decides: {reduced_kind!r}; the bordered-"
                                    f"Hessian minors say {minors_kind!r} (a minor at the zero "
                                    "tolerance makes the minor test inconclusive)")
    else:
        kind, note = "degenerate", (f"the reduced Hessian has a zero eigenvalue (inconclusive); "
                                    f"the bordered-Hessian minors say {minors_kind!r}")
    return ConstrainedClassification(kind, minors_kind, reduced_kind, minors, red, lam, bh, note,
                                     order, st.newton_distance)
