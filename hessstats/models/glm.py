"""Generalised linear models (``hs.glm``): exponential-family outcomes with a link, as statsmodels ``GLM``
and R ``glm``.

Families (:class:`GLMFamily`) and the mean ``mu = g^-1(X @ beta + offset)`` through a link
(:class:`GLMLink`; default the canonical link, Tweedie: log as statsmodels). Per observation, with
dispersion (``scale``) ``s``::

    gaussian           -(y - mu)^2 / (2 s) - log(2 pi s) / 2
    binomial           log C(n, y) + y log mu + (n - y) log(1 - mu)          (y successes of n trials; s = 1)
    poisson            y log mu - mu - log y!                                  (s = 1)
    gamma              (1/s) log(y / (s mu)) - y / (s mu) - lgamma(1/s) - log y
    inverse_gaussian   -((y - mu)^2 / (s y mu^2) + log(s y^3) + log(2 pi)) / 2
    tweedie (power p)  (y mu^(1-p) / (1-p) - mu^(2-p) / (2-p)) / s + c(y, s)  (1 < p < 2 or p > 2)

These are statsmodels' ``family.loglike_obs``. Tweedie: for ``1 < p < 2``, ``c(y, s)`` is the
compound Poisson-gamma density's series term (Dunn & Smyth 2005: ``-log y + log W(-a, 0, x)``, Wright's
generalised Bessel function via scipy, ``a = (2-p)/(1-p)``, ``x = ((p-1) s / y)^a / ((2-p) s)``; 0 at
``y = 0``), computed once at the fixed dispersion, so ``llf`` is statsmodels' Tweedie log-likelihood;
for ``p > 2`` it is left out (``llf`` is then the quasi-likelihood; statsmodels returns NaN).

Dispersion (statsmodels ``GLM.fit(scale=None)``): binomial and Poisson fix ``s = 1``; the other
families estimate it by Pearson's ``chi2 / (n - k) = sum((y - mu)^2 / V(mu)) / (n - k)`` at the
estimate (``scale="pearson"``, statsmodels' ``"X2"``), or the deviance over ``n - k``
(``scale="deviance"``, statsmodels' ``"dev"``), or a number you give. ``beta`` does not depend on
``s``; the model is built with the dispersion fixed at its estimate (by IRLS when the model is made;
``model.extra["scale"]``), so the Hessian is ``-X' W X / s`` exactly as statsmodels scales it and
the coefficient covariance is statsmodels'. The dispersion itself is not a parameter (no SE),
likelihood-ratio tests and profiles keep it fixed (the scaled-deviance tests of ``anova.glm``), and
``llf`` is evaluated at it (statsmodels' ``llf`` uses the ML ``RSS / n`` for the Gaussian identity case).

Standard errors: ``fit()`` (``cov_type="nonrobust"``) inverts the observed information (statsmodels
``GLM.fit(method="newton")``, the default of its gradient-based fits); ``fit(cov_type="expected")``
the expected information ``X' diag(n (dmu/deta)^2 / V(mu)) X / s`` (statsmodels' default IRLS fit,
and R ``glm``). The two coincide for canonical links. Sandwich covariances (``"HC0"``, ``"robust"``,
``"cluster"``) are free of ``s`` (statsmodels' ``HC0`` on a Newton fit).

Post-estimation defaults: ``res.margins()`` differentiates ``mu = g^-1(X beta)`` (offset left out)
in every non-constant column of ``X``; ``res.lr_test_null()`` fixes every slope at 0.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.special as jsp
import jax.scipy.stats as jst
import numpy as np
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core.compilation import trusted
from hessstats.core.linalg import least_squares
from hessstats.core.special import expit, log_expit, log_ndtr
from hessstats.errors import ConvergenceWarning, SpecificationError, message, warn
from hessstats.model import Model
from hessstats.models.design import WithOptions, align_rows, build, design, index_defaults, outcome, require, vector_option
from hessstats.models.index import with_index_hessian

LOG_2PI = float(np.log(2.0 * np.pi))


class GLMFamily(enum.Enum):
    """The outcome distribution of a GLM.

    Example
    -------
    >>> GLMFamily("inverse_gaussian")
    <GLMFamily.INVERSE_GAUSSIAN: 'inverse_gaussian'>
    """

    GAUSSIAN = "gaussian"
    BINOMIAL = "binomial"
    POISSON = "poisson"
    GAMMA = "gamma"
    INVERSE_GAUSSIAN = "inverse_gaussian"
    TWEEDIE = "tweedie"


class GLMLink(enum.Enum):
    """The link ``g`` with ``g(mu) = eta``.

    Example
    -------
    >>> GLMLink("inverse_squared")
    <GLMLink.INVERSE_SQUARED: 'inverse_squared'>
    """

    IDENTITY = "identity"
    LOG = "log"
    LOGIT = "logit"
    PROBIT = "probit"
    CLOGLOG = "cloglog"
    INVERSE = "inverse"
    INVERSE_SQUARED = "inverse_squared"
    SQRT = "sqrt"


class GLMScale(enum.Enum):
    """How the dispersion of a GLM with a free scale is estimated (statsmodels ``scale="X2"``/``"dev"``).

    Example
    -------
    >>> GLMScale("pearson")
    <GLMScale.PEARSON: 'pearson'>
    """

    PEARSON = "pearson"
    DEVIANCE = "deviance"


CANONICAL = {GLMFamily.GAUSSIAN: GLMLink.IDENTITY, GLMFamily.BINOMIAL: GLMLink.LOGIT, GLMFamily.POISSON: GLMLink.LOG,
             GLMFamily.GAMMA: GLMLink.INVERSE, GLMFamily.INVERSE_GAUSSIAN: GLMLink.INVERSE_SQUARED,
             GLMFamily.TWEEDIE: GLMLink.LOG}
"""Default link per family: the canonical link (Tweedie: log, statsmodels' default)."""

LINKS = {
    GLMFamily.GAUSSIAN: (GLMLink.IDENTITY, GLMLink.LOG, GLMLink.INVERSE),
    GLMFamily.BINOMIAL: (GLMLink.LOGIT, GLMLink.PROBIT, GLMLink.CLOGLOG, GLMLink.LOG),
    GLMFamily.POISSON: (GLMLink.LOG, GLMLink.IDENTITY, GLMLink.SQRT),
    GLMFamily.GAMMA: (GLMLink.INVERSE, GLMLink.LOG, GLMLink.IDENTITY),
    GLMFamily.INVERSE_GAUSSIAN: (GLMLink.INVERSE_SQUARED, GLMLink.INVERSE, GLMLink.LOG, GLMLink.IDENTITY),
    GLMFamily.TWEEDIE: (GLMLink.LOG, GLMLink.IDENTITY, GLMLink.INVERSE),
}
"""The links allowed per family (statsmodels' ``safe_links``)."""

FIXED_SCALE = (GLMFamily.BINOMIAL, GLMFamily.POISSON)


class GLMParams(NamedTuple):
    """GLM parameters: one coefficient per column of X.

    Example
    -------
    >>> GLMParams(beta=np.zeros(2))
    GLMParams(beta=array([0., 0.]))
    """

    beta: Any


def inverse_link(link: GLMLink, eta: Any) -> Any:
    """``mu = g^-1(eta)`` in JAX.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = inverse_link(GLMLink.INVERSE_SQUARED, np.array([4.0]))
    >>> np.asarray(out).round(6).tolist()
    [0.5]
    """
    if link is GLMLink.IDENTITY:
        return eta
    if link is GLMLink.LOG:
        return jnp.exp(eta)
    if link is GLMLink.LOGIT:
        return expit(eta)
    if link is GLMLink.PROBIT:
        return jst.norm.cdf(eta)
    if link is GLMLink.CLOGLOG:
        return -jnp.expm1(-jnp.exp(eta))
    if link is GLMLink.INVERSE:
        return 1.0 / eta
    if link is GLMLink.INVERSE_SQUARED:
        return 1.0 / jnp.sqrt(eta)
    return eta * eta


def _binomial_logs(link: GLMLink, eta: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(log mu, log(1 - mu))`` computed stably for the binomial links."""
    if link is GLMLink.LOGIT:
        return log_expit(eta), log_expit(-eta)
    if link is GLMLink.PROBIT:
        return log_ndtr(eta), log_ndtr(-eta)
    if link is GLMLink.CLOGLOG:
        log_q = -jnp.exp(eta)
        return jnp.where(log_q > -0.6931471805599453, jnp.log(-jnp.expm1(log_q)), jnp.log1p(-jnp.exp(log_q))), log_q
    return eta, jnp.log(-jnp.expm1(eta))  # log link


@trusted
def glm_loglike(params: GLMParams, data: dict, family: GLMFamily = GLMFamily.GAUSSIAN,
                link: GLMLink = GLMLink.IDENTITY, power: float = 1.5) -> jnp.ndarray:
    """Per-observation GLM log-likelihood at the dispersion ``data["scale"]`` (see the module docstring).

    Example
    -------
    >>> data = {"X": np.ones((1, 1)), "y": np.array([1.0]), "trials": np.ones(1), "offset": np.zeros(1),
    ...         "scale": np.ones(1), "c": np.zeros(1)}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = glm_loglike(GLMParams(np.array([0.0])), data, GLMFamily.POISSON, GLMLink.LOG)
    >>> np.asarray(out).round(6).tolist()  # log Poisson(1 | mu = 1) = -1
    [-1.0]
    """
    return glm_obs({"beta": data["X"] @ params.beta}, {}, data, family, link, power)


@trusted
def glm_obs(eta: dict, extra: dict, data: dict, family: GLMFamily = GLMFamily.GAUSSIAN,
            link: GLMLink = GLMLink.IDENTITY, power: float = 1.5) -> jnp.ndarray:
    """The GLM log-likelihood as a function of ``eta["beta"] = X @ beta`` (offset added here), at the
    fixed dispersion ``data["scale"]``: the index form, whose Hessian is assembled as ``X' diag(w) X``.

    Example
    -------
    >>> import jax
    >>> data = {"y": np.array([1.0]), "offset": np.zeros(1), "scale": np.ones(1)}
    >>> with jax.enable_x64(True):
    ...     out = glm_obs({"beta": np.zeros(1)}, {}, data, GLMFamily.POISSON, GLMLink.LOG)
    >>> np.asarray(out).round(6).tolist()
    [-1.0]
    """
    y, s = data["y"], data["scale"]
    eta = eta["beta"] + data["offset"]
    if family is GLMFamily.BINOMIAL:
        n = data["trials"]
        log_p, log_q = _binomial_logs(link, eta)
        return jsp.gammaln(n + 1.0) - jsp.gammaln(y + 1.0) - jsp.gammaln(n - y + 1.0) + y * log_p + (n - y) * log_q
    if family is GLMFamily.POISSON:
        log_mu = eta if link is GLMLink.LOG else jnp.log(inverse_link(link, eta))
        return y * log_mu - jnp.exp(log_mu) - jsp.gammaln(y + 1.0)
    mu = inverse_link(link, eta)
    if family is GLMFamily.GAUSSIAN:
        return -0.5 * (y - mu) ** 2 / s - 0.5 * (LOG_2PI + jnp.log(s))
    if family is GLMFamily.GAMMA:
        ws = 1.0 / s
        return ws * jnp.log(ws * y / mu) - ws * y / mu - jsp.gammaln(ws) - jnp.log(y)
    if family is GLMFamily.INVERSE_GAUSSIAN:
        return -0.5 * ((y - mu) ** 2 / (s * y * mu * mu) + jnp.log(s * y ** 3) + LOG_2PI)
    return (y * mu ** (1.0 - power) / (1.0 - power) - mu ** (2.0 - power) / (2.0 - power)) / s + data["c"]


def glm_predict(params: GLMParams, data: dict, link: GLMLink = GLMLink.IDENTITY) -> jnp.ndarray:
    """The mean ``mu = g^-1(X beta)`` (offset left out): the prediction behind ``res.margins()``.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = glm_predict(GLMParams(np.array([0.0])), {"X": np.ones((1, 1))}, GLMLink.LOG)
    >>> np.asarray(out).round(6).tolist()
    [1.0]
    """
    return inverse_link(link, data["X"] @ params.beta)


# ----------------------------------------------------------------------------- numpy side (IRLS, scale)

def _np_inverse(link: GLMLink, eta: np.ndarray) -> np.ndarray:
    return {GLMLink.IDENTITY: lambda e: e, GLMLink.LOG: np.exp, GLMLink.LOGIT: scipy.special.expit,
            GLMLink.PROBIT: scipy.stats.norm.cdf, GLMLink.CLOGLOG: lambda e: -np.expm1(-np.exp(e)),
            GLMLink.INVERSE: lambda e: 1.0 / e, GLMLink.INVERSE_SQUARED: lambda e: 1.0 / np.sqrt(e),
            GLMLink.SQRT: lambda e: e * e}[link](eta)


def _np_link(link: GLMLink, mu: np.ndarray) -> np.ndarray:
    return {GLMLink.IDENTITY: lambda m: m, GLMLink.LOG: np.log, GLMLink.LOGIT: scipy.special.logit,
            GLMLink.PROBIT: scipy.stats.norm.ppf, GLMLink.CLOGLOG: lambda m: np.log(-np.log1p(-m)),
            GLMLink.INVERSE: lambda m: 1.0 / m, GLMLink.INVERSE_SQUARED: lambda m: 1.0 / (m * m),
            GLMLink.SQRT: np.sqrt}[link](mu)


def _np_dmu_deta(link: GLMLink, eta: np.ndarray) -> np.ndarray:
    return {GLMLink.IDENTITY: np.ones_like, GLMLink.LOG: np.exp,
            GLMLink.LOGIT: lambda e: scipy.special.expit(e) * scipy.special.expit(-e),
            GLMLink.PROBIT: scipy.stats.norm.pdf, GLMLink.CLOGLOG: lambda e: np.exp(e - np.exp(e)),
            GLMLink.INVERSE: lambda e: -1.0 / (e * e), GLMLink.INVERSE_SQUARED: lambda e: -0.5 * e ** -1.5,
            GLMLink.SQRT: lambda e: 2.0 * e}[link](eta)


def _variance(family: GLMFamily, mu: np.ndarray, power: float) -> np.ndarray:
    """Unit variance ``V(mu)`` (binomial: of the proportion, per trial)."""
    return {GLMFamily.GAUSSIAN: np.ones_like, GLMFamily.BINOMIAL: lambda m: m * (1 - m), GLMFamily.POISSON: lambda m: m,
            GLMFamily.GAMMA: lambda m: m * m, GLMFamily.INVERSE_GAUSSIAN: lambda m: m ** 3,
            GLMFamily.TWEEDIE: lambda m: m ** power}[family](mu)


def _unit_deviance(family: GLMFamily, y: np.ndarray, mu: np.ndarray, power: float) -> np.ndarray:
    """Unit deviances (statsmodels ``family._resid_dev`` squared) for the non-fixed-scale families."""
    if family is GLMFamily.GAUSSIAN:
        return (y - mu) ** 2
    if family is GLMFamily.GAMMA:
        return 2.0 * ((y - mu) / mu - np.log(y / mu))
    if family is GLMFamily.INVERSE_GAUSSIAN:
        return (y - mu) ** 2 / (y * mu * mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(y > 0, y ** (2 - power) / ((1 - power) * (2 - power)), 0.0)
    return 2.0 * (first - y * mu ** (1 - power) / (1 - power) + mu ** (2 - power) / (2 - power))


def _weights(family: GLMFamily, link: GLMLink, eta: np.ndarray, trials: np.ndarray, power: float) -> np.ndarray:
    """IRLS / Fisher weights ``n (dmu/deta)^2 / V(mu)``."""
    mu = _np_inverse(link, eta)
    return trials * _np_dmu_deta(link, eta) ** 2 / _variance(family, mu, power)


def _irls(family: GLMFamily, link: GLMLink, y: np.ndarray, trials: np.ndarray, X: np.ndarray, offset: np.ndarray,
          power: float, maxiter: int = 500, tol: float = 1e-13) -> np.ndarray:
    """IRLS from statsmodels' start (``mu = (y + mean y) / 2``; binomial ``(n y + 0.5) / (n + 1)``)."""
    share = y / trials
    mu = (trials * share + 0.5) / (trials + 1.0) if family is GLMFamily.BINOMIAL else (share + share.mean()) / 2.0
    eta = _np_link(link, mu)
    beta = np.zeros(X.shape[1])
    dev_old = np.inf
    for _ in range(maxiter):
        mu = _np_inverse(link, eta)
        d = _np_dmu_deta(link, eta)
        z = eta - offset + (share - mu) / d
        w = trials * d * d / _variance(family, mu, power)
        beta = least_squares(X, z, w)
        eta = X @ beta + offset
        dev = float(np.sum((share - _np_inverse(link, eta)) ** 2 * w))
        if not np.isfinite(dev):
            break
        if abs(dev - dev_old) <= tol * (abs(dev) + tol):
            return beta
        dev_old = dev
    warn(f"IRLS for the GLM start ({family.value}, {link.value} link) did not converge in {maxiter} iterations; "
         "the dispersion is estimated at the last iterate and the fit continues by Newton's method",
         ConvergenceWarning)
    return beta


def glm_model(y: Any, X: Any, *, family: GLMFamily | str = GLMFamily.GAUSSIAN, link: GLMLink | str | None = None,
              power: float = 1.5, scale: GLMScale | str | float = GLMScale.PEARSON, trials: Any = None,
              failures: Any = None, offset: Any = None, names: Sequence[str] | None = None,
              description: dict | None = None) -> Model:
    """Generalised linear model of ``y`` on ``X``: ``family`` (:class:`GLMFamily`), ``link`` (:class:`GLMLink`,
    default canonical), Tweedie ``power``, dispersion ``scale`` (:class:`GLMScale` or a number; ignored for
    binomial/Poisson, where it is 1), binomial ``trials`` (default 1) or ``failures``, ``offset``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("scotland")
    >>> m = glm_model(df["YES"], df[["COUTAX", "UNEMPF"]].assign(const=1.0), family="gamma")
    >>> m.description["link"], round(m.extra["scale"], 6)
    ('inverse', 0.006339)
    """
    family = GLMFamily(family)
    link = CANONICAL[family] if link is None else GLMLink(link)
    if link not in LINKS[family]:
        raise SpecificationError(message(f"link {link.value!r} is not available for the {family.value} family",
                                         expected=f"one of {[lk.value for lk in LINKS[family]]}", got=repr(link.value),
                                         fix=f"use link={CANONICAL[family].value!r} (canonical) or another listed link"))
    power = float(power)
    if family is GLMFamily.TWEEDIE and not (1.0 < power < 2.0 or power > 2.0):
        raise SpecificationError(message("Tweedie power out of range", expected="1 < power < 2 or power > 2",
                                         got=repr(power), fix="use hs.glm(family='poisson') for 1, 'gamma' for 2"))
    if family is not GLMFamily.BINOMIAL and (trials is not None or failures is not None):
        raise SpecificationError(message("trials/failures given for a non-binomial family", expected="family='binomial'",
                                         got=f"family={family.value!r}", fix="drop trials=/failures="))
    if trials is not None and failures is not None:
        raise SpecificationError(message("both trials and failures given", expected="one of them",
                                         got="trials=... and failures=...", fix="pass trials or failures, not both"))
    rows = align_rows(X, y=y, trials=trials, failures=failures, offset=offset)
    X, names = design(X, names)
    n_rows = X.shape[0]
    y = outcome(rows["y"], n_rows)
    if failures is not None:
        n = y + outcome(rows["failures"], n_rows, what="failures")
    else:
        n = vector_option(rows["trials"], n_rows, what="trials", default=1.0)
    _check_outcome(family, y, n, power)
    off = vector_option(rows["offset"], n_rows, what="offset", default=0.0)
    beta = _irls(family, link, y, n, X, off, power)
    mu = _np_inverse(link, X @ beta + off)
    df_resid = n_rows - X.shape[1]
    if family in FIXED_SCALE:
        dispersion, method = 1.0, "fixed at 1"
    elif isinstance(scale, (int, float)) and not isinstance(scale, bool):
        dispersion, method = float(scale), "given"
    else:
        method = GLMScale(scale).value
        if GLMScale(scale) is GLMScale.PEARSON:
            dispersion = float(np.sum((y - mu) ** 2 / _variance(family, mu, power)) / df_resid)
        else:
            dispersion = float(np.sum(_unit_deviance(family, y, mu, power)) / df_resid)
    if not (np.isfinite(dispersion) and dispersion > 0):
        raise SpecificationError(message("the GLM dispersion is not positive", expected="scale > 0",
                                         got=repr(dispersion), fix="check the data (a perfect fit?) or give scale="))

    c = _tweedie_constant(y, dispersion, power) if family is GLMFamily.TWEEDIE else np.zeros(n_rows)

    def expected_information(theta: np.ndarray) -> np.ndarray:
        w = _weights(family, link, X @ theta + off, n, power)
        return (X * w[:, None]).T @ X / dispersion

    desc = {"model": "glm", "formula": None, "family": family.value, "link": link.value, "scale": method,
            **({"power": power} if family is GLMFamily.TWEEDIE else {}), **(description or {})}
    model = build(WithOptions(glm_loglike, (family, link, power)), GLMParams(beta),
                  {"y": y, "trials": n, "X": X, "offset": off, "scale": np.full(n_rows, dispersion), "c": c},
                  {"beta": list(names)}, desc, expected_information,
                  extra={"scale": dispersion, "scale_method": method, "df_resid": df_resid},
                  defaults=index_defaults(X, names, WithOptions(glm_predict, (link,))))
    return with_index_hessian(model, WithOptions(glm_obs, (family, link, power)), {"beta": "X"}, check=False)


def _tweedie_constant(y: np.ndarray, scale: float, power: float) -> np.ndarray:
    """``c(y, s)`` of the Tweedie density for ``1 < p < 2`` (statsmodels ``Tweedie.loglike_obs``); 0 for ``p > 2``."""
    c = np.zeros_like(y)
    if power > 2.0:
        return c
    pos = y > 0
    alpha = (2.0 - power) / (1.0 - power)
    x = ((power - 1.0) * scale / y[pos]) ** alpha / ((2.0 - power) * scale)
    log_wb = getattr(scipy.special, "log_wright_bessel", None)
    logw = log_wb(-alpha, 0.0, x) if log_wb is not None else np.log(scipy.special.wright_bessel(-alpha, 0.0, x))
    c[pos] = -np.log(y[pos]) + logw
    return c


def _check_outcome(family: GLMFamily, y: np.ndarray, n: np.ndarray, power: float) -> None:
    if family is GLMFamily.BINOMIAL:
        require((n >= 1) & (n == np.round(n)), n, what="trials", expected="positive integers",
                fix="drop rows with no trials; trials are counts (1 for a binary outcome)")
        require((y >= 0) & (y <= n) & (y == np.round(y)), y, what="binomial outcome y",
                expected="integer successes between 0 and the number of trials",
                fix="pass the number of successes and trials=<number of trials>")
    elif family is GLMFamily.POISSON or (family is GLMFamily.TWEEDIE and power < 2.0):
        require(y >= 0, y, what=f"{family.value} outcome y", expected="non-negative values", fix="drop negative rows")
    elif family in (GLMFamily.GAMMA, GLMFamily.INVERSE_GAUSSIAN, GLMFamily.TWEEDIE):
        require(y > 0, y, what=f"{family.value} outcome y", expected="positive values",
                fix="this family needs y > 0 (Tweedie with 1 < power < 2 allows zeros)")
