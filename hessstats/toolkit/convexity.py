"""Convexity and concavity from exact Hessians at sampled points.

A sampled check proves "neither" (a counterexample is a proof) but only gives evidence for
convexity or concavity. Zero eigenvalues follow the rule of :mod:`hessstats.toolkit.critical`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

from hessstats._config import float64
from hessstats.errors import SpecificationError, message
from hessstats.toolkit.critical import _box, _derivs, _points


@dataclass(frozen=True, eq=False)
class ConvexityCheck:
    """Sampled convexity verdict. ``proven`` is True only when ``kind`` rests on counterexamples.

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

    @property
    def counterexample(self) -> np.ndarray | None:
        """A point whose Hessian has a negative eigenvalue (proof that ``f`` is not convex)."""
        return self.not_convex_at


@float64
def check_convexity(f: Callable[[Any], Any], box: Sequence[Sequence[float]] | None = None,
                    points: Any = None, *, n_points: int = 256, seed: int = 0,
                    tol: float = 1e-8) -> ConvexityCheck:
    """Convexity of ``f`` (a function of a flat vector) from exact Hessians at sampled points.

    **A sampled check proves "neither" (a Hessian with a negative eigenvalue is a counterexample to
    convexity, one with a positive eigenvalue to concavity) but only gives evidence for convexity or
    concavity**: ``f`` may bend the other way between the samples. Points: ``points`` if given, else
    the centre of ``box`` plus ``n_points`` seeded uniform points in it. At each point an eigenvalue
    counts as zero when ``|lam| <= tol * ||H||_2`` there. ``kind``: "affine" (all Hessians zero:
    convex and concave), "strictly convex" (positive definite at every sample; sufficient, not
    necessary: ``x**4`` is strictly convex but reported "convex"), "convex", "strictly concave",
    "concave" or "neither".

    Example
    -------
    >>> check_convexity(lambda v: v[0]**2 + v[1]**2, box=[(-1, 1), (-1, 1)]).kind
    'strictly convex'
    >>> r = check_convexity(lambda v: v[0]**3 + v[1]**2, box=[(-1, 1), (-1, 1)])
    >>> r.kind, r.proven, bool(r.counterexample[0] < 0)
    ('neither', True, True)
    """
    if points is not None:
        P = _points(points, None if box is None else len(box))
    elif box is not None:
        b = _box(box)
        u = np.random.default_rng(seed).random((n_points, len(b)))
        P = np.vstack([b.mean(axis=1), b[:, 0] + u * (b[:, 1] - b[:, 0])])
    else:
        raise SpecificationError(message(
            "nowhere to check", expected="box=[(low, high), ...] or points", got="neither",
            fix="give a box, e.g. box=[(-1, 1), (-1, 1)]"))
    _, _, H = _derivs(jnp.asarray(P), f=f)
    H = np.asarray(H)
    if not np.all(np.isfinite(H)):
        bad = P[~np.isfinite(H).all(axis=(1, 2))][0]
        raise SpecificationError(message(
            "the Hessian of f is not finite at a sampled point", expected="f twice differentiable "
            "on the whole box", got=f"non-finite Hessian at {bad.tolist()}", fix="shrink the box"))
    lam = np.linalg.eigvalsh(H)
    eig_tol = tol * np.abs(lam).max(axis=1)
    lo, hi = lam[:, 0], lam[:, -1]
    neg, pos = lo < -eig_tol, hi > eig_tol
    convex, concave = not neg.any(), not pos.any()
    i, j = int(np.argmin(lo)), int(np.argmax(hi))
    if convex and concave:
        kind = "affine"
    elif convex:
        kind = "strictly convex" if np.all(lo > eig_tol) else "convex"
    elif concave:
        kind = "strictly concave" if np.all(hi < -eig_tol) else "concave"
    else:
        kind = "neither"
    note = (f"proof: not convex (eigenvalue {lo[i]:.6g} at {np.round(P[i], 6).tolist()}) and not "
            f"concave (eigenvalue {hi[j]:.6g} at {np.round(P[j], 6).tolist()})"
            if kind == "neither" else
            f"evidence only: {kind} at all {len(P)} sampled points; a sampled check cannot prove it")
    return ConvexityCheck(kind, convex, concave, kind == "neither", len(P), float(lo.min()),
                          float(hi.max()), None if convex else P[i], None if convex else lam[i],
                          None if concave else P[j], None if concave else lam[j], note)
