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
  ``inflation_link="probit"`` makes ``w = Phi(Z @ gamma)`` (statsmodels ``inflation="probit"``).
- zero-inflated NB2 (``hs.zinb``): as ZIP with the NB2 count part; parameters ``beta``, ``inflate_*``,
  then ``alpha`` (statsmodels ``ZeroInflatedNegativeBinomialP(p=2)`` orders inflation, count, alpha).

Built-in post-estimation defaults (``Model.defaults``), Poisson and NB2: ``res.margins()`` gives
dy/dx of ``exp(X beta)`` for every non-constant column, the mean per unit of exposure with the
offset left out, as statsmodels ``get_margeff()`` (for Stata's ``predict(n)``, counts including the
exposure, pass ``predict=lambda p, d: jnp.exp(d["X"] @ p.beta + d["offset"])``); ``res.lr_test_null()``
fixes every slope at 0 when ``X`` has a constant (``alpha`` stays free; statsmodels ``llnull``).

Before fitting Poisson and NB2, :func:`check_existence` warns (``SeparationWarning``, naming the
variables) when the MLE does not exist because some zero counts can be fitted as ``mu -> 0``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core.compilation import trusted
from hessstats.core.covariance import Dispersion, MeanPart
from hessstats.core.linalg import least_squares
from hessstats.core.special import log_expit, log_ndtr, softplus
from hessstats.errors import DataError, SeparationWarning, message, warn
from hessstats.inference.defaults import PostEstimationDefaults
from hessstats.model import Model
from hessstats.models.binary import (
    NEWTON_CERTIFICATE_CELLS,
    SCREEN_ROWS,
    SEPARATION_TOL,
    newton_overlap_certificate,
    overlap_certified,
)
from hessstats.models.design import (
    WithOptions,
    align_rows,
    build,
    design,
    index_defaults,
    outcome,
    require,
    sparse_direction,
    vector_option,
    weighted,
)
from hessstats.models.index import with_index_hessian


class PoissonParams(NamedTuple):
    """Poisson parameters: coefficients of X.

    Example
    -------
    >>> PoissonParams(beta=np.zeros(3))
    PoissonParams(beta=array([0., 0., 0.]))
    """

    beta: Any


class NB2Params(NamedTuple):
    """NB2 parameters: coefficients of X, then the dispersion ``alpha`` (> 0).

    Example
    -------
    >>> NB2Params(beta=np.zeros(2), alpha=0.5)
    NB2Params(beta=array([0., 0.]), alpha=0.5)
    """

    beta: Any
    alpha: Any


class ZIPParams(NamedTuple):
    """Zero-inflated Poisson: count coefficients, then the logit inflation coefficients.

    Example
    -------
    >>> ZIPParams(beta=np.zeros(2), inflate=np.zeros(1))
    ZIPParams(beta=array([0., 0.]), inflate=array([0.]))
    """

    beta: Any
    inflate: Any


class InflationLink(enum.Enum):
    """Link of the zero-inflation probability ``w`` of ZIP/ZINB (statsmodels ``inflation=``).

    Example
    -------
    >>> InflationLink("probit")
    <InflationLink.PROBIT: 'probit'>
    """

    LOGIT = "logit"
    PROBIT = "probit"


class ZINBParams(NamedTuple):
    """Zero-inflated NB2: count coefficients, inflation coefficients, then ``alpha``.

    Example
    -------
    >>> ZINBParams(beta=np.zeros(1), inflate=np.zeros(1), alpha=1.0)
    ZINBParams(beta=array([0.]), inflate=array([0.]), alpha=1.0)
    """

    beta: Any
    inflate: Any
    alpha: Any


def _log_inflation(g: jnp.ndarray, link: InflationLink) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(log w, log(1 - w))`` at the inflation index ``g``."""
    if link is InflationLink.PROBIT:
        return log_ndtr(g), log_ndtr(-g)
    return log_expit(g), log_expit(-g)


@trusted
def poisson_loglike(params: PoissonParams, data: dict) -> jnp.ndarray:
    """Per-observation Poisson log-likelihood with offset (log exposure already added).

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "y": np.array([0.0, 2.0]), "offset": np.zeros(2)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = poisson_loglike(PoissonParams(np.array([0.0])), data)
    >>> np.asarray(out).round(6).tolist()  # -1 and -1 - log 2
    [-1.0, -1.693147]
    """
    return poisson_obs({"beta": data["X"] @ params.beta}, {}, data)


@trusted
def poisson_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The Poisson log-likelihood as a function of ``eta["beta"] = X @ beta`` (offset added here):
    the index form, whose Hessian is assembled as ``X' diag(w) X``.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = poisson_obs({"beta": np.zeros(2)}, {}, {"y": np.array([0.0, 2.0]), "offset": np.zeros(2)})
    >>> np.asarray(out).round(6).tolist()
    [-1.0, -1.693147]
    """
    e = eta["beta"] + data["offset"]
    return data["y"] * e - jnp.exp(e) - jsp.gammaln(data["y"] + 1.0)


@trusted
def nb2_loglike(params: NB2Params, data: dict) -> jnp.ndarray:
    """Per-observation NB2 log-likelihood (statsmodels' parametrisation, ``alpha`` > 0).

    Example
    -------
    >>> data = {"X": np.ones((1, 1)), "y": np.array([0.0]), "offset": np.zeros(1)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = nb2_loglike(NB2Params(np.array([0.0]), 1.0), data)
    >>> np.asarray(out).round(6).tolist()  # log(1/2): geometric, mu = 1
    [-0.693147]
    """
    return nb2_obs({"beta": data["X"] @ params.beta}, {"alpha": params.alpha}, data)


@trusted
def nb2_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The NB2 log-likelihood as a function of ``eta["beta"] = X @ beta`` and ``extra["alpha"]``
    (the index form, with ``alpha`` as its extra parameter).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = nb2_obs({"beta": np.zeros(1)}, {"alpha": 1.0}, {"y": np.array([0.0]), "offset": np.zeros(1)})
    >>> np.asarray(out).round(6).tolist()
    [-0.693147]
    """
    alpha = extra["alpha"]
    y, e = data["y"], eta["beta"] + data["offset"]
    size = 1.0 / alpha
    log_1p_amu = softplus(jnp.log(alpha) + e)  # log(1 + alpha * mu)
    return (jsp.gammaln(y + size) - jsp.gammaln(size) - jsp.gammaln(y + 1.0)
            - size * log_1p_amu + y * (jnp.log(alpha) + e - log_1p_amu))


def poisson_weights(params: PoissonParams, data: dict) -> np.ndarray:
    """Fisher (IRLS) weights of the Poisson GLM with log link: ``mu = exp(X beta + offset)``.

    Example
    -------
    >>> poisson_weights(PoissonParams(np.array([0.0])), {"X": np.ones((2, 1)), "offset": np.log([1.0, 2.0])}).tolist()
    [1.0, 2.0]
    """
    return np.exp(np.asarray(data["X"]) @ np.asarray(params.beta) + np.asarray(data["offset"]))


def poisson_pearson_residuals(params: PoissonParams, data: dict) -> np.ndarray:
    """Pearson residuals ``(y - mu) / sqrt(mu)``: ``cov_options={"dispersion": "pearson"}`` scales
    the Poisson covariance by their sum of squares over ``n - k`` (R ``quasipoisson``, statsmodels
    ``GLM(..., Poisson()).fit(scale="X2")``, Stata ``glm, family(poisson) scale(x2)``).

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "offset": np.zeros(2), "y": np.array([0.0, 4.0])}
    >>> poisson_pearson_residuals(PoissonParams(np.array([0.0])), data).tolist()
    [-1.0, 3.0]
    """
    mu = poisson_weights(params, data)
    return (np.asarray(data["y"]) - mu) / np.sqrt(mu)


def count_predict(params: PoissonParams | NB2Params, data: dict) -> jnp.ndarray:
    """``exp(X beta)``, the mean per unit of exposure (offset excluded): the prediction behind
    ``res.margins()`` for Poisson and NB2, as statsmodels' ``get_margeff`` (its ``_derivative_exog``
    predicts from ``exog`` alone).

    Example
    -------
    >>> data = {"X": np.array([[1.0, 0.0], [1.0, 1.0]]), "offset": np.log([10.0, 10.0])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = count_predict(PoissonParams(np.array([0.0, np.log(2.0)])), data)
    >>> np.asarray(out).round(6).tolist()  # offset ignored
    [1.0, 2.0]
    """
    return jnp.exp(data["X"] @ params.beta)


@trusted
def zip_loglike(params: ZIPParams, data: dict, link: InflationLink = InflationLink.LOGIT) -> jnp.ndarray:
    """Per-observation zero-inflated Poisson log-likelihood (logit inflation unless ``link``).

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "Z": np.ones((2, 1)), "y": np.array([0.0, 1.0]), "offset": np.zeros(2)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = zip_loglike(ZIPParams(np.array([0.0]), np.array([0.0])), data)
    >>> np.asarray(out).round(6).tolist()
    [-0.379885, -1.693147]
    """
    return zip_obs({"beta": data["X"] @ params.beta, "inflate": data["Z"] @ params.inflate}, {}, data, link)


@trusted
def zip_obs(eta: dict, extra: dict, data: dict, link: InflationLink = InflationLink.LOGIT) -> jnp.ndarray:
    """The zero-inflated Poisson log-likelihood as a function of its two linear predictors,
    ``eta["beta"] = X @ beta`` (offset added here) and ``eta["inflate"] = Z @ inflate`` (the index
    form: the Hessian blocks are ``X' diag(w) X``, ``X' diag(w) Z`` and ``Z' diag(w) Z``).

    Example
    -------
    >>> import jax
    >>> data = {"y": np.array([0.0, 1.0]), "offset": np.zeros(2)}
    >>> with jax.enable_x64(True):
    ...     out = zip_obs({"beta": np.zeros(2), "inflate": np.zeros(2)}, {}, data)
    >>> np.asarray(out).round(6).tolist()
    [-0.379885, -1.693147]
    """
    y = data["y"]
    eta, g = eta["beta"] + data["offset"], eta["inflate"]
    log_w, log_1mw = _log_inflation(g, link)
    log_pois = y * eta - jnp.exp(eta) - jsp.gammaln(y + 1.0)
    zero = jnp.logaddexp(log_w, log_1mw + log_pois)  # log(w + (1-w) exp(-mu)) at y = 0
    return jnp.where(y == 0, zero, log_1mw + log_pois)


@trusted
def zinb_loglike(params: ZINBParams, data: dict, link: InflationLink = InflationLink.LOGIT) -> jnp.ndarray:
    """Per-observation zero-inflated NB2 log-likelihood.

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "Z": np.ones((2, 1)), "y": np.array([0.0, 1.0]), "offset": np.zeros(2)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = zinb_loglike(ZINBParams(np.array([0.0]), np.array([0.0]), 1.0), data)
    >>> np.asarray(out).round(6).tolist()  # NB2(mu=1, alpha=1) is geometric(1/2): log(1/2 + 1/4), log(1/8)
    [-0.287682, -2.079442]
    """
    return zinb_obs({"beta": data["X"] @ params.beta, "inflate": data["Z"] @ params.inflate},
                    {"alpha": params.alpha}, data, link)


@trusted
def zinb_obs(eta: dict, extra: dict, data: dict, link: InflationLink = InflationLink.LOGIT) -> jnp.ndarray:
    """The zero-inflated NB2 log-likelihood as a function of ``eta["beta"] = X @ beta``,
    ``eta["inflate"] = Z @ inflate`` and ``extra["alpha"]`` (the index form).

    Example
    -------
    >>> import jax
    >>> data = {"y": np.array([0.0]), "offset": np.zeros(1)}
    >>> with jax.enable_x64(True):
    ...     out = zinb_obs({"beta": np.zeros(1), "inflate": np.zeros(1)}, {"alpha": 1.0}, data)
    >>> np.asarray(out).round(6).tolist()  # log(1/2 + 1/2 * 1/2)
    [-0.287682]
    """
    log_w, log_1mw = _log_inflation(eta["inflate"], link)
    log_nb = nb2_obs({"beta": eta["beta"]}, extra, data)
    zero = jnp.logaddexp(log_w, log_1mw + log_nb)
    return jnp.where(data["y"] == 0, zero, log_1mw + log_nb)


def check_existence(y: np.ndarray, X: np.ndarray, names: Sequence[str]) -> None:
    """Warn when the Poisson/NB2 MLE does not exist (Santos Silva & Tenreyro 2010, *Economics
    Letters* 107: some ``b != 0`` has ``x_i'b = 0`` where ``y_i > 0`` and ``x_i'b <= 0`` where
    ``y_i = 0``, strictly for some): those zero counts are fitted as ``mu -> 0`` and the
    coefficients of the named variables diverge. Found by linear programming (scipy ``linprog``);
    small designs first seek a certificate of existence on all rows by Newton steps
    (:func:`~hessstats.models.binary.newton_overlap_certificate`), and with many rows one on a
    subsample is tried (:func:`~hessstats.models.binary.overlap_certified`); the programme on all
    rows runs only when they fail.

    Example
    -------
    >>> import warnings
    >>> X = np.column_stack([np.ones(6), [0, 0, 0, 0, 1, 1.0]])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_existence(np.array([1, 3, 0, 2, 0, 0.0]), X, ["const", "d"])
    >>> "['d']" in str(caught[0].message)
    True
    """
    zero = y == 0
    if not zero.any() or zero.all():
        return
    scale = np.maximum(np.max(X, axis=0), -np.min(X, axis=0))  # max |x| without an (n, k) temporary
    n, k = X.shape
    Xs = None
    if n * k <= NEWTON_CERTIFICATE_CELLS or n < 2 * max(SCREEN_ROWS, 40 * k):  # a certificate on all rows
        Xs = X / scale
        if newton_overlap_certificate(-Xs[zero], Xs[~zero]):
            return
    if overlap_certified(X, scale, lambda rows: -X[rows[zero[rows]]] / scale,
                         lambda rows: X[rows[~zero[rows]]] / scale):
        return
    if Xs is None:
        Xs = X / scale
    neg = -Xs[zero]  # want neg @ b >= 0, with equality rows Xs[~zero] @ b == 0
    out = scipy.optimize.linprog(-neg.sum(axis=0), A_ub=-neg, b_ub=np.zeros(len(neg)), A_eq=Xs[~zero],
                                 b_eq=np.zeros(int((~zero).sum())), bounds=[(-1.0, 1.0)] * X.shape[1], method="highs")
    if out.status != 0 or -out.fun <= SEPARATION_TOL:
        return
    rows = neg @ out.x > SEPARATION_TOL
    b = sparse_direction(neg, rows, out.x, equal=Xs[~zero])
    variables = [names[j] for j in np.flatnonzero(np.abs(b) > 1e-6 * np.abs(b).max())]
    warn(f"the maximum-likelihood estimates do not exist: a linear combination of {variables} is zero for every "
         f"positive count and negative for {int(rows.sum())} zero counts, which are fitted as mean -> 0 while those "
         "coefficients diverge (Santos Silva & Tenreyro 2010). Drop those observations or variables (e.g. a dummy "
         "whose group has only zeros).", SeparationWarning)


def count_data(y: Any, X: Any, names: Sequence[str] | None, offset: Any, exposure: Any, kind: str):
    """Checked count outcome, design and ``offset + log(exposure)`` shared by the count families.

    Example
    -------
    >>> import numpy as np
    >>> y, X, names, off = count_data([0, 2, 1], np.ones((3, 1)), ["const"], None, [1.0, 2.0, 1.0], "poisson")[:4]
    >>> y.tolist(), names, (off.round(12) + 0.0).tolist()
    ([0.0, 2.0, 1.0], ('const',), [0.0, 0.69314718056, 0.0])
    """
    rows = align_rows(X, y=y, offset=offset, exposure=exposure)
    y, offset, exposure = rows["y"], rows["offset"], rows["exposure"]
    X, names = design(X, names)
    y = outcome(y, X.shape[0])
    require((y >= 0) & (y == np.round(y)), y, what=f"{kind} outcome y", expected="non-negative integer counts",
            fix="counts must be 0, 1, 2, ...; for a non-negative outcome with a log-linear mean that is not a count "
                "(Poisson pseudo-likelihood, PPML: trade flows, rates) use hs.glm(formula, data, family='poisson') "
                "with cov_type='HC0' (statsmodels GLM, R glm(family=quasipoisson), Stata ppml); for positive "
                "continuous outcomes hs.gamma")
    off = vector_option(offset, X.shape[0], what="offset", default=0.0)
    expo = vector_option(exposure, X.shape[0], what="exposure", default=1.0)
    require(expo > 0, expo, what="exposure", expected="positive values",
            fix="drop rows with zero exposure (they carry no information) or fix the exposure column")
    off = off + np.log(expo)
    if kind not in ("zip", "zinb"):
        check_existence(y, X, names)
    # start: least squares of log(y + 0.5) - offset on X
    start = least_squares(X, np.log(y + 0.5) - off)
    return y, X, names, off, start


def count_description(kind: str, description: dict | None, offset: Any, exposure: Any) -> dict:
    """A count model's ``description``: its name and which per-row options were given.

    Example
    -------
    >>> count_description("poisson", None, None, [1.0])["exposure"]
    True
    """
    return {"model": kind, "formula": None, "offset": offset is not None, "exposure": exposure is not None,
            **(description or {})}


@weighted
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
    y, X, names, off, start = count_data(y, X, names, offset, exposure, "poisson")

    def expected_information(theta: np.ndarray) -> np.ndarray:
        mu = np.exp(X @ theta + off)
        return (X * mu[:, None]).T @ X

    defaults = dataclasses.replace(index_defaults(X, names, count_predict), dispersion=Dispersion(
        None, float, poisson_pearson_residuals, default="ml", weights=poisson_weights))
    model = build(poisson_loglike, PoissonParams(start), {"y": y, "X": X, "offset": off}, {"beta": list(names)},
                  count_description("poisson", description, offset, exposure), expected_information,
                  defaults=defaults)
    return with_index_hessian(model, poisson_obs, {"beta": "X"}, check=False)


@weighted
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
    y, X, names, off, start = count_data(y, X, names, offset, exposure, "negbin")
    model = build(nb2_loglike, NB2Params(start, 1.0), {"y": y, "X": X, "offset": off},
                  {"beta": list(names), "alpha": "alpha"}, count_description("negbin", description, offset, exposure),
                  defaults=index_defaults(X, names, count_predict))
    return with_index_hessian(model, nb2_obs, {"beta": "X"}, check=False)


@weighted
def zip_model(y: Any, X: Any, Z: Any = None, *, offset: Any = None, exposure: Any = None,
              names: Sequence[str] | None = None, inflate_names: Sequence[str] | None = None,
              description: dict | None = None, inflation_link: InflationLink | str = InflationLink.LOGIT) -> Model:
    """Zero-inflated Poisson: counts from ``X`` (log link), excess zeros from ``Z`` (``inflation_link``:
    logit, the default, or probit).

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
    link = InflationLink(inflation_link)
    Z = align_rows(X, y=y, Z=Z)["Z"]
    y, X, names, off, start = count_data(y, X, names, offset, exposure, "zip")
    if Z is None:
        Z, inflate_names = np.ones((X.shape[0], 1)), ["const"]
    Z, inflate_names = design(Z, inflate_names, what="Z (inflation design)")
    if Z.shape[0] != X.shape[0]:
        raise DataError(message("Z and X have different numbers of rows", expected=f"{X.shape[0]} rows in Z",
                                got=f"{Z.shape[0]} rows", fix="build Z from the same observations as X"))
    loglike = zip_loglike if link is InflationLink.LOGIT else WithOptions(zip_loglike, (link,))
    desc = count_description("zip", description, offset, exposure)
    if link is not InflationLink.LOGIT:
        desc = {**desc, "inflation_link": link.value}
    model = build(loglike, ZIPParams(start, np.zeros(Z.shape[1])), {"y": y, "X": X, "Z": Z, "offset": off},
                  {"beta": list(names), "inflate": [f"inflate_{n}" for n in inflate_names]}, desc,
                  defaults=PostEstimationDefaults(mean=MeanPart(  # count and inflation indices: no leverage
                      tuple(str(n) for n in names) + tuple(f"inflate_{n}" for n in inflate_names))))
    obs = zip_obs if link is InflationLink.LOGIT else WithOptions(zip_obs, (link,))
    return with_index_hessian(model, obs, {"beta": "X", "inflate": "Z"}, check=False)


@weighted
def zinb_model(y: Any, X: Any, Z: Any = None, *, offset: Any = None, exposure: Any = None,
               names: Sequence[str] | None = None, inflate_names: Sequence[str] | None = None,
               description: dict | None = None, inflation_link: InflationLink | str = InflationLink.LOGIT) -> Model:
    """Zero-inflated NB2: counts from ``X`` (log link, ``Var = mu + alpha mu^2``), excess zeros from ``Z``
    (``inflation_link`` logit or probit); parameters ``beta``, ``inflate_<column>``, ``alpha``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("biochemists")
    >>> zinb_model(df["art"], df[["ment"]].assign(const=1.0)).names
    ('ment', 'const', 'inflate_const', 'alpha')
    """
    link = InflationLink(inflation_link)
    Z = align_rows(X, y=y, Z=Z)["Z"]
    y, X, names, off, start = count_data(y, X, names, offset, exposure, "zinb")
    if Z is None:
        Z, inflate_names = np.ones((X.shape[0], 1)), ["const"]
    Z, inflate_names = design(Z, inflate_names, what="Z (inflation design)")
    if Z.shape[0] != X.shape[0]:
        raise DataError(message("Z and X have different numbers of rows", expected=f"{X.shape[0]} rows in Z",
                                got=f"{Z.shape[0]} rows", fix="build Z from the same observations as X"))
    desc = {**count_description("zinb", description, offset, exposure), "inflation_link": link.value}
    labels = (*(str(n) for n in names), *(f"inflate_{n}" for n in inflate_names), "alpha")
    model = build(WithOptions(zinb_loglike, (link,)), ZINBParams(start, np.full(Z.shape[1], -1.0), 0.5),
                  {"y": y, "X": X, "Z": Z, "offset": off},
                  {"beta": list(names), "inflate": [f"inflate_{n}" for n in inflate_names], "alpha": "alpha"}, desc,
                  defaults=PostEstimationDefaults(mean=MeanPart(labels)))  # k = every parameter, as before
    return with_index_hessian(model, WithOptions(zinb_obs, (link,)), {"beta": "X", "inflate": "Z"},
                              check=False)
