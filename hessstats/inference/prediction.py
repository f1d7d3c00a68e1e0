"""Predictions at the estimate or at new data, with delta-method standard errors and intervals.

A model says what it can predict with a :class:`Predictor` (the built-in formula models carry one
in ``model.extra["predictor"]``): a table of :class:`Quantity` by :class:`Which` (linear predictor,
mean, per-category probabilities, ...) and, for formula models, how to encode new rows the way the
fitted design was encoded. A custom log-likelihood passes ``predict=fn(params, data)`` instead.

Standard errors are by the delta method with the exact JAX Jacobian of the prediction in the
parameters and the result's covariance (its ``cov_type``). Intervals (``interval="link"``, the
default where a quantity declares a link): a quantity that is a monotone function of a linear
predictor (the mean of logit, probit, Poisson, NB2, Gamma, binomial; statsmodels'
``get_prediction(which="mean")``, ``method="endpoint"``, and R ``predict(type="link")`` followed by
the inverse link) gets the Wald interval of the linear predictor transformed by the inverse link;
every other quantity (``interval="delta"``) gets ``predicted -/+ z se``. The standard error is
the delta-method one either way (statsmodels reports the same).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats._checks import check_alpha
from hessstats._config import float64, x64
from hessstats.core import interpret
from hessstats.errors import DataError, SpecificationError, message
from hessstats.inference.delta import sandwich, standard_errors, warn_unconverged

if TYPE_CHECKING:
    from hessstats.results import FitResult


class Which(enum.Enum):
    """What to predict. Strings are accepted with the aliases of :data:`ALIASES` (statsmodels'
    ``which=`` names and Stata's ``predict`` options).

    Example
    -------
    >>> Which.parse("xb"), Which.parse("probability"), Which.parse(Which.PROBS)
    (<Which.LINEAR: 'linear'>, <Which.MEAN: 'mean'>, <Which.PROBS: 'probs'>)
    """

    LINEAR = "linear"
    """The linear predictor ``x'b`` (with offset and log exposure for count models)."""
    MEAN = "mean"
    """The mean of the outcome: ``P(y=1)``, the expected count (with exposure), ``x'b`` for OLS."""
    RATE = "rate"
    """Count models: ``exp(x'b)``, the mean per unit of exposure without the offset (Stata ``ir``)."""
    PROBS = "probs"
    """Per-category probabilities (mnlogit, ordered): one column per category."""
    PROB_ZERO = "prob_zero"
    """Zero-inflated models: ``P(y = 0)``."""
    SURVIVAL = "survival"
    """Duration models: ``S(t | x)`` at the row's duration."""
    HAZARD = "hazard"
    """Duration models: the hazard ``h(t | x)`` at the row's duration."""
    CENSORED_MEAN = "censored_mean"
    """Tobit: ``E(y)`` of the censored outcome (Stata ``ystar(a, b)``)."""

    @classmethod
    def parse(cls, value: Any) -> Which:
        """The member for ``value`` (a member, its value, or an alias), else a SpecificationError."""
        if isinstance(value, cls):
            return value
        key = str(value).strip().lower()
        for member in cls:
            if key == member.value:
                return member
        if key in ALIASES:
            return ALIASES[key]
        raise SpecificationError(message(
            "unknown prediction", expected=f"one of {[m.value for m in cls]} (or aliases {sorted(ALIASES)})",
            got=repr(value), fix="choose one of the listed quantities"))


ALIASES: dict[str, Which] = {
    "xb": Which.LINEAR, "linear_predictor": Which.LINEAR, "eta": Which.LINEAR, "link": Which.LINEAR,
    "mu": Which.MEAN, "response": Which.MEAN, "pr": Which.MEAN, "probability": Which.MEAN, "n": Which.MEAN,
    "expected": Which.MEAN, "ir": Which.RATE, "mean-main": Which.RATE, "prob": Which.PROBS,
    "probabilities": Which.PROBS, "outcome": Which.PROBS, "pr0": Which.PROB_ZERO, "prob-zero": Which.PROB_ZERO,
    "zero": Which.PROB_ZERO, "ystar": Which.CENSORED_MEAN, "e": Which.CENSORED_MEAN,
}
"""String aliases of :class:`Which` (statsmodels ``which=`` and Stata ``predict`` option names)."""


@dataclass(frozen=True)
class Quantity:
    """One predictable quantity: ``fn(params, data) -> (n,)`` (or ``(n, J)`` with ``labels`` for its
    ``J`` columns). ``inverse`` (a jax function) declares the quantity as ``inverse(linear
    predictor)``, a monotone transformation: its intervals are then the linear predictor's,
    transformed (``interval="link"``).

    Example
    -------
    >>> q = Quantity(lambda p, d: jnp.exp(d["X"] @ p["b"]), inverse=jnp.exp)
    >>> q.labels is None
    True
    """

    fn: Callable[[Any, Any], Any]
    labels: tuple[str, ...] | None = None
    inverse: Callable[[Any], Any] | None = None


@dataclass(frozen=True, eq=False)
class Predictor:
    """What a model predicts: ``quantities`` by :class:`Which` (``default`` when ``which`` is not
    given) and ``encode(new_data) -> (row labels, model data)``, which turns new rows into the
    model's data (formula models: the fitted formulaic design, so factor levels, stateful
    transforms and option columns are encoded as at the fit). ``variables``: the raw data columns
    behind the design (what ``res.margins()`` varies), ``None`` for array models.

    Example
    -------
    >>> p = Predictor({Which.MEAN: Quantity(lambda prm, d: d["X"] @ prm["b"])})
    >>> p.quantity(None)[0]
    <Which.MEAN: 'mean'>
    """

    quantities: Mapping[Which, Quantity]
    default: Which = Which.MEAN
    encode: Callable[[Any], tuple[pd.Index, Any]] | None = None
    design: Any = None
    """The formula design (:class:`~hessstats.models.terms.FormulaDesign`) when there is one."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def quantity(self, which: Any) -> tuple[Which, Quantity]:
        """The :class:`Which` and its quantity; a typed error listing the available ones otherwise."""
        which = self.default if which is None else Which.parse(which)
        if which not in self.quantities:
            raise SpecificationError(message(
                f"this model cannot predict {which.value!r}", expected=f"one of {[w.value for w in self.quantities]}",
                got=repr(which.value), fix="choose one of the listed quantities, or pass predict=fn(params, data)"))
        return which, self.quantities[which]


def predictor_of(res: FitResult, predict: Callable | None = None) -> Predictor:
    """The model's :class:`Predictor`, or one made of a user's ``predict(params, data)``.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> res = hs.logit("GRADE ~ GPA", hs.datasets.load("spector")).fit()
    >>> predictor_of(res).default
    <Which.MEAN: 'mean'>
    """
    if predict is not None:
        if not callable(predict):
            raise SpecificationError(message("predict must be a function", expected="predict(params, data) -> (n,)",
                                             got=type(predict).__name__, fix="pass a jax.numpy function"))
        base = res.model.extra.get("predictor")
        encode = base.encode if isinstance(base, Predictor) else None
        return Predictor({Which.MEAN: Quantity(predict)}, Which.MEAN, encode,
                         base.design if isinstance(base, Predictor) else None)
    found = res.model.extra.get("predictor")
    if isinstance(found, Predictor):
        return found
    raise SpecificationError(message(
        "this model declares no predictions", expected="a built-in formula model, or predict=fn(params, data)",
        got=f"model {res.model.description.get('model', 'custom')!r} without a predictor",
        fix="pass predict=lambda p, d: ... (a jax.numpy function of the params pytree and the data)"))


def _data(res: FitResult, predictor: Predictor, new_data: Any) -> tuple[pd.Index, Any]:
    """Row labels and model data for the prediction: the fitted rows, or ``new_data`` encoded."""
    if new_data is None:
        data = res.model.data
        labels = res.model.row_labels
        design = predictor.design
        if design is not None and getattr(design, "row_labels", None) is not None:
            labels = design.row_labels
        if labels is None:
            labels = pd.RangeIndex(res.nobs or 0)
        return pd.Index(labels), data
    if predictor.encode is not None:
        return predictor.encode(new_data)
    if isinstance(new_data, pd.DataFrame):
        data = {str(c): jnp.asarray(np.asarray(new_data[c], dtype=np.float64)) for c in new_data.columns}
        return new_data.index, data
    if isinstance(new_data, Mapping):
        data = jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a, dtype=np.float64)), dict(new_data))
        n = next((int(np.shape(a)[0]) for a in jax.tree_util.tree_leaves(data) if np.ndim(a) >= 1), 1)
        return pd.RangeIndex(n), data
    raise DataError(message("new_data must be a DataFrame or a dict of arrays", expected="a pandas DataFrame",
                            got=type(new_data).__name__, fix="pass pd.DataFrame(...)"))


def _evaluate(res: FitResult, fn: Callable, data: Any, jacobian: bool) -> tuple[np.ndarray, np.ndarray | None]:
    spec = res.model.spec

    def flat(theta):
        return jnp.asarray(fn(spec.unravel(theta), data), dtype=jnp.float64)

    theta = np.asarray(res.theta, dtype=np.float64)
    try:  # one traced program, evaluated by numpy or compiled once (not op by op)
        value, jac = interpret.call(lambda t: (flat(t), jax.jacfwd(flat)(t) if jacobian else None), theta)
    except (SpecificationError, DataError):
        raise
    except Exception as exc:
        raise SpecificationError(message(
            "the prediction function failed on the data", expected="predict(params, data) in jax.numpy",
            got=f"{type(exc).__name__}: {exc}"[:300], fix="call it on res.params_tree and the data to debug")) from exc
    if value.ndim not in (1, 2) or not np.issubdtype(value.dtype, np.floating):
        raise SpecificationError(message(
            "the prediction has the wrong shape", expected="one prediction per row, shape (n,) or (n, J)",
            got=f"shape {value.shape}", fix="return one value (or one row of values) per observation"))
    return value, jac


@dataclass(frozen=True, eq=False)
class PredictionResult:
    """Predictions with delta-method standard errors and Wald intervals (see the module docstring).

    ``predicted``, ``se``, ``ci_lower``, ``ci_upper``: 1-d arrays in the order of ``index``
    (the rows' labels; ``(row, outcome)`` for per-category quantities). ``summary_frame()`` has
    statsmodels' columns for discrete models: ``predicted, se, ci_lower, ci_upper``.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> list(res.get_prediction().summary_frame().columns)
    ['predicted', 'se', 'ci_lower', 'ci_upper']
    """

    which: Which
    index: pd.Index
    predicted: np.ndarray
    se: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    alpha: float
    interval: str
    cov: np.ndarray | None = None

    def summary_frame(self) -> pd.DataFrame:
        """``predicted, se, ci_lower, ci_upper`` indexed by row (and outcome)."""
        return pd.DataFrame({"predicted": self.predicted, "se": self.se, "ci_lower": self.ci_lower,
                             "ci_upper": self.ci_upper}, index=self.index)

    def conf_int(self) -> np.ndarray:
        """``(m, 2)`` array of interval bounds (as statsmodels' ``conf_int()``)."""
        return np.column_stack([self.ci_lower, self.ci_upper])

    def __repr__(self) -> str:
        return f"<PredictionResult {self.which.value}: {len(self.predicted)} values, interval={self.interval}>"


def _frame_index(labels: pd.Index, quantity: Quantity, width: int | None) -> pd.Index:
    if width is None:
        return pd.Index(labels, name=labels.name or "row")
    names = list(quantity.labels) if quantity.labels is not None and len(quantity.labels) == width else \
        [str(j) for j in range(width)]
    return pd.MultiIndex.from_product([list(labels), names], names=[labels.name or "row", "outcome"])


@float64
def predict(res: FitResult, new_data: Any = None, which: Any = None, *, predict: Callable | None = None
            ) -> pd.Series | pd.DataFrame:
    """Predictions at the estimate: a Series by row label (a DataFrame with one column per
    category for per-category probabilities).

    ``new_data=None`` predicts the fitted rows; a DataFrame is encoded as the fitted design was
    (unseen factor levels and missing columns are a :class:`DataError` naming them).

    Example
    -------
    >>> import pandas as pd, hessstats as hs
    >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> new = pd.DataFrame({"GPA": [3.0], "TUCE": [20.0], "PSI": [1]})
    >>> predict(res, new).round(6).tolist()
    [0.435077]
    """
    predictor = predictor_of(res, predict)
    which, quantity = predictor.quantity(which)
    labels, data = _data(res, predictor, new_data)
    with x64():
        value, _ = _evaluate(res, quantity.fn, data, jacobian=False)
    if value.ndim == 2:
        columns = list(quantity.labels) if quantity.labels is not None else list(range(value.shape[1]))
        return pd.DataFrame(value, index=labels, columns=pd.Index(columns, name="outcome"))
    return pd.Series(value, index=labels, name=which.value)


@float64
def get_prediction(res: FitResult, new_data: Any = None, which: Any = None, *, alpha: float = 0.05,
                   interval: str | None = None, predict: Callable | None = None) -> PredictionResult:
    """Predictions with delta-method standard errors and intervals (:class:`PredictionResult`).

    ``interval``: ``"link"`` (default for a quantity declared as ``inverse(linear predictor)``:
    the linear predictor's Wald interval transformed, statsmodels' default) or ``"delta"``
    (``predicted -/+ z se``, the default otherwise).

    Example
    -------
    >>> import pandas as pd, hessstats as hs
    >>> res = hs.poisson("mdvis ~ lncoins + C(idp)", hs.datasets.load("randhie")).fit()
    >>> new = pd.DataFrame({"lncoins": [0.0, 4.6], "idp": [0, 1]})
    >>> get_prediction(res, new).summary_frame().round(4)
         predicted      se  ci_lower  ci_upper
    row                                       
    0       3.4376  0.0213    3.3961    3.4795
    1       1.8916  0.0233    1.8466    1.9378
    """
    warn_unconverged(res, "predictions with standard errors")
    q = scipy.special.ndtri(1 - check_alpha(alpha) / 2)
    predictor = predictor_of(res, predict)
    which, quantity = predictor.quantity(which)
    labels, data = _data(res, predictor, new_data)
    with x64():
        value, jac = _evaluate(res, quantity.fn, data, jacobian=True)
    width = value.shape[1] if value.ndim == 2 else None
    flat_value = value.reshape(-1)
    jac = jac.reshape(flat_value.size, -1)
    cov = sandwich(jac, res.cov_array)
    se = standard_errors(cov)
    chosen = interval or ("link" if quantity.inverse is not None else "delta")
    if chosen not in ("link", "delta"):
        raise SpecificationError(message("unknown interval", expected="'link' or 'delta'", got=repr(interval),
                                         fix="interval='link' (transform the linear predictor's interval) or 'delta'"))
    if chosen == "link":
        if quantity.inverse is None or Which.LINEAR not in predictor.quantities:
            raise SpecificationError(message(
                f"{which.value!r} is not declared as a transformation of the linear predictor",
                expected="interval='delta'", got="interval='link'", fix="use interval='delta'"))
        with x64():
            lin, lin_jac = _evaluate(res, predictor.quantities[Which.LINEAR].fn, data, jacobian=True)
            lin_se = standard_errors(sandwich(lin_jac.reshape(lin.size, -1), res.cov_array))
            # both ends through the inverse link as one traced program (numpy; no compile per operation)
            lo, hi = interpret.call(lambda a, b: (quantity.inverse(a), quantity.inverse(b)), lin - q * lin_se,
                                    lin + q * lin_se)
        lower, upper = np.minimum(lo, hi), np.maximum(lo, hi)
    else:
        lower, upper = flat_value - q * se, flat_value + q * se
    return PredictionResult(which, _frame_index(pd.Index(labels), quantity, width), flat_value, se, lower, upper,
                            float(alpha), chosen, cov if flat_value.size <= 2000 else None)
