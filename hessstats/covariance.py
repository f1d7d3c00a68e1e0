"""Covariance estimators: one registry of small functions over the exact derivatives.

The observed information ``-H`` is inverted by :func:`invert_information`: it is equilibrated
(scaled to unit diagonal), eigen-decomposed, and eigenvalues that are not clearly positive
(``<= rtol * largest``) mark directions that the data do not identify (zero) or where the point
is not a maximum (negative). Parameters loading on those eigenvectors get NaN variances; the rest
come from the pseudo-inverse on the identified eigenspace, which is exact for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import CovarianceError, message

DEFAULT_RTOL = 1e-12
"""Eigenvalues of the equilibrated information below ``DEFAULT_RTOL * largest`` count as zero."""

LOADING_TOL = 1e-6
"""A parameter loads on a bad eigenvector when the eigenvector's entry exceeds this in size."""


@dataclass(frozen=True)
class InverseInformation:
    """The inverse of the observed information with unidentified directions set to NaN."""

    cov: np.ndarray
    """Inverse information; NaN rows/columns for parameters loading on bad eigenvectors."""
    eigenvalues: np.ndarray
    """Eigenvalues of the equilibrated information (unit diagonal), ascending."""
    bad: np.ndarray
    """Boolean mask of parameters with NaN variance."""
    diagnostics: pd.DataFrame
    """One row per (bad eigenvector, loading parameter): eigenvalue, problem, parameter, loading."""

    @property
    def ok(self) -> bool:
        """True when the information is positive definite (the Hessian negative definite)."""
        return not self.bad.any()


def invert_information(hessian: np.ndarray, names: tuple[str, ...], rtol: float = DEFAULT_RTOL) -> InverseInformation:
    """Invert ``-hessian`` safely (see module docstring).

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
    scale = np.where(np.isfinite(diag) & (diag > 0), 1.0 / np.sqrt(np.abs(diag)), 1.0)
    if not np.all(np.isfinite(info)):
        nan = np.full((k, k), np.nan)
        rows = pd.DataFrame({"eigenvalue": np.nan, "problem": "non-finite Hessian",
                             "parameter": list(names), "loading": np.nan})
        return InverseInformation(nan, np.full(k, np.nan), np.ones(k, bool), rows)
    scaled = info * scale[:, None] * scale[None, :]
    eigenvalues, vectors = np.linalg.eigh(scaled)
    top = max(float(np.max(np.abs(eigenvalues))), np.finfo(float).tiny)
    good = eigenvalues > rtol * top
    # columns with zero or negative diagonal are bad by themselves (no curvature or wrong sign)
    bad_params = (diag <= 0) | np.any(np.abs(vectors[:, ~good]) > LOADING_TOL, axis=1)
    inv_scaled = (vectors[:, good] / eigenvalues[good]) @ vectors[:, good].T
    cov = inv_scaled * scale[:, None] * scale[None, :]
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
    diagnostics = pd.DataFrame(rows, columns=["eigenvalue", "problem", "parameter", "loading"])
    return InverseInformation(cov, eigenvalues, bad_params, diagnostics)


# ----------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class CovarianceInputs:
    """What a covariance estimator may use. ``scores`` and ``expected`` are computed on demand."""

    inverse_information: InverseInformation
    scores: Callable[[], np.ndarray]
    nobs: int | None
    groups: np.ndarray | None = None
    expected: Callable[[], np.ndarray] | None = None
    options: tuple[tuple[str, object], ...] = ()


Estimator = Callable[[CovarianceInputs], np.ndarray]
REGISTRY: dict[str, Estimator] = {}


def register(name: str) -> Callable[[Estimator], Estimator]:
    """Add a covariance estimator under ``name`` (used as a decorator)."""

    def decorate(fn: Estimator) -> Estimator:
        REGISTRY[name] = fn
        return fn

    return decorate


@register("nonrobust")
def nonrobust(inputs: CovarianceInputs) -> np.ndarray:
    """Inverse observed information ``inv(-H)`` (statsmodels' and Stata's default for ML)."""
    return inputs.inverse_information.cov


def compute(cov_type: str, inputs: CovarianceInputs) -> np.ndarray:
    """The covariance of type ``cov_type``; unknown names raise a :class:`CovarianceError`."""
    try:
        estimator = REGISTRY[cov_type]
    except KeyError:
        raise CovarianceError(message(
            "unknown cov_type", expected=f"one of {sorted(REGISTRY)}", got=repr(cov_type),
            fix="choose one of the listed covariance types")) from None
    cov = np.asarray(estimator(inputs), dtype=np.float64)
    return (cov + cov.T) / 2.0
