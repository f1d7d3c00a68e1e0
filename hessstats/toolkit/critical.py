"""Critical points and convexity from exact Hessians.

Tolerance rule (one rule everywhere in this module). With ``scale = ||H||_2`` (the largest absolute
eigenvalue of the Hessian at the point, unless a ``scale`` is given) and ``ell = 1 + ||x||_2``:

- an eigenvalue ``lam`` counts as zero when ``|lam| <= tol * scale`` (default ``tol = 1e-8``);
- the point counts as critical when both

  (a) ``||grad f||_2 <= gtol * scale * ell`` (default ``gtol = 1e-6``): the gradient is small
      against the curvature, and
  (b) Newton's method from ``x`` confirms a critical point within ``gtol * ell``: with ``p1`` the
      Newton step ``-H^+ g`` at ``x``, ``p2`` the Newton step at ``x + p1`` and
      ``r = ||p2|| / ||p1||``, the distance to the point Newton converges to is estimated as
      ``||p1|| / (1 - r)`` (a geometric series; infinite when ``r >= 1``), and must be
      ``<= gtol * ell``. Rounding noise is removed from the steps first: the component along the
      eigenvector ``q_i`` of ``H`` counts only beyond ``100 eps (||g|| + ||H|| ell) / |lam_i|``, so
      a point that is critical up to rounding passes even when ``H`` is ill-conditioned.

  (a) alone is relative to the curvature *at x*, which is not enough: ``x**1000000`` at ``x = 1``
  has gradient ``1e6`` and curvature ``1e12``, so the Newton step is only ``1e-6`` long, but the
  quadratic model is useless there (the next Newton step is as long: ``r = 1 - 1e-6``, estimated
  distance 1, the true distance to the critical point 0). (b) rejects it, while a true critical
  point with large values (``1e12 * (x - 1e6)**2`` at ``1e6``) still passes: both tests are
  scale-free (``f``, ``c * f`` and ``f + c`` get the same verdict).

A Hessian that is exactly zero has ``scale = 0``: every eigenvalue is zero (verdict "degenerate")
and only an exactly zero gradient is critical. :func:`find_critical_points` passes the typical
Hessian scale over its starts, so points found by Newton's method near a degenerate critical point
are judged against the curvature of ``f`` over the box rather than against their own (tiny) Hessian.

The second-order test needs ``f`` twice differentiable at ``x``. JAX returns *a* derivative at a
kink (``|x|``, ``relu``, ``x*|x|``, ``min(x**2, 1)``), so every classification first compares the
exact Hessian with finite differences of the exact gradient (see :func:`kink_scan`): where they
disagree and the disagreement does not shrink with the step, the verdict is "not twice
differentiable" (or "not a critical point" when even the one-sided gradients are all far from 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from hessstats._config import as_float64, float64
from hessstats.core import derivatives
from hessstats.errors import SpecificationError, message
from hessstats.toolkit._machinery import (
    BATCH_BYTES,
    KINK_STEPS,
    NOT_TWICE_DIFFERENTIABLE,
    Kernels,
    Smoothness,
    as_box,
    as_points,
    batch_rows,
    check_scalar,
    count_signs,
    flatten_function,
    gap_tolerance,
    kink_note,
    kink_scan,
    newton_distances,
    pinv_steps,
    signal_steps,
    subgradient_gap,
    verdict_of,
)

KINDS = ("local minimum", "local maximum", "saddle point", "degenerate", "not a critical point",
         NOT_TWICE_DIFFERENTIABLE)

# ----------------------------------------------------------------------------- classification

@dataclass(frozen=True, eq=False)
class CriticalPoint:
    """Verdict of the second-order test at one point (see the module docstring for tolerances).

    ``newton_distance`` is test (b)'s estimate of the distance to the critical point Newton's method
    converges to (compared with ``distance_tol = gtol (1 + ||x||)``); ``smoothness`` and ``note``
    say whether ``f`` is twice differentiable at the point and why the verdict is what it is.

    Example
    -------
    >>> cp = classify_critical_point(lambda v: v[0]**2 - v[1]**2, [0.0, 0.0])
    >>> cp.kind, (cp.eigenvalues.round(12) + 0.0).tolist(), cp.is_critical
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
    newton_distance: float = 0.0
    distance_tol: float = 0.0
    smoothness: Smoothness = Smoothness.SMOOTH
    note: str = ""

    @property
    def is_critical(self) -> bool:
        """Whether the gradient passed the zero test (False where the gradient itself jumps)."""
        return self.kind != "not a critical point" and self.smoothness is not Smoothness.GRADIENT_JUMP


def _gradient_rows(flat: Callable) -> Callable[[np.ndarray], np.ndarray]:
    vg = jax.vmap(jax.grad(flat))
    return lambda Y: np.asarray(vg(jnp.asarray(Y)), dtype=np.float64)


def _point_step(flat: Callable, y: np.ndarray) -> np.ndarray:
    """The noise-free Newton step at ``y`` (NaN when ``f`` is not finite there)."""
    u = jnp.asarray(y)
    g = np.asarray(jax.grad(flat)(u), dtype=np.float64)
    h = np.asarray(jax.hessian(flat)(u), dtype=np.float64)
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
        return np.full_like(y, np.nan)
    w, Q = np.linalg.eigh((h + h.T) / 2)
    return signal_steps(w[None], Q[None], g[None], y[None])[0]


def _judge(flat: Callable, x, value, g, H, tol, gtol, scale=None) -> CriticalPoint:
    """The whole test at one point: finiteness, kinks, tests (a) and (b), eigenvalues."""
    x, g, H = as_float64(x), as_float64(g), as_float64(H)
    if not (np.isfinite(value) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
        raise SpecificationError(message(
            "f or its derivatives are not finite at the point", expected="finite value, gradient "
            "and Hessian", got=f"value {value}, gradient {g}", fix="choose a point inside the domain"))
    w, Q = np.linalg.eigh(H)
    s = float(np.max(np.abs(w), initial=0.0)) if scale is None else float(scale)
    ell = 1.0 + float(np.linalg.norm(x))
    eig_tol, grad_tol, dist_tol = tol * s, gtol * s * ell, gtol * ell
    gnorm = float(np.linalg.norm(g))
    p1 = pinv_steps(w[None], Q[None], g[None])
    s1 = signal_steps(w[None], Q[None], g[None], x[None])
    s2 = _point_step(flat, x + p1[0])[None] if np.any(s1) else s1
    dist = float(newton_distances(s1, s2)[0])
    rows = _gradient_rows(flat)
    kinks = kink_scan(rows, x[None], g[None], H[None], batch_rows(x.size, 1, BATCH_BYTES)[1])
    smooth = kinks.smoothness[0]
    stationary = gnorm <= grad_tol and dist <= dist_tol
    gap, size = (subgradient_gap(rows, x, g, kinks.jump_directions[0])
                 if smooth is Smoothness.GRADIENT_JUMP else (0.0, 0.0))
    gap_tol = gap_tolerance(gtol, s, ell, float(np.abs(w).max(initial=0.0)), size)
    if gap > gap_tol:
        kind, note = "not a critical point", (
            f"the gradient jumps across x (by {kinks.jump[0]:.3g}) but the one-sided gradients do "
            f"not surround 0 (distance {gap:.3g}): not a critical point even in the one-sided sense")
    elif smooth is Smoothness.GRADIENT_JUMP:
        kind, note = NOT_TWICE_DIFFERENTIABLE, kink_note(smooth, kinks.direction[0], kinks.error[0])
    elif not stationary:
        kind = "not a critical point"
        note = (f"gradient norm {gnorm:.3g} > {grad_tol:.3g}" if gnorm > grad_tol else
                f"Newton steps from x do not settle within {dist_tol:.3g} (estimated distance to a "
                f"critical point {dist:.3g})")
    elif smooth is Smoothness.HESSIAN_JUMP:
        kind, note = NOT_TWICE_DIFFERENTIABLE, kink_note(smooth, kinks.direction[0], kinks.error[0])
    else:
        kind = verdict_of(*count_signs(w, eig_tol))
        note = f"|eigenvalue| <= {eig_tol:.3g} counts as zero"
    return CriticalPoint(kind, x, float(value), g, H, w, gnorm, s, eig_tol, grad_tol, dist, dist_tol,
                         smooth, note)


@float64
def classify_critical_point(f: Callable[[Any], Any], x: Any, tol: float = 1e-8,
                            gtol: float = 1e-6, scale: float | None = None) -> CriticalPoint:
    """Classify ``x`` by the gradient and the eigenvalues of the exact Hessian.

    ``kind`` is "not a critical point" (checked first), "saddle point" (eigenvalues of both signs,
    even if some are zero), "degenerate" (a zero eigenvalue, all others of one sign: the test is
    inconclusive, e.g. ``x**4`` and ``x**3`` at 0), "local minimum" or "local maximum". A positive
    *semi*definite Hessian never proves a minimum. "not twice differentiable here" when finite
    differences of the exact gradient show a kink at ``x`` (``x*|x|`` or ``relu`` at 0): the
    second-order test does not apply there. Tolerances: see the module docstring.

    Example
    -------
    >>> cp = classify_critical_point(lambda v: v[0]**2 + v[0]*v[1] + v[1]**2 - 3*v[0], [2.0, -1.0])
    >>> cp.kind, (cp.eigenvalues.round(12) + 0.0).tolist()
    ('local minimum', [1.0, 3.0])
    >>> classify_critical_point(lambda v: v[0]**1000000, [1.0]).kind      # gradient 1e6
    'not a critical point'
    >>> classify_critical_point(lambda v: jnp.maximum(v[0], 0.0), [0.0]).kind
    'not twice differentiable here'
    """
    flat, v, _ = flatten_function(f, x)
    return _judge(flat, v, float(flat(jnp.asarray(v))), derivatives.gradient(f, x),
                  derivatives.hessian(f, x), tol, gtol, scale)


@dataclass(frozen=True, eq=False)
class SecondDerivativeTest:
    """The two-variable test: ``D = f_xx f_yy - f_xy**2`` and the sign of ``f_xx``.

    Example
    -------
    >>> t = second_derivative_test(lambda v: v[0]**4 + v[1]**2, [0.0, 0.0])
    >>> round(t.D, 12) + 0.0, t.kind
    (0.0, 'degenerate')
    """

    kind: str
    D: float
    fxx: float
    fyy: float
    fxy: float
    gradient_norm: float
    d_tol: float
    note: str = ""


@float64
def second_derivative_test(f: Callable[[Any], Any], x: Any, tol: float = 1e-8,
                           gtol: float = 1e-6) -> SecondDerivativeTest:
    """The textbook test for ``f(x, y)``: D < 0 saddle, D > 0 and f_xx > 0 minimum, D > 0 and
    f_xx < 0 maximum, D = 0 inconclusive ("degenerate").

    ``D`` counts as zero when ``|D| <= tol * scale**2`` with ``scale`` the largest absolute
    eigenvalue, which is exactly when :func:`classify_critical_point` sees a zero eigenvalue
    (``D`` is the product of the two eigenvalues). The gradient tests and the kink check are those
    of :func:`classify_critical_point` (one function), so both always agree, "not a critical point"
    and "not twice differentiable here" included.

    Example
    -------
    >>> t = second_derivative_test(lambda v: v[0]**2 + v[0]*v[1] + v[1]**2 - 3*v[0], [2.0, -1.0])
    >>> round(t.D, 12), round(t.fxx, 12), t.kind
    (3.0, 2.0, 'local minimum')
    """
    flat, v, _ = flatten_function(f, x)
    if v.size != 2:
        raise SpecificationError(message(
            "the second derivative test is for two variables", expected="a point with 2 entries",
            got=f"{v.size} entries", fix="use classify_critical_point for n variables"))
    g, H = derivatives.gradient(f, x), derivatives.hessian(f, x)
    fxx, fyy, fxy = float(H[0, 0]), float(H[1, 1]), float(H[0, 1])
    D = fxx * fyy - fxy ** 2
    scale = abs(fxx + fyy) / 2 + float(np.hypot((fxx - fyy) / 2, fxy))
    cp = _judge(flat, v, float(flat(jnp.asarray(v))), g, H, tol, gtol, scale)
    d_tol = tol * scale ** 2
    if cp.kind in ("not a critical point", NOT_TWICE_DIFFERENTIABLE):
        kind, note = cp.kind, cp.note
    elif abs(D) <= d_tol:
        kind, note = "degenerate", f"|D| <= {d_tol:.3g} counts as zero"
    elif D < 0:
        kind, note = "saddle point", "D < 0"
    else:
        kind, note = ("local minimum", "D > 0, f_xx > 0") if fxx > 0 else ("local maximum",
                                                                           "D > 0, f_xx < 0")
    return SecondDerivativeTest(kind, D, fxx, fyy, fxy, cp.gradient_norm, d_tol, note)


# ----------------------------------------------------------------------------- critical point search

GRID_LIMIT = 16384
"""The default grid of ``grid**n`` cell centres is used while it has at most this many points."""


def default_starts(n: int) -> int:
    """The number of seeded random starts :func:`find_critical_points` uses in ``n`` dimensions when
    the grid is too large: ``256 n`` (more dimensions, more basins), but at most ``2**31 / n**3``
    (at least 64), which bounds the work of one round of Newton steps (``O(k n^3)`` eigensolves).

    Example
    -------
    >>> [default_starts(n) for n in (2, 6, 100, 300, 2000)]
    [512, 1536, 2147, 79, 64]
    """
    return int(min(256 * n, max(64, 2 ** 31 // n ** 3)))


def _starts(box: np.ndarray | None, starts: Any, grid: int, seed: int) -> np.ndarray:
    if starts is not None and not isinstance(starts, (int, np.integer)):
        return as_points(starts, None if box is None else len(box), "starts")
    if box is None:
        raise SpecificationError(message(
            "nowhere to search", expected="box=[(low, high), ...] and/or an array of starts",
            got=f"box=None, starts={starts!r}", fix="give a box, e.g. box=[(-3, 3), (-3, 3)]"))
    n, width = len(box), box[:, 1] - box[:, 0]
    if starts is None and grid ** n <= GRID_LIMIT:
        axes = [lo + (np.arange(grid) + 0.5) * (hi - lo) / grid for lo, hi in box]
        return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, n)
    k = default_starts(n) if starts is None else int(starts)
    return box[:, 0] + np.random.default_rng(seed).random((k, n)) * width


_RUNNING, _FAILED, _STALLED, _LEFT = 0, 1, 2, 3


def _cap(P: np.ndarray, max_step: float) -> np.ndarray:
    length = np.linalg.norm(P, axis=1)
    return P * np.minimum(1.0, max_step / np.maximum(length, 1e-300))[:, None]


def _newton_round(kern: Kernels, X: np.ndarray, G: np.ndarray, H: np.ndarray, gn: np.ndarray,
                  active: np.ndarray, max_step: float) -> tuple[np.ndarray, np.ndarray]:
    """One damped Newton round of :func:`_newton`: returns the new points and which rows moved."""
    eig: list[np.ndarray] = []     # the eigendecomposition, only when needed (O(n^3), ~5 solves)

    def decomposed() -> list[np.ndarray]:
        if not eig:
            eig.extend(np.linalg.eigh(H))
        return eig

    try:   # the Newton step by LU; the pseudo-inverse where H is (numerically) singular
        P = -np.linalg.solve(H, G[..., None])[..., 0]
        bad = ~np.isfinite(P).all(axis=1) | (np.linalg.norm(np.einsum("kij,kj->ki", H, P) + G, axis=1)
                                               > 1e-8 * gn)
    except np.linalg.LinAlgError:
        P, bad = np.zeros_like(G), np.ones(len(G), dtype=bool)
    if bad.any():
        w, Q = decomposed()
        P[bad] = pinv_steps(w[bad], Q[bad], G[bad])
    newton = _cap(P, max_step)
    accepted, new = ~active, X.copy()

    def attempt(P: np.ndarray) -> None:
        nonlocal accepted
        pending = ~accepted & (np.linalg.norm(P, axis=1) > 0)
        if pending.any():
            T = np.where(pending[:, None], X + P, X)
            _, GT = kern.grads(T)
            gt = np.linalg.norm(GT, axis=1)
            ok = pending & np.isfinite(gt) & (gt <= (1.0 - 1e-4) * gn)
            new[ok], accepted = T[ok], accepted | ok

    for t in (1.0, 0.5, 0.25, 0.125, 0.0625):
        if accepted.all():
            break
        attempt(t * newton)
    if not accepted.all():
        w, Q = decomposed()
        QtG = np.einsum("kji,kj->ki", Q, G)
        s2 = (np.abs(w).max(axis=1) ** 2)[:, None]
        for mu in (1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4):
            if accepted.all():
                break
            attempt(_cap(-np.einsum("kij,kj->ki", Q, w / (w ** 2 + mu * s2 + 1e-300) * QtG), max_step))
    return new, accepted


def _newton(kern: Kernels, X: np.ndarray, max_iter: int, xtol: float, max_step: float):
    """Newton on ``grad f = 0`` for a batch of at most ``kern.rows`` starts, damped: the full
    Newton step (LU; the pseudo-inverse where ``H`` is singular; at most ``max_step`` long) halved
    up to 4 times, then Levenberg-Marquardt
    steps ``-(H^2 + mu I)^-1 H g`` with growing ``mu`` (a trust region on ``||grad f||^2``, which
    always has a descent step unless ``H g = 0``), accepted when ``||grad f||`` decreases.
    Returns ``(X, status, ||H|| at the starts)``."""
    X = X.copy()
    status = np.full(len(X), _RUNNING)
    active = np.ones(len(X), dtype=bool)
    h0 = np.full(len(X), np.nan)
    for it in range(max_iter):
        val, G, H = kern.derivs(X)
        finite = np.isfinite(val) & np.isfinite(G).all(1) & np.isfinite(H).all((1, 2))
        status[active & ~finite] = _FAILED
        active &= finite
        H = np.where(finite[:, None, None], H, 0.0)
        G = np.where(finite[:, None], G, 0.0)
        if it == 0:
            h0 = np.where(finite, np.abs(np.linalg.eigvalsh(H)).max(axis=1), np.nan)
        if not active.any():
            break
        gn = np.linalg.norm(G, axis=1)
        new, accepted = _newton_round(kern, X, G, H, gn, active, max_step)
        moved = np.linalg.norm(new - X, axis=1)
        status[active & ~accepted] = _STALLED
        X = new
        active &= accepted & (moved > xtol * (1.0 + np.linalg.norm(X, axis=1))) & (gn > 0)
        if not active.any():
            break
    return X, status, h0


def _descend(kern: Kernels, X: np.ndarray, sign: float, max_iter: int, max_step: float,
             gtol: float, typical: float, box: np.ndarray | None):
    """The fallback: a trust-region (regularised) Newton method minimising ``sign * f`` from each
    row of ``X`` (``sign = -1``: maximising). Steps ``-(H + (shift + sigma) I)^-1 g`` with the
    shift making the matrix positive definite and ``sigma`` adapted to the ratio of actual to
    predicted decrease, so each accepted step decreases ``sign * f``. Finds minima (maxima) that
    Newton on ``grad f = 0`` misses, e.g. Rosenbrock's from (-1.2, 1). Stops when the gradient
    passes test (a), the step vanishes, ``f`` is not finite, or the point leaves the box by more
    than its width."""
    X = X.copy()
    status = np.full(len(X), _RUNNING)
    active = np.ones(len(X), dtype=bool)
    sigma = np.zeros(len(X))
    for _ in range(max_iter):
        val, G, H = kern.derivs(X)
        val, G, H = sign * val, sign * G, sign * H
        finite = np.isfinite(val) & np.isfinite(G).all(1) & np.isfinite(H).all((1, 2))
        status[active & ~finite] = _FAILED
        active &= finite
        if box is not None:
            width = box[:, 1] - box[:, 0]
            out = np.any((X < box[:, 0] - width) | (X > box[:, 1] + width), axis=1)
            status[active & out] = _LEFT
            active &= ~out
        if not active.any():
            break
        H = np.where(active[:, None, None], H, 0.0)
        G = np.where(active[:, None], G, 0.0)
        w, Q = np.linalg.eigh(H)
        top = np.abs(w).max(axis=1)
        ell = 1.0 + np.linalg.norm(X, axis=1)
        small = np.linalg.norm(G, axis=1) <= gtol * np.maximum(top, typical) * ell
        active &= ~small
        if not active.any():
            break
        gn = np.linalg.norm(G, axis=1)
        base = 1e-3 * top + gn / max_step        # sigma's floor after a poor step; H = 0 included
        shift = np.maximum(0.0, -w[:, 0]) + sigma + 1e-10 * top + 1e-3 * gn / max_step + 1e-300
        P = _cap(-np.einsum("kij,kj->ki", Q, np.einsum("kji,kj->ki", Q, G) / (w + shift[:, None])),
                 max_step)
        pred = -(np.einsum("ki,ki->k", G, P) + 0.5 * np.einsum("ki,kij,kj->k", P, H, P))
        T = np.where(active[:, None], X + P, X)
        vt, _ = kern.grads(T)
        vt = sign * vt
        rho = np.where(pred > 0, (val - vt) / np.where(pred > 0, pred, 1.0), -1.0)
        ok = active & np.isfinite(vt) & (rho > 1e-4)
        X = np.where(ok[:, None], T, X)
        sigma = np.where(rho > 0.75, sigma / 4, np.where(rho < 0.25, np.maximum(4 * sigma, base), sigma))
        sigma = np.where(sigma < 1e-12 * base, 0.0, sigma)
        tiny = np.linalg.norm(P, axis=1) <= 1e-15 * ell
        active &= ~(ok & tiny)
    return X, status


def _stationary(kern: Kernels, X: np.ndarray, gtol: float, typical: float):
    """Tests (a) and (b) of the module docstring for rows of ``X`` (at most ``kern.rows``), with
    ``scale = max(||H||, typical)``. Returns ``(ok, values, gradient norms, eigenvalues, finite)``."""
    val, G, H = kern.derivs(X)
    finite = np.isfinite(val) & np.isfinite(G).all(1) & np.isfinite(H).all((1, 2))
    H = np.where(finite[:, None, None], H, 0.0)
    G = np.where(finite[:, None], G, 0.0)
    w, Q = np.linalg.eigh(H)
    P1 = pinv_steps(w, Q, G)
    _, G2, H2 = kern.derivs(X + P1)
    fin2 = np.isfinite(G2).all(1) & np.isfinite(H2).all((1, 2))
    w2, Q2 = np.linalg.eigh(np.where(fin2[:, None, None], H2, 0.0))
    S2 = signal_steps(w2, Q2, np.where(fin2[:, None], G2, 0.0), X + P1)
    S2 = np.where(fin2[:, None], S2, np.nan)
    ell = 1.0 + np.linalg.norm(X, axis=1)
    scale = np.maximum(np.abs(w).max(axis=1), typical)
    gn = np.linalg.norm(G, axis=1)
    dist = newton_distances(signal_steps(w, Q, G, X), S2)
    ok = finite & (gn <= gtol * scale * ell) & (dist <= gtol * ell)
    return ok, val, gn, w, finite


@dataclass(frozen=True)
class SearchReport:
    """How a :func:`find_critical_points` search went. Every start ends in exactly one of
    ``converged`` (at a critical point in the box; ``fallback`` of them only after the
    trust-region fallback), ``kinks`` (at a kink of a non-smooth ``f`` whose one-sided gradients
    surround 0, reported as "not twice differentiable here"), ``not_converged``, ``failed`` (``f`` or its
    derivatives not finite) or ``outside_box``. A multistart search is never exhaustive:
    ``singletons`` (points reached from a single start) and ``missing_mass`` (their share of the
    converged runs, the Good-Turing estimate of the chance that one more start finds a new point)
    say how far from complete it probably is; ``batch`` is the number of starts whose Hessians are
    held at once (the memory bound).

    Example
    -------
    >>> df = find_critical_points(lambda v: v[0]**3 - 3*v[0], box=[(-3, 3)])
    >>> r = df.search
    >>> (r.starts, r.converged, r.not_converged, r.failed, r.exhaustive)
    (5, 5, 0, 0, False)
    """

    starts: int
    converged: int
    fallback: int
    not_converged: int
    failed: int
    outside_box: int
    distinct: int
    singletons: int
    missing_mass: float
    batch: int
    kinks: int = 0
    exhaustive: bool = False

    def summary(self) -> str:
        """One line: the search is not exhaustive, and how the starts ended."""
        fb = f" ({self.fallback} via the trust-region fallback)" if self.fallback else ""
        kinks = f"{self.kinks} ended at a kink (not twice differentiable), " if self.kinks else ""
        return (f"search not exhaustive: {self.starts} starts, {self.converged} converged{fb}, "
                f"{kinks}{self.not_converged} did not converge, {self.failed} failed (f not finite), "
                f"{self.outside_box} converged outside the box; {self.distinct} distinct point(s), "
                f"{self.singletons} found from a single start (chance a new start finds a new point "
                f"~{self.missing_mass:.2g})")


class CriticalPoints(pd.DataFrame):
    """The DataFrame :func:`find_critical_points` returns: one row per point, with the search's
    :class:`SearchReport` as ``.search`` (also in ``attrs["search"]``) and its summary line under the
    table in ``repr``.

    Example
    -------
    >>> df = find_critical_points(lambda v: v[0]**2, box=[(-1, 1)])
    >>> isinstance(df, pd.DataFrame), len(df), repr(df).splitlines()[-1].startswith("search not exhaustive")
    (True, 1, True)
    """

    _metadata: list[str] = []

    @property
    def _constructor(self):
        return CriticalPoints

    @property
    def search(self) -> SearchReport | None:
        """The search report (None on frames not made by :func:`find_critical_points`)."""
        report = self.attrs.get("search")
        return report if isinstance(report, SearchReport) else None

    def summary(self) -> str:
        """The search report's one line (the search is not exhaustive; how the starts ended)."""
        return "" if self.search is None else self.search.summary()

    def __repr__(self) -> str:
        text = super().__repr__()
        return text if self.search is None else f"{text}\n{self.search.summary()}"


@dataclass
class _Run:
    start: int
    x: np.ndarray
    value: float = math.nan
    gnorm: float = math.nan
    eig: np.ndarray = field(default_factory=lambda: np.zeros(0))


@float64
def find_critical_points(f: Callable[[Any], Any], box: Sequence[Sequence[float]] | None = None,
                         starts: Any = None, *, grid: int = 5, seed: int = 0,
                         names: Sequence[str] | None = None, tol: float = 1e-8, gtol: float = 1e-6,
                         max_iter: int = 100, max_batch_bytes: int = BATCH_BYTES) -> CriticalPoints:
    """Critical points of ``f`` (a function of a flat vector) by Newton's method from many starts.

    Starts: the given ``(k, n)`` array; or ``int`` k seeded uniform points in ``box``; or (default)
    the ``grid**n`` grid of cell centres of ``box`` while it has at most 16384 points (n <= 6 for
    the default ``grid = 5``), else
    :func:`default_starts` seeded uniform points (``256 n``, capped so one round of Newton steps
    stays affordable). From each start: damped Newton on ``grad f = 0`` (pseudo-inverse steps at
    most the box diameter long, halved, then Levenberg-Marquardt steps, accepted when ``||grad f||``
    decreases); where that does not end at a critical point, a trust-region Newton method minimising
    and one maximising ``f`` from the same start, each polished by Newton (this finds Rosenbrock's
    minimum from (-1.2, 1)). Points passing the test of :func:`classify_critical_point` (tests (a)
    and (b), ``scale`` the larger of ``||H||`` there and the median ``||H||`` over the starts) inside
    ``box`` are deduplicated (distance ``<= 1e-6 (1 + ||x||)``), checked for kinks and classified.

    **Not exhaustive**: a multistart search can miss points (small basins, many points in many
    dimensions). The result says so: ``df.search`` (a :class:`SearchReport`: how many starts
    converged, needed the fallback, did not converge or failed, and how many points were found only
    once) and its summary line under ``repr(df)``.

    **Memory**: starts are processed in batches of ``c = max_batch_bytes // (64 n^2)`` rows (at
    least 1), so peak memory is ``O(c n^2)`` (about ``max_batch_bytes``, default 256 MB) whatever
    the number of starts: n = 2000 runs one start at a time in about 0.3 GB instead of holding 256
    Hessians (25 GB). The derivatives are compiled once per ``f`` and batch shape.

    Returns a :class:`CriticalPoints` DataFrame, one row per point: coordinates, ``value``,
    ``kind``, ``eigenvalues``, ``gradient_norm``, ``hits`` (runs that converged there).

    Example
    -------
    >>> df = find_critical_points(lambda v: v[0]**3 - 3*v[0] + v[1]**2, box=[(-3, 3), (-3, 3)])
    >>> [(round(r.x0, 6) + 0.0, round(r.x1, 6) + 0.0, r.kind) for r in df.itertuples()]
    [(-1.0, 0.0, 'saddle point'), (1.0, 0.0, 'local minimum')]
    >>> rosen = lambda v: (1 - v[0])**2 + 100 * (v[1] - v[0]**2)**2
    >>> (find_critical_points(rosen, starts=[[-1.2, 1.0]])[["x0", "x1"]].round(9) + 0.0).values.tolist()
    [[1.0, 1.0]]
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # non-finite f: handled
        return _search(f, box, starts, grid, seed, names, tol, gtol, max_iter, max_batch_bytes)


def _search(f, box, starts, grid, seed, names, tol, gtol, max_iter, max_batch_bytes) -> CriticalPoints:
    b = None if box is None else as_box(box)
    X0 = _starts(b, starts, grid, seed)
    k, n = X0.shape
    check_scalar(f, n)
    cols = list(names) if names is not None else [f"x{i}" for i in range(n)]
    if len(cols) != n:
        raise SpecificationError(message(
            "names do not match the dimension", expected=f"{n} names", got=f"{len(cols)}: {cols}",
            fix="give one name per variable"))
    span = (b[:, 1] - b[:, 0]) if b is not None else np.ptp(X0, axis=0) + 1.0
    max_step = float(np.linalg.norm(span))
    c, cg = batch_rows(n, k, int(max_batch_bytes))
    kern = Kernels(f, c, cg, n)

    def inside(X):
        if b is None:
            return np.ones(len(X), dtype=bool)
        return np.all((X >= b[:, 0] - 1e-9 * span) & (X <= b[:, 1] + 1e-9 * span), axis=1)

    # phase 1: Newton on grad f = 0 from every start, one batch of c starts at a time
    XA, status, h0 = np.empty_like(X0), np.empty(k, dtype=int), np.empty(k)
    for i in range(0, k, c):
        XA[i:i + c], status[i:i + c], h0[i:i + c] = _newton(kern, X0[i:i + c], max_iter, 1e-12, max_step)
    typical = float(np.median(h0[np.isfinite(h0)])) if np.isfinite(h0).any() else 0.0

    runs: list[_Run] = []
    found = np.zeros(k, dtype=bool)     # a start produced a critical point in the box
    outside = np.zeros(k, dtype=bool)   # ... or only outside it
    fallback = np.zeros(k, dtype=bool)

    def collect(idx: np.ndarray, X: np.ndarray, via_fallback: bool) -> np.ndarray:
        """Record the runs (start ``idx[i]`` ended at ``X[i]``) that end at a critical point; return
        which did. End points within the deduplication distance share one test (of the one with
        the smallest gradient): the Hessian work is per distinct point, not per start."""
        _, G = kern.grads(X) if len(X) else (None, np.zeros((0, n)))
        gn = np.linalg.norm(G, axis=1)
        rep_of = np.full(len(X), -1)
        heads: list[int] = []
        for i in np.argsort(np.where(np.isfinite(gn), gn, np.inf)):
            if not np.isfinite(gn[i]):
                break
            if heads:
                d = np.linalg.norm(X[heads] - X[i], axis=1)
                j = int(np.argmin(d))
                if d[j] <= 1e-6 * (1 + np.linalg.norm(X[i])):
                    rep_of[i] = heads[j]
                    continue
            rep_of[i] = i
            heads.append(int(i))
        result: dict[int, _Run | None] = {}
        for i0 in range(0, len(heads), c):
            batch = heads[i0:i0 + c]
            ok, val, gnorm, w, _ = _stationary(kern, X[batch], gtol, typical)
            for j, h in enumerate(batch):
                result[h] = _Run(-1, X[h], float(val[j]), float(gnorm[j]), w[j]) if ok[j] else None
        inb = inside(X)
        done = np.zeros(len(X), dtype=bool)
        for i in np.flatnonzero(rep_of >= 0):
            run, s = result[int(rep_of[i])], int(idx[i])
            if run is None:
                continue
            done[i] = True
            if inb[rep_of[i]]:
                runs.append(_Run(s, run.x, run.value, run.gnorm, run.eig))
                found[s] = True
                fallback[s] |= via_fallback
            else:
                outside[s] = True
        return done

    collect(np.arange(k), XA, False)

    # phase 2: trust-region fallback (minimise and maximise f) where Newton did not end at a point
    redo = np.flatnonzero(~found & ~outside & (status != _FAILED))
    ends: list[tuple[int, np.ndarray]] = []      # fallback runs that ended elsewhere: kinks?
    for sign in (1.0, -1.0):
        for i in range(0, len(redo), c):
            idx = redo[i:i + c]
            XB, _ = _descend(kern, X0[idx], sign, max_iter, max_step, gtol, typical, b)
            XB, stB, _ = _newton(kern, XB, max_iter, 1e-12, max_step)
            keep = stB != _FAILED
            done = collect(idx[keep], XB[keep], True)
            inb = inside(XB[keep])
            ends += [(int(s), x) for s, x, d, ok in zip(idx[keep], XB[keep], done, inb) if ok and not d]

    # deduplicate, best gradient first; then the kink check on the representatives
    runs.sort(key=lambda r: r.gnorm)
    reps: list[list] = []   # [run, hits]
    rep_x = np.zeros((0, n))
    for r in runs:
        if len(rep_x):
            d = np.linalg.norm(rep_x - r.x, axis=1)
            j = int(np.argmin(d))
            if d[j] <= 1e-6 * (1 + np.linalg.norm(r.x)):
                reps[j][1] += 1
                continue
        reps.append([r, 1])
        rep_x = np.vstack([rep_x, r.x])
    kinds: list[str] = []
    for i in range(0, len(reps), c):
        Xr = rep_x[i:i + c]
        _, G, H = kern.derivs(Xr)
        scan = kink_scan(lambda Y: kern.grads(Y, wide=True)[1], Xr, G, H, cg)
        for j, (run, _) in enumerate(reps[i:i + c]):
            if scan.smoothness[j] is not Smoothness.SMOOTH:
                kinds.append(NOT_TWICE_DIFFERENTIABLE)
            else:
                s = max(float(np.abs(run.eig).max(initial=0.0)), typical)
                kinds.append(verdict_of(*count_signs(run.eig, tol * s)))
    # fallback runs that stopped at a kink where the one-sided gradients surround 0 (|x| at 0):
    # possible critical points of a non-smooth f, reported as "not twice differentiable here"
    kinked = np.zeros(k, dtype=bool)
    ends = [(s, x) for s, x in ends if not found[s]]
    if ends:
        heads: list[list] = []   # [x, set of starts]
        for s, x in ends:
            near = [h for h in heads if np.linalg.norm(h[0] - x) <= 1e-6 * (1 + np.linalg.norm(x))]
            if near:
                near[0][1].add(s)
            else:
                heads.append([x, {s}])
        accepted: list[list] = []   # [run, starts]
        wide_rows = lambda Y: kern.grads(Y, wide=True)[1]  # noqa: E731
        for i in range(0, len(heads), c):
            Xh = np.array([h[0] for h in heads[i:i + c]])
            val, G, H = kern.derivs(Xh)
            scan = kink_scan(wide_rows, Xh, G, H, cg)
            for j, (x, starts_here) in enumerate(heads[i:i + c]):
                if scan.smoothness[j] is not Smoothness.GRADIENT_JUMP:
                    continue
                lam = np.linalg.eigvalsh(H[j])
                ell = 1.0 + float(np.linalg.norm(x))
                top = float(np.abs(lam).max(initial=0.0))
                gap, size = subgradient_gap(wide_rows, x, G[j], scan.jump_directions[j])
                if gap > gap_tolerance(gtol, max(top, typical), ell, top, size):
                    continue
                accepted.append([_Run(-1, x, float(val[j]), float(np.linalg.norm(G[j])), lam), starts_here])
        # the end points of runs stopping at one kink agree to about the kink check's resolution
        accepted.sort(key=lambda r: -len(r[1]))
        merged: list[list] = []
        for run, starts_here in accepted:
            near = [m for m in merged if np.linalg.norm(m[0].x - run.x) <= KINK_STEPS[0] * (1 + np.linalg.norm(run.x))]
            if near:
                near[0][1] |= starts_here
            else:
                merged.append([run, set(starts_here)])
        for run, starts_here in merged:
            if len(rep_x) and np.min(np.linalg.norm(rep_x - run.x, axis=1)) <= KINK_STEPS[0] * (1 + np.linalg.norm(run.x)):
                continue
            reps.append([run, len(starts_here)])
            rep_x = np.vstack([rep_x, run.x])
            kinds.append(NOT_TWICE_DIFFERENTIABLE)
            kinked[list(starts_here)] = True
    rows = [{**dict(zip(cols, run.x.tolist())), "value": run.value, "kind": kind,
             "eigenvalues": tuple(run.eig.tolist()), "gradient_norm": run.gnorm, "hits": hits}
            for (run, hits), kind in zip(reps, kinds)]
    columns = [*cols, "value", "kind", "eigenvalues", "gradient_norm", "hits"]
    df = CriticalPoints(pd.DataFrame(rows, columns=columns).sort_values(cols, ignore_index=True))
    kinked &= ~found & ~outside
    failed = ~found & ~outside & ~kinked & (status == _FAILED)
    converged_runs = sum(h for _, h in reps)
    singletons = sum(1 for _, h in reps if h == 1)
    report = SearchReport(
        starts=k, converged=int(found.sum()), fallback=int((found & fallback).sum()),
        not_converged=int((~found & ~outside & ~failed & ~kinked).sum()), failed=int(failed.sum()),
        outside_box=int((~found & outside).sum()), distinct=len(reps), singletons=singletons,
        missing_mass=float(singletons / converged_runs) if converged_runs else 1.0, batch=c,
        kinks=int(kinked.sum()))
    df.attrs.update(starts=k, tol=tol, gtol=gtol, typical_scale=typical, search=report,
                    converged=report.converged, not_converged=report.not_converged,
                    failed=report.failed, exhaustive=False)
    return df
