"""What each built-in model predicts (:class:`~hessstats.inference.prediction.Predictor`), and how a
formula model turns new rows into its data.

Quantities by model (``which=``; the first listed is the default):

- logit, probit, binomial: ``mean`` (``P(y=1)``; binomial: the success probability), ``linear``;
- ols: ``mean`` (= ``linear``, ``x'b``); gamma: ``mean`` (``exp(x'b)``), ``linear``;
- poisson, negbin, nb1, genpoisson: ``mean`` (``exp(x'b + offset + log exposure)``, Stata
  ``predict n``, statsmodels ``which="mean"``), ``linear`` (with offset and log exposure),
  ``rate`` (``exp(x'b)``, Stata ``ir``: what ``res.margins()`` differentiates by default, as
  statsmodels ``get_margeff``);
- zip: ``mean`` (``(1 - w) mu``), ``prob_zero`` (``w + (1 - w) exp(-mu)``), ``linear`` (count part);
- mnlogit, ordered logit/probit: ``probs`` (one column per category), ``linear``;
- tobit: ``mean`` (the latent ``x'b``, Stata ``xb``), ``censored_mean`` (``E(y)`` of the censored
  outcome, Stata ``ystar(a, b)``), ``linear``;
- weibull: ``mean`` (``lam Gamma(1 + 1/shape)``, ``lam = exp(x'b)``), ``survival`` and ``hazard``
  at the row's duration (the outcome column of ``new_data``), ``linear`` (``log lam``).

New rows: offsets and exposures given as column names are read from ``new_data``; given as
arrays they apply to the fitted rows only, and new rows get offset 0 and exposure 1 (statsmodels'
``predict(exog=...)`` without ``offset``/``exposure``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import jax.scipy.stats as jstats
import numpy as np
import pandas as pd

from hessstats._config import float64
from hessstats.core.special import expit
from hessstats.errors import DataError, message
from hessstats.inference.prediction import Predictor, Quantity, Which
from hessstats.model import Model
from hessstats.models.categorical import cutpoints, ordered_probabilities
from hessstats.models.glm import GLMLink, inverse_link
from hessstats.models.terms import FormulaDesign


def _linear(p: Any, d: Mapping[str, Any]) -> Any:
    return d["X"] @ p.beta + d["offset"]


def _xb(p: Any, d: Mapping[str, Any]) -> Any:
    return d["X"] @ p.beta


_INVERSE: dict[str, Callable[[Any], Any]] = {
    link.value: functools.partial(inverse_link, link) for link in (GLMLink.LOGIT, GLMLink.PROBIT, GLMLink.CLOGLOG)}
"""The binary and binomial models' inverse links (made once: kernels compile once per function)."""


@functools.cache  # one function per argument: kernels compile once
def _mean_of(inverse: Callable[[Any], Any], linear: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def mean(p: Any, d: Mapping[str, Any]) -> Any:
        return inverse(linear(p, d))
    return mean


def _exp(eta: Any) -> Any:
    return jnp.exp(eta)


def _identity(eta: Any) -> Any:
    return eta


def _needs(d: Mapping[str, Any], key: str, what: str, column: str | None) -> Any:
    if key not in d:
        raise DataError(message(
            f"{what} needs the outcome column", expected=f"new_data with the column {column!r}",
            got="no such column", fix=f"add {column!r} (the durations at which to evaluate) to new_data"))
    return d[key]


def _zip_parts(p: Any, d: Mapping[str, Any]) -> tuple[Any, Any]:
    mu = jnp.exp(_linear(p, d))
    w = expit(d["Z"] @ p.inflate)
    return mu, w


def _zip_mean(p: Any, d: Mapping[str, Any]) -> Any:
    mu, w = _zip_parts(p, d)
    return (1.0 - w) * mu


def _zip_zero(p: Any, d: Mapping[str, Any]) -> Any:
    mu, w = _zip_parts(p, d)
    return w + (1.0 - w) * jnp.exp(-mu)


def _mnlogit_probs(p: Any, d: Mapping[str, Any]) -> Any:
    eta = d["X"] @ p.beta.T
    eta = jnp.concatenate([jnp.zeros((eta.shape[0], 1)), eta], axis=1)
    return jax.nn.softmax(eta, axis=1)


def _mnlogit_linear(p: Any, d: Mapping[str, Any]) -> Any:
    return d["X"] @ p.beta.T


@functools.cache  # one function per argument: kernels compile once
def _ordered_probs(cdf: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    def probs(p: Any, d: Mapping[str, Any]) -> Any:
        return ordered_probabilities(p, d["X"], cdf)
    return probs


def _tobit_censored_mean(p: Any, d: Mapping[str, Any]) -> Any:
    """``E(y)`` for ``y = max(lo, min(hi, y*))``, ``y* ~ N(x'b, sigma^2)`` (absent limits: flags 0)."""
    xb, s = d["X"] @ p.beta, p.sigma
    has_lo, has_hi = d["has_lo"], d["has_hi"]
    a = jnp.where(has_lo > 0, (d["lo"] - xb) / s, -40.0)
    b = jnp.where(has_hi > 0, (d["hi"] - xb) / s, 40.0)
    cdf_a, cdf_b = jstats.norm.cdf(a), jstats.norm.cdf(b)
    pdf_a, pdf_b = jstats.norm.pdf(a), jstats.norm.pdf(b)
    return (has_lo * cdf_a * d["lo"] + has_hi * (1.0 - cdf_b) * d["hi"]
            + (cdf_b - cdf_a) * xb + s * (pdf_a - pdf_b))


def _weibull_shape(p: Any, d: Mapping[str, Any]) -> Any:
    shape = getattr(p, "shape", None)
    return d["shape"] if shape is None else shape


def _weibull_mean(p: Any, d: Mapping[str, Any]) -> Any:
    k = _weibull_shape(p, d)
    return jnp.exp(d["X"] @ p.beta + jsp.gammaln(1.0 + 1.0 / k))


@functools.cache  # one function per argument: kernels compile once
def _weibull_survival(column: str | None) -> Callable[[Any, Any], Any]:
    def survival(p: Any, d: Mapping[str, Any]) -> Any:
        logt = _needs(d, "logt", "the survival function", column)
        return jnp.exp(-jnp.exp(_weibull_shape(p, d) * (logt - d["X"] @ p.beta)))
    return survival


@functools.cache  # one function per argument: kernels compile once
def _weibull_hazard(column: str | None) -> Callable[[Any, Any], Any]:
    def hazard(p: Any, d: Mapping[str, Any]) -> Any:
        logt = _needs(d, "logt", "the hazard", column)
        k = _weibull_shape(p, d)
        z = logt - d["X"] @ p.beta
        return k * jnp.exp((k - 1.0) * z - d["X"] @ p.beta)
    return hazard


_COUNT = frozenset({"poisson", "negbin", "nb1", "genpoisson"})


def quantities(kind: str, model: Model, design: FormulaDesign | None) -> tuple[dict[Which, Quantity], Which]:
    """The quantities of the built-in ``kind`` and its default (see the module docstring).

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.poisson("mdvis ~ lncoins", hs.datasets.load("randhie"))
    >>> sorted(w.value for w in quantities("poisson", m, None)[0])
    ['linear', 'mean', 'rate']
    """
    categories = tuple(str(c) for c in model.description.get("categories", ()))
    link = str(model.description.get("link", "logit"))
    if kind in ("logit", "probit"):
        inverse = _INVERSE[kind]
        return {Which.MEAN: Quantity(_mean_of(inverse, _xb), inverse=inverse), Which.LINEAR: Quantity(_xb)}, Which.MEAN
    if kind == "binomial":
        inverse = _INVERSE[link]
        return ({Which.MEAN: Quantity(_mean_of(inverse, _linear), inverse=inverse), Which.LINEAR: Quantity(_linear)},
                Which.MEAN)
    if kind == "ols":
        return {Which.MEAN: Quantity(_xb, inverse=_identity), Which.LINEAR: Quantity(_xb)}, Which.MEAN
    if kind == "gamma":
        return {Which.MEAN: Quantity(_mean_of(_exp, _xb), inverse=_exp), Which.LINEAR: Quantity(_xb)}, Which.MEAN
    if kind in _COUNT:
        return ({Which.MEAN: Quantity(_mean_of(_exp, _linear), inverse=_exp), Which.LINEAR: Quantity(_linear),
                 Which.RATE: Quantity(_mean_of(_exp, _xb))}, Which.MEAN)
    if kind == "zip":
        return ({Which.MEAN: Quantity(_zip_mean), Which.PROB_ZERO: Quantity(_zip_zero),
                 Which.LINEAR: Quantity(_linear)}, Which.MEAN)
    if kind == "mnlogit":
        return ({Which.PROBS: Quantity(_mnlogit_probs, categories or None),
                 Which.LINEAR: Quantity(_mnlogit_linear, categories[1:] or None)}, Which.PROBS)
    if kind in ("ordered_logit", "ordered_probit"):
        cdf = expit if kind == "ordered_logit" else jstats.norm.cdf
        return {Which.PROBS: Quantity(_ordered_probs(cdf), categories or None), Which.LINEAR: Quantity(_xb)}, Which.PROBS
    if kind == "tobit":
        return ({Which.MEAN: Quantity(_xb), Which.CENSORED_MEAN: Quantity(_tobit_censored_mean),
                 Which.LINEAR: Quantity(_xb)}, Which.MEAN)
    if kind == "weibull":
        column = design.outcome if design is not None else None
        return ({Which.MEAN: Quantity(_weibull_mean), Which.SURVIVAL: Quantity(_weibull_survival(column)),
                 Which.HAZARD: Quantity(_weibull_hazard(column)), Which.LINEAR: Quantity(_xb)}, Which.MEAN)
    return {Which.LINEAR: Quantity(_xb)}, Which.LINEAR


def _offset(options: Mapping[str, Any], n: int) -> np.ndarray:
    off = options.get("offset")
    expo = options.get("exposure")
    off = np.zeros(n) if off is None else np.broadcast_to(np.asarray(off, dtype=np.float64), (n,))
    if expo is not None:
        expo = np.broadcast_to(np.asarray(expo, dtype=np.float64), (n,))
        if np.any(expo <= 0):
            raise DataError(message("exposure must be positive", expected="exposure > 0",
                                    got=f"{int((expo <= 0).sum())} values <= 0", fix="fix the exposure column"))
        off = off + np.log(expo)
    return np.asarray(off, dtype=np.float64)


def _limit(value: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    if value is None:
        return np.zeros(n), np.zeros(n)
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))
    return np.asarray(arr, dtype=np.float64), np.ones(n)


@float64
def model_data(kind: str, model: Model, matrices: Mapping[str, np.ndarray], options: Mapping[str, Any]) -> dict:
    """The model's data for encoded rows: the design matrices plus what the quantities read
    (offset with log exposure, Tobit limits, Weibull log durations and fixed shape).

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> m = hs.poisson("mdvis ~ lncoins", hs.datasets.load("randhie"))
    >>> d = model_data("poisson", m, {"X": np.ones((2, 2))}, {"exposure": np.array([1.0, np.e])})
    >>> d["offset"].round(6).tolist()
    [0.0, 1.0]
    """
    n = next(iter(matrices.values())).shape[0]
    data: dict[str, Any] = {key: jnp.asarray(value, dtype=jnp.float64) for key, value in matrices.items()}
    data["offset"] = jnp.asarray(_offset(options, n))
    if kind == "tobit":
        for side, short in (("left", "lo"), ("right", "hi")):
            value, flag = _limit(options.get(side), n)
            data[short], data[f"has_{short}"] = jnp.asarray(value), jnp.asarray(flag)
    if kind == "weibull":
        if options.get("y") is not None:
            t = np.asarray(options["y"], dtype=np.float64)
            if np.any(t <= 0):
                raise DataError(message("durations must be positive", expected="t > 0",
                                        got=f"{int((t <= 0).sum())} values <= 0", fix="fix the duration column"))
            data["logt"] = jnp.asarray(np.log(t))
        shape = model.description.get("shape")
        if shape is not None:
            data["shape"] = jnp.asarray(float(shape))
    return data


def predictor(kind: str, model: Model, design: FormulaDesign) -> Predictor:
    """The :class:`Predictor` of a built-in formula model: its quantities and an encoder of new rows.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.logit("GRADE ~ GPA + C(PSI)", hs.datasets.load("spector"))
    >>> p = predictor("logit", m, m.extra["design"])
    >>> p.default, p.design.variables
    (<Which.MEAN: 'mean'>, ('GPA', 'PSI'))
    """
    table, default = quantities(kind, model, design)
    survival = kind == "weibull"

    def encode(new_data: Any = None) -> tuple[pd.Index, dict]:
        labels, matrices, options = design.encode(new_data, outcome=False)
        if not survival:
            options = {k: v for k, v in options.items() if k != "y"}
        return labels, model_data(kind, model, matrices, options)

    margins = Which.RATE if kind in _COUNT else default
    return Predictor(table, default, encode, design, {"margins": margins, "kind": kind})


def _cut(j: int) -> Callable[[Any], Any]:
    def cut(p: Any) -> Any:
        return cutpoints(p.thresholds)[j]
    return cut


def _log_alpha(p: Any) -> Any:
    return jnp.log(p.alpha)


def _log_sigma(p: Any) -> Any:
    return jnp.log(p.sigma)


def _sigma2(p: Any) -> Any:
    return p.sigma ** 2


def _survreg_scale(p: Any) -> Any:
    return 1.0 / p.shape


def _log_survreg_scale(p: Any) -> Any:
    return -jnp.log(p.shape)


def _log_shape(p: Any) -> Any:
    return jnp.log(p.shape)


def natural_scale(kind: str, model: Model) -> dict[str, Callable[[Any], Any]]:
    """Natural-scale quantities of a built-in model, reported by ``res.transformed()`` with
    delta-method SEs (the estimated parameters keep their parametrisation):

    - ordered logit/probit: the cut points ``c_1 < ... < c_{J-1}`` named ``"a|b"`` for the categories
      they separate, as R ``MASS::polr`` prints them (Stata ``ologit``: ``/cut1``, ...);
      the estimated parameters stay the unconstrained ``(c_1, log(c_2 - c_1), ...)`` (statsmodels'
      ``OrderedModel``), so ``res.params`` is the unconstrained parametrisation;
    - negbin, nb1: ``ln_alpha`` (Stata ``/lnalpha``; ``alpha`` itself is the parameter);
    - tobit: ``log_sigma`` (R ``AER::tobit``/``survreg`` ``Log(scale)``) and ``sigma2`` (Stata ``var(e.y)``);
    - weibull (free shape): ``scale = 1/shape`` and ``log_scale`` (R ``survreg``'s ``Scale`` and
      ``Log(scale)``; its coefficients are ``beta``), ``ln_p = log(shape)`` (Stata ``streg ..., time``).

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.ordered_logit("PID ~ logpopul + age", hs.datasets.load("anes96"))
    >>> list(natural_scale("ordered_logit", m))[:2]
    ['0|1', '1|2']
    """
    categories = [str(c) for c in model.description.get("categories", ())]
    if kind in ("ordered_logit", "ordered_probit"):
        return {f"{a}|{b}": _cut(j) for j, (a, b) in enumerate(zip(categories[:-1], categories[1:]))}
    if kind in ("negbin", "nb1"):
        return {"ln_alpha": _log_alpha}
    if kind == "tobit":
        return {"log_sigma": _log_sigma, "sigma2": _sigma2}
    if kind == "weibull" and "shape" in model.names:
        return {"scale": _survreg_scale, "log_scale": _log_survreg_scale, "ln_p": _log_shape}
    return {}


def remember(model: Model, kind: str, formula: str, frame: pd.DataFrame, designs: Mapping[str, pd.DataFrame], *,
             outcome: Any = None, options: Mapping[str, Any] | None = None, arrays: Mapping[str, Any] | None = None,
             drop: Mapping[str, tuple[str, ...]] | None = None) -> Model:
    """``model`` with its formula design and predictor kept in ``model.extra`` (``"design"``,
    ``"predictor"``, ``"dropped_rows"``): what ``res.predict``, ``res.get_prediction``,
    ``res.margins`` and ``res.wald_terms`` use.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.logit("GRADE ~ GPA", hs.datasets.load("spector"))
    >>> sorted(k for k in m.extra if k in ("design", "predictor", "dropped_rows"))
    ['design', 'dropped_rows', 'predictor']
    """
    name = getattr(outcome, "name", outcome)
    design = FormulaDesign.build(formula, frame, designs, outcome=None if name is None else str(name),
                                 options=options, arrays=arrays, drop=drop)
    if kind == "mnlogit":  # parameters "category:column" for every category but the base
        design = dataclasses.replace(design, equations=tuple(str(c) for c in model.description["categories"][1:]))
    transforms = natural_scale(kind, model)
    defaults = dataclasses.replace(model.defaults, transforms={**transforms, **model.defaults.transforms})
    kept = model.replace(extra={**model.extra, "design": design, "dropped_rows": design.dropped_rows},
                         row_labels=design.row_labels,  # per-row pandas arguments (groups=) align by these labels
                         defaults=defaults)
    return kept.replace(extra={**kept.extra, "predictor": predictor(kind, kept, design)})
