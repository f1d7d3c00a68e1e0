"""Continuous outcomes: normal linear regression by ML, Tobit (censored normal), Gamma GLM (log link).

Parametrisations (the parameter itself, not its log, so standard errors are on the reported scale):

- normal: ``y = X beta + e``, ``e ~ N(0, sigma^2)``; parameters ``beta`` then ``sigma``. The ML
  ``sigma^2 = RSS / n`` (statsmodels OLS uses ``RSS / (n - k)``), so ML standard errors of
  ``beta`` equal OLS's times ``sqrt((n - k) / n)`` exactly; ``se(sigma) = sigma / sqrt(2 n)``.
- Tobit: the normal model with ``y`` censored below at ``left`` and/or above at ``right``
  (Stata's ``tobit``: observations with ``y <= left`` are left-censored, ``y >= right``
  right-censored); parameters ``beta`` then ``sigma`` (Stata reports ``var(e.y)``, R's AER
  ``tobit`` reports ``Log(scale)``: transform with the delta method).
- Gamma: ``y ~ Gamma`` with mean ``mu = exp(X beta)`` and ``Var(y) = scale * mu^2``; parameters
  ``beta`` then ``scale`` (statsmodels GLM's dispersion ``scale = 1 / shape``), all by ML.
  statsmodels' GLM estimates the same ``beta`` but its ``scale`` by Pearson chi2 / (n - k), not
  ML, so only the coefficients coincide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.special as jsp
import jax.scipy.stats as jstats
import numpy as np
import scipy.special

from hessstats.model import Model
from hessstats.models.design import align_rows, build, design, index_defaults, outcome, require, vector_option, weighted

LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


class NormalParams(NamedTuple):
    """Coefficients, then the error standard deviation ``sigma`` (> 0).

    Example
    -------
    >>> NormalParams(beta=np.zeros(2), sigma=1.0)
    NormalParams(beta=array([0., 0.]), sigma=1.0)
    """

    beta: Any
    sigma: Any


class GammaParams(NamedTuple):
    """Coefficients (log link), then the dispersion ``scale`` (> 0).

    Example
    -------
    >>> GammaParams(beta=np.zeros(2), scale=0.5)
    GammaParams(beta=array([0., 0.]), scale=0.5)
    """

    beta: Any
    scale: Any


def normal_loglike(params: NormalParams, data: dict) -> jnp.ndarray:
    """Per-observation normal log-density of ``y - X beta`` with standard deviation ``sigma``.

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "y": np.array([1.0, 2.0])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = normal_loglike(NormalParams(np.array([1.0]), 1.0), data)
    >>> np.asarray(out).round(6).tolist()  # -log(2 pi)/2 - r^2/2
    [-0.918939, -1.418939]
    """
    z = (data["y"] - data["X"] @ params.beta) / params.sigma
    return -0.5 * z * z - jnp.log(params.sigma) - LOG_SQRT_2PI


def tobit_loglike(params: NormalParams, data: dict) -> jnp.ndarray:
    """Censored-normal log-likelihood: ``log Phi(z)`` left-censored, ``log Phi(-z)`` right-censored.

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "y": np.array([0.0, 2.0]), "left": np.array([True, False]),
    ...         "right": np.array([False, False])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = tobit_loglike(NormalParams(np.array([0.0]), 1.0), data)
    >>> np.asarray(out).round(6).tolist()  # log Phi(0), normal log-density
    [-0.693147, -2.918939]
    """
    z = (data["y"] - data["X"] @ params.beta) / params.sigma
    density = -0.5 * z * z - jnp.log(params.sigma) - LOG_SQRT_2PI
    return jnp.where(data["left"] > 0, jstats.norm.logcdf(z),
                     jnp.where(data["right"] > 0, jstats.norm.logcdf(-z), density))


def gamma_loglike(params: GammaParams, data: dict) -> jnp.ndarray:
    """Gamma log-density with mean ``exp(X beta)`` and shape ``1 / scale``.

    Example
    -------
    >>> data = {"X": np.ones((1, 1)), "y": np.array([1.0])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = gamma_loglike(GammaParams(np.array([0.0]), 1.0), data)
    >>> np.asarray(out).round(6).tolist()  # exponential(1) at 1: -1
    [-1.0]
    """
    y, eta = data["y"], data["X"] @ params.beta
    shape = 1.0 / params.scale
    return shape * (jnp.log(y) - eta - jnp.log(params.scale)) - shape * y * jnp.exp(-eta) - jnp.log(y) - jsp.gammaln(shape)


@weighted
def normal_model(y: Any, X: Any, *, names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Normal linear regression by maximum likelihood (parameters ``beta``, ``sigma``).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("longley")
    >>> res = normal_model(df["TOTEMP"], df[["GNP", "POP"]].assign(const=1.0)).fit()
    >>> res.names
    ('GNP', 'POP', 'const', 'sigma')
    """
    y = align_rows(X, y=y)["y"]
    X, names = design(X, names)
    y = outcome(y, X.shape[0])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    sigma = float(np.sqrt(np.mean((y - X @ beta) ** 2)))
    if sigma == 0.0:
        sigma = 1.0  # perfect fit: the likelihood is unbounded; let the certificate report it
    n = X.shape[0]

    def expected_information(theta: np.ndarray) -> np.ndarray:
        s2 = theta[-1] ** 2
        info = np.zeros((len(theta), len(theta)))
        info[:-1, :-1] = X.T @ X / s2
        info[-1, -1] = 2.0 * n / s2
        return info

    desc = {"model": "ols", "formula": None, **(description or {})}
    return build(normal_loglike, NormalParams(beta, sigma), {"y": y, "X": X},
                 {"beta": list(names), "sigma": "sigma"}, desc, expected_information, defaults=index_defaults(X, names))


@weighted
def tobit_model(y: Any, X: Any, *, left: Any = 0.0, right: Any = None, names: Sequence[str] | None = None,
                description: dict | None = None) -> Model:
    """Tobit regression: ``y`` censored below at ``left`` and/or above at ``right`` (``None``: no limit).

    Limits are scalars or per-observation arrays; ``y`` beyond a limit counts as censored at it.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("fair")
    >>> m = tobit_model(df["affairs"], df[["rate_marriage", "age"]].assign(const=1.0), left=0)
    >>> m.names, m.extra["censored"]
    (('rate_marriage', 'age', 'const', 'sigma'), {'left': 4313, 'right': 0})
    """
    rows = align_rows(X, y=y, left=left, right=right)
    y, left, right = rows["y"], rows["left"], rows["right"]
    X, names = design(X, names)
    y = outcome(y, X.shape[0])
    n = X.shape[0]
    lo = None if left is None else vector_option(left, n, what="left", default=0.0)
    hi = None if right is None else vector_option(right, n, what="right", default=0.0)
    if lo is not None and hi is not None:
        require(lo < hi, lo, what="left censoring limit", expected="left < right for every row",
                fix="check the limits")
    is_left = np.zeros(n) if lo is None else (y <= lo).astype(float)
    is_right = np.zeros(n) if hi is None else (y >= hi).astype(float)
    y = y if lo is None else np.where(is_left > 0, lo, y)
    y = y if hi is None else np.where(is_right > 0, hi, y)
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    sigma = float(np.sqrt(np.mean((y - X @ beta) ** 2))) or 1.0
    desc = {"model": "tobit", "formula": None, **(description or {})}
    return build(tobit_loglike, NormalParams(beta, sigma), {"y": y, "X": X, "left": is_left, "right": is_right},
                 {"beta": list(names), "sigma": "sigma"}, desc,
                 extra={"censored": {"left": int(is_left.sum()), "right": int(is_right.sum())}},
                 defaults=index_defaults(X, names))


@weighted
def gamma_model(y: Any, X: Any, *, names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Gamma regression with log link, fully by ML (parameters ``beta``, ``scale``).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("scotland")
    >>> res = gamma_model(df["YES"], df[["COUTAX", "UNEMPF"]].assign(const=1.0)).fit()
    >>> res.names[-1]
    'scale'
    """
    y = align_rows(X, y=y)["y"]
    X, names = design(X, names)
    y = outcome(y, X.shape[0])
    require(y > 0, y, what="gamma outcome y", expected="positive values",
            fix="the Gamma model needs y > 0; for counts use hs.poisson, for zeros a two-part model")
    beta = np.linalg.lstsq(X, np.log(y), rcond=None)[0]
    scale = float(np.mean((y / np.exp(X @ beta) - 1.0) ** 2)) or 1.0

    def expected_information(theta: np.ndarray) -> np.ndarray:
        phi = theta[-1]
        nu = 1.0 / phi
        info = np.zeros((len(theta), len(theta)))
        info[:-1, :-1] = nu * X.T @ X
        info[-1, -1] = len(y) * (scipy.special.polygamma(1, nu) - phi) / phi ** 4
        return info

    desc = {"model": "gamma", "formula": None, "link": "log", **(description or {})}
    return build(gamma_loglike, GammaParams(beta, scale), {"y": y, "X": X},
                 {"beta": list(names), "scale": "scale"}, desc, expected_information, defaults=index_defaults(X, names))
