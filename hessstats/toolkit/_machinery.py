"""Shared machinery of the Hessian toolkit (private): input checks, the batched compiled kernels, the
kink check and the Newton-step helpers used by :mod:`~hessstats.toolkit.critical`, ``convexity``,
``lagrange`` and ``taylor``: one home, so no toolkit module reaches into another's private names."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats._config import as_float64
from hessstats.core.compilation import TRACES, Program
from hessstats.core.params import ParamSpec
from hessstats.errors import SpecificationError, message

NOT_TWICE_DIFFERENTIABLE = "not twice differentiable here"

EPS = float(np.finfo(np.float64).eps)
KINK_STEPS = (1e-4, 1e-5)
"""Relative steps (times ``1 + ||x||``) of the finite-difference kink check."""
KINK_RATIO = 0.5
"""A finite-difference error that shrinks by less than this when the step shrinks 10x is a kink
(smooth functions: about 0.1, a jump in the Hessian: 1, a jump in the gradient: 10)."""
KINK_REL = 1e-2
"""... and is larger than this fraction of the curvature along the direction (plus rounding)."""
BATCH_BYTES = 2 ** 28
"""Default memory budget of one batch of Hessians in :func:`find_critical_points`."""


class Smoothness(enum.Enum):
    """What the finite-difference check found about ``f`` at a point.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.classify_critical_point(lambda v: v[0] * abs(v[0]), [0.0]).smoothness
    <Smoothness.HESSIAN_JUMP: 'the Hessian jumps'>
    """

    SMOOTH = "twice differentiable"
    HESSIAN_JUMP = "the Hessian jumps"
    GRADIENT_JUMP = "the gradient jumps"


# ----------------------------------------------------------------------------- helpers

def require_scalar(fn: Callable, arg: Any) -> None:
    """Raise SpecificationError unless ``fn(arg)`` is a single 0-d value (checked by tracing
    shapes only, ``jax.eval_shape``: nothing is computed)."""
    out = jax.eval_shape(fn, arg)
    leaves, tree = jax.tree_util.tree_flatten(out)
    single = jax.tree_util.treedef_is_leaf(tree) and len(leaves) == 1
    if single and tuple(leaves[0].shape) == ():
        return
    got = (f"output shape {tuple(leaves[0].shape)}" if single else
           f"output {tree} with {len(leaves)} part(s)")
    raise SpecificationError(message(
        "f must return a scalar: expected a scalar function", expected="f: R^n -> R returning a "
        "0-d value", got=got, fix="sum the components (jnp.sum(f(x))) or pick one (f(x)[i])"))


def flatten_function(f: Callable, x: Any) -> tuple[Callable, np.ndarray, ParamSpec]:
    """``(f on the flat vector, flat x as float64 numpy, spec)``; checks that ``f`` is scalar."""
    if isinstance(x, (list, tuple)) and all(np.ndim(u) == 0 for u in x):
        x = np.asarray(x, dtype=np.float64)  # a list of numbers is a vector, as in core.derivatives
    spec = ParamSpec.from_start(x)
    v = as_float64(spec.ravel(x))

    def flat(u):
        return jnp.asarray(f(spec.unravel(u)), dtype=jnp.float64)

    require_scalar(lambda u: f(spec.unravel(u)), jnp.asarray(v))
    return flat, v, spec


def check_scalar(f: Callable, n: int) -> None:
    """Raise SpecificationError unless ``f`` (a function of a flat vector of ``n``) is scalar."""
    require_scalar(f, jax.ShapeDtypeStruct((n,), jnp.float64))


def as_points(points: Any, n: int | None = None, what: str = "points") -> np.ndarray:
    arr = as_float64(points)
    arr = arr[None, :] if arr.ndim == 1 else arr
    if arr.ndim != 2 or (n is not None and arr.shape[1] != n) or not np.all(np.isfinite(arr)):
        raise SpecificationError(message(
            f"{what} have the wrong shape or are not finite",
            expected=f"a finite (k, {n or 'n'}) array of points", got=f"shape {arr.shape}",
            fix=f"give one row per point, {n or 'n'} coordinates each"))
    return arr


def as_box(box: Any) -> np.ndarray:
    arr = as_float64(box)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.all(arr[:, 0] < arr[:, 1]):
        raise SpecificationError(message(
            "box is not a list of (low, high) pairs", expected="[(low, high), ...] with low < high",
            got=repr(box), fix="give one (low, high) pair per variable, e.g. [(-3, 3), (-3, 3)]"))
    return arr


def count_signs(eigenvalues: np.ndarray, eig_tol: float) -> tuple[int, int, int]:
    pos = int(np.sum(eigenvalues > eig_tol))
    neg = int(np.sum(eigenvalues < -eig_tol))
    return pos, neg, len(eigenvalues) - pos - neg


def verdict_of(pos: int, neg: int, zero: int) -> str:
    if pos and neg:
        return "saddle point"  # definitely not an extremum, whatever the zero eigenvalues
    if zero:
        return "degenerate"
    return "local minimum" if pos else "local maximum"


@partial(jax.jit, static_argnames=("f",))
def batched_derivatives(X, consts, f):
    """Values, gradients and symmetrised Hessians of a flat-vector program ``f`` (run with its
    captured ``consts``, an argument: never baked in) at the rows of ``X``."""
    TRACES["toolkit_derivs"] += 1

    def one(v):
        g = lambda u: jnp.asarray(f(consts, u), dtype=jnp.float64)  # noqa: E731
        val, grad = jax.value_and_grad(g)(v)
        h = jax.hessian(g)(v)
        return val, grad, (h + h.T) / 2.0

    return jax.vmap(one)(X)


@partial(jax.jit, static_argnames=("f",))
def batched_gradients(X, consts, f):
    """Values and gradients of a flat-vector program ``f`` (with its ``consts``) at the rows of ``X``."""
    TRACES["toolkit_grads"] += 1
    return jax.vmap(jax.value_and_grad(lambda u: jnp.asarray(f(consts, u), dtype=jnp.float64)))(X)


class Kernels:
    """Fixed-shape calls of the compiled kernels for one flat-vector ``f``.

    Every call of :func:`batched_derivatives` has ``rows`` rows and every call of :func:`batched_gradients` ``rows`` or
    ``grad_rows`` rows (a short block is padded by repeating its first row), so each kernel
    compiles once per ``(f, rows)`` and a call never holds more than ``rows`` Hessians.
    """

    def __init__(self, f: Callable, rows: int, grad_rows: int, n: int):
        # traced once into a Program: the kernels are keyed on what f computes and get the arrays it
        # captures as an argument, so a changed global or closure array is never served stale
        self.f, self.consts, _ = Program.trace(f, jnp.zeros(n))
        self.rows, self.grad_rows = int(rows), int(grad_rows)

    @staticmethod
    def _blocks(kernel, X: np.ndarray, rows: int) -> list[np.ndarray]:
        outs: list[list[np.ndarray]] = []
        for i in range(0, len(X), rows):
            block = X[i:i + rows]
            m = len(block)
            if m < rows:
                block = np.concatenate([block, np.repeat(block[:1], rows - m, axis=0)])
            outs.append([np.asarray(a)[:m] for a in kernel(jnp.asarray(block))])
        return [np.concatenate(parts) for parts in zip(*outs)]

    def derivs(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(values, gradients, Hessians)`` at the rows of ``X`` (at most ``rows`` of them)."""
        if len(X) == 0:
            n = X.shape[1]
            return np.zeros(0), np.zeros((0, n)), np.zeros((0, n, n))
        return tuple(self._blocks(partial(batched_derivatives, consts=self.consts, f=self.f), X, self.rows))  # type: ignore[return-value]

    def grads(self, X: np.ndarray, wide: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(values, gradients)`` at the rows of ``X``, in blocks of ``rows`` (``grad_rows`` if wide)."""
        if len(X) == 0:
            return np.zeros(0), np.zeros((0, X.shape[1]))
        rows = self.grad_rows if wide else self.rows
        return tuple(self._blocks(partial(batched_gradients, consts=self.consts, f=self.f), X, rows))  # type: ignore[return-value]


def batch_rows(n: int, k: int, budget: int) -> tuple[int, int]:
    """Rows per Hessian batch and per gradient batch under ``budget`` bytes.

    A Hessian batch of ``c`` rows holds about 8 ``n x n`` float64 arrays per row (the Hessian, its
    symmetrisation, the eigenvectors and working copies), so ``c = budget // (64 n^2)``; a gradient
    batch about 8 vectors per row.
    """
    c = int(max(1, min(k, budget // (64 * n * n))))
    cg = int(max(c, min(budget // (64 * n), 8 * n * c)))
    return c, cg


def pinv_steps(w: np.ndarray, Q: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Batched Newton steps ``-pinv(H) g`` from ``H = Q diag(w) Q'`` (eigenvalues below 1e-12 of
    the largest dropped)."""
    cut = 1e-12 * np.max(np.abs(w), axis=1, keepdims=True)
    inv = np.where(np.abs(w) > cut, 1.0 / np.where(w == 0, 1.0, w), 0.0)
    return -np.einsum("kij,kj->ki", Q, inv * np.einsum("kji,kj->ki", Q, G))


def signal_steps(w: np.ndarray, Q: np.ndarray, G: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The Newton steps ``-pinv(H) g`` without their rounding noise: each eigen-component
    ``-(q_i'g) / w_i`` shrunk towards 0 by its noise level ``100 eps (||g|| + ||H|| ell) / |w_i|``
    (the rounding of a gradient, divided by the curvature along ``q_i``)."""
    a = np.abs(w)
    top = a.max(axis=1, keepdims=True)
    kept = a > 1e-12 * top
    coef = -np.where(kept, 1.0 / np.where(kept, w, 1.0), 0.0) * np.einsum("kji,kj->ki", Q, G)
    ell = 1.0 + np.linalg.norm(X, axis=1, keepdims=True)
    level = 100.0 * EPS * (np.linalg.norm(G, axis=1, keepdims=True) + top * ell)
    noise = level / np.where(kept, a, np.inf)
    signal = np.sign(coef) * np.maximum(np.abs(coef) - noise, 0.0)
    return np.einsum("kij,kj->ki", Q, signal)


def newton_distances(S1: np.ndarray, S2: np.ndarray) -> np.ndarray:
    """Test (b) of the module docstring: from the noise-free Newton steps ``S1`` at ``x`` and
    ``S2`` at ``x + p1``, the estimated distance ``||s1|| / (1 - r)``, ``r = ||s2|| / ||s1||``, to
    the point Newton's method converges to (0 when ``s1`` is all rounding noise; ``inf`` when
    ``r >= 1``; ``||s1||`` when ``f`` is not finite at ``x + p1``, which gives no evidence)."""
    a, b = np.linalg.norm(S1, axis=1), np.linalg.norm(S2, axis=1)
    r = np.where(a > 0, b / np.where(a > 0, a, 1.0), 0.0)
    est = np.where(r < 1.0, a / np.maximum(1.0 - r, 1e-300), np.inf)
    return np.where(a == 0, 0.0, np.where(np.isfinite(b), est, a))


@dataclass(frozen=True)
class KinkScan:
    smoothness: list[Smoothness]
    jump: np.ndarray       # largest gradient jump across the point (0 where the gradient is continuous)
    direction: np.ndarray  # (k, n): the direction with the largest relative disagreement
    error: np.ndarray      # that disagreement, ||one-sided difference quotient - H d||
    jump_directions: list[np.ndarray]   # per point: the directions across which the gradient jumps
    level: np.ndarray      # the rounding level of a gradient at each point


def kink_scan(grad_rows: Callable[[np.ndarray], np.ndarray], X: np.ndarray, G: np.ndarray,
               H: np.ndarray, max_rows: int | None = None) -> KinkScan:
    """Detect points where ``f`` is not twice differentiable, cheaply (``8 n`` gradients a point).

    Along the unit directions ``d`` (the Hessian's eigenvectors and the coordinate axes) and steps
    ``h`` in :data:`KINK_STEPS` (times ``1 + ||x||``), the one-sided difference quotients of the
    exact gradient, ``(g(x + h d) - g(x)) / h`` and ``(g(x) - g(x - h d)) / h``, approach ``H d`` like
    ``O(h)`` when ``f`` is twice differentiable. A kink shows as an error that does not shrink with
    ``h`` (a jump in the Hessian: constant; a jump in the gradient: growing like ``1/h``) and is
    larger than :data:`KINK_REL` of the curvature ``d'H d`` plus the rounding level
    ``1e3 eps (||g|| + ||H|| (1 + ||x||)) / h``. The gradient jumps (``f`` is not even
    differentiable) when that error grows more than 3x as the step shrinks 10x.

    ``grad_rows`` maps an ``(r, n)`` array to the gradients at its rows; it is called with at most
    ``max_rows`` rows (default ``8 n``) at a time, so memory is ``O(max_rows n)`` besides the
    ``k`` eigendecompositions of ``H``.
    """
    k, n = X.shape
    rows = max(4, max_rows or 8 * n)
    per_call = rows // 4                      # (direction, point) pairs per call: 2 steps x 2 signs
    w, Q = np.linalg.eigh(H)
    ell = 1.0 + np.linalg.norm(X, axis=1)
    hs = ell[:, None] * np.asarray(KINK_STEPS)[None, :]                   # (k, 2)
    signs = np.array([1.0, -1.0])
    p_all, j_all = np.repeat(np.arange(k), 2 * n), np.tile(np.arange(2 * n), k)
    err, jump = np.zeros((k * 2 * n, 2)), np.zeros((k * 2 * n, 2))
    curv, fin = np.zeros(k * 2 * n), np.zeros(k * 2 * n, dtype=bool)
    gmax = np.linalg.norm(G, axis=1)
    for t0 in range(0, k * 2 * n, per_call):
        p, j = p_all[t0:t0 + per_call], j_all[t0:t0 + per_call]
        eig = j < n
        axis = np.where(eig, 0, j - n)
        D = np.where(eig[:, None], Q[p, :, np.where(eig, j, 0)], np.eye(n)[axis])
        HD = np.where(eig[:, None], w[p, np.where(eig, j, 0)][:, None] * D, H[p, :, axis])  # rows (H d)'
        curv[t0:t0 + len(p)] = np.abs(np.where(eig, w[p, np.where(eig, j, 0)], H[p, axis, axis]))
        Y = X[p][:, None, None, :] + signs[None, None, :, None] * hs[p][:, :, None, None] * D[:, None, None, :]
        GY = grad_rows(Y.reshape(-1, n)).reshape(len(p), 2, 2, n)          # (t, step, sign, n)
        ok = np.isfinite(GY).all(axis=(1, 2, 3))
        GY = np.where(ok[:, None, None, None], GY, 0.0)
        gp, gm = GY[:, :, 0], GY[:, :, 1]
        hh = hs[p][:, :, None]
        g0 = G[p][:, None, :]
        e = np.maximum(np.linalg.norm((gp - g0) / hh - HD[:, None], axis=-1),
                       np.linalg.norm((g0 - gm) / hh - HD[:, None], axis=-1))
        err[t0:t0 + len(p)] = np.where(ok[:, None], e, 0.0)
        jump[t0:t0 + len(p)] = np.where(ok[:, None], np.linalg.norm(gp - gm, axis=-1), 0.0)
        fin[t0:t0 + len(p)] = ok
        np.maximum.at(gmax, p, np.linalg.norm(GY, axis=-1).max(axis=(1, 2)))
    err, jump = err.reshape(k, 2 * n, 2), jump.reshape(k, 2 * n, 2)
    curv, fin = curv.reshape(k, 2 * n), fin.reshape(k, 2 * n)
    level = 1e3 * EPS * (gmax + np.abs(w).max(axis=1) * ell)                 # rounding of a gradient
    noise = (level / hs[:, 1])[:, None]
    hess_kink = ((err[..., 1] > KINK_RATIO * err[..., 0]) & (err[..., 1] > noise + KINK_REL * curv)
                 & fin.all(axis=1, keepdims=True))
    grad_kink = hess_kink & (err[..., 1] > 3.0 * err[..., 0]) & (jump[..., 1] > level[:, None])
    rel = np.where(hess_kink, err[..., 1] / (noise + KINK_REL * curv + 1e-300), 0.0)
    worst = np.argmax(rel, axis=1)
    smooth = [Smoothness.GRADIENT_JUMP if grad_kink[i].any() else
              Smoothness.HESSIAN_JUMP if hess_kink[i].any() else Smoothness.SMOOTH for i in range(k)]
    dirs = np.where((worst < n)[:, None], Q[np.arange(k), :, np.minimum(worst, n - 1)],
                    np.eye(n)[np.maximum(worst - n, 0)])
    jumps = np.where(grad_kink, jump[..., 1], 0.0).max(axis=1)
    errs = np.where(hess_kink.any(axis=1), err[np.arange(k), worst, 1], 0.0)
    jump_dirs = []
    for i in range(k):
        js = np.flatnonzero(grad_kink[i])
        jump_dirs.append(np.array([Q[i, :, j] if j < n else np.eye(n)[j - n] for j in js]).reshape(-1, n))
    return KinkScan(smooth, jumps, dirs, errs, jump_dirs, level)


def subgradient_gap(grad_rows: Callable[[np.ndarray], np.ndarray], x: np.ndarray, g: np.ndarray,
                     directions: np.ndarray) -> tuple[float, float]:
    """Distance from 0 to the convex hull of ``g`` and the gradients just beyond a kink,
    ``g(x +- h d)`` for the directions ``d`` across which the gradient jumps (``h`` the smaller kink
    step): 0 when the one-sided gradients surround 0 (a possible critical point of a non-smooth
    ``f``, Clarke's sense), positive when even the one-sided gradients all point away from 0.
    A min-norm point by non-negative least squares with a heavily weighted ``sum = 1`` row.
    Returns ``(distance, largest gradient norm)``."""
    h = KINK_STEPS[1] * (1.0 + float(np.linalg.norm(x)))
    Y = np.concatenate([x + h * directions, x - h * directions])
    P = np.vstack([g[None], grad_rows(Y)])
    P = P[np.isfinite(P).all(axis=1)]
    rho = 1e4 * (float(np.abs(P).max(initial=0.0)) + 1e-300)
    A = np.vstack([P.T, np.full((1, len(P)), rho)])
    b = np.zeros(A.shape[0])
    b[-1] = rho
    lam = scipy.optimize.nnls(A, b)[0]
    total = float(lam.sum())
    size = float(np.linalg.norm(P, axis=1).max(initial=0.0))
    return (float(np.linalg.norm(P.T @ lam) / total) if total > 0 else float(np.linalg.norm(g))), size


def gap_tolerance(gtol: float, scale: float, ell: float, top: float, size: float) -> float:
    """When the one-sided gradients count as surrounding 0: the gradient test's tolerance, ``gtol``
    relative to the one-sided gradients' size, and the drift ``2 h ||H||`` of the gradients over the
    kink step ``h``."""
    return gtol * (scale * ell + size) + 2 * KINK_STEPS[1] * ell * top


def kink_note(s: Smoothness, direction: np.ndarray, error: float) -> str:
    d = np.round(direction, 6).tolist()
    if s is Smoothness.GRADIENT_JUMP:
        return (f"f is not differentiable here: the gradient jumps across x along {d} (finite "
                "differences of the exact gradient grow like 1/h): no first- or second-order "
                "verdict from derivatives")
    return (f"f is not twice differentiable here: along {d} the one-sided second derivatives "
            f"differ from the exact Hessian by {error:.3g} at every step size: the second-order "
            "test does not apply")


