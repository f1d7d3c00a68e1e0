"""Critical points and convexity from exact Hessians.

Tolerance rule (one rule everywhere in this module): with ``scale = ||H||_2`` (the largest absolute
eigenvalue of the Hessian at the point, unless a ``scale`` is given),

- an eigenvalue ``lam`` counts as zero when ``|lam| <= tol * scale`` (default ``tol = 1e-8``);
- the point counts as critical when ``||grad f||_2 <= gtol * scale * (1 + ||x||_2)`` (default
  ``gtol = 1e-6``): a Newton step from ``x`` would move it by about ``gtol`` relative to ``x``.

Both are relative, so ``f`` and ``c * f`` get the same verdict. A Hessian that is exactly zero has
``scale = 0``: every eigenvalue is zero (verdict "degenerate") and only an exactly zero gradient is
critical. :func:`find_critical_points` passes the typical Hessian scale over its starts, so points
found by Newton's method near a degenerate critical point are judged against the curvature of ``f``
over the box rather than against their own (tiny) Hessian.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from hessstats._config import as_float64, float64
from hessstats.core import derivatives
from hessstats.core.params import ParamSpec
from hessstats.errors import SpecificationError, message

KINDS = ("local minimum", "local maximum", "saddle point", "degenerate", "not a critical point")
TRACES: collections.Counter[str] = collections.Counter()
"""How many times the compiled kernels of this module were traced (a test checks: once per f)."""


# ----------------------------------------------------------------------------- helpers

def _flatten(f: Callable, x: Any) -> tuple[Callable, np.ndarray, ParamSpec]:
    """``(f on the flat vector, flat x as float64 numpy, spec)``; checks that ``f`` is scalar."""
    spec = ParamSpec.from_start(x)
    v = as_float64(spec.ravel(x))

    def flat(u):
        return jnp.asarray(f(spec.unravel(u)), dtype=jnp.float64)

    shape = jax.eval_shape(flat, jnp.asarray(v)).shape
    if shape != ():
        raise SpecificationError(message(
            "f must return a scalar", expected="f: R^n -> R returning a 0-d value",
            got=f"output of shape {shape}", fix="return a single number, e.g. jnp.sum(...)"))
    return flat, v, spec


def _points(points: Any, n: int | None = None, what: str = "points") -> np.ndarray:
    arr = as_float64(points)
    arr = arr[None, :] if arr.ndim == 1 else arr
    if arr.ndim != 2 or (n is not None and arr.shape[1] != n) or not np.all(np.isfinite(arr)):
        raise SpecificationError(message(
            f"{what} have the wrong shape or are not finite",
            expected=f"a finite (k, {n or 'n'}) array of points", got=f"shape {arr.shape}",
            fix=f"give one row per point, {n or 'n'} coordinates each"))
    return arr


def _box(box: Any) -> np.ndarray:
    arr = as_float64(box)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.all(arr[:, 0] < arr[:, 1]):
        raise SpecificationError(message(
            "box is not a list of (low, high) pairs", expected="[(low, high), ...] with low < high",
            got=repr(box), fix="give one (low, high) pair per variable, e.g. [(-3, 3), (-3, 3)]"))
    return arr


def _count(eigenvalues: np.ndarray, eig_tol: float) -> tuple[int, int, int]:
    pos = int(np.sum(eigenvalues > eig_tol))
    neg = int(np.sum(eigenvalues < -eig_tol))
    return pos, neg, len(eigenvalues) - pos - neg


def _verdict(pos: int, neg: int, zero: int) -> str:
    if pos and neg:
        return "saddle point"  # definitely not an extremum, whatever the zero eigenvalues
    if zero:
        return "degenerate"
    return "local minimum" if pos else "local maximum"


@partial(jax.jit, static_argnames=("f",))
def _derivs(X, f):
    """Values, gradients and symmetrised Hessians of a flat-vector ``f`` at the rows of ``X``."""
    TRACES["derivs"] += 1

    def one(v):
        g = lambda u: jnp.asarray(f(u), dtype=jnp.float64)  # noqa: E731
        val, grad = jax.value_and_grad(g)(v)
        h = jax.hessian(g)(v)
        return val, grad, (h + h.T) / 2.0

    return jax.vmap(one)(X)


@partial(jax.jit, static_argnames=("f",))
def _grads(X, f):
    TRACES["grads"] += 1
    return jax.vmap(jax.grad(lambda u: jnp.asarray(f(u), dtype=jnp.float64)))(X)


# ----------------------------------------------------------------------------- classification

@dataclass(frozen=True, eq=False)
class CriticalPoint:
    """Verdict of the second-order test at one point (see the module docstring for tolerances).

    Example
    -------
    >>> cp = classify_critical_point(lambda v: v[0]**2 - v[1]**2, [0.0, 0.0])
    >>> cp.kind, cp.eigenvalues.tolist(), cp.is_critical
    ('saddle point', [-2.0, 2.0], True)
    """

    kind: str
    point: np.ndarray
    value: float
    gradient: np.ndarray
    hessian: np.ndarray
    eigenvalues: np.ndarray
    gradient_norm: float
    scale: float
    eig_tol: float
    grad_tol: float

    @property
    def is_critical(self) -> bool:
        """Whether the gradient passed the zero test."""
        return self.kind != "not a critical point"


def _classify(x, value, g, H, tol, gtol, scale=None) -> CriticalPoint:
    x, g, H = as_float64(x), as_float64(g), as_float64(H)
    if not (np.isfinite(value) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
        raise SpecificationError(message(
            "f or its derivatives are not finite at the point", expected="finite value, gradient "
            "and Hessian", got=f"value {value}, gradient {g}", fix="choose a point inside the domain"))
    lam = np.linalg.eigvalsh(H)
    s = float(np.max(np.abs(lam), initial=0.0)) if scale is None else float(scale)
    eig_tol, grad_tol = tol * s, gtol * s * (1.0 + float(np.linalg.norm(x)))
    gnorm = float(np.linalg.norm(g))
    kind = "not a critical point" if gnorm > grad_tol else _verdict(*_count(lam, eig_tol))
    return CriticalPoint(kind, x, float(value), g, H, lam, gnorm, s, eig_tol, grad_tol)


@float64
def classify_critical_point(f: Callable[[Any], Any], x: Any, tol: float = 1e-8,
                            gtol: float = 1e-6, scale: float | None = None) -> CriticalPoint:
    """Classify ``x`` by the gradient and the eigenvalues of the exact Hessian.

    ``kind`` is "not a critical point" (checked first), "saddle point" (eigenvalues of both signs,
    even if some are zero), "degenerate" (a zero eigenvalue, all others of one sign: the test is
    inconclusive, e.g. ``x**4`` and ``x**3`` at 0), "local minimum" or "local maximum". A positive
    *semi*definite Hessian never proves a minimum. Tolerances: see the module docstring.

    Example
    -------
    >>> cp = classify_critical_point(lambda v: v[0]**2 + v[0]*v[1] + v[1]**2 - 3*v[0], [2.0, -1.0])
    >>> cp.kind, cp.eigenvalues.tolist()
    ('local minimum', [1.0, 3.0])
    """
    flat, v, _ = _flatten(f, x)
    return _classify(v, float(flat(jnp.asarray(v))), derivatives.gradient(f, x), derivatives.hessian(f, x),
                     tol, gtol, scale)


@dataclass(frozen=True, eq=False)
class SecondDerivativeTest:
    """The two-variable test: ``D = f_xx f_yy - f_xy**2`` and the sign of ``f_xx``.

    Example
    -------
    >>> t = second_derivative_test(lambda v: v[0]**4 + v[1]**2, [0.0, 0.0])
    >>> t.D, t.kind
    (0.0, 'degenerate')
    """

    kind: str
    D: float
    fxx: float
    fyy: float
    fxy: float
    gradient_norm: float
    d_tol: float


@float64
def second_derivative_test(f: Callable[[Any], Any], x: Any, tol: float = 1e-8,
                           gtol: float = 1e-6) -> SecondDerivativeTest:
    """The textbook test for ``f(x, y)``: D < 0 saddle, D > 0 and f_xx > 0 minimum, D > 0 and
    f_xx < 0 maximum, D = 0 inconclusive ("degenerate").

    ``D`` counts as zero when ``|D| <= tol * scale**2`` with ``scale`` the largest absolute
    eigenvalue, which is exactly when :func:`classify_critical_point` sees a zero eigenvalue
    (``D`` is the product of the two eigenvalues), so both always agree.

    Example
    -------
    >>> t = second_derivative_test(lambda v: v[0]**2 + v[0]*v[1] + v[1]**2 - 3*v[0], [2.0, -1.0])
    >>> t.D, t.fxx, t.kind
    (3.0, 2.0, 'local minimum')
    """
    flat, v, _ = _flatten(f, x)
    if v.size != 2:
        raise SpecificationError(message(
            "the second derivative test is for two variables", expected="a point with 2 entries",
            got=f"{v.size} entries", fix="use classify_critical_point for n variables"))
    g, H = derivatives.gradient(f, x), derivatives.hessian(f, x)
    fxx, fyy, fxy = float(H[0, 0]), float(H[1, 1]), float(H[0, 1])
    D = fxx * fyy - fxy ** 2
    scale = abs(fxx + fyy) / 2 + float(np.hypot((fxx - fyy) / 2, fxy))
    gnorm = float(np.linalg.norm(g))
    d_tol = tol * scale ** 2
    if gnorm > gtol * scale * (1.0 + float(np.linalg.norm(v))):
        kind = "not a critical point"
    elif abs(D) <= d_tol:
        kind = "degenerate"
    elif D < 0:
        kind = "saddle point"
    else:
        kind = "local minimum" if fxx > 0 else "local maximum"
    return SecondDerivativeTest(kind, D, fxx, fyy, fxy, gnorm, d_tol)


# ----------------------------------------------------------------------------- critical point search

def _pinv_step(H: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Batched Newton steps ``-pinv(H) g`` (eigenvalues below 1e-12 of the largest dropped)."""
    w, Q = np.linalg.eigh(H)
    cut = 1e-12 * np.max(np.abs(w), axis=1, keepdims=True)
    inv = np.where(np.abs(w) > cut, 1.0 / np.where(w == 0, 1.0, w), 0.0)
    return -np.einsum("kij,kj->ki", Q, inv * np.einsum("kji,kj->ki", Q, G))


def _starts(box: np.ndarray | None, starts: Any, grid: int, seed: int) -> np.ndarray:
    if starts is not None and not isinstance(starts, (int, np.integer)):
        return _points(starts, None if box is None else len(box), "starts")
    if box is None:
        raise SpecificationError(message(
            "nowhere to search", expected="box=[(low, high), ...] and/or an array of starts",
            got=f"box=None, starts={starts!r}", fix="give a box, e.g. box=[(-3, 3), (-3, 3)]"))
    n, width = len(box), box[:, 1] - box[:, 0]
    if starts is None and grid ** n <= 1024:
        axes = [lo + (np.arange(grid) + 0.5) * (hi - lo) / grid for lo, hi in box]
        return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, n)
    k = 256 if starts is None else int(starts)
    return box[:, 0] + np.random.default_rng(seed).random((k, n)) * width


def _newton(f: Callable, X: np.ndarray, max_iter: int, xtol: float, max_step: float):
    """Vectorised Newton on ``grad f = 0`` (pseudo-inverse step, backtracking on ``||grad||``)."""
    X = X.copy()
    active = np.ones(len(X), dtype=bool)
    for _ in range(max_iter):
        val, G, H = (np.asarray(a) for a in _derivs(jnp.asarray(X), f=f))
        finite = np.isfinite(val) & np.isfinite(G).all(1) & np.isfinite(H).all((1, 2))
        active &= finite
        if not active.any():
            break
        P = _pinv_step(np.where(finite[:, None, None], H, 0.0), np.where(finite[:, None], G, 0.0))
        length = np.linalg.norm(P, axis=1)
        P *= np.minimum(1.0, max_step / np.maximum(length, 1e-300))[:, None]
        P[~active] = 0.0
        gn = np.linalg.norm(G, axis=1)
        t, accepted, new = np.ones(len(X)), ~active, X.copy()
        for _ in range(40):
            trial = X + t[:, None] * P
            gt = np.linalg.norm(np.asarray(_grads(jnp.asarray(trial), f=f)), axis=1)
            ok = ~accepted & np.isfinite(gt) & (gt <= (1.0 - 1e-4 * t) * gn)
            new[ok], accepted = trial[ok], accepted | ok
            if accepted.all():
                break
            t = np.where(accepted, t, t / 2)
        moved = np.linalg.norm(new - X, axis=1)
        X = new
        active &= accepted & (moved > xtol * (1.0 + np.linalg.norm(X, axis=1))) & (gn > 0)
        if not active.any():
            break
    return X


@float64
def find_critical_points(f: Callable[[Any], Any], box: Sequence[Sequence[float]] | None = None,
                         starts: Any = None, *, grid: int = 5, seed: int = 0,
                         names: Sequence[str] | None = None, tol: float = 1e-8, gtol: float = 1e-6,
                         max_iter: int = 100) -> pd.DataFrame:
    """Critical points of ``f`` (a function of a flat vector) by Newton's method from many starts.

    Starts: the given ``(k, n)`` array; or ``int`` k seeded uniform points in ``box``; or (default)
    a ``grid**n`` grid of cell centres of ``box`` (256 seeded points when that exceeds 1024).
    Newton's step uses the pseudo-inverse of the Hessian (singular Hessians do not crash), at most
    the box diameter long, halved until ``||grad f||`` decreases. The derivatives are compiled
    once per ``f`` and vectorised over starts. Converged points (gradient test of
    :func:`classify_critical_point`, with ``scale`` the larger of ``||H||`` there and the median
    ``||H||`` over the starts) inside ``box`` are deduplicated (distance ``<= 1e-6 (1 + ||x||)``)
    and classified. Returns a DataFrame, one row per point: coordinates, ``value``, ``kind``,
    ``eigenvalues``, ``gradient_norm``, ``hits`` (starts that converged there).

    Example
    -------
    >>> df = find_critical_points(lambda v: v[0]**3 - 3*v[0] + v[1]**2, box=[(-3, 3), (-3, 3)])
    >>> [(round(r.x0, 6), round(r.x1, 6), r.kind) for r in df.itertuples()]
    [(-1.0, 0.0, 'saddle point'), (1.0, 0.0, 'local minimum')]
    """
    b = None if box is None else _box(box)
    X0 = _starts(b, starts, grid, seed)
    n = X0.shape[1]
    cols = list(names) if names is not None else [f"x{i}" for i in range(n)]
    if len(cols) != n:
        raise SpecificationError(message(
            "names do not match the dimension", expected=f"{n} names", got=f"{len(cols)}: {cols}",
            fix="give one name per variable"))
    span = (b[:, 1] - b[:, 0]) if b is not None else np.ptp(X0, axis=0) + 1.0
    X = _newton(f, X0, max_iter, 1e-12, float(np.linalg.norm(span)))
    H0 = np.asarray(_derivs(jnp.asarray(X0), f=f)[2])
    H0 = H0[np.isfinite(H0).all(axis=(1, 2))]
    typical = float(np.median(np.abs(np.linalg.eigvalsh(H0)).max(axis=1))) if len(H0) else 0.0
    val, G, H = (np.asarray(a) for a in _derivs(jnp.asarray(X), f=f))
    keep = np.isfinite(val) & np.isfinite(G).all(1) & np.isfinite(H).all((1, 2))
    if b is not None:
        keep &= np.all((X >= b[:, 0] - 1e-9 * span) & (X <= b[:, 1] + 1e-9 * span), axis=1)
    reps: list[list] = []  # [index, hits, CriticalPoint], best gradient first
    for i in np.argsort(np.linalg.norm(np.where(np.isfinite(G), G, np.inf), axis=1)):
        if not keep[i]:
            continue
        near = [r for r in reps if np.linalg.norm(X[i] - X[r[0]]) <= 1e-6 * (1 + np.linalg.norm(X[i]))]
        if near:
            near[0][1] += 1
            continue
        scale = max(float(np.abs(np.linalg.eigvalsh(H[i])).max()), typical)
        cp = _classify(X[i], val[i], G[i], H[i], tol, gtol, scale)
        if cp.is_critical:
            reps.append([i, 1, cp])
    rows = [{**dict(zip(cols, cp.point.tolist())), "value": cp.value, "kind": cp.kind,
             "eigenvalues": tuple(cp.eigenvalues.tolist()), "gradient_norm": cp.gradient_norm,
             "hits": hits} for _, hits, cp in reps]
    columns = [*cols, "value", "kind", "eigenvalues", "gradient_norm", "hits"]
    df = pd.DataFrame(rows, columns=columns).sort_values(cols, ignore_index=True)
    df.attrs.update(starts=len(X0), tol=tol, gtol=gtol, typical_scale=typical)
    return df


# ----------------------------------------------------------------------------- convexity
