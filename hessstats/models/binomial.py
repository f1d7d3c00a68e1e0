"""Binomial regression with trials: ``y`` successes out of ``n`` trials (R ``glm(cbind(y, n - y) ~ x,
family=binomial)``; statsmodels ``GLM(np.column_stack([y, n - y]), X, family=Binomial(link))``).

Per observation, with ``p = F(X @ beta + offset)``::

    lgamma(n + 1) - lgamma(y + 1) - lgamma(n - y + 1) + y log(p) + (n - y) log(1 - p)

(the binomial coefficient is included, so ``llf`` equals statsmodels' GLM ``llf``). ``F`` is a
:class:`BinomialLink`: ``LOGIT`` (canonical), ``PROBIT`` or ``CLOGLOG`` (``p = 1 - exp(-exp(eta))``).
Trials default to 1 (Bernoulli). Standard errors come from the observed information (statsmodels
GLM fitted by Newton); ``fit(cov_type="expected")`` uses the expected information, as statsmodels'
default IRLS fit does (the two coincide for the canonical logit, not for probit or cloglog).

Post-estimation defaults: ``res.margins()`` differentiates the success probability ``p`` in every
non-constant column of ``X``; ``res.lr_test_null()`` fixes every slope at 0 (statsmodels ``llnull``).
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
from hessstats.core.covariance import Dispersion
from hessstats.core.linalg import least_squares
from hessstats.core.special import log_expit, log_ndtr
from hessstats.errors import SpecificationError, message
from hessstats.model import Model
from hessstats.models.design import WithOptions, align_rows, build, design, index_defaults, outcome, require, vector_option, weighted
from hessstats.models.index import with_index_hessian


class BinomialLink(enum.Enum):
    """Link of the binomial success probability, ``p = F(eta)``.

    Example
    -------
    >>> BinomialLink("probit")
    <BinomialLink.PROBIT: 'probit'>
    """

    LOGIT = "logit"
    PROBIT = "probit"
    CLOGLOG = "cloglog"


class BinomialParams(NamedTuple):
    """Binomial regression parameters: one coefficient per column of X.

    Example
    -------
    >>> BinomialParams(beta=np.zeros(2))
    BinomialParams(beta=array([0., 0.]))
    """

    beta: Any


def _log_probabilities(link: BinomialLink, eta: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(log p, log(1 - p))`` at the linear predictor ``eta``."""
    if link is BinomialLink.LOGIT:
        return log_expit(eta), log_expit(-eta)
    if link is BinomialLink.PROBIT:
        return log_ndtr(eta), log_ndtr(-eta)
    log_q = -jnp.exp(eta)  # log(1 - p)
    return jnp.where(log_q > -0.6931471805599453, jnp.log(-jnp.expm1(log_q)), jnp.log1p(-jnp.exp(log_q))), log_q


@trusted
def binomial_loglike(params: BinomialParams, data: dict, link: BinomialLink = BinomialLink.LOGIT) -> jnp.ndarray:
    """Per-observation binomial log-likelihood of ``data["y"]`` successes in ``data["trials"]``.

    Example
    -------
    >>> data = {"X": np.ones((1, 1)), "y": np.array([1.0]), "trials": np.array([2.0]), "offset": np.zeros(1)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = binomial_loglike(BinomialParams(np.array([0.0])), data)
    >>> np.asarray(out).round(6).tolist()  # log(2 * 1/2 * 1/2)
    [-0.693147]
    """
    return binomial_obs({"beta": data["X"] @ params.beta}, {}, data, link)


@trusted
def binomial_obs(eta: dict, extra: dict, data: dict, link: BinomialLink = BinomialLink.LOGIT) -> jnp.ndarray:
    """The binomial log-likelihood as a function of ``eta["beta"] = X @ beta`` (offset added here):
    the index form, whose Hessian is assembled as ``X' diag(w) X``.

    Example
    -------
    >>> import jax
    >>> data = {"y": np.array([1.0]), "trials": np.array([2.0]), "offset": np.zeros(1)}
    >>> with jax.enable_x64(True):
    ...     out = binomial_obs({"beta": np.zeros(1)}, {}, data)
    >>> np.asarray(out).round(6).tolist()  # log(2 / 4)
    [-0.693147]
    """
    y, n = data["y"], data["trials"]
    log_p, log_q = _log_probabilities(link, eta["beta"] + data["offset"])
    return (jsp.gammaln(n + 1.0) - jsp.gammaln(y + 1.0) - jsp.gammaln(n - y + 1.0)
            + y * log_p + (n - y) * log_q)


def binomial_predict(params: BinomialParams, data: dict, link: BinomialLink = BinomialLink.LOGIT) -> jnp.ndarray:
    """The success probability ``p = F(X beta)`` (offset left out): the prediction behind ``res.margins()``.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = binomial_predict(BinomialParams(np.array([0.0])), {"X": np.ones((1, 1))}, BinomialLink.PROBIT)
    >>> np.asarray(out).round(6).tolist()
    [0.5]
    """
    return jnp.exp(_log_probabilities(link, data["X"] @ params.beta)[0])


def binomial_pearson_residuals(params: BinomialParams, data: dict,
                               link: BinomialLink = BinomialLink.LOGIT) -> np.ndarray:
    """Pearson residuals ``(y - n p) / sqrt(n p (1 - p))`` (offset included): the Pearson dispersion
    of ``cov_options={"dispersion": "pearson"}`` (R ``quasibinomial``, statsmodels ``scale="X2"``).

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "offset": np.zeros(2), "y": np.array([0.0, 4.0]), "trials": np.array([4.0, 4.0])}
    >>> binomial_pearson_residuals(BinomialParams(np.array([0.0])), data).tolist()
    [-2.0, 2.0]
    """
    eta = jnp.asarray(data["X"]) @ jnp.asarray(params.beta) + jnp.asarray(data["offset"])
    p = np.asarray(jnp.exp(_log_probabilities(link, eta)[0]))
    n = np.asarray(data["trials"])
    return (np.asarray(data["y"]) - n * p) / np.sqrt(n * p * (1.0 - p))


@weighted
def binomial_model(y: Any, X: Any, *, trials: Any = None, failures: Any = None,
                   link: BinomialLink | str = BinomialLink.LOGIT, offset: Any = None,
                   names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Binomial regression of ``y`` successes out of ``trials`` (default 1) on ``X``; or give ``failures``
    (trials = successes + failures, R's ``cbind(successes, failures)``).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("star98")
    >>> res = binomial_model(df["NABOVE"], df[["LOWINC"]].assign(const=1.0), trials=df["NABOVE"] + df["NBELOW"]).fit()
    >>> res.names, round(float(res.params["LOWINC"]), 4)
    (('LOWINC', 'const'), -0.0309)
    """
    link = BinomialLink(link)
    if trials is not None and failures is not None:
        raise SpecificationError(message("both trials and failures given", expected="one of them",
                                         got="trials=... and failures=...",
                                         fix="pass trials (successes + failures) or failures, not both"))
    rows = align_rows(X, y=y, trials=trials, failures=failures, offset=offset)
    X, names = design(X, names)
    y = outcome(rows["y"], X.shape[0])
    if failures is not None:
        n = y + outcome(rows["failures"], X.shape[0], what="failures")
    else:
        n = vector_option(rows["trials"], X.shape[0], what="trials", default=1.0)
    require((n >= 1) & (n == np.round(n)), n, what="trials", expected="positive integers",
            fix="drop rows with no trials; trials are counts (1 for a binary outcome)")
    require((y >= 0) & (y <= n) & (y == np.round(y)), y, what="binomial outcome y",
            expected="integer successes between 0 and the number of trials",
            fix="pass the number of successes (not the proportion) and trials=<number of trials>")
    off = vector_option(rows["offset"], X.shape[0], what="offset", default=0.0)
    # start: least squares of the empirical logit (0.5 added to both counts) on X, on the link's scale
    share = (y + 0.5) / (n + 1.0)
    target = {BinomialLink.LOGIT: np.log(share / (1 - share)), BinomialLink.PROBIT: 0.6 * np.log(share / (1 - share)),
              BinomialLink.CLOGLOG: np.log(-np.log1p(-share))}[link]
    start = least_squares(X, target - off)

    def expected_information(theta: np.ndarray) -> np.ndarray:
        eta = X @ theta + off
        if link is BinomialLink.LOGIT:
            p = scipy.special.expit(eta)
            weight = p * (1 - p)
        else:
            p = scipy.stats.norm.cdf(eta) if link is BinomialLink.PROBIT else -np.expm1(-np.exp(eta))
            density = scipy.stats.norm.pdf(eta) if link is BinomialLink.PROBIT else np.exp(eta - np.exp(eta))
            weight = density ** 2 / (p * (1 - p))
        return (X * (n * weight)[:, None]).T @ X

    model = build(WithOptions(binomial_loglike, (link,)), BinomialParams(start),
                  {"y": y, "trials": n, "X": X, "offset": off}, {"beta": list(names)},
                  {"model": "binomial", "formula": None, "link": link.value, "trials": trials is not None or failures is not None,
                   "offset": offset is not None, **(description or {})}, expected_information,
                  defaults=dataclasses.replace(  # Pearson option: R quasibinomial, statsmodels scale="X2"
                      index_defaults(X, names, WithOptions(binomial_predict, (link,))),
                      dispersion=Dispersion(None, float, WithOptions(binomial_pearson_residuals, (link,)))))
    return with_index_hessian(model, WithOptions(binomial_obs, (link,)), {"beta": "X"}, check=False)
