"""NB1 negative binomial regression: ``Var(y) = mu (1 + alpha)`` (Stata ``nbreg, dispersion(constant)``).

Per observation, with ``mu = exp(X @ beta + offset + log(exposure))`` and ``size = mu / alpha``::

    lgamma(y + size) - lgamma(size) - lgamma(y + 1) - size log(1 + alpha) + y (log(alpha) - log(1 + alpha))

as statsmodels ``NegativeBinomial(loglike_method="nb1")`` (``alpha`` itself is the parameter; its
Hessian is analytic). Post-estimation defaults as Poisson/NB2: ``res.margins()`` of ``exp(X beta)``
and ``res.lr_test_null()`` fixing every slope at 0 (``alpha`` free).
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


class NB1Params(NamedTuple):
    """NB1 parameters: coefficients of X, then the dispersion ``alpha`` (> 0).

    Example
    -------
    >>> NB1Params(beta=np.zeros(2), alpha=0.5)
    NB1Params(beta=array([0., 0.]), alpha=0.5)
    """

    beta: Any
    alpha: Any


@trusted
def nb1_loglike(params: NB1Params, data: dict) -> jnp.ndarray:
    """Per-observation NB1 log-likelihood (statsmodels' ``nb1`` parametrisation).

    Example
    -------
    >>> data = {"X": np.ones((1, 1)), "y": np.array([0.0]), "offset": np.zeros(1)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = nb1_loglike(NB1Params(np.array([0.0]), 1.0), data)
    >>> np.asarray(out).round(6).tolist()  # mu = 1, alpha = 1: P(0) = 1/2
    [-0.693147]
    """
    return nb1_obs({"beta": data["X"] @ params.beta}, {"alpha": params.alpha}, data)


@trusted
def nb1_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The NB1 log-likelihood as a function of ``eta["beta"] = X @ beta`` (offset added here) and
    ``extra["alpha"]`` (the index form).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = nb1_obs({"beta": np.zeros(1)}, {"alpha": 1.0}, {"y": np.array([0.0]), "offset": np.zeros(1)})
    >>> np.asarray(out).round(6).tolist()
    [-0.693147]
    """
    y, alpha = data["y"], extra["alpha"]
    size = jnp.exp(eta["beta"] + data["offset"]) / alpha
    log1p_a = jnp.log1p(alpha)
    return (jsp.gammaln(y + size) - jsp.gammaln(size) - jsp.gammaln(y + 1.0)
            - size * log1p_a + y * (jnp.log(alpha) - log1p_a))


@weighted
def nb1_model(y: Any, X: Any, *, offset: Any = None, exposure: Any = None, names: Sequence[str] | None = None,
              description: dict | None = None) -> Model:
    """NB1 regression of counts ``y`` on ``X``: ``Var(y) = mu (1 + alpha)``; parameters ``beta`` then ``alpha``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie").iloc[:2000]
    >>> res = nb1_model(df["mdvis"], df[["lncoins", "idp"]].assign(const=1.0)).fit()
    >>> res.names[-1], bool(res.params["alpha"] > 0)
    ('alpha', True)
    """
    y, X, names, off, start = count_data(y, X, names, offset, exposure, "nb1")
    model = build(nb1_loglike, NB1Params(start, 1.0), {"y": y, "X": X, "offset": off},
                  {"beta": list(names), "alpha": "alpha"}, count_description("nb1", description, offset, exposure),
                  defaults=index_defaults(X, names, count_predict))
    return with_index_hessian(model, nb1_obs, {"beta": "X"}, check=False)
