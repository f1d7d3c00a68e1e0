"""Zero-truncated count regressions: Poisson and NB2 (Stata ``tpoisson``, ``tnbreg``; statsmodels
``TruncatedLFPoisson`` and ``TruncatedLFNegativeBinomialP``, ``truncation=0``).

Only positive counts are observed; per observation the log-likelihood is the untruncated one
(:func:`hessstats.models.count.poisson_loglike`, :func:`~hessstats.models.count.nb2_loglike`)
minus ``log(1 - P(y = 0))``, with ``P(0) = exp(-mu)`` (Poisson) or ``(1 + alpha mu)^(-1/alpha)``
(NB2). Post-estimation defaults: ``res.margins()`` of the conditional mean ``E(y | y > 0) = mu /
(1 - P(0))`` (offset left out, as for Poisson) and ``res.lr_test_null()`` fixing every slope at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np  # noqa: F401 (the doctests use np)

from hessstats.core.compilation import trusted
from hessstats.model import Model
from hessstats.models.count import NB2Params, PoissonParams, count_data, count_description, nb2_obs, poisson_obs
from hessstats.models.design import build, index_defaults, require, weighted
from hessstats.models.index import with_index_hessian


def _log1mexp(log_p0: jnp.ndarray) -> jnp.ndarray:
    """``log(1 - exp(x))`` for ``x < 0``, accurate at both ends."""
    return jnp.where(log_p0 > -0.6931471805599453, jnp.log(-jnp.expm1(log_p0)), jnp.log1p(-jnp.exp(log_p0)))


def _log_p0(params: PoissonParams | NB2Params, eta: jnp.ndarray) -> jnp.ndarray:
    if isinstance(params, NB2Params):
        return -jnp.logaddexp(0.0, jnp.log(params.alpha) + eta) / params.alpha  # -(1/a) log(1 + a mu)
    return -jnp.exp(eta)


@trusted
def truncated_poisson_loglike(params: PoissonParams, data: dict) -> jnp.ndarray:
    """Per-observation zero-truncated Poisson log-likelihood.

    Example
    -------
    >>> data = {"X": np.ones((1, 1)), "y": np.array([1.0]), "offset": np.zeros(1)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = truncated_poisson_loglike(PoissonParams(np.array([0.0])), data)
    >>> np.asarray(out).round(6).tolist()  # log(exp(-1) / (1 - exp(-1)))
    [-0.541325]
    """
    return truncated_poisson_obs({"beta": data["X"] @ params.beta}, {}, data)


@trusted
def truncated_poisson_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The zero-truncated Poisson log-likelihood as a function of ``eta["beta"] = X @ beta``
    (offset added here): the index form.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = truncated_poisson_obs({"beta": np.zeros(1)}, {}, {"y": np.array([1.0]), "offset": np.zeros(1)})
    >>> np.asarray(out).round(6).tolist()
    [-0.541325]
    """
    e = eta["beta"] + data["offset"]
    return poisson_obs(eta, extra, data) - _log1mexp(-jnp.exp(e))


@trusted
def truncated_negbin_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The zero-truncated NB2 log-likelihood as a function of ``eta["beta"] = X @ beta`` and
    ``extra["alpha"]`` (the index form).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = truncated_negbin_obs({"beta": np.zeros(1)}, {"alpha": 1.0}, {"y": np.array([1.0]), "offset": np.zeros(1)})
    >>> np.asarray(out).round(6).tolist()
    [-0.693147]
    """
    e = eta["beta"] + data["offset"]
    alpha = extra["alpha"]
    return nb2_obs(eta, extra, data) - _log1mexp(-jnp.logaddexp(0.0, jnp.log(alpha) + e) / alpha)


@trusted
def truncated_negbin_loglike(params: NB2Params, data: dict) -> jnp.ndarray:
    """Per-observation zero-truncated NB2 log-likelihood.

    Example
    -------
    >>> data = {"X": np.ones((1, 1)), "y": np.array([1.0]), "offset": np.zeros(1)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = truncated_negbin_loglike(NB2Params(np.array([0.0]), 1.0), data)
    >>> np.asarray(out).round(6).tolist()  # geometric, mu = 1: log((1/4) / (1/2))
    [-0.693147]
    """
    return truncated_negbin_obs({"beta": data["X"] @ params.beta}, {"alpha": params.alpha}, data)


def truncated_predict(params: PoissonParams | NB2Params, data: dict) -> jnp.ndarray:
    """``E(y | y > 0) = mu / (1 - P(0))`` with ``mu = exp(X beta)`` (offset left out): the
    prediction behind ``res.margins()`` for the zero-truncated models.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = truncated_predict(PoissonParams(np.array([0.0])), {"X": np.ones((1, 1))})
    >>> np.asarray(out).round(6).tolist()  # 1 / (1 - exp(-1))
    [1.581977]
    """
    eta = data["X"] @ params.beta
    return jnp.exp(eta - _log1mexp(_log_p0(params, eta)))


def _positive(y: Any, X: Any, names: Sequence[str] | None, offset: Any, exposure: Any, kind: str):
    y, X, names, off, start = count_data(y, X, names, offset, exposure, kind)
    require(y > 0, y, what=f"{kind} outcome y", expected="positive counts (zeros are truncated away)",
            fix="drop the zero counts, or use hs.poisson / hs.negbin / a hurdle model when zeros are observed")
    return y, X, names, off, start


@weighted
def truncated_poisson_model(y: Any, X: Any, *, offset: Any = None, exposure: Any = None,
                            names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Zero-truncated Poisson regression of positive counts ``y`` on ``X``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie").iloc[:2000].query("mdvis > 0")
    >>> res = truncated_poisson_model(df["mdvis"], df[["lncoins", "idp"]].assign(const=1.0)).fit()
    >>> res.converged, res.names
    (True, ('lncoins', 'idp', 'const'))
    """
    y, X, names, off, start = _positive(y, X, names, offset, exposure, "truncated_poisson")
    model = build(truncated_poisson_loglike, PoissonParams(start), {"y": y, "X": X, "offset": off},
                  {"beta": list(names)}, count_description("truncated_poisson", description, offset, exposure),
                  defaults=index_defaults(X, names, truncated_predict))
    return with_index_hessian(model, truncated_poisson_obs, {"beta": "X"}, check=False)


@weighted
def truncated_negbin_model(y: Any, X: Any, *, offset: Any = None, exposure: Any = None,
                           names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Zero-truncated NB2 regression of positive counts ``y`` on ``X``; parameters ``beta`` then ``alpha``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie").iloc[:2000].query("mdvis > 0")
    >>> res = truncated_negbin_model(df["mdvis"], df[["lncoins", "idp"]].assign(const=1.0)).fit()
    >>> res.names[-1], bool(res.params["alpha"] > 0)
    ('alpha', True)
    """
    y, X, names, off, start = _positive(y, X, names, offset, exposure, "truncated_negbin")
    model = build(truncated_negbin_loglike, NB2Params(start, 1.0), {"y": y, "X": X, "offset": off},
                  {"beta": list(names), "alpha": "alpha"}, count_description("truncated_negbin", description, offset, exposure),
                  defaults=index_defaults(X, names, truncated_predict))
    return with_index_hessian(model, truncated_negbin_obs, {"beta": "X"}, check=False)
