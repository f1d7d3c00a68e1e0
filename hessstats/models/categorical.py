"""Categorical outcomes: multinomial logit and ordered logit/probit.

- Multinomial logit (statsmodels ``MNLogit``, analytic Hessian): the first category (sorted, or
  the first level of a categorical) is the base; ``beta`` has one row per other category and
  parameters are named ``"category:term"``, category-major (statsmodels' column order).
- Ordered logit/probit (statsmodels ``OrderedModel``, whose Hessian is by finite differences):
  ``P(y <= j) = F(c_j - x'beta)`` with no constant in ``X``; cutpoints ``c_0 = t_0`` and
  ``c_j = c_{j-1} + exp(t_j)``, so the parameters ``t`` (named ``"a/b"`` for the categories they
  separate) are unconstrained, exactly statsmodels' parametrisation. Probabilities of categories in
  the upper tail are computed from survival functions, and the open-ended categories use finite
  sentinels inside ``jnp.where`` (never +/-inf, which would make the AD Hessian NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.stats as jstats
import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core.compilation import trusted
from hessstats.core.covariance import MeanPart
from hessstats.core.special import expit
from hessstats.errors import DataError, SpecificationError, message
from hessstats.inference.defaults import PostEstimationDefaults
from hessstats.model import Model
from hessstats.models.design import align_rows, build, design, null_fixed, weighted
from hessstats.models.index import with_index_hessian


class MNLogitParams(NamedTuple):
    """``beta[j]``: coefficients of category ``j + 1`` against the base category.

    Example
    -------
    >>> MNLogitParams(beta=np.zeros((2, 3)))  # 3 categories, 3 columns of X
    MNLogitParams(beta=array([[0., 0., 0.],
           [0., 0., 0.]]))
    """

    beta: Any


class OrderedParams(NamedTuple):
    """Coefficients (no constant), then the cutpoint parameters (first cutpoint, log increments).

    Example
    -------
    >>> OrderedParams(beta=np.zeros(2), thresholds=np.array([-1.0, 0.0]))  # cutpoints -1 and 0
    OrderedParams(beta=array([0., 0.]), thresholds=array([-1.,  0.]))
    """

    beta: Any
    thresholds: Any


@trusted
def mnlogit_loglike(params: MNLogitParams, data: dict) -> jnp.ndarray:
    """Per-observation multinomial-logit log-likelihood; ``data["Y"]`` is one-hot ``(n, J)``.

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "Y": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = mnlogit_loglike(MNLogitParams(np.zeros((2, 1))), data)
    >>> np.asarray(out).round(6).tolist()  # log(1/3)
    [-1.098612, -1.098612]
    """
    return mnlogit_obs({"beta": data["X"] @ params.beta.T}, {}, data)


@trusted
def mnlogit_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The multinomial-logit log-likelihood as a function of the ``(n, J-1)`` linear predictors
    ``eta["beta"] = X @ beta.T`` (the multi-index form: the Hessian blocks are ``X' diag(w_jl) X``).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = mnlogit_obs({"beta": np.zeros((1, 2))}, {}, {"Y": np.array([[1.0, 0.0, 0.0]])})
    >>> np.asarray(out).round(6).tolist()  # log(1/3)
    [-1.098612]
    """
    eta = eta["beta"]
    eta = jnp.concatenate([jnp.zeros((eta.shape[0], 1)), eta], axis=1)
    return jnp.sum(data["Y"] * eta, axis=1) - jax.scipy.special.logsumexp(eta, axis=1)


def cutpoints(thresholds: jnp.ndarray) -> jnp.ndarray:
    """Cutpoints ``c`` from the unconstrained parameters: ``c_0 = t_0``, ``c_j = c_{j-1} + exp(t_j)``.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = cutpoints(jnp.array([-1.0, 0.0, np.log(2.0)]))
    >>> np.asarray(out).round(6).tolist()
    [-1.0, 0.0, 2.0]
    """
    return jnp.cumsum(jnp.concatenate([thresholds[:1], jnp.exp(thresholds[1:])]))


def _ordered(params: OrderedParams, data: dict, cdf) -> jnp.ndarray:
    return _ordered_obs({"beta": data["X"] @ params.beta}, {"thresholds": params.thresholds}, data, cdf)


def _ordered_obs(eta: dict, extra: dict, data: dict, cdf) -> jnp.ndarray:
    y = data["y"]
    cut = cutpoints(extra["thresholds"])
    top = y == cut.shape[0]
    bottom = y == 0
    padded = jnp.concatenate([cut[:1], cut, cut[-1:]])  # finite sentinels for the open ends
    xb = eta["beta"]
    upper, lower = padded[y + 1] - xb, padded[y] - xb
    by_cdf = jnp.where(top, 1.0, cdf(upper)) - jnp.where(bottom, 0.0, cdf(lower))
    by_sf = jnp.where(bottom, 1.0, cdf(-lower)) - jnp.where(top, 0.0, cdf(-upper))
    use_sf = top | ((lower > 0) & ~bottom)
    return jnp.log(jnp.where(use_sf, by_sf, by_cdf))


def ordered_probabilities(params: OrderedParams, X: Any, cdf: Any) -> jnp.ndarray:
    """``(n, J)`` category probabilities ``F(c_j - x'b) - F(c_{j-1} - x'b)`` of an ordered model.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = ordered_probabilities(OrderedParams(np.zeros(1), np.array([0.0])), np.zeros((1, 1)), jax.nn.sigmoid)
    >>> np.asarray(out).round(6).tolist()
    [[0.5, 0.5]]
    """
    xb = X @ params.beta
    upper = cdf(cutpoints(params.thresholds)[None, :] - xb[:, None])  # (n, J-1)
    ones = jnp.ones((xb.shape[0], 1))
    return jnp.concatenate([upper, ones], axis=1) - jnp.concatenate([0.0 * ones, upper], axis=1)


@trusted
def ordered_logit_loglike(params: OrderedParams, data: dict) -> jnp.ndarray:
    """Per-observation ordered-logit log-likelihood (integer codes ``data["y"]`` in 0..J-1).

    Example
    -------
    >>> data = {"X": np.zeros((2, 1)), "y": np.array([0, 1])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = ordered_logit_loglike(OrderedParams(np.zeros(1), np.array([0.0])), data)
    >>> np.asarray(out).round(6).tolist()  # log(1/2)
    [-0.693147, -0.693147]
    """
    return _ordered(params, data, expit)


@trusted
def ordered_probit_loglike(params: OrderedParams, data: dict) -> jnp.ndarray:
    """Per-observation ordered-probit log-likelihood.

    Example
    -------
    >>> data = {"X": np.zeros((2, 1)), "y": np.array([0, 1])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = ordered_probit_loglike(OrderedParams(np.zeros(1), np.array([0.0])), data)
    >>> np.asarray(out).round(6).tolist()  # log Phi(0)
    [-0.693147, -0.693147]
    """
    return _ordered(params, data, jstats.norm.cdf)


@trusted
def ordered_logit_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The ordered-logit log-likelihood as a function of ``eta["beta"] = X @ beta`` and the
    cutpoint parameters ``extra["thresholds"]`` (the index form).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = ordered_logit_obs({"beta": np.zeros(2)}, {"thresholds": jnp.array([0.0])}, {"y": np.array([0, 1])})
    >>> np.asarray(out).round(6).tolist()
    [-0.693147, -0.693147]
    """
    return _ordered_obs(eta, extra, data, expit)


@trusted
def ordered_probit_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The ordered-probit log-likelihood in index form (as :func:`ordered_logit_obs`).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = ordered_probit_obs({"beta": np.zeros(2)}, {"thresholds": jnp.array([0.0])}, {"y": np.array([0, 1])})
    >>> np.asarray(out).round(6).tolist()
    [-0.693147, -0.693147]
    """
    return _ordered_obs(eta, extra, data, jstats.norm.cdf)


def _categories(y: Any, n: int, minimum: int, what: str) -> tuple[np.ndarray, list]:
    series = pd.Series(np.asarray(y) if not isinstance(y, pd.Series) else y).reset_index(drop=True)
    if len(series) != n:
        raise DataError(message(f"{what} outcome has the wrong length", expected=f"{n} values",
                                got=f"{len(series)}", fix="pass one outcome per row of X"))
    if series.isna().any():
        raise DataError(message(f"{what} outcome has missing values", expected="no missing values",
                                got=f"{int(series.isna().sum())} missing of {n}",
                                fix="drop those rows (formula interface: missing='drop')"))
    if pd.api.types.is_float_dtype(series.dtype) and np.all(series == np.round(series)):
        series = series.astype(np.int64)  # labels 0, 1, ... rather than 0.0, 1.0, ...
    cat = series.astype("category") if not isinstance(series.dtype, pd.CategoricalDtype) else series
    cat = cat.cat.remove_unused_categories()
    levels = list(cat.cat.categories)
    if len(levels) < minimum:
        raise DataError(message(f"{what} outcome has too few categories", expected=f"at least {minimum} categories",
                                got=f"{levels}", fix="use a binary model for two categories" if minimum > 2 else
                                "the outcome must vary"))
    return cat.cat.codes.to_numpy().astype(np.int64), levels


@weighted
def mnlogit_model(y: Any, X: Any, *, names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Multinomial logit of a categorical ``y`` on ``X``; the first category is the base.

    Example
    -------
    >>> import numpy as np
    >>> y = np.array(["a", "b", "c", "a", "b", "c", "b", "a"])
    >>> X = np.column_stack([np.ones(8), [0.1, 0.5, 0.9, 0.3, 0.2, 0.8, 0.7, 0.4]])
    >>> mnlogit_model(y, X, names=["const", "x"]).names
    ('b:const', 'b:x', 'c:const', 'c:x')
    """
    y = align_rows(X, y=y)["y"]
    X, names = design(X, names)
    codes, levels = _categories(y, X.shape[0], 2, "mnlogit")
    Y = np.eye(len(levels))[codes]
    desc = {"model": "mnlogit", "formula": None, "categories": [str(c) for c in levels], **(description or {})}
    labels = [f"{c}:{n}" for c in levels[1:] for n in names]
    null = null_fixed(X, labels)
    model = build(mnlogit_loglike, MNLogitParams(np.zeros((len(levels) - 1, X.shape[1]))), {"Y": Y, "X": X},
                  labels, desc, defaults=PostEstimationDefaults(null=null or None, mean=MeanPart(tuple(labels))))
    return with_index_hessian(model, mnlogit_obs, {"beta": "X"}, check=False)


@weighted
def ordered_model(y: Any, X: Any, *, distr: str = "logit", names: Sequence[str] | None = None,
                  description: dict | None = None) -> Model:
    """Ordered logit (``distr="logit"``) or probit (``"probit"``) of an ordinal ``y`` on ``X`` (no constant).

    Categories are ordered as a pandas ordered categorical, else sorted.

    Example
    -------
    >>> import numpy as np
    >>> y = np.array([1, 2, 3, 1, 2, 3, 2, 1])
    >>> X = np.array([[0.1], [0.5], [0.9], [0.3], [0.2], [0.8], [0.7], [0.4]])
    >>> ordered_model(y, X, names=["x"]).names
    ('x', '1/2', '2/3')
    """
    if distr not in ("logit", "probit"):
        raise SpecificationError(message("unknown distr", expected="'logit' or 'probit'", got=repr(distr),
                                         fix="choose distr='logit' or distr='probit'"))
    y = align_rows(X, y=y)["y"]
    X, names = design(X, names)
    const = [n for n, col in zip(names, X.T) if np.all(col == col[0])]
    if const:
        raise SpecificationError(message("an ordered model cannot have a constant column", expected="no constant "
                                         "(the cutpoints play its role)", got=f"constant columns {const}",
                                         fix=f"drop {const} (the formula interface drops 'Intercept' itself)"))
    codes, levels = _categories(y, X.shape[0], 2, f"ordered {distr}")
    cum = np.cumsum(np.bincount(codes, minlength=len(levels)))[:-1] / len(codes)
    ppf = scipy.special.logit if distr == "logit" else scipy.special.ndtri
    cut = ppf(cum)
    thresholds = np.r_[cut[0], np.log(np.diff(cut))]
    loglike = ordered_logit_loglike if distr == "logit" else ordered_probit_loglike
    desc = {"model": f"ordered_{distr}", "formula": None, "categories": [str(c) for c in levels], **(description or {})}
    model = build(loglike, OrderedParams(np.zeros(X.shape[1]), thresholds), {"y": codes, "X": X},
                  {"beta": list(names), "thresholds": [f"{a}/{b}" for a, b in zip(levels[:-1], levels[1:])]}, desc,
                  defaults=PostEstimationDefaults(null={n: 0.0 for n in names},
                                                  mean=MeanPart(tuple(str(n) for n in names), design="X")))
    obs = ordered_logit_obs if distr == "logit" else ordered_probit_obs
    return with_index_hessian(model, obs, {"beta": "X"}, check=False)
