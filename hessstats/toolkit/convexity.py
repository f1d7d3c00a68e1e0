"""Convexity and concavity from exact Hessians at sampled points.

A sampled check proves "neither" (a counterexample is a proof) but only gives evidence for
convexity or concavity. Two kinds of counterexample: a Hessian with a negative (positive)
eigenvalue at a sample, and a pair of samples with ``f(y) < f(x) + g(x)'(y - x)`` (``>``): ``f``
below (above) a tangent plane, which no convex (concave) function allows, twice differentiable or
not. The second kind catches kinks and bends *between* the samples (``min(x**2, 1)`` has a positive
semidefinite Hessian at every point but 1 and -1, and is not convex). Zero eigenvalues follow the
rule of :mod:`hessstats.toolkit.critical`; the tangent-plane inequality is violated when it fails by
more than ``tol * (|f(x)| + |f(y)| + |g(x)'(y - x)|)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hessstats._config import float64
from hessstats.errors import SpecificationError, message
from hessstats.toolkit._machinery import (
    BATCH_BYTES,
    NOT_TWICE_DIFFERENTIABLE,
    Kernels,
    Smoothness,
    as_box,
    as_points,
    batch_rows,
    check_scalar,
    kink_scan,
)


@dataclass(frozen=True, eq=False)
class ConvexityCheck:
    """Sampled convexity verdict. ``proven`` is True only when ``kind`` rests on counterexamples.

    ``not_convex_pair`` / ``not_concave_pair``: two samples ``[x, y]`` with ``f(y)`` below (above)
    the tangent plane at ``x`` (a proof that does not need second derivatives);
    ``not_twice_differentiable_at``: a sample where finite differences of the exact gradient show a
    kink, so the Hessians there are no evidence.

    Example
    -------
    >>> r = check_convexity(lambda v: -v[0]**2, points=[[0.0], [1.0]])
    >>> r.kind, r.concave, r.proven
    ('strictly concave', True, False)
    """

    kind: str
    convex: bool
    concave: bool
    proven: bool
    n_points: int
    min_eigenvalue: float
    max_eigenvalue: float
    not_convex_at: np.ndarray | None
    not_convex_eigenvalues: np.ndarray | None
    not_concave_at: np.ndarray | None
    not_concave_eigenvalues: np.ndarray | None
    note: str
    not_convex_pair: np.ndarray | None = None
    not_concave_pair: np.ndarray | None = None
    not_twice_differentiable_at: np.ndarray | None = None

    @property
    def counterexample(self) -> np.ndarray | None:
        """A point whose Hessian has a negative eigenvalue (proof that ``f`` is not convex)."""
        return self.not_convex_at


def _tangent_violations(P: np.ndarray, val: np.ndarray, G: np.ndarray, base: np.ndarray, tol: float,
                        rows: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The sample pairs ``(x, y)`` most below / above the tangent plane at ``x`` (None if none):
    ``M[i, j] = f(p_j) - f(p_i) - g(p_i)'(p_j - p_i)`` against ``tol`` times the sizes of its terms,
    in blocks of ``rows`` base points (memory ``O(rows k)``); ``base`` marks usable base points."""
    best_below, best_above = (0.0, None), (0.0, None)
    gp = np.einsum("ij,ij->i", G, P)
    for i in range(0, len(P), rows):
        lin = G[i:i + rows] @ P.T - gp[i:i + rows, None]                  # g_i'(p_j - p_i)
        M = val[None, :] - val[i:i + rows, None] - lin
        thr = tol * (np.abs(val)[None, :] + np.abs(val[i:i + rows])[:, None] + np.abs(lin)) + 1e-300
        rel = np.where(base[i:i + rows, None], M / thr, 0.0)
        lo, hi = np.unravel_index(np.argmin(rel), rel.shape), np.unravel_index(np.argmax(rel), rel.shape)
        if rel[lo] < -1.0 and rel[lo] < best_below[0]:
            best_below = (float(rel[lo]), np.stack([P[i + lo[0]], P[lo[1]]]))
        if rel[hi] > 1.0 and rel[hi] > best_above[0]:
            best_above = (float(rel[hi]), np.stack([P[i + hi[0]], P[hi[1]]]))
    return best_below[1], best_above[1]


@float64
def check_convexity(f: Callable[[Any], Any], box: Sequence[Sequence[float]] | None = None,
                    points: Any = None, *, n_points: int = 256, seed: int = 0,
                    tol: float = 1e-8, max_batch_bytes: int = BATCH_BYTES) -> ConvexityCheck:
    """Convexity of ``f`` (a function of a flat vector) from exact Hessians at sampled points.

    **A sampled check proves "neither" (a Hessian with a negative eigenvalue, or ``f`` below a
    tangent plane between two samples, is a counterexample to convexity; the mirror images to
    concavity) but only gives evidence for convexity or concavity**: ``f`` may bend the other way
    between the samples. Points: ``points`` if given, else the centre of ``box`` plus ``n_points``
    seeded uniform points in it. At each point an eigenvalue counts as zero when
    ``|lam| <= tol * ||H||_2`` there. ``kind``: "affine" (all Hessians zero and no tangent plane
    crossed: convex and concave), "strictly convex" (positive definite at every sample; sufficient,
    not necessary: ``x**4`` is strictly convex but reported "convex"), "convex", "strictly concave",
    "concave", "neither", or "not twice differentiable here" (at no sample). Samples where ``f``
    is not twice differentiable (``|x|`` at 0) are reported in ``not_twice_differentiable_at`` and
    ``note`` and their Hessians are not used; the tangent-plane test still applies (``|x| + |y|``
    is "convex", not "affine"). Hessians are computed in batches bounded by ``max_batch_bytes``.

    Example
    -------
    >>> check_convexity(lambda v: v[0]**2 + v[1]**2, box=[(-1, 1), (-1, 1)]).kind
    'strictly convex'
    >>> r = check_convexity(lambda v: v[0]**3 + v[1]**2, box=[(-1, 1), (-1, 1)])
    >>> r.kind, r.proven, bool(r.counterexample[0] < 0)
    ('neither', True, True)
    >>> import jax.numpy as jnp
    >>> check_convexity(lambda v: jnp.minimum(v[0]**2, 1.0), box=[(-2, 2)]).kind   # kinks at +-1
    'neither'
    """
    if points is not None:
        P = as_points(points, None if box is None else len(box))
    elif box is not None:
        b = as_box(box)
        u = np.random.default_rng(seed).random((n_points, len(b)))
        P = np.vstack([b.mean(axis=1), b[:, 0] + u * (b[:, 1] - b[:, 0])])
    else:
        raise SpecificationError(message(
            "nowhere to check", expected="box=[(low, high), ...] or points", got="neither",
            fix="give a box, e.g. box=[(-1, 1), (-1, 1)]"))
    k, n = P.shape
    check_scalar(f, n)
    c, cg = batch_rows(n, k, int(max_batch_bytes))
    kern = Kernels(f, c, cg, n)
    val, G, lam = np.empty(k), np.empty((k, n)), np.empty((k, n))
    smooth: list[Smoothness] = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i in range(0, k, c):
            v, g, H = kern.derivs(P[i:i + c])
            if not np.all(np.isfinite(H)):
                bad = P[i:i + c][~np.isfinite(H).all(axis=(1, 2))][0]
                raise SpecificationError(message(
                    "the Hessian of f is not finite at a sampled point", expected="f twice "
                    "differentiable on the whole box", got=f"non-finite Hessian at {bad.tolist()}",
                    fix="shrink the box"))
            val[i:i + c], G[i:i + c], lam[i:i + c] = v, g, np.linalg.eigvalsh(H)
            scan = kink_scan(lambda Y: kern.grads(Y, wide=True)[1], P[i:i + c], g, H, cg)
            smooth += scan.smoothness
    kinked = np.array([s is not Smoothness.SMOOTH for s in smooth])
    # at a jump of the gradient the exact gradient need not be a subgradient: no tangent plane there
    base = np.array([s is not Smoothness.GRADIENT_JUMP for s in smooth])
    below, above = _tangent_violations(P, val, G, base, tol, max(1, int(max_batch_bytes) // (32 * k)))
    # Hessians at kinks are one-sided values: neither evidence nor counterexamples
    use = ~kinked
    eig_tol = tol * np.abs(lam).max(axis=1)
    lo, hi = np.where(use, lam[:, 0], np.inf), np.where(use, lam[:, -1], -np.inf)
    neg, pos = lo < -eig_tol, hi > eig_tol
    convex_h, concave_h = not neg.any(), not pos.any()
    convex, concave = convex_h and below is None, concave_h and above is None
    i, j = int(np.argmin(lo)), int(np.argmax(hi))
    if not use.any():
        kind, convex, concave = NOT_TWICE_DIFFERENTIABLE, False, False
    elif convex and concave:
        kind = "affine"
    elif convex:
        kind = "strictly convex" if np.all(lo[use] > eig_tol[use]) else "convex"
    elif concave:
        kind = "strictly concave" if np.all(hi[use] < -eig_tol[use]) else "concave"
    else:
        kind = "neither"

    def pair(p, where):
        return (f"f at {np.round(p[1], 6).tolist()} is {where} the tangent plane at "
                f"{np.round(p[0], 6).tolist()}")

    if not use.any():
        note = (f"no evidence: f is not twice differentiable at any of the {k} samples (e.g. "
                f"{np.round(P[0], 6).tolist()})")
    elif kind == "neither":
        why_convex = (f"eigenvalue {lo[i]:.6g} at {np.round(P[i], 6).tolist()}" if not convex_h
                      else pair(below, "below"))
        why_concave = (f"eigenvalue {hi[j]:.6g} at {np.round(P[j], 6).tolist()}" if not concave_h
                       else pair(above, "above"))
        note = f"proof: not convex ({why_convex}) and not concave ({why_concave})"
    else:
        note = f"evidence only: {kind} at all {k} sampled points; a sampled check cannot prove it"
    if (convex_h and below is not None) or (concave_h and above is not None):
        note += ("; tangent planes contradict the Hessians at the samples: f bends the other way "
                 "between the samples or is not twice differentiable there")
    if kinked.any() and use.any():
        note += (f"; f is not twice differentiable at {np.round(P[kinked][0], 6).tolist()} "
                 f"({int(kinked.sum())} sample(s)): Hessians there are no evidence")
    return ConvexityCheck(kind, convex, concave, kind == "neither", k,
                          float(lo.min()) if use.any() else float("nan"),
                          float(hi.max()) if use.any() else float("nan"), None if convex_h else P[i], None if convex_h else lam[i],
                          None if concave_h else P[j], None if concave_h else lam[j], note,
                          below, above, P[kinked][0] if kinked.any() else None)
