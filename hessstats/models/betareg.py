"""Beta regression with a precision sub-model (Ferrari & Cribari-Neto 2004; R ``betareg(y ~ x | z)``;
statsmodels ``BetaModel``).

For ``0 < y < 1``, ``mu = expit(X @ beta)`` and precision ``phi = exp(Z @ gamma)`` (``Z`` a constant
unless given), per observation::

    lgamma(phi) - lgamma(mu phi) - lgamma((1 - mu) phi) + (mu phi - 1) log(y) + ((1 - mu) phi - 1) log(1 - y)

so that ``E(y) = mu`` and ``Var(y) = mu (1 - mu) / (1 + phi)``. Parameter names as statsmodels
prints them: the mean coefficients, then ``precision`` (constant precision) or ``precision-<term>``.

Post-estimation defaults: ``res.margins()`` differentiates ``E(y) = expit(X beta)`` in every
non-constant column of ``X``; ``res.lr_test_null()`` fixes every slope of both sub-models at 0
(statsmodels' ``llnull`` drops the precision regressors too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

from hessstats.core.compilation import trusted
from hessstats.core.covariance import MeanPart
from hessstats.core.linalg import least_squares
from hessstats.core.special import expit
from hessstats.errors import DataError, message
from hessstats.inference.defaults import PostEstimationDefaults
from hessstats.model import Model
from hessstats.models.design import align_rows, build, constant_columns, design, index_defaults, null_fixed, outcome, require, weighted
from hessstats.models.index import with_index_hessian


class BetaParams(NamedTuple):
    """Beta regression parameters: mean coefficients (logit link), then precision coefficients (log link).

    Example
    -------
    >>> BetaParams(beta=np.zeros(2), precision=np.zeros(1))
    BetaParams(beta=array([0., 0.]), precision=array([0.]))
    """

    beta: Any
    precision: Any


@trusted
def betareg_loglike(params: BetaParams, data: dict) -> jnp.ndarray:
    """Per-observation beta regression log-likelihood.

    Example
    -------
    >>> data = {"X": np.ones((1, 1)), "Z": np.ones((1, 1)), "y": np.array([0.5])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = betareg_loglike(BetaParams(np.array([0.0]), np.array([np.log(2.0)])), data)
    >>> np.asarray(out).round(6).tolist()  # mu = 1/2, phi = 2: the uniform density
    [0.0]
    """
    return betareg_obs({"beta": data["X"] @ params.beta, "precision": data["Z"] @ params.precision}, {}, data)


@trusted
def betareg_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The beta-regression log-likelihood as a function of its two linear predictors,
    ``eta["beta"] = X @ beta`` (logit mean) and ``eta["precision"] = Z @ precision`` (log precision):
    the index form.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = betareg_obs({"beta": np.zeros(1), "precision": np.log(np.array([2.0]))}, {}, {"y": np.array([0.5])})
    >>> np.asarray(out).round(6).tolist()  # Beta(1, 1) density at 0.5
    [0.0]
    """
    y = data["y"]
    mu = expit(eta["beta"])
    phi = jnp.exp(eta["precision"])
    a, b = mu * phi, (1.0 - mu) * phi
    return (jsp.gammaln(phi) - jsp.gammaln(a) - jsp.gammaln(b)
            + (a - 1.0) * jnp.log(y) + (b - 1.0) * jnp.log1p(-y))


def betareg_predict(params: BetaParams, data: dict) -> jnp.ndarray:
    """``E(y) = expit(X beta)``: the prediction behind ``res.margins()`` for beta regression.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = betareg_predict(BetaParams(np.array([0.0]), np.array([1.0])), {"X": np.ones((1, 1))})
    >>> np.asarray(out).round(6).tolist()
    [0.5]
    """
    return expit(data["X"] @ params.beta)


@weighted
def betareg_model(y: Any, X: Any, Z: Any = None, *, names: Sequence[str] | None = None,
                  precision_names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Beta regression of proportions ``0 < y < 1`` on ``X`` (logit mean), precision from ``Z`` (log link;
    default a constant, named ``precision``; otherwise ``precision-<column>`` as statsmodels).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("star98")
    >>> share = df["NABOVE"] / (df["NABOVE"] + df["NBELOW"])
    >>> res = betareg_model(share, df[["LOWINC", "PERASIAN"]].assign(const=1.0)).fit()
    >>> res.names
    ('LOWINC', 'PERASIAN', 'const', 'precision')
    """
    Z = align_rows(X, y=y, Z=Z)["Z"]
    y = align_rows(X, y=y)["y"]
    X, names = design(X, names)
    y = outcome(y, X.shape[0])
    require((y > 0) & (y < 1), y, what="beta regression outcome y", expected="proportions strictly between 0 and 1",
            fix="transform boundary values, e.g. (y (n - 1) + 0.5) / n (Smithson & Verkuilen 2006), or use hs.binomial")
    if Z is None:
        Zm, precision_labels = np.ones((X.shape[0], 1)), ["precision"]
    else:
        Zm, zero_names = design(Z, precision_names, what="Z (precision design)")
        if Zm.shape[0] != X.shape[0]:
            raise DataError(message("Z and X have different numbers of rows", expected=f"{X.shape[0]} rows in Z",
                                    got=f"{Zm.shape[0]} rows", fix="build Z from the same observations as X"))
        precision_labels = [f"precision-{n}" for n in zero_names]
    # starts: least squares of logit(y) on X; constant precision by the method of moments
    beta0 = least_squares(X, np.log(y / (1 - y)))
    mu0 = 1 / (1 + np.exp(-X @ beta0))
    phi0 = max(np.mean(mu0 * (1 - mu0)) / max(np.var(y - mu0), 1e-12) - 1.0, 1.0)
    gamma0 = least_squares(Zm, np.full(X.shape[0], np.log(phi0)))
    null = index_defaults(X, names, betareg_predict)
    if constant_columns(Zm).any() and null.null:
        null = PostEstimationDefaults(null={**null.null, **null_fixed(Zm, precision_labels)}, predict=null.predict,
                                      margins_variables=null.margins_variables)
    # the mean part is the coefficients on X; a precision design Z is a second index (no leverage)
    null = dataclasses.replace(null, mean=MeanPart(tuple(str(n) for n in names), design="X" if Z is None else None))
    model = build(betareg_loglike, BetaParams(beta0, gamma0), {"y": y, "X": X, "Z": Zm},
                  {"beta": list(names), "precision": precision_labels},
                  {"model": "betareg", "formula": None, **(description or {})}, defaults=null)
    return with_index_hessian(model, betareg_obs, {"beta": "X", "precision": "Z"}, check=False)
