"""Hurdle count models: a binary model for ``y > 0`` and a zero-truncated Poisson or NB2 for the
positive counts (Mullahy 1986; R ``pscl::hurdle``; statsmodels ``HurdleCountModel``).

Per observation, with ``p = P(y > 0) = F(Z @ gamma)`` and the zero-truncated count log-likelihood
``ll_trunc`` of :mod:`hessstats.models.truncated`::

    y = 0:  log(1 - p)          y > 0:  log(p) + ll_trunc(y; X @ beta [, alpha])

The zero link ``F`` is a :class:`ZeroLink`: ``LOGIT`` (R pscl's default ``zero.dist="binomial"``),
``PROBIT``, or ``CLOGLOG``: ``p = 1 - exp(-exp(Z gamma))``, which is exactly statsmodels' default
``zerodist="poisson"`` hurdle (a Poisson right-censored at 1), with the same parameters. The two
parts share no parameter, so the Hessian is block-diagonal. Parameters are ordered as statsmodels
prints them: the zero part ``zm_<term>``, then the count part, then ``alpha`` (NB2).

Post-estimation defaults: ``res.lr_test_null()`` fixes every slope of both parts at 0 (when both
designs have a constant); when the zero part uses the count design (``Z=None``), ``res.margins()``
differentiates the unconditional mean ``E(y) = p * E(y | y > 0)`` with ``mu = exp(X beta)``.
Offsets and exposure are not supported (nor are they by statsmodels' hurdle model). Before fitting,
:func:`hessstats.models.binary.check_separation` checks the binary part (``y > 0`` on ``Z``).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from hessstats.core.compilation import trusted
from hessstats.core.covariance import MeanPart
from hessstats.core.linalg import least_squares
from hessstats.core.special import log_expit, log_ndtr
from hessstats.errors import DataError, message
from hessstats.inference.defaults import PostEstimationDefaults
from hessstats.model import Model
from hessstats.models.binary import check_separation
from hessstats.models.count import NB2Params, PoissonParams
from hessstats.models.design import WithOptions, align_rows, build, constant_columns, design, null_fixed, outcome, require, weighted
from hessstats.models.index import with_index_hessian
from hessstats.models.truncated import (
    truncated_negbin_loglike,
    truncated_negbin_obs,
    truncated_poisson_loglike,
    truncated_poisson_obs,
    truncated_predict,
)


class ZeroLink(enum.Enum):
    """Link of the hurdle's binary part, ``P(y > 0) = F(Z gamma)``.

    Example
    -------
    >>> ZeroLink("cloglog")
    <ZeroLink.CLOGLOG: 'cloglog'>
    """

    LOGIT = "logit"
    PROBIT = "probit"
    CLOGLOG = "cloglog"


class HurdleParams(NamedTuple):
    """Hurdle Poisson parameters: zero-part coefficients, then count coefficients.

    Example
    -------
    >>> HurdleParams(zero=np.zeros(1), beta=np.zeros(2))
    HurdleParams(zero=array([0.]), beta=array([0., 0.]))
    """

    zero: Any
    beta: Any


class HurdleNBParams(NamedTuple):
    """Hurdle NB2 parameters: zero-part coefficients, count coefficients, then ``alpha`` (> 0).

    Example
    -------
    >>> HurdleNBParams(zero=np.zeros(1), beta=np.zeros(1), alpha=1.0)
    HurdleNBParams(zero=array([0.]), beta=array([0.]), alpha=1.0)
    """

    zero: Any
    beta: Any
    alpha: Any


def _log_positive(link: ZeroLink, g: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(log P(y = 0), log P(y > 0))`` at the zero-part index ``g``."""
    if link is ZeroLink.LOGIT:
        return log_expit(-g), log_expit(g)
    if link is ZeroLink.PROBIT:
        return log_ndtr(-g), log_ndtr(g)
    log_p0 = -jnp.exp(g)
    return log_p0, jnp.where(log_p0 > -0.6931471805599453, jnp.log(-jnp.expm1(log_p0)), jnp.log1p(-jnp.exp(log_p0)))


def _count_part(params: HurdleParams | HurdleNBParams) -> PoissonParams | NB2Params:
    if isinstance(params, HurdleNBParams):
        return NB2Params(params.beta, params.alpha)
    return PoissonParams(params.beta)


@trusted
def hurdle_loglike(params: HurdleParams | HurdleNBParams, data: dict, link: ZeroLink = ZeroLink.LOGIT) -> jnp.ndarray:
    """Per-observation hurdle log-likelihood (Poisson for :class:`HurdleParams`, NB2 for
    :class:`HurdleNBParams`); ``data["Z"]`` is the zero design, ``data["X"]`` when absent.

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "y": np.array([0.0, 1.0]), "offset": np.zeros(2)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = hurdle_loglike(HurdleParams(np.array([0.0]), np.array([0.0])), data)
    >>> np.asarray(out).round(6).tolist()  # log(1/2), log(1/2) + log(e^-1 / (1 - e^-1))
    [-0.693147, -1.234472]
    """
    y = data["y"]
    log_p0, log_pos = _log_positive(link, data.get("Z", data["X"]) @ params.zero)
    count = _count_part(params)
    ll_count = (truncated_negbin_loglike(count, data) if isinstance(count, NB2Params)
                else truncated_poisson_loglike(count, data))
    return jnp.where(y == 0, log_p0, log_pos + jnp.where(y == 0, 0.0, ll_count))


@trusted
def hurdle_obs(eta: dict, extra: dict, data: dict, link: ZeroLink = ZeroLink.LOGIT) -> jnp.ndarray:
    """The hurdle log-likelihood as a function of its two linear predictors, ``eta["zero"] = Z @ zero``
    and ``eta["beta"] = X @ beta``, and ``extra["alpha"]`` (NB2; absent: Poisson): the index form.

    Example
    -------
    >>> import jax
    >>> data = {"y": np.array([0.0, 2.0]), "offset": np.zeros(2)}
    >>> with jax.enable_x64(True):
    ...     out = hurdle_obs({"zero": np.zeros(2), "beta": np.zeros(2)}, {}, data)
    >>> np.asarray(out).round(6).tolist()  # log(1/2); log(1/2) + log(e^-1 / 2) - log(1 - e^-1)
    [-0.693147, -1.927619]
    """
    y = data["y"]
    log_p0, log_pos = _log_positive(link, eta["zero"])
    count = {"beta": eta["beta"]}
    ll_count = truncated_negbin_obs(count, extra, data) if "alpha" in extra else truncated_poisson_obs(count, {}, data)
    return jnp.where(y == 0, log_p0, log_pos + jnp.where(y == 0, 0.0, ll_count))


def hurdle_predict(params: HurdleParams | HurdleNBParams, data: dict, link: ZeroLink = ZeroLink.LOGIT) -> jnp.ndarray:
    """``E(y) = P(y > 0) E(y | y > 0)`` with ``mu = exp(X beta)``: the prediction behind
    ``res.margins()`` for hurdle models whose zero part uses the count design.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = hurdle_predict(HurdleParams(np.array([0.0]), np.array([0.0])), {"X": np.ones((1, 1))})
    >>> np.asarray(out).round(6).tolist()  # 1/2 * 1 / (1 - exp(-1))
    [0.790988]
    """
    _, log_pos = _log_positive(link, data.get("Z", data["X"]) @ params.zero)
    return jnp.exp(log_pos) * truncated_predict(_count_part(params), data)


def _hurdle(y: Any, X: Any, Z: Any, names: Sequence[str] | None, zero_names: Sequence[str] | None,
            link: ZeroLink | str, negbin: bool, description: dict | None) -> Model:
    link = ZeroLink(link)
    kind = "hurdle_negbin" if negbin else "hurdle_poisson"
    rows = align_rows(X, y=y, Z=Z)
    Z = rows["Z"]
    X, names = design(X, names)
    y = outcome(rows["y"], X.shape[0])
    require((y >= 0) & (y == np.round(y)), y, what=f"{kind} outcome y", expected="non-negative integer counts",
            fix="counts must be 0, 1, 2, ...")
    positive = y > 0
    if positive.all() or not positive.any():
        raise DataError(message(f"{kind} needs both zero and positive counts", expected="some y = 0 and some y > 0",
                                got=f"{int((~positive).sum())} zeros among {y.size} counts",
                                fix="use hs.truncated_poisson / hs.truncated_negbin when no zeros can occur"))
    data: dict[str, Any] = {"y": y, "X": X, "offset": np.zeros(y.size)}
    if Z is None:
        Zm, zero_names = X, names
    else:
        Zm, zero_names = design(Z, zero_names, what="Z (zero-part design)")
        if Zm.shape[0] != X.shape[0]:
            raise DataError(message("Z and X have different numbers of rows", expected=f"{X.shape[0]} rows in Z",
                                    got=f"{Zm.shape[0]} rows", fix="build Z from the same observations as X"))
        data["Z"] = Zm
    check_separation(positive.astype(float), Zm, [f"zm_{n}" for n in zero_names])  # the binary part's MLE
    # count start: least squares of log(y) on X over the positive counts
    start = least_squares(X[positive], np.log(y[positive]))
    # zero start: every row at the sample share of positive counts
    share = positive.mean()
    g0 = {ZeroLink.LOGIT: np.log(share / (1 - share)), ZeroLink.PROBIT: 0.0,
          ZeroLink.CLOGLOG: np.log(-np.log1p(-share))}[link]
    zero_start = least_squares(Zm, np.full(y.size, g0))
    zm_names = [f"zm_{n}" for n in zero_names]
    param_names: dict[str, Any] = {"zero": zm_names, "beta": list(names)}
    start_params: HurdleParams | HurdleNBParams = HurdleParams(zero_start, start)
    if negbin:
        param_names["alpha"] = "alpha"
        start_params = HurdleNBParams(zero_start, start, 1.0)
    null = None
    if constant_columns(Zm).any() and constant_columns(X).any():
        null = {**null_fixed(Zm, zm_names), **null_fixed(X, names)} or None
    defaults = PostEstimationDefaults(null=null)
    if Z is None:
        const = constant_columns(X)
        defaults = PostEstimationDefaults(null=null, predict=WithOptions(hurdle_predict, (link,)),
                                          margins_variables={str(n): ("X", j) for j, n in enumerate(names)
                                                             if not const[j]})
    # the mean part: both indices (zero and count); two indices, so no leverage
    defaults = dataclasses.replace(defaults, mean=MeanPart(tuple(zm_names) + tuple(str(n) for n in names)))
    model = build(WithOptions(hurdle_loglike, (link,)), start_params, data, param_names,
                  {"model": kind, "formula": None, "link": link.value, **(description or {})}, defaults=defaults)
    return with_index_hessian(model, WithOptions(hurdle_obs, (link,)),
                              {"zero": "X" if Z is None else "Z", "beta": "X"}, check=False)


@weighted
def hurdle_poisson_model(y: Any, X: Any, Z: Any = None, *, link: ZeroLink | str = ZeroLink.LOGIT,
                         names: Sequence[str] | None = None, zero_names: Sequence[str] | None = None,
                         description: dict | None = None) -> Model:
    """Hurdle Poisson: ``P(y > 0)`` from ``Z`` (default: ``X``) with ``link``, positive counts from a
    zero-truncated Poisson on ``X``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie").iloc[:2000]
    >>> res = hurdle_poisson_model(df["mdvis"], df[["lncoins", "idp"]].assign(const=1.0)).fit()
    >>> res.names
    ('zm_lncoins', 'zm_idp', 'zm_const', 'lncoins', 'idp', 'const')
    """
    return _hurdle(y, X, Z, names, zero_names, link, False, description)


@weighted
def hurdle_negbin_model(y: Any, X: Any, Z: Any = None, *, link: ZeroLink | str = ZeroLink.LOGIT,
                        names: Sequence[str] | None = None, zero_names: Sequence[str] | None = None,
                        description: dict | None = None) -> Model:
    """Hurdle NB2: as :func:`hurdle_poisson_model` with a zero-truncated NB2 count part (last parameter ``alpha``).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie").iloc[:2000]
    >>> res = hurdle_negbin_model(df["mdvis"], df[["lncoins", "idp"]].assign(const=1.0), link="cloglog").fit()
    >>> res.names[-1], bool(res.params["alpha"] > 0)
    ('alpha', True)
    """
    return _hurdle(y, X, Z, names, zero_names, link, True, description)
