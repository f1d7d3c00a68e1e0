"""The Laplace approximation with exact derivatives: integrate random effects out of a joint log-density.

For a joint log-density ``l(theta, u, data)`` (a scalar: observations and random effects ``u``, a
flat vector of length ``q``) the Laplace marginal log-likelihood is::

    L(theta) = l(theta, u_hat) + q/2 log(2 pi) - 1/2 log det(-H_uu(theta, u_hat))

with ``u_hat(theta)`` the inner mode. The mode is found by a Newton solve (a ``lax.while_loop``,
so it compiles once with the outer kernels; warm-started from ``u0``; stopped on the Newton decrement
``g'(-H_uu)^-1 g``, a scaled gradient norm, then one more step) and wrapped in ``jax.custom_jvp``
whose tangent is the implicit-function-theorem derivative ``du = (-H_uu)^-1 (d2l/du dtheta) dtheta``.
So ``jax.grad`` and ``jax.hessian`` of ``L`` are exact (third derivatives of ``l`` included) with no
finite differences anywhere (lme4 and TMB's ``sdreport`` finite-difference the outer Hessian).

Structure of ``H_uu`` (:class:`Structure`): ``DENSE`` (a ``q x q`` Hessian and Cholesky factor;
fine to a few thousand effects), ``CROSSED`` (two grouping factors: the first ``lead`` effects are
block-diagonal, ``G`` blocks of ``b``, the other ``r`` dense; solved by the Schur complement
``S = B - C' A^-1 C`` on the ``r`` effects, so memory is ``O(lead r + r^2)``, never ``q^2``; needs a
``hessian`` giving ``(A blocks, C, B)``), or ``GROUPS`` (``u`` is a
``(G, b)`` array flattened row by row whose rows do not interact: one grouping factor). With
``GROUPS`` the ``G`` blocks of size ``b x b`` come from ``b`` Hessian-vector products with
"coloured" directions (``e_j`` in every group at once), and the solves are ``G`` small Cholesky
factorisations, vectorised: memory and work linear in ``G``.

This module is pure JAX and imports nothing from the model or result layers.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hessstats.core.compilation import call_kernel

INNER_TOL = 1e-20
"""The inner Newton stops once the decrement ``g'(-H)^-1 g`` is below ``INNER_TOL * (1 + |l|)``
(then takes one more step)."""
INNER_MAXITER = 100
LOG_2PI = math.log(2.0 * math.pi)
UNROLL_BLOCK = 8
"""Group blocks up to this size are factorised elementwise over the groups (:func:`block_cholesky`)."""


class Structure(enum.Enum):
    """How the random effects' Hessian ``H_uu`` is stored and solved.

    Example
    -------
    >>> Structure("groups") is Structure.GROUPS
    True
    """

    DENSE = "dense"
    GROUPS = "groups"
    CROSSED = "crossed"


@dataclass(frozen=True)
class Laplace:
    """A joint log-density ``joint(theta, u, data) -> scalar`` with ``q`` random effects to integrate out.

    ``structure=Structure.GROUPS`` needs ``q = G * block``: ``u.reshape(G, block)`` holds one
    group per row and the joint density couples no two rows. Hashable (the joint function and the
    options): a static argument of compiled kernels.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> def joint(theta, u, y):   # y_i | u_i ~ N(u_i, 1), u_i ~ N(theta, 1): exactly y_i ~ N(theta, 2)
    ...     return jnp.sum(-0.5 * (y - u) ** 2 - 0.5 * (u - theta) ** 2) - y.size * LOG_2PI
    >>> lap = Laplace(joint, q=3)
    >>> with x64():
    ...     y = jnp.array([0.5, 1.0, 2.0])
    ...     value = marginal(lap, 1.0, y, jnp.zeros(3))
    ...     exact = jnp.sum(-0.25 * (y - 1.0) ** 2 - 0.5 * jnp.log(4 * jnp.pi))
    >>> bool(abs(float(value) - float(exact)) < 1e-12)
    True
    """

    joint: Callable[[Any, Any, Any], Any]
    q: int
    structure: Structure = Structure.DENSE
    block: int = 1
    tol: float = INNER_TOL
    maxiter: int = INNER_MAXITER
    hessian: Callable[[Any, Any, Any], Any] | None = None
    """Optional ``hessian(theta, u, data) -> -H_uu`` in this structure's layout (e.g. ``Z'WZ + I``
    assembled from a GLMM's working weights): much smaller compiled programs than nested AD."""
    lead: int = 0
    """``CROSSED``: the number of leading (block-diagonal) effects."""

    def __post_init__(self) -> None:
        if self.structure is Structure.GROUPS and self.q % self.block:
            raise ValueError(f"q={self.q} is not a multiple of block={self.block}")
        if self.structure is Structure.CROSSED and (self.hessian is None or self.lead % self.block
                                                    or not 0 < self.lead < self.q):
            raise ValueError(f"CROSSED needs a hessian giving (A, C, B) and 0 < lead={self.lead} < q={self.q}, "
                             f"a multiple of block={self.block}")

    @property
    def groups(self) -> int:
        if self.structure is Structure.CROSSED:
            return self.lead // self.block
        return self.q // self.block if self.structure is Structure.GROUPS else 1

    def value(self, theta: Any, u: jnp.ndarray, data: Any) -> jnp.ndarray:
        return jnp.sum(jnp.asarray(self.joint(theta, u, data), dtype=jnp.float64))

    def grad_u(self, theta: Any, u: jnp.ndarray, data: Any) -> jnp.ndarray:
        return jax.grad(self.value, argnums=1)(theta, u, data)

    def neg_hessian(self, theta: Any, u: jnp.ndarray, data: Any) -> jnp.ndarray:
        """``-H_uu``: ``(q, q)`` (dense) or ``(G, b, b)`` blocks (groups)."""
        if self.hessian is not None:
            return self.hessian(theta, u, data)
        grad = partial(self.grad_u, theta, data=data)
        if self.structure is Structure.DENSE:
            h = jax.jacfwd(lambda v: grad(v))(u)
            return -(h + h.T) / 2.0
        g, b = self.groups, self.block
        colours = jnp.tile(jnp.eye(b), (1, g)).reshape(b, g * b)  # row j: e_j in every group

        def column(v):
            return jax.jvp(lambda w: grad(w), (u,), (v,))[1].reshape(g, b)

        blocks = jax.vmap(column, out_axes=2)(colours)  # blocks[g, :, j] = H_g e_j
        return -(blocks + jnp.swapaxes(blocks, 1, 2)) / 2.0

    @property
    def unrolled(self) -> bool:
        """Small group blocks are factorised and solved by elementwise formulas over the groups
        (vectorised over ``G``; no batched LAPACK calls, whose batched derivatives stalled XLA's CPU
        runtime beyond ~6e4 groups in jax 0.10)."""
        return self.structure in (Structure.GROUPS, Structure.CROSSED) and self.block <= UNROLL_BLOCK

    def _block_solve(self, low: jnp.ndarray, r: jnp.ndarray) -> jnp.ndarray:
        """Solve each group's ``(b, b)`` system for ``r`` of shape ``(G, b)``."""
        if self.unrolled:
            return block_cho_solve(low, r)
        return jax.vmap(lambda c, v: jax.scipy.linalg.cho_solve((c, True), v))(low, r)

    def _schur(self, neg_h: tuple) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """``CROSSED``: the factors of the leading blocks, ``X = A^-1 C`` (``(lead, r)``) and ``S = B - C'X``."""
        a, c, b = neg_h
        low = block_cholesky(a) if self.unrolled else jnp.linalg.cholesky(a)
        c3 = c.reshape(self.groups, self.block, -1)
        x = jax.vmap(lambda col: self._block_solve(low, col), in_axes=2, out_axes=2)(c3).reshape(self.lead, -1)
        s = b - c.T @ x
        return low, x, (s + s.T) / 2.0

    def solve(self, chol: jnp.ndarray, rhs: jnp.ndarray) -> jnp.ndarray:
        """``(-H_uu)^-1 rhs`` from :meth:`cholesky`'s factor; ``rhs`` is ``(q,)``."""
        if self.structure is Structure.DENSE:
            return jax.scipy.linalg.cho_solve((chol, True), rhs)
        if self.structure is Structure.CROSSED:
            low, x, low_s, c = chol
            ya = self._block_solve(low, rhs[: self.lead].reshape(self.groups, self.block)).reshape(-1)
            xb = jax.scipy.linalg.cho_solve((low_s, True), rhs[self.lead:] - c.T @ ya)
            return jnp.concatenate([ya - x @ xb, xb])
        return self._block_solve(chol, rhs.reshape(self.groups, self.block)).reshape(-1)

    def cholesky(self, neg_h: Any) -> Any:
        """The factor :meth:`solve` and :meth:`logdet` use (``CROSSED``: ``(L_A, A^-1 C, L_S, C)``)."""
        if self.structure is Structure.CROSSED:
            low, x, s = self._schur(neg_h)
            return low, x, jnp.linalg.cholesky(s), neg_h[1]
        if self.unrolled:
            return block_cholesky(neg_h)
        return jnp.linalg.cholesky(neg_h)

    def logdet(self, chol: Any) -> jnp.ndarray:
        def of(low):
            return 2.0 * jnp.sum(jnp.log(jnp.diagonal(low, axis1=-2, axis2=-1)))

        if self.structure is Structure.CROSSED:  # det(-H) = det(A) det(S)
            return of(chol[0]) + of(chol[2])
        return of(chol)

    def min_eigenvalue(self, neg_h: Any) -> jnp.ndarray:
        """The smallest eigenvalue of ``-H_uu`` (``CROSSED``: of its leading blocks and Schur complement,
        which are all positive exactly when ``-H_uu`` is positive definite)."""
        if self.structure is Structure.CROSSED:
            low, _, s = self._schur(neg_h)
            return jnp.minimum(jnp.min(jnp.linalg.eigvalsh(neg_h[0])), jnp.min(jnp.linalg.eigvalsh(s)))
        if self.unrolled and self.block == 1:
            return jnp.min(neg_h)
        return jnp.min(jnp.linalg.eigvalsh(neg_h))

    def inverse_blocks(self, chol: Any) -> Any:
        """``(-H_uu)^-1``: ``(q, q)`` (dense), its ``(G, b, b)`` diagonal blocks (groups), or (crossed)
        the leading part's ``(G, b, b)`` diagonal blocks and the trailing ``(r, r)`` block."""
        if self.structure is Structure.DENSE:
            return jax.scipy.linalg.cho_solve((chol, True), jnp.eye(self.q))
        eye = jnp.eye(self.block)

        def group_inverses(low):  # (G, b, b): each group's block inverted, one unit column at a time
            return jnp.stack([self._block_solve(low, jnp.broadcast_to(eye[j], (self.groups, self.block)))
                              for j in range(self.block)], axis=2)

        if self.structure is Structure.CROSSED:  # A^-1 + X S^-1 X' on the leading blocks, S^-1 trailing
            low, x, low_s, _ = chol
            xs = jax.scipy.linalg.cho_solve((low_s, True), x.T).T
            x3, xs3 = x.reshape(self.groups, self.block, -1), xs.reshape(self.groups, self.block, -1)
            lead = group_inverses(low) + jnp.einsum("gir,gjr->gij", x3, xs3)
            return lead, jax.scipy.linalg.cho_solve((low_s, True), jnp.eye(x.shape[1]))
        return group_inverses(chol)

    def inverse_diagonal(self, chol: jnp.ndarray) -> jnp.ndarray:
        """The diagonal of ``(-H_uu)^-1`` (conditional variances of the random effects)."""
        if self.structure is Structure.CROSSED:
            lead, tail = self.inverse_blocks(chol)
            return jnp.concatenate([jnp.diagonal(lead, axis1=1, axis2=2).reshape(-1), jnp.diag(tail)])
        return jnp.diagonal(self.inverse_blocks(chol), axis1=-2, axis2=-1).reshape(-1)


def block_cholesky(a: jnp.ndarray) -> jnp.ndarray:
    """Lower Cholesky factors of a stack of small ``(G, b, b)`` matrices by the textbook recurrence,
    elementwise over ``G`` (NaN where a block is not positive definite, as ``jnp.linalg.cholesky``).

    Example
    -------
    >>> from hessstats._config import x64
    >>> with x64():
    ...     block_cholesky(jnp.array([[[4.0, 2.0], [2.0, 5.0]]])).tolist()
    [[[2.0, 0.0], [1.0, 2.0]]]
    """
    b = a.shape[-1]
    low: dict[tuple[int, int], jnp.ndarray] = {}
    for j in range(b):
        d = jnp.sqrt(a[:, j, j] - sum((low[j, m] ** 2 for m in range(j)), jnp.zeros_like(a[:, j, j])))
        low[j, j] = d
        for i in range(j + 1, b):
            low[i, j] = (a[:, i, j] - sum((low[i, m] * low[j, m] for m in range(j)), jnp.zeros_like(d))) / d
    zero = jnp.zeros_like(a[:, 0, 0])
    return jnp.stack([jnp.stack([low[i, j] if j <= i else zero for j in range(b)], axis=-1) for i in range(b)],
                     axis=-2)


def block_cho_solve(low: jnp.ndarray, rhs: jnp.ndarray) -> jnp.ndarray:
    """``(L L')^-1 r`` for stacks ``low`` ``(G, b, b)`` and ``rhs`` ``(G, b)``: forward and back
    substitution, elementwise over ``G``.

    Example
    -------
    >>> from hessstats._config import x64
    >>> with x64():
    ...     block_cho_solve(jnp.array([[[2.0, 0.0], [1.0, 2.0]]]), jnp.array([[4.0, 2.0]])).tolist()
    [[1.0, 0.0]]
    """
    b = rhs.shape[-1]
    fwd: list[jnp.ndarray] = []
    for i in range(b):
        fwd.append((rhs[:, i] - sum((low[:, i, m] * fwd[m] for m in range(i)), jnp.zeros_like(rhs[:, i])))
                   / low[:, i, i])
    out: list[jnp.ndarray | None] = [None] * b
    for i in reversed(range(b)):
        out[i] = (fwd[i] - sum((low[:, m, i] * out[m] for m in range(i + 1, b)), jnp.zeros_like(rhs[:, i]))) \
            / low[:, i, i]
    return jnp.stack(out, axis=-1)


def _newton(lap: Laplace, theta: Any, data: Any, u0: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(u_hat, iterations)``: damped Newton ascent on ``u -> l(theta, u)`` from ``u0``."""
    f = partial(lap.value, theta, data=data)
    vg = jax.value_and_grad(lambda u: lap.value(theta, u, data))

    def direction(u, g):
        chol = lap.cholesky(lap.neg_hessian(theta, u, data))
        d = lap.solve(chol, g)
        ok = jnp.all(jnp.isfinite(d))  # not concave here: a scaled gradient step instead
        scale = 1.0 / (1.0 + jnp.max(jnp.abs(g)))
        return jnp.where(ok, d, g * scale), ok

    def cond(state):
        _, dec, it = state
        return (it < lap.maxiter) & (dec > 0.0)

    def body(state):
        u, _, it = state
        value, g = vg(u)
        d, ok = direction(u, g)
        dec = jnp.where(ok, jnp.dot(g, d), jnp.inf)
        tol = lap.tol * (1.0 + jnp.abs(value))
        slack = 1e-13 * (1.0 + jnp.abs(value))

        def shrink(s):
            t, _ = s
            return t / 2.0, f(u + (t / 2.0) * d)

        def keep_shrinking(s):
            t, v = s
            return (t > 1e-12) & ~(v >= value - slack)

        t, v = jax.lax.while_loop(keep_shrinking, shrink, (jnp.asarray(1.0), f(u + d)))
        moved = v >= value - slack
        u_new = jnp.where(moved, u + t * d, u)
        # one more step after the decrement is below tolerance; stop when no step is possible
        done = (dec <= tol) | ~moved
        return u_new, jnp.where(done, 0.0, jnp.maximum(dec, 1e-300)), it + 1

    u, _, it = jax.lax.while_loop(cond, body, (jnp.asarray(u0, dtype=jnp.float64), jnp.asarray(jnp.inf), 0))
    return u, it


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def mode(lap: Laplace, theta: Any, data: Any, u0: jnp.ndarray) -> jnp.ndarray:
    """The inner mode ``u_hat(theta)``, differentiable by the implicit function theorem.

    Example
    -------
    >>> import jax, jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> lap = Laplace(lambda t, u, d: -0.5 * jnp.sum((u - t * d) ** 2) - 0.5 * jnp.sum(u ** 2), q=2)
    >>> with x64():   # u_hat = t d / 2, so du/dt = d / 2
    ...     jax.jacfwd(lambda t: mode(lap, t, jnp.array([1.0, 4.0]), jnp.zeros(2)))(1.0).round(12).tolist()
    [0.5, 2.0]
    """
    return _newton(lap, theta, data, u0)[0]


@mode.defjvp
def _mode_jvp(lap: Laplace, primals: tuple, tangents: tuple) -> tuple[jnp.ndarray, jnp.ndarray]:
    theta, data, u0 = primals
    dtheta = tangents[0]
    u = mode(lap, theta, data, u0)
    rhs = jax.jvp(lambda t: lap.grad_u(t, u, data), (theta,), (dtheta,))[1]
    chol = lap.cholesky(lap.neg_hessian(theta, u, data))
    return u, lap.solve(chol, rhs)


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def at_mode(lap: Laplace, theta: Any, data: Any, u: jnp.ndarray) -> jnp.ndarray:
    """``u`` itself, taken to be the inner mode at ``theta`` (found beforehand, e.g. by a compiled
    :func:`mode`), with :func:`mode`'s implicit-function derivative: the compiled outer Hessian then
    holds no Newton loop (about a third less to compile, and no inner iterations per evaluation).

    Example
    -------
    >>> import jax, jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> lap = Laplace(lambda t, u, d: -0.5 * jnp.sum((u - t * d) ** 2) - 0.5 * jnp.sum(u ** 2), q=2)
    >>> with x64():   # the mode at t = 1 is d / 2; du/dt = d / 2 as for mode()
    ...     jax.jacfwd(lambda t: at_mode(lap, t, jnp.array([1.0, 4.0]), jnp.array([0.5, 2.0])))(1.0).round(12).tolist()
    [0.5, 2.0]
    """
    return u


@at_mode.defjvp
def _at_mode_jvp(lap: Laplace, primals: tuple, tangents: tuple) -> tuple[jnp.ndarray, jnp.ndarray]:
    theta, data, u0 = primals
    u = at_mode(lap, theta, data, u0)  # so that differentiating this rule again sees u move with theta
    rhs = jax.jvp(lambda t: lap.grad_u(t, u, data), (theta,), (tangents[0],))[1]
    chol = lap.cholesky(lap.neg_hessian(theta, u, data))
    return u, lap.solve(chol, rhs)


def marginal(lap: Laplace, theta: Any, data: Any, u0: jnp.ndarray, *, solved: bool = False) -> jnp.ndarray:
    """The Laplace marginal log-likelihood ``l(theta, u_hat) + q/2 log(2 pi) - 1/2 log det(-H_uu)``.

    Exact ``jax.grad``/``jax.hessian`` in ``theta``; ``u0`` only starts the inner Newton solve
    (``solved=True``: ``u0`` is the converged mode at ``theta``, see :func:`at_mode`).

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> lap = Laplace(lambda t, u, d: -0.5 * jnp.sum(u ** 2) - LOG_2PI / 2, q=1)   # integrates to 1
    >>> with x64():
    ...     round(float(marginal(lap, 0.0, None, jnp.zeros(1))), 12)
    0.0
    """
    u = at_mode(lap, theta, data, u0) if solved else mode(lap, theta, data, u0)
    chol = lap.cholesky(lap.neg_hessian(theta, u, data))
    return lap.value(theta, u, data) + 0.5 * lap.q * LOG_2PI - 0.5 * lap.logdet(chol)


_newton_kernel = jax.jit(_newton, static_argnums=(0,))


def newton(lap: Laplace, theta: Any, data: Any, u0: jnp.ndarray) -> tuple[Any, Any]:
    """``(u_hat, iterations)`` by the damped Newton ascent from ``u0``: what fits use to find the mode
    at each outer point, and :func:`inner_report` at the estimate. One kernel per :class:`Laplace`
    and shapes, evaluated with numpy until that has cost a compile
    (:func:`~hessstats.core.compilation.call_kernel`).

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> cosh = Laplace(lambda t, u, d: -jnp.sum(jnp.cosh(u - t * d)), q=3)   # mode u = t d
    >>> with x64():
    ...     u_hat, steps = newton(cosh, 2.0, jnp.array([0.5, -1.0, 0.25]), jnp.zeros(3))
    >>> np.round(np.asarray(u_hat), 10).tolist(), int(steps) > 1
    ([1.0, -2.0, 0.5], True)
    """
    return call_kernel("laplace_mode", _newton_kernel, lap, theta, data, u0)


@partial(jax.jit, static_argnums=(0,))
def _report_at(lap: Laplace, theta: Any, data: Any, u: jnp.ndarray) -> dict[str, jnp.ndarray]:
    """:func:`inner_report`'s quantities at a given mode ``u`` (no Newton loop: a small program)."""
    neg_h = lap.neg_hessian(theta, u, data)
    return {"grad_norm": jnp.max(jnp.abs(lap.grad_u(theta, u, data))), "min_eigenvalue": lap.min_eigenvalue(neg_h),
            "variance": lap.inverse_diagonal(lap.cholesky(neg_h))}


def inner_report(lap: Laplace, theta: Any, data: Any, u0: jnp.ndarray) -> dict[str, jnp.ndarray]:
    """The inner problem's certificate at ``theta``: mode, gradient max-norm, smallest eigenvalue of
    ``-H_uu`` (positive: a maximum), Newton iterations, conditional variances ``diag((-H_uu)^-1)``.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> lap = Laplace(lambda t, u, d: -0.5 * jnp.sum((u - d) ** 2) * 4.0, q=2)
    >>> with x64():
    ...     r = inner_report(lap, 0.0, jnp.array([1.0, 2.0]), jnp.zeros(2))
    >>> r["mode"].round(12).tolist(), float(r["min_eigenvalue"]), r["variance"].tolist()
    ([1.0, 2.0], 4.0, [0.25, 0.25])
    """
    u, it = newton(lap, theta, data, u0)  # the fit's solve kernel (numpy until compiled), reused
    return {"mode": u, "iterations": it, **call_kernel("laplace_report", _report_at, lap, theta, data, u)}


@partial(jax.jit, static_argnums=(0,))
def mode_jacobian(lap: Laplace, theta_flat: jnp.ndarray, data: Any, u0: jnp.ndarray) -> jnp.ndarray:
    """``J = d u_hat / d theta``, shape ``(q, k)``, for a flat ``theta`` (exact, implicit function theorem).

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> lap = Laplace(lambda t, u, d: -0.5 * jnp.sum((u - t[0] * d) ** 2) - 0.5 * jnp.sum(u ** 2), q=2)
    >>> with x64():
    ...     mode_jacobian(lap, jnp.array([1.0]), jnp.array([1.0, 4.0]), jnp.zeros(2)).round(12).tolist()
    [[0.5], [2.0]]
    """
    return jax.jacfwd(lambda t: mode(lap, t, data, u0))(theta_flat)


def prediction_variance(conditional: np.ndarray, jacobian: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """TMB's generalised delta method: ``diag((-H_uu)^-1) + diag(J V J')`` (random-effect prediction
    variances including the uncertainty of the fixed parameters).

    Example
    -------
    >>> prediction_variance(np.array([1.0]), np.array([[2.0]]), np.array([[0.5]])).tolist()
    [3.0]
    """
    jacobian = np.asarray(jacobian, dtype=np.float64)
    return np.asarray(conditional, dtype=np.float64) + np.einsum("ij,jk,ik->i", jacobian, np.asarray(cov), jacobian)


def block_check(lap: Laplace, theta: Any, data: Any, u: jnp.ndarray, seed: int = 0) -> bool:
    """Whether the joint density really couples no two groups: ``H v`` (a full Hessian-vector product)
    against the block-diagonal product for a random ``v`` (one product; exact structure gives
    agreement to rounding).

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> lap = Laplace(lambda t, u, d: -jnp.sum(u ** 2) - u[0] * u[1], q=2, structure=Structure.GROUPS)
    >>> with x64():
    ...     block_check(lap, 0.0, None, jnp.zeros(2))
    False
    """
    v = jnp.asarray(np.random.default_rng(seed).normal(size=lap.q))
    full = jax.jvp(lambda w: lap.grad_u(theta, w, data), (u,), (v,))[1]
    blocks = lap.neg_hessian(theta, u, data)
    product = -jnp.einsum("gij,gj->gi", blocks, v.reshape(lap.groups, lap.block)).reshape(-1)
    scale = float(jnp.max(jnp.abs(full))) + 1e-300
    return bool(jnp.max(jnp.abs(full - product)) <= 1e-8 * scale)
