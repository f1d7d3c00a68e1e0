"""Linear algebra of the information matrix: one equilibrated eigen-decomposition, used for the
Newton step, the trust-region step, the Newton decrement, the flat-ridge check and the covariance.

The observed information ``-H`` is equilibrated (scaled to unit diagonal) and eigen-decomposed
once per point; eigenvalues that are not clearly positive (``<= rtol * largest``) mark directions
that the data do not identify (zero) or where the point is not a maximum (negative). Parameters
loading on those eigenvectors get NaN variances; the rest come from the pseudo-inverse on the
identified eigenspace, which is exact for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

DEFAULT_RTOL = 1e-12
"""Eigenvalues of the equilibrated information below ``DEFAULT_RTOL * largest`` count as zero."""

LOADING_TOL = 1e-6
"""A parameter loads on a bad eigenvector when the eigenvector's entry exceeds this in size."""


@dataclass(frozen=True)
class InverseInformation:
    """The inverse of the observed information with unidentified directions set to NaN.

    Example
    -------
    >>> inv = invert_information(-np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 4.0]]), ("a", "b", "s"))
    >>> inv.ok, inv.bad.tolist(), round(float(inv.cov[2, 2]), 12)
    (False, [True, True, False], 0.25)
    """

    cov: np.ndarray
    """Inverse information; NaN rows/columns for parameters loading on bad eigenvectors."""
    eigenvalues: np.ndarray
    """Eigenvalues of the equilibrated information (unit diagonal), ascending."""
    bad: np.ndarray
    """Boolean mask of parameters with NaN variance."""
    problems: tuple[tuple[float, str, str, float], ...] = ()
    """``(eigenvalue, problem, parameter, loading)`` per bad eigenvector and loading parameter."""
    pseudo_inverse: np.ndarray | None = None
    """The pseudo-inverse on the identified eigenspace, before NaN-ing: the bread of sandwiches
    (exact for every estimable combination of parameters)."""

    @property
    def diagnostics(self) -> pd.DataFrame:
        """One row per (bad eigenvector, loading parameter): eigenvalue, problem, parameter, loading
        (a new frame per call, built only when asked for: fits never pay for pandas)."""
        return pd.DataFrame(list(self.problems), columns=["eigenvalue", "problem", "parameter", "loading"])

    @property
    def ok(self) -> bool:
        """True when the information is positive definite (the Hessian negative definite)."""
        return not self.bad.any()


TINY = float(np.finfo(np.float64).tiny)
"""The smallest positive normal float64 (a floor for scales)."""

FACTORISATIONS = [0]
"""How many equilibrated eigen-decompositions this process has computed (a fit factorises the
information at its optimum once; tests read this)."""


class InformationEigen(NamedTuple):
    """``D^-1 info D^-1 = V diag(eigenvalues) V'`` with ``D = diag(d)``: the information scaled to
    unit diagonal, so eigenvalue thresholds are relative and free of the parameters' units.

    Example
    -------
    >>> eigen = equilibrated_eigh(np.array([[4.0, 0.0], [0.0, 1.0]]))
    >>> eigen.d.tolist(), eigen.indefinite(), round(eigen.decrement(np.array([2.0, 1.0])), 12)
    ([2.0, 1.0], False, 2.0)
    """

    d: np.ndarray
    eigenvalues: np.ndarray
    vectors: np.ndarray

    @property
    def top(self) -> float:
        """The largest eigenvalue in size (at least the smallest positive float). The eigenvalues are
        ascending, as ``eigh`` returns them (:meth:`indefinite` reads the smallest first), so it is
        one of the two ends."""
        values = self.eigenvalues
        return max(abs(float(values[0])), abs(float(values[-1])), TINY)

    def identified(self, rtol: float = DEFAULT_RTOL) -> np.ndarray:
        """Mask of the clearly positive eigenvalues (``> rtol * top``)."""
        return self.eigenvalues > rtol * self.top

    def indefinite(self, rtol: float = DEFAULT_RTOL) -> bool:
        """True when an eigenvalue is clearly negative (the point is not a maximum)."""
        return bool(self.eigenvalues[0] < -rtol * self.top)

    def solve(self, g: np.ndarray, rtol: float = DEFAULT_RTOL) -> np.ndarray:
        """``info^+ g`` on the identified eigenspace: the Newton step for gradient ``g``.

        Example
        -------
        >>> equilibrated_eigh(np.array([[4.0, 0.0], [0.0, 1.0]])).solve(np.array([4.0, 1.0])).round(12).tolist()
        [1.0, 1.0]
        """
        keep = self.identified(rtol)
        v = self.vectors[:, keep]
        return ((v / self.eigenvalues[keep]) @ (v.T @ (g / self.d))) / self.d

    def decrement(self, g: np.ndarray, rtol: float = DEFAULT_RTOL) -> float:
        """The Newton decrement ``g' info^+ g`` (Stata's scaled gradient ``g'(-H)^-1 g``)."""
        return float(g @ self.solve(g, rtol))

    def trust_step(self, g: np.ndarray, radius: float, rtol: float = DEFAULT_RTOL) -> TrustStep:
        """The exact trust-region step for gradient ``g`` in equilibrated units: maximise the
        quadratic model ``g's - s' info s / 2`` subject to ``||D s|| <= radius``.

        The Newton step ``info^+ g`` when the information is positive semidefinite and that step
        fits; otherwise ``(info + shift D^2)^-1 g`` with the shift (a Levenberg-Marquardt
        damping, at least ``-smallest eigenvalue``) that puts the step on the boundary, found by a
        safeguarded Newton iteration on the secular equation (Moré & Sorensen 1983), including the
        "hard case" (a gradient orthogonal to the most negative eigenvector). No new factorisation.

        Example
        -------
        >>> eigen = equilibrated_eigh(np.array([[4.0, 0.0], [0.0, 1.0]]))
        >>> eigen.trust_step(np.array([4.0, 1.0]), 10.0).step.round(12).tolist()   # the Newton step fits
        [1.0, 1.0]
        >>> out = eigen.trust_step(np.array([4.0, 1.0]), 1.0)            # on the boundary
        >>> round(out.length, 9), out.newton
        (1.0, False)
        """
        lam, c = self.eigenvalues, self.vectors.T @ (g / self.d)
        top = self.top
        if not self.indefinite(rtol):
            keep = lam > rtol * top
            p = np.where(keep, c / np.where(keep, lam, 1.0), 0.0)
            if float(np.linalg.norm(p)) <= radius:
                return self._trust(p, c, lam, shift=0.0)
        low = max(0.0, -float(lam[0]))
        norm_c = float(np.linalg.norm(c))
        radius = min(radius, 1e150)  # an unbounded region around an indefinite model: a finite one
        if lam[0] < 0:  # hard case: c has (almost) no component on the most negative eigenvectors
            lowest = lam <= lam[0] + rtol * top
            if float(np.linalg.norm(c[lowest])) <= 1e-10 * max(norm_c, TINY):
                q = np.where(lowest, 0.0, c / np.where(lowest, 1.0, lam - lam[0]))
                rest = radius ** 2 - float(q @ q)
                if rest >= 0.0:
                    q[int(np.argmin(lam))] = math.sqrt(rest)
                    return self._trust(q, c, lam, shift=low)
        if norm_c == 0.0:
            return self._trust(np.zeros_like(c), c, lam, shift=low)
        lo, hi = low, low + norm_c / radius  # ||p(hi)|| <= radius < ||p(lo)||
        shift = hi
        with np.errstate(divide="ignore", invalid="ignore"):  # lam + shift = 0 at the bracket's end: inf norm
            return self._secular(c, lam, shift, lo, hi, radius)

    def _secular(self, c: np.ndarray, lam: np.ndarray, shift: float, lo: float, hi: float, radius: float) -> TrustStep:
        """Solve ``||c / (lam + shift)|| = radius`` for the shift in ``[lo, hi]`` (safeguarded Newton)."""
        for _ in range(100):
            p = c / (lam + shift)
            norm_p = float(np.linalg.norm(p))
            if abs(norm_p - radius) <= 1e-6 * radius:
                break
            if norm_p > radius:
                lo = shift
            else:
                hi = shift
            # Newton on 1/||p(shift)|| - 1/radius, nearly linear in shift
            slope = float(np.sum(c ** 2 / (lam + shift) ** 3)) / norm_p ** 3
            candidate = shift + (1.0 / radius - 1.0 / norm_p) / slope if slope > 0 else hi
            shift = candidate if lo < candidate < hi else (math.sqrt(lo * hi) if lo > 0 else 0.5 * (lo + hi))
        return self._trust(c / (lam + shift), c, lam, shift=shift)

    def _trust(self, p: np.ndarray, c: np.ndarray, lam: np.ndarray, shift: float) -> TrustStep:
        """Map eigen-coordinates ``p`` to a step in parameter units, with its predicted gain."""
        predicted = float(c @ p - 0.5 * np.sum(lam * p ** 2))
        return TrustStep((self.vectors @ p) / self.d, predicted, float(np.linalg.norm(p)), shift == 0.0, shift)


class TrustStep(NamedTuple):
    """A trust-region step (:meth:`InformationEigen.trust_step`).

    Example
    -------
    >>> out = equilibrated_eigh(np.array([[2.0]])).trust_step(np.array([2.0]), 5.0)
    >>> out.step.round(12).tolist(), round(out.predicted, 12), out.newton
    ([1.0], 1.0, True)
    """

    step: np.ndarray
    """The step in parameter units."""
    predicted: float
    """The increase of the quadratic model ``g's - s' info s / 2`` (what the log-likelihood should gain)."""
    length: float
    """``||D s||``: the step's length in equilibrated units (conditional standard errors)."""
    newton: bool
    """True for the undamped (pseudo-)Newton step."""
    shift: float
    """The damping added to the equilibrated information (0 for the Newton step)."""


def equilibrated_eigh(info: np.ndarray) -> InformationEigen:
    """``(d, eigenvalues, vectors)`` of ``D^-1 info D^-1`` with ``D = diag(d)``, ``d = sqrt(|diag(info)|)``
    where that is finite and nonzero (1 elsewhere). The one factorisation of the information, shared by
    the optimiser (Newton and trust-region steps, decrement, flat ridge) and the covariance.

    Scaling by ``|diag|`` (not only a positive diagonal) keeps a parameter's units out of the
    optimiser's steps also where its own curvature has the wrong sign (far from the maximum); the
    scaled matrix has the same inertia as ``info`` (Sylvester), so definiteness checks are unchanged.

    Example
    -------
    >>> d, lam, _ = equilibrated_eigh(np.array([[4.0, 2.0], [2.0, 9.0]]))
    >>> d.tolist(), lam.round(6).tolist()
    ([2.0, 3.0], [0.666667, 1.333333])
    """
    FACTORISATIONS[0] += 1
    diag = np.diag(info)
    d = np.where(np.isfinite(diag) & (diag != 0), np.sqrt(np.abs(diag)), 1.0)
    eigenvalues, vectors = np.linalg.eigh(info / d[:, None] / d[None, :])
    return InformationEigen(d, eigenvalues, vectors)


def invert_information(hessian: np.ndarray, names: tuple[str, ...], rtol: float = DEFAULT_RTOL, *,
                       eigen: InformationEigen | None = None) -> InverseInformation:
    """Invert ``-hessian`` safely (see module docstring); ``eigen``: its decomposition, if computed.

    Example
    -------
    >>> inv = invert_information(-np.array([[1.0, 1.0, 0], [1.0, 1.0, 0], [0, 0, 2.0]]), ("a", "b", "s"))
    >>> np.sqrt(np.diag(inv.cov)).round(4).tolist()
    [nan, nan, 0.7071]
    >>> inv.diagnostics["parameter"].tolist()
    ['a', 'b']
    """
    info = -np.asarray(hessian, dtype=np.float64)
    info = (info + info.T) / 2.0
    k = info.shape[0]
    diag = np.diag(info)
    if not np.all(np.isfinite(info)):
        nan = np.full((k, k), np.nan)
        rows = tuple((float("nan"), "non-finite Hessian", str(name), float("nan")) for name in names)
        return InverseInformation(nan, np.full(k, np.nan), np.ones(k, bool), rows)
    eigen = eigen if eigen is not None else equilibrated_eigh(info)
    d, eigenvalues, vectors = eigen
    scale = 1.0 / d
    top = eigen.top
    good = eigenvalues > rtol * top
    pseudo = ((vectors[:, good] / eigenvalues[good]) @ vectors[:, good].T) * scale[:, None] * scale[None, :]
    if good.all() and np.all(diag > 0):  # every parameter identified (the common case): no diagnostics
        return InverseInformation(pseudo.copy(), eigenvalues, np.zeros(k, bool), (), pseudo)
    # columns with zero or negative diagonal are bad by themselves (no curvature or wrong sign)
    bad_params = (diag <= 0) | np.any(np.abs(vectors[:, ~good]) > LOADING_TOL, axis=1)
    cov = pseudo.copy()
    cov[bad_params, :] = np.nan
    cov[:, bad_params] = np.nan
    rows = []
    for j in np.flatnonzero(~good):
        problem = "negative curvature (not a maximum)" if eigenvalues[j] < -rtol * top else "singular (not identified)"
        for i in np.flatnonzero(np.abs(vectors[:, j]) > LOADING_TOL):
            rows.append((float(eigenvalues[j]), problem, names[i], float(vectors[i, j])))
    for i in np.flatnonzero(diag <= 0):
        if names[i] not in {r[2] for r in rows}:
            rows.append((float(diag[i]), "no curvature on the diagonal", names[i], 1.0))
    return InverseInformation(cov, eigenvalues, bad_params, tuple(rows), pseudo)


SMALL_GRAM = 100_000
"""Up to this many entries, :func:`gram` is numpy's ``X.T @ X`` (the copy it may make is small)."""


def gram(X: np.ndarray) -> np.ndarray:
    """``X' X`` by one symmetric rank-k update (BLAS ``dsyrk``) without copying ``X``.

    scipy's BLAS wrappers copy an argument that is not Fortran-ordered, so a C-ordered ``(n, k)``
    array is passed as its transpose (a Fortran ``(k, n)`` view, ``trans=0``) and a Fortran one
    as itself (``trans=1``); only other layouts are copied.

    Example
    -------
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> gram(X).tolist(), gram(np.asfortranarray(X)).tolist()
    ([[35.0, 44.0], [44.0, 56.0]], [[35.0, 44.0], [44.0, 56.0]])
    >>> big = np.tile(X, (20_000, 1))   # 120,000 entries: dsyrk
    >>> np.round(gram(big)).tolist(), bool(np.allclose(gram(np.asfortranarray(big)), gram(big), rtol=1e-14))
    ([[700000.0, 880000.0], [880000.0, 1120000.0]], True)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] * X.shape[1] <= SMALL_GRAM:  # numpy's matmul: no BLAS wrapper to load or call
        return np.asarray(X.T @ X, dtype=np.float64)
    if X.flags.f_contiguous:
        upper = scipy.linalg.blas.dsyrk(1.0, X, trans=1, lower=0)
    else:
        upper = scipy.linalg.blas.dsyrk(1.0, np.ascontiguousarray(X).T, trans=0, lower=0)
    upper = np.triu(upper)
    return upper + np.triu(upper, 1).T


GRAM_BLOCK_BYTES = 1 << 20
"""Bytes of design per block of the host Gram products, so that a block and its scaled copy stay in
a core's cache (4,096 rows at 32 columns; at 1e6 x 50, 2,621 rows through one scaled buffer: 143 ms
against 155 ms for 8,192-row blocks with a fresh scaled copy each, medians of 7 interleaved runs)."""


def gram_products(grams: list, vectors: list) -> tuple[list, list]:
    """The Gram products ``x_j' diag(w) x_l`` (``grams``: ``(x_j, w, x_l, same)`` tuples) and the
    products ``x' V`` (``vectors``: ``(x, V)`` with ``V`` of shape ``(n, c)``) with BLAS, reading each
    design once and copying none (the index models' Hessians, :func:`weighted_gram`).

    A Gram product ``x_j' diag(w) x_l`` with ``x_j is x_l`` and ``w`` of one sign is a symmetric
    rank-k update (dsyrk) of ``sqrt(|w|) x``. All those on one design, and its products with
    vectors, run in one pass over its rows in cache-sized blocks (a multi-index model reads its
    design once per evaluation, not once per pair). Other Gram products are general ones.

    Example
    -------
    >>> x = np.array([[1.0, 0.0], [1.0, 2.0]])
    >>> grams, xv = gram_products([(x, np.array([1.0, 4.0]), x, True), (x, np.array([-1.0, 0.0]), x, True)],
    ...                            [(x, np.array([[1.0], [1.0]]))])
    >>> [b.tolist() for b in grams], xv[0].tolist()
    ([[[5.0, 8.0], [8.0, 16.0]], [[-1.0, 0.0], [0.0, 0.0]]], [[2.0], [2.0]])
    """
    out: list = [None] * len(grams)
    designs: dict[int, tuple[np.ndarray, list[int], list[int]]] = {}
    for i, (xj, w, xl, same) in enumerate(grams):
        if same and (np.all(w <= 0) or np.all(w >= 0)):
            designs.setdefault(id(xj), (xj, [], []))[1].append(i)
        else:
            out[i] = (xj * w[:, None]).T @ xl
    for i, (x, _) in enumerate(vectors):
        designs.setdefault(id(x), (x, [], []))[2].append(i)
    crossed: list = [None] * len(vectors)
    for x, members, uses in designs.values():
        k = x.shape[1]
        signs = [-1.0 if np.any(grams[i][1] < 0) else 1.0 for i in members]
        roots = [np.sqrt(np.abs(grams[i][1])) for i in members]
        sums = [np.zeros((k, k), order="F") for _ in members]
        stacked = np.concatenate([vectors[i][1] for i in uses], axis=1) if uses else None
        xv = np.zeros((k, 0 if stacked is None else stacked.shape[1]))
        block = max(256, GRAM_BLOCK_BYTES // (8 * k))
        scaled = np.empty((min(block, x.shape[0]), k))  # one buffer for every block's sqrt(|w|) x
        for lo in range(0, x.shape[0], block):
            rows = x[lo:lo + block]
            if stacked is not None:
                xv += rows.T @ stacked[lo:lo + block]
            for q, (sign, root) in enumerate(zip(signs, roots)):
                a = scaled[:rows.shape[0]]  # C order (c, k): a.T is Fortran
                np.multiply(rows, root[lo:lo + block, None], out=a)
                sums[q] = scipy.linalg.blas.dsyrk(sign, a.T, beta=1.0, c=sums[q], trans=0, lower=0, overwrite_c=1)
        for i, total in zip(members, sums):
            upper = np.triu(total)
            out[i] = upper + np.triu(upper, 1).T
        start = 0
        for i in uses:
            width = vectors[i][1].shape[1]
            crossed[i] = xv[:, start:start + width]
            start += width
    return out, crossed


def weighted_gram(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``X' diag(w) X`` for weights of one sign, in cache-sized row blocks (no copy of ``X``).

    Example
    -------
    >>> X = np.array([[1.0, 0.0], [1.0, 2.0]])
    >>> weighted_gram(X, np.array([1.0, 4.0])).tolist()
    [[5.0, 8.0], [8.0, 16.0]]
    """
    X = np.asarray(X, dtype=np.float64)
    return gram_products([(X, np.asarray(w, dtype=np.float64), X, True)], [])[0][0]


def conditioned_gram(G: np.ndarray, rtol: float) -> InformationEigen | None:
    """The eigen-decomposition of the Gram matrix ``G`` equilibrated by its diagonal
    (``D^-1 G D^-1``, unit diagonal) when every eigenvalue is above ``rtol`` times the largest; None
    when it is not, or ``G`` is not finite, or a diagonal entry is not positive. The shared test
    behind the rank screen of a design, start values and dispersion covariances (not counted in
    :data:`FACTORISATIONS`, which counts the information's).

    Example
    -------
    >>> X = np.column_stack([np.ones(3), [0.0, 1.0, 2.0]])
    >>> conditioned_gram(X.T @ X, 1e-8).d.round(6).tolist(), conditioned_gram(np.ones((2, 2)), 1e-8)
    ([1.732051, 2.236068], None)
    """
    d = np.sqrt(np.diag(G))
    if not (np.all(np.isfinite(G)) and np.all(d > 0)):
        return None
    eigenvalues, vectors = np.linalg.eigh(G / d[:, None] / d[None, :])
    if not eigenvalues[0] > rtol * eigenvalues[-1]:
        return None
    return InformationEigen(d, eigenvalues, vectors)


LEAST_SQUARES_RTOL = 1e-10
"""The smallest eigenvalue (relative to the largest) of the equilibrated Gram matrix that
:func:`least_squares` solves the normal equations with; below it numpy's ``lstsq`` decides."""


def least_squares(X: np.ndarray, z: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """(Weighted) least-squares coefficients of ``z`` on the columns of ``X``, for start values.

    The normal equations ``X'WX b = X'Wz`` through the equilibrated Gram matrix
    (:func:`conditioned_gram`): one symmetric rank-k pass over ``X`` (:func:`gram`, or
    :func:`weighted_gram` with weights ``w >= 0``; no copy) and one for ``X'Wz``, where that matrix is
    well conditioned (the squared conditioning is harmless in a start value that the fit refines);
    numpy's SVD-based ``lstsq`` of ``sqrt(w) X`` otherwise (a rank-deficient or nearly collinear
    design). At 1e6 x 50 on one thread: 0.23 s against 2.0 s for ``lstsq``.

    Example
    -------
    >>> X = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    >>> least_squares(X, np.array([1.0, 3.0, 5.0, 7.0])).round(12).tolist()   # z = 1 + 2 x
    [1.0, 2.0]
    """
    X = np.asarray(X, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    w = None if w is None else np.asarray(w, dtype=np.float64)
    if X.ndim == 2 and z.ndim == 1 and X.shape[0] >= X.shape[1] > 0 and (w is None or np.all(w >= 0)):
        eigen = conditioned_gram(gram(X) if w is None else weighted_gram(X, w), LEAST_SQUARES_RTOL)
        if eigen is not None:
            beta = eigen.solve(X.T @ (z if w is None else w * z))
            if np.all(np.isfinite(beta)):
                return beta
    if w is None:
        return np.linalg.lstsq(X, z, rcond=None)[0]
    root = np.sqrt(w)
    return np.linalg.lstsq(X * root[:, None], z * root, rcond=None)[0]


GRAM_INVERSE_RTOL = 1e-4
"""The smallest eigenvalue (relative to the largest) of the equilibrated ``X'WX`` that
:func:`gram_inverse` inverts (condition number below 1e4: entries accurate to about ``1e4 * eps``,
2e-12); below it the caller's QR decomposition of ``sqrt(w) X`` does."""


def gram_inverse(X: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    """``(X' diag(w) X)^-1`` from the equilibrated Gram matrix (:func:`conditioned_gram`; one blocked
    pass over ``X``, no copy: at 1e6 x 50 about 0.15 s where the QR of ``sqrt(w) X`` took 2.9 s with
    its two copies), or None where that matrix's condition number exceeds ``1 /``
    :data:`GRAM_INVERSE_RTOL` or a weight is negative or not finite.

    Example
    -------
    >>> X = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    >>> bool(np.allclose(gram_inverse(X, np.ones(4)), np.linalg.inv(X.T @ X), rtol=1e-12))
    True
    >>> gram_inverse(np.column_stack([X, X[:, 1] + 1e-6]), np.ones(4)) is None   # nearly collinear: QR
    True
    """
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        return None
    eigen = conditioned_gram(weighted_gram(X, w), GRAM_INVERSE_RTOL)
    if eigen is None:
        return None
    d, eigenvalues, vectors = eigen
    return ((vectors / eigenvalues) @ vectors.T) / d[:, None] / d[None, :]
