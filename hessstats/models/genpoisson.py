"""Generalized Poisson regression (Consul's GP-1: Stata ``gnpoisson``; statsmodels ``GeneralizedPoisson``, ``p=1``).

Per observation, with ``mu = exp(X @ beta + offset + log(exposure))``::

    log(mu) + (y - 1) log(mu + alpha y) - y log(1 + alpha) - lgamma(y + 1) - (mu + alpha y) / (1 + alpha)

so that ``E(y) = mu`` and ``Var(y) = mu (1 + alpha)^2``; ``alpha`` may be negative
(underdispersion) as long as ``mu + alpha y > 0``; ``alpha = 0`` is Poisson. Post-estimation
defaults as Poisson: ``res.margins()`` of ``exp(X beta)`` and ``res.lr_test_null()`` fixing every
slope at 0 (``alpha`` free).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np  # noqa: F401 (the doctests use np)

from hessstats.core.compilation import trusted
from hessstats.model import Model
from hessstats.models.count import count_data, count_description, count_predict
from hessstats.models.design import build, index_defaults, weighted
from hessstats.models.index import with_index_hessian


class GenPoissonParams(NamedTuple):
    """Generalized Poisson parameters: coefficients of X, then the dispersion ``alpha``.

    Example
    -------
    >>> GenPoissonParams(beta=np.zeros(2), alpha=0.1)
    GenPoissonParams(beta=array([0., 0.]), alpha=0.1)
    """

    beta: Any
    alpha: Any


@trusted
def genpoisson_loglike(params: GenPoissonParams, data: dict) -> jnp.ndarray:
    """Per-observation generalized Poisson (GP-1) log-likelihood.

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "y": np.array([0.0, 2.0]), "offset": np.zeros(2)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = genpoisson_loglike(GenPoissonParams(np.array([0.0]), 0.0), data)
    >>> np.asarray(out).round(6).tolist()  # alpha = 0: Poisson with mu = 1
    [-1.0, -1.693147]
    """
    return genpoisson_obs({"beta": data["X"] @ params.beta}, {"alpha": params.alpha}, data)


@trusted
def genpoisson_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The GP-1 log-likelihood as a function of ``eta["beta"] = X @ beta`` (offset added here) and
    ``extra["alpha"]`` (the index form).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = genpoisson_obs({"beta": np.zeros(2)}, {"alpha": 0.0}, {"y": np.array([0.0, 1.0]), "offset": np.zeros(2)})
    >>> np.asarray(out).round(6).tolist()
    [-1.0, -1.0]
    """
    y, alpha = data["y"], extra["alpha"]
    e = eta["beta"] + data["offset"]
    a2 = jnp.exp(e) + alpha * y
    return e + (y - 1.0) * jnp.log(a2) - y * jnp.log1p(alpha) - jsp.gammaln(y + 1.0) - a2 / (1.0 + alpha)


@weighted
def genpoisson_model(y: Any, X: Any, *, offset: Any = None, exposure: Any = None,
                     names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Generalized Poisson regression of counts ``y`` on ``X``; parameters ``beta`` then ``alpha``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie").iloc[:2000]
    >>> res = genpoisson_model(df["mdvis"], df[["lncoins", "idp"]].assign(const=1.0)).fit()
    >>> res.names[-1], bool(res.params["alpha"] > 0)
    ('alpha', True)
    """
    y, X, names, off, start = count_data(y, X, names, offset, exposure, "genpoisson")
    model = build(genpoisson_loglike, GenPoissonParams(start, 0.0), {"y": y, "X": X, "offset": off},
                  {"beta": list(names), "alpha": "alpha"}, count_description("genpoisson", description, offset, exposure),
                  defaults=index_defaults(X, names, count_predict))
    return with_index_hessian(model, genpoisson_obs, {"beta": "X"}, check=False)
