"""Continuous outcomes: normal linear regression by ML, Tobit (censored normal), Gamma GLM (log link).

Parametrisations (the parameter itself, not its log, so standard errors are on the reported scale):

- normal: ``y = X beta + e``, ``e ~ N(0, sigma^2)``; parameters ``beta`` then ``sigma``, fitted by
  ML (``sigma^2 = RSS / n``). By default (``variance="ols"``) the built-in OLS *reports* what
  statsmodels OLS, R ``lm`` and Stata ``regress`` report: the classical covariance of ``beta`` is
  ``s^2 (X'X)^-1`` with ``s^2 = RSS / (n - k)`` (``cov_options={"dispersion": "pearson"}`` of
  ``"nonrobust"``), HC1 and cluster factors count ``k`` = the columns of ``X`` (not ``sigma``),
  ``"robust"`` is HC1 (Stata ``regress, vce(robust)``), the default cluster correction is
  ``"regress"``, and p-values and intervals use t with ``n - k`` degrees of freedom (cluster: ``G - 1``).
  ``sigma`` keeps its ML estimate and ``se(sigma) = sigma / sqrt(2 n)``. ``variance="ml"`` gives
  the pure ML report: inverse observed information (``beta`` SEs = OLS's times
  ``sqrt((n - k) / n)``), z inference, the ``"stata"`` cluster correction.
- Tobit: the normal model with ``y`` censored below at ``left`` and/or above at ``right``
  (Stata's ``tobit``: observations with ``y <= left`` are left-censored, ``y >= right``
  right-censored); parameters ``beta`` then ``sigma`` (Stata reports ``var(e.y)``, R's AER
  ``tobit`` reports ``Log(scale)``: transform with the delta method).
- Gamma: ``y ~ Gamma`` with mean ``mu = exp(X beta)`` and ``Var(y) = scale * mu^2``; parameters
  ``beta`` then ``scale`` (statsmodels GLM's dispersion ``scale = 1 / shape``), all by ML.
  statsmodels' GLM estimates the same ``beta`` but its ``scale`` by Pearson chi2 / (n - k), not
  ML, so only the coefficients coincide. ``fit(cov_options={"dispersion": "pearson"})`` reports the
  coefficient SEs as R ``summary.glm``, statsmodels ``GLM(...).fit(scale="X2")`` and Stata ``glm``
  do (``phi_P (X'X)^-1``, ``phi_P`` = Pearson chi2 / (n - k)), with t inference on ``n - k`` df (R).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core.compilation import trusted
from hessstats.core.covariance import Dispersion
from hessstats.core.linalg import least_squares
from hessstats.core.special import log_ndtr
from hessstats.errors import SpecificationError, message
from hessstats.inference.defaults import Inference
from hessstats.model import Model
from hessstats.models.design import align_rows, build, design, index_defaults, outcome, require, vector_option, weighted
from hessstats.models.index import with_index_hessian

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


@trusted
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
    return normal_obs({"beta": data["X"] @ params.beta}, {"sigma": params.sigma}, data)


@trusted
def normal_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The normal log-density as a function of ``eta["beta"] = X @ beta`` and ``extra["sigma"]``:
    the index form, whose Hessian is assembled as ``X' diag(w) X``.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = normal_obs({"beta": np.ones(2)}, {"sigma": 1.0}, {"y": np.array([1.0, 2.0])})
    >>> np.asarray(out).round(6).tolist()
    [-0.918939, -1.418939]
    """
    sigma = extra["sigma"]
    z = (data["y"] - eta["beta"]) / sigma
    return -0.5 * z * z - jnp.log(sigma) - LOG_SQRT_2PI


@trusted
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
    return tobit_obs({"beta": data["X"] @ params.beta}, {"sigma": params.sigma}, data)


@trusted
def tobit_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The censored-normal log-likelihood as a function of ``eta["beta"] = X @ beta`` and
    ``extra["sigma"]`` (the index form).

    Example
    -------
    >>> import jax
    >>> data = {"y": np.array([0.0, 2.0]), "left": np.array([1.0, 0.0]), "right": np.array([0.0, 0.0])}
    >>> with jax.enable_x64(True):
    ...     out = tobit_obs({"beta": np.zeros(2)}, {"sigma": 1.0}, data)
    >>> np.asarray(out).round(6).tolist()
    [-0.693147, -2.918939]
    """
    sigma = extra["sigma"]
    z = (data["y"] - eta["beta"]) / sigma
    density = -0.5 * z * z - jnp.log(sigma) - LOG_SQRT_2PI
    return jnp.where(data["left"] > 0, log_ndtr(z),
                     jnp.where(data["right"] > 0, log_ndtr(-z), density))


@trusted
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
    return gamma_obs({"beta": data["X"] @ params.beta}, {"scale": params.scale}, data)


@trusted
def gamma_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The Gamma log-density as a function of ``eta["beta"] = X @ beta`` (log link) and
    ``extra["scale"]`` (the index form).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = gamma_obs({"beta": np.zeros(1)}, {"scale": 1.0}, {"y": np.array([1.0])})
    >>> np.asarray(out).round(6).tolist()
    [-1.0]
    """
    y, e, scale = data["y"], eta["beta"], extra["scale"]
    shape = 1.0 / scale
    return shape * (jnp.log(y) - e - jnp.log(scale)) - shape * y * jnp.exp(-e) - jnp.log(y) - jsp.gammaln(shape)


VARIANCES = ("ols", "ml")
"""``normal_model(variance=...)``: what the built-in OLS reports (see the module docstring)."""


def ols_residuals(params: NormalParams, data: dict) -> Any:
    """Residuals ``y - X beta`` (the Pearson residuals of the normal model).

    Example
    -------
    >>> ols_residuals(NormalParams(np.array([1.0]), 1.0), {"X": np.ones((2, 1)), "y": np.array([1.0, 3.0])}).tolist()
    [0.0, 2.0]
    """
    return data["y"] - data["X"] @ params.beta


def gamma_pearson_residuals(params: GammaParams, data: dict) -> Any:
    """Pearson residuals of the Gamma GLM, ``(y - mu) / mu`` with ``mu = exp(X beta)``.

    Example
    -------
    >>> gamma_pearson_residuals(GammaParams(np.array([0.0]), 1.0), {"X": np.ones((2, 1)), "y": np.array([1.0, 3.0])}).tolist()
    [0.0, 2.0]
    """
    mu = np.exp(np.asarray(data["X"]) @ np.asarray(params.beta))
    return (np.asarray(data["y"]) - mu) / mu


def unit_weights(params: Any, data: dict) -> Any:
    """GLM working (Fisher) weights at unit dispersion of the normal (identity link) and Gamma (log
    link) models: all 1, so the mean block of the expected information is ``X'X / phi``.

    Example
    -------
    >>> unit_weights(None, {"X": np.ones((3, 2))}).tolist()
    [1.0, 1.0, 1.0]
    """
    return np.ones(np.shape(data["X"])[0])


@weighted
def normal_model(y: Any, X: Any, *, names: Sequence[str] | None = None, description: dict | None = None,
                 variance: str = "ols") -> Model:
    """Normal linear regression by maximum likelihood (parameters ``beta``, ``sigma``).

    ``variance="ols"`` (default) reports as statsmodels OLS / R ``lm`` / Stata ``regress``
    (``s^2 = RSS/(n-k)``, t inference with ``n - k`` df); ``variance="ml"`` the pure ML covariance
    with z inference (see :mod:`hessstats.models.continuous`).

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
    beta = least_squares(X, y)
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

    if variance not in VARIANCES:
        raise SpecificationError(message(
            "unknown variance for the normal linear model", expected=f"one of {VARIANCES}", got=repr(variance),
            fix="variance='ols' (statsmodels OLS / R lm / Stata regress) or 'ml' (maximum likelihood)"))
    desc = {"model": "ols", "formula": None, **(description or {}), **({"variance": "ml"} if variance == "ml" else {})}
    defaults = dataclasses.replace(
        index_defaults(X, names), inference=Inference.T if variance == "ols" else Inference.Z,
        dispersion=Dispersion("sigma", lambda s: s ** 2, ols_residuals, default="pearson" if variance == "ols" else "ml",
                              weights=unit_weights))
    model = build(normal_loglike, NormalParams(beta, sigma), {"y": y, "X": X},
                  {"beta": list(names), "sigma": "sigma"}, desc, expected_information, defaults=defaults)
    return with_index_hessian(model, normal_obs, {"beta": "X"}, check=False)


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
    beta = least_squares(X, y)
    sigma = float(np.sqrt(np.mean((y - X @ beta) ** 2))) or 1.0
    desc = {"model": "tobit", "formula": None, **(description or {})}
    model = build(tobit_loglike, NormalParams(beta, sigma), {"y": y, "X": X, "left": is_left, "right": is_right},
                  {"beta": list(names), "sigma": "sigma"}, desc,
                  extra={"censored": {"left": int(is_left.sum()), "right": int(is_right.sum())}},
                  defaults=index_defaults(X, names))
    return with_index_hessian(model, tobit_obs, {"beta": "X"}, check=False)


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
    beta = least_squares(X, np.log(y))
    scale = float(np.mean((y / np.exp(X @ beta) - 1.0) ** 2)) or 1.0

    def expected_information(theta: np.ndarray) -> np.ndarray:
        phi = theta[-1]
        nu = 1.0 / phi
        info = np.zeros((len(theta), len(theta)))
        info[:-1, :-1] = nu * X.T @ X
        info[-1, -1] = len(y) * (scipy.special.polygamma(1, nu) - phi) / phi ** 4
        return info

    desc = {"model": "gamma", "formula": None, "link": "log", **(description or {})}
    defaults = dataclasses.replace(index_defaults(X, names),
                                   dispersion=Dispersion("scale", lambda s: s, gamma_pearson_residuals, default="ml",
                                                         weights=unit_weights))
    model = build(gamma_loglike, GammaParams(beta, scale), {"y": y, "X": X},
                  {"beta": list(names), "scale": "scale"}, desc, expected_information, defaults=defaults)
    return with_index_hessian(model, gamma_obs, {"beta": "X"}, check=False)
