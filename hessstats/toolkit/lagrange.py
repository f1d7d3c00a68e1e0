"""Equality-constrained critical points: Lagrange multipliers and the bordered Hessian.

Conventions. ``m`` constraints ``g(x) = 0`` on ``n`` variables (``0 < m < n``), Lagrangian
``L = f - lambda' g`` (some texts use ``f + lambda g``: the multipliers flip sign, the bordered
matrix does not change), ``J`` the ``m x n`` Jacobian of ``g``, and the bordered Hessian
``B = [[0, J], [J', H_L]]`` with ``H_L`` the Hessian of the Lagrangian (not of ``f``: the two
differ unless every constraint is linear). Second-order test on the last ``n - m`` leading principal
minors of ``B`` (orders ``2m+1 .. m+n``; the minor of order ``m + p``): local minimum when all have
sign ``(-1)**m``, local maximum when they alternate, the one of order ``m + p`` having sign
``(-1)**p`` (so the first has sign ``(-1)**(m+1)``).

Tolerances (``s = ||B||_2``, ``s_L = ||H_L||_2``): a minor of order ``k`` is zero when
``|det| <= tol * s**k``; an eigenvalue of the reduced Hessian ``Z' H_L Z`` is zero when
``|lam| <= tol * s_L``; ``x`` is a constrained critical point when
``||grad f - J' lambda|| <= gtol * (s_L (1 + ||x||) + ||grad f||)`` and
``||g(x)|| <= gtol * ||J||_2 (1 + ||x||)``.
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
from hessstats.toolkit.critical import _count, _verdict

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
    >>> bh.jacobian.tolist(), round(bh.lagrange_residual, 3)      # (0.6, 0.8) is not optimal
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
    >>> bh.matrix.tolist(), bh.multipliers.round(12).tolist()
    ([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], [5.0])
    """
    return _bordered(*_setup(f, constraints, x), multipliers)


@dataclass(frozen=True, eq=False)
class LagrangeSolution:
    """Result of :func:`solve_lagrange`.

    Example
    -------
    >>> s = solve_lagrange(lambda v: v[0] * v[1], lambda v: v[0] + v[1] - 10, [1.0, 2.0])
    >>> s.converged, s.x.tolist(), s.multipliers.round(12).tolist(), s.value
    (True, [5.0, 5.0], [5.0], 25.0)
    """

    x: np.ndarray
    multipliers: np.ndarray
    converged: bool
    iterations: int
    value: float
    residual: float


@float64
def solve_lagrange(f: Callable[[Any], Any], constraints: Constraints, x0: Any,
                   multipliers0: Any = None, *, tol: float = 1e-10,
                   max_iter: int = 100) -> LagrangeSolution:
    """Newton's method on ``grad L(x, lambda) = 0`` from ``x0`` (compiled once per call).

    Steps solve the KKT system by least squares (singular systems do not crash) and are halved
    until ``||grad L||`` decreases. ``converged`` when ``||grad L||_inf <= tol (1 + ||grad f||_inf)``.
    Starting multipliers: least squares at ``x0`` unless given. Newton finds *a* stationary point
    of ``L`` (maximum, minimum or saddle): classify it with :func:`classify_constrained`.

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
        return jax.grad(lagrangian)(z), jax.hessian(lagrangian)(z), jax.grad(fv)(z[:n])

    z = jnp.asarray(np.concatenate([v, lam]))
    F, K, gf = (np.asarray(a) for a in kkt(z))
    it = 0
    for it in range(1, max_iter + 1):  # iterate to round-off: Newton's last steps are cheap  # noqa: B007 (it is reported)
        step = np.linalg.lstsq((K + K.T) / 2, -F, rcond=None)[0]
        t, fn = 1.0, np.linalg.norm(F)
        for _ in range(40):
            Ft, Kt, gt = (np.asarray(a) for a in kkt(z + t * step))
            if np.all(np.isfinite(Ft)) and np.linalg.norm(Ft) <= (1 - 1e-4 * t) * fn:
                break
            t /= 2
        else:
            break
        z, F, K, gf = z + t * step, Ft, Kt, gt
        if np.max(np.abs(F)) <= 1e-15 * (1 + np.max(np.abs(gf))):
            break
    done = bool(np.max(np.abs(F)) <= tol * (1 + np.max(np.abs(gf))))
    x = np.asarray(z[:n], dtype=np.float64)
    return LagrangeSolution(x, np.asarray(z[n:], dtype=np.float64), done, it, float(fv(z[:n])),
                            float(np.max(np.abs(F))))


@dataclass(frozen=True, eq=False)
class ConstrainedClassification:
    """Verdict of the bordered-Hessian test, cross-checked with the reduced Hessian.

    Example
    -------
    >>> c = classify_constrained(lambda v: v[0] + v[1], lambda v: v[0]**2 + v[1]**2 - 1,
    ...                          [-0.5**0.5, -0.5**0.5])
    >>> c.kind, c.reduced_eigenvalues.round(6).tolist(), c.note
    ('local minimum', [1.414214], 'bordered-Hessian minors and reduced Hessian agree')
    """

    kind: str
    minors_kind: str
    reduced_kind: str
    minors: dict[int, float]
    reduced_hessian: np.ndarray
    reduced_eigenvalues: np.ndarray
    bordered: BorderedHessian
    note: str


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
    """Classify a constrained critical point by the bordered Hessian's last ``n - m`` leading
    principal minors, cross-checked with the reduced Hessian ``Z' H_L Z`` (``Z`` an orthonormal
    null-space basis of ``J``).

    ``kind`` is the common verdict of both tests; when they disagree (a zero minor can make the
    minor test inconclusive while the reduced Hessian is not) it is "degenerate" and ``note`` says
    why. "not a critical point" when the Lagrange condition or a constraint fails (module docstring
    for tolerances). Both verdicts are always reported (``minors_kind``, ``reduced_kind``).

    Example
    -------
    >>> c = classify_constrained(lambda v: v[0] * v[1], lambda v: v[0] + v[1] - 10, [5.0, 5.0])
    >>> c.kind, c.minors_kind, c.reduced_kind, round(c.minors[3], 12)
    ('local maximum', 'local maximum', 'local maximum', 2.0)
    """
    fv, g, v = _setup(f, constraints, x)
    bh = _bordered(fv, g, v, multipliers)
    m, n, J, hl = bh.m, bh.n, bh.jacobian, bh.hessian_lagrangian
    s_l, s_j = float(np.linalg.norm(hl, 2)), float(np.linalg.norm(J, 2))
    scale_x = 1.0 + float(np.linalg.norm(v))
    Z = scipy.linalg.null_space(J, rcond=1e-12)
    red = Z.T @ hl @ Z
    lam = np.linalg.eigvalsh(red)
    minors_kind, minors = _minors_kind(bh.matrix, m, n, tol)
    reduced_kind = _verdict(*_count(lam, tol * s_l)) if Z.shape[1] == n - m else "degenerate"
    if (bh.lagrange_residual > gtol * (s_l * scale_x + float(np.linalg.norm(bh.gradient)))
            or float(np.linalg.norm(bh.constraint_values)) > gtol * s_j * scale_x):
        kind, note = "not a critical point", (
            f"Lagrange residual {bh.lagrange_residual:.3g}, constraint values "
            f"{bh.constraint_values.tolist()}: x is not a constrained critical point")
    elif Z.shape[1] != n - m:
        kind, note = "degenerate", "the constraint gradients are linearly dependent (rank of J < m)"
    elif minors_kind == reduced_kind:
        kind, note = minors_kind, "bordered-Hessian minors and reduced Hessian agree"
    else:
        kind, note = "degenerate", (f"inconclusive: minors say {minors_kind!r}, reduced Hessian "
                                    f"says {reduced_kind!r} (a zero minor makes the minor test fail)")
    return ConstrainedClassification(kind, minors_kind, reduced_kind, minors, red, lam, bh, note)
