"""Count models: Poisson, negative binomial (NB2) and zero-inflated Poisson.

Log-likelihoods (per observation, ``eta = X @ beta + offset + log(exposure)``, ``mu = exp(eta)``):

- Poisson: ``y*eta - mu - log(y!)`` (statsmodels ``Poisson``, analytic Hessian);
- NB2: ``lgamma(y + 1/a) - lgamma(1/a) - log(y!) + (1/a) log(p) + y log(1 - p)``, ``p = 1/(1 + a mu)``;
  ``alpha`` itself (not its log) is the parameter, as statsmodels
  ``NegativeBinomial(loglike_method="nb2")``, whose Hessian is analytic: ``Var(y) = mu + alpha mu^2``;
- zero-inflated Poisson: ``P(y=0) = w + (1-w) exp(-mu)``, ``w = expit(Z @ gamma)`` (logit inflation),
  as statsmodels ``ZeroInflatedPoisson``; inflation names are ``inflate_<term>``. statsmodels 0.15's
  analytic ZIP Hessian drops the inflation/count cross block (``GenericZeroInflated.hessian``
  overwrites the filled upper triangle with the empty lower one), so its standard errors are off
  (here by up to 1e-2 relative); validation compares with its numerical Hessian instead (1e-5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

from ..errors import DataError, message
from ..model import Model
from ._design import build, design, outcome, require, vector_option


class PoissonParams(NamedTuple):
    """Poisson parameters: coefficients of X."""

    beta: Any


class NB2Params(NamedTuple):
    """NB2 parameters: coefficients of X, then the dispersion ``alpha`` (> 0)."""

    beta: Any
    alpha: Any


class ZIPParams(NamedTuple):
    """Zero-inflated Poisson: count coefficients, then the logit inflation coefficients."""

    beta: Any
    inflate: Any


def poisson_loglike(params: PoissonParams, data: dict) -> jnp.ndarray:
    """Per-observation Poisson log-likelihood with offset (log exposure already added)."""
    eta = data["X"] @ params.beta + data["offset"]
    return data["y"] * eta - jnp.exp(eta) - jsp.gammaln(data["y"] + 1.0)


def nb2_loglike(params: NB2Params, data: dict) -> jnp.ndarray:
    """Per-observation NB2 log-likelihood (statsmodels' parametrisation, ``alpha`` > 0)."""
    y, eta = data["y"], data["X"] @ params.beta + data["offset"]
    size = 1.0 / params.alpha
    log_1p_amu = jnp.logaddexp(0.0, jnp.log(params.alpha) + eta)  # log(1 + alpha * mu)
    return (jsp.gammaln(y + size) - jsp.gammaln(size) - jsp.gammaln(y + 1.0)
            - size * log_1p_amu + y * (jnp.log(params.alpha) + eta - log_1p_amu))


def zip_loglike(params: ZIPParams, data: dict) -> jnp.ndarray:
    """Per-observation zero-inflated Poisson log-likelihood (logit inflation)."""
    y = data["y"]
    eta = data["X"] @ params.beta + data["offset"]
    g = data["Z"] @ params.inflate
    log_w, log_1mw = -jnp.logaddexp(0.0, -g), -jnp.logaddexp(0.0, g)
    log_pois = y * eta - jnp.exp(eta) - jsp.gammaln(y + 1.0)
    zero = jnp.logaddexp(log_w, log_1mw + log_pois)  # log(w + (1-w) exp(-mu)) at y = 0
    return jnp.where(y == 0, zero, log_1mw + log_pois)


def _counts(y: Any, X: Any, names: Sequence[str] | None, offset: Any, exposure: Any, kind: str):
    X, names = design(X, names)
    y = outcome(y, X.shape[0])
    require((y >= 0) & (y == np.round(y)), y, what=f"{kind} outcome y", expected="non-negative integer counts",
            fix="counts must be 0, 1, 2, ...; for continuous positive outcomes use hs.gamma")
    off = vector_option(offset, X.shape[0], what="offset", default=0.0)
    expo = vector_option(exposure, X.shape[0], what="exposure", default=1.0)
    require(expo > 0, expo, what="exposure", expected="positive values",
            fix="drop rows with zero exposure (they carry no information) or fix the exposure column")
    off = off + np.log(expo)
    # start: least squares of log(y + 0.5) - offset on X
    start = np.linalg.lstsq(X, np.log(y + 0.5) - off, rcond=None)[0]
    return y, X, names, off, start


def _describe(kind: str, description: dict | None, offset: Any, exposure: Any) -> dict:
    return {"model": kind, "formula": None, "offset": offset is not None, "exposure": exposure is not None,
            **(description or {})}


def poisson_model(y: Any, X: Any, *, offset: Any = None, exposure: Any = None, names: Sequence[str] | None = None,
                  description: dict | None = None) -> Model:
    """Poisson regression of counts ``y`` on ``X``; ``offset`` added and ``log(exposure)`` added to ``eta``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie")
    >>> res = poisson_model(df["mdvis"], df[["lncoins", "idp", "lpi"]].assign(const=1.0)).fit()
    >>> res.converged, res.names
    (True, ('lncoins', 'idp', 'lpi', 'const'))
    """
    y, X, names, off, start = _counts(y, X, names, offset, exposure, "poisson")

    def expected_information(theta: np.ndarray) -> np.ndarray:
        mu = np.exp(X @ theta + off)
        return (X * mu[:, None]).T @ X

    return build(poisson_loglike, PoissonParams(start), {"y": y, "X": X, "offset": off}, {"beta": list(names)},
                 _describe("poisson", description, offset, exposure), expected_information)


def negbin_model(y: Any, X: Any, *, offset: Any = None, exposure: Any = None, names: Sequence[str] | None = None,
                 description: dict | None = None) -> Model:
    """Negative binomial (NB2) regression: ``Var(y) = mu + alpha mu^2``; parameters ``beta`` then ``alpha``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie")
    >>> res = negbin_model(df["mdvis"], df[["lncoins", "idp", "lpi"]].assign(const=1.0)).fit()
    >>> res.names[-1], bool(res.params["alpha"] > 0)
    ('alpha', True)
    """
    y, X, names, off, start = _counts(y, X, names, offset, exposure, "negbin")
    return build(nb2_loglike, NB2Params(start, 1.0), {"y": y, "X": X, "offset": off},
                 {"beta": list(names), "alpha": "alpha"}, _describe("negbin", description, offset, exposure))


def zip_model(y: Any, X: Any, Z: Any = None, *, offset: Any = None, exposure: Any = None,
              names: Sequence[str] | None = None, inflate_names: Sequence[str] | None = None,
              description: dict | None = None) -> Model:
    """Zero-inflated Poisson: counts from ``X`` (log link), excess zeros from ``Z`` (logit link).

    ``Z`` defaults to a constant (names ``inflate_const``); inflation parameters are named
    ``inflate_<column>`` as in statsmodels.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie")
    >>> res = zip_model(df["mdvis"], df[["lncoins", "idp"]].assign(const=1.0)).fit()
    >>> res.names
    ('lncoins', 'idp', 'const', 'inflate_const')
    """
    y, X, names, off, start = _counts(y, X, names, offset, exposure, "zip")
    if Z is None:
        Z, inflate_names = np.ones((X.shape[0], 1)), ["const"]
    Z, inflate_names = design(Z, inflate_names, what="Z (inflation design)")
    if Z.shape[0] != X.shape[0]:
        raise DataError(message("Z and X have different numbers of rows", expected=f"{X.shape[0]} rows in Z",
                                got=f"{Z.shape[0]} rows", fix="build Z from the same observations as X"))
    return build(zip_loglike, ZIPParams(start, np.zeros(Z.shape[1])), {"y": y, "X": X, "Z": Z, "offset": off},
                 {"beta": list(names), "inflate": [f"inflate_{n}" for n in inflate_names]},
                 _describe("zip", description, offset, exposure))
