"""Formula interface (formulaic): ``hs.logit("GRADE ~ GPA + TUCE + PSI", data=df)`` -> :class:`hs.Model`.

Right-hand sides are built by formulaic (Wilkinson formulas, ``C(x)`` and string columns become
treatment-coded dummies, the constant is named ``Intercept``). Missing values in any variable the
model uses raise a :class:`~hessstats.errors.DataError` naming the columns and counts, unless
``missing="drop"`` (formulaic's silent default of dropping rows is never used). The returned
model's ``description`` records ``{"model", "formula", options...}`` so a fit can be reproduced by
:func:`from_formula`.

Stable contract for the CLI: :data:`MODELS` (name -> constructor) and :func:`from_formula`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix

from .errors import DataError, SpecificationError, message
from .model import Model
from .models import _design
from .models.binary import logit_model, probit_model
from .models.categorical import mnlogit_model, ordered_model
from .models.continuous import gamma_model, normal_model, tobit_model
from .models.count import negbin_model, poisson_model, zip_model
from .models.survival import weibull_model

MISSING = ("raise", "drop")


def _check_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(message("data must be a pandas DataFrame", expected="a DataFrame with the formula's columns",
                                got=type(data).__name__, fix="wrap it: pd.DataFrame(data)"))
    return data


def _parse(formula: str, need_lhs: bool = True) -> Formula:
    try:
        parsed = Formula(formula)
    except Exception as exc:
        raise SpecificationError(message("the formula cannot be parsed", expected="e.g. 'y ~ x1 + C(g)'",
                                         got=f"{formula!r}: {exc}", fix="fix the formula syntax")) from None
    if need_lhs and not hasattr(parsed, "lhs"):
        raise SpecificationError(message("the formula has no outcome", expected="'outcome ~ regressors'",
                                         got=repr(formula), fix="put the outcome left of '~'"))
    return parsed


def _columns(data: pd.DataFrame, *formulas: str) -> list[str]:
    """Columns of ``data`` that the formulas use (unknown names are reported by formulaic later)."""
    used: set[str] = set()
    for f in formulas:
        used |= {str(v) for v in _parse(f, need_lhs=False).required_variables}
    return [c for c in data.columns if str(c) in used]


def prepare(data: Any, formulas: tuple[str, ...], columns: dict[str, Any], missing: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows of ``data`` to use and the extra per-row options (column names resolved to values).

    ``columns`` maps option names (exposure, offset, event, ...) to a column name, an array, a
    scalar or ``None``. Missing values raise (``missing="raise"``) or drop their rows (``"drop"``).
    """
    data = _check_frame(data)
    if missing not in MISSING:
        raise SpecificationError(message("unknown missing", expected=f"one of {MISSING}", got=repr(missing),
                                         fix="missing='raise' (default) or missing='drop'"))
    used = _columns(data, *formulas)
    frame = data[used].copy()
    extras: dict[str, Any] = {}
    for key, value in columns.items():
        if isinstance(value, str):
            if value not in data.columns:
                raise SpecificationError(message(f"{key}={value!r} is not a column", expected=f"one of {list(data.columns)}",
                                                 got=repr(value), fix=f"pass {key} as a column name or an array"))
            frame[f"__{key}"] = data[value].to_numpy()
        elif value is not None and np.ndim(value) == 1:
            if len(value) != len(data):
                raise DataError(message(f"{key} has the wrong length", expected=f"{len(data)} values (one per row)",
                                        got=f"{len(value)}", fix=f"pass {key} aligned with the rows of data"))
            frame[f"__{key}"] = np.asarray(value)
        else:
            extras[key] = value
    if missing == "raise":
        labels = {f"__{k}": (v if isinstance(v, str) else k) for k, v in columns.items()}
        renamed = frame.rename(columns=labels)
        _design.check_missing(renamed.loc[:, ~renamed.columns.duplicated()])
    else:
        frame = frame.dropna()
        if len(frame) == 0:
            raise DataError(message("no rows left after dropping missing values", expected="some complete rows",
                                    got=f"0 of {len(data)}", fix="check the columns used by the model"))
    for key in columns:
        if f"__{key}" in frame:
            extras[key] = frame.pop(f"__{key}").to_numpy()
    return frame, extras


def matrices(formula: str, frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Outcome and design (formulaic) of a two-sided formula on complete rows."""
    parsed = _parse(formula)
    try:
        mm = model_matrix(parsed, frame, na_action="raise")
    except Exception as exc:
        raise SpecificationError(message("formulaic could not build the design", expected="a valid formula on data",
                                         got=f"{type(exc).__name__}: {exc}"[:500], fix="check the formula")) from None
    lhs = pd.DataFrame(mm.lhs)
    if lhs.shape[1] != 1:
        raise SpecificationError(message("the outcome must be one numeric column", expected="a numeric outcome",
                                         got=f"columns {list(lhs.columns)} (a string outcome is dummy-coded)",
                                         fix="recode the outcome as numbers, e.g. (df.y == 'yes').astype(int)"))
    return lhs.iloc[:, 0], pd.DataFrame(mm.rhs)


def rhs_matrix(formula: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Design of a one-sided formula (``"~ x1 + x2"``), e.g. the inflation part of ``hs.zip``."""
    rhs = formula if formula.strip().startswith("~") else "~ " + formula
    return pd.DataFrame(model_matrix(rhs, frame, na_action="raise"))


def _describe(name: str, formula: str, **options: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"model": name, "formula": formula}
    for key, value in options.items():
        out[key] = value if value is None or isinstance(value, (str, int, float, bool)) else "<array>"
    return out


# ----------------------------------------------------------------------------- constructors

def logit(formula: str, data: pd.DataFrame, *, missing: str = "raise", separation: bool = True) -> Model:
    """Logit model from a formula, e.g. ``hs.logit("GRADE ~ GPA + TUCE + PSI", data=df)``.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> list(res.params.index)
    ['Intercept', 'GPA', 'TUCE', 'PSI']
    """
    frame, _ = prepare(data, (formula,), {}, missing)
    y, X = matrices(formula, frame)
    return logit_model(y, X, separation=separation, description=_describe("logit", formula, missing=missing))


def probit(formula: str, data: pd.DataFrame, *, missing: str = "raise", separation: bool = True) -> Model:
    """Probit model from a formula.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.probit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> round(float(res.params["PSI"]), 6)
    1.426332
    """
    frame, _ = prepare(data, (formula,), {}, missing)
    y, X = matrices(formula, frame)
    return probit_model(y, X, separation=separation, description=_describe("probit", formula, missing=missing))


def poisson(formula: str, data: pd.DataFrame, *, exposure: Any = None, offset: Any = None,
            missing: str = "raise") -> Model:
    """Poisson model from a formula; ``exposure``/``offset`` are column names or arrays.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.poisson("mdvis ~ lncoins + idp", hs.datasets.load("randhie"))
    >>> m.description["model"], m.names
    ('poisson', ('Intercept', 'lncoins', 'idp'))
    """
    frame, extra = prepare(data, (formula,), {"exposure": exposure, "offset": offset}, missing)
    y, X = matrices(formula, frame)
    return poisson_model(y, X, exposure=extra["exposure"], offset=extra["offset"],
                         description=_describe("poisson", formula, exposure=exposure, offset=offset, missing=missing))


def negbin(formula: str, data: pd.DataFrame, *, exposure: Any = None, offset: Any = None,
           missing: str = "raise") -> Model:
    """Negative binomial (NB2) model from a formula; last parameter ``alpha``.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.negbin("mdvis ~ lncoins + idp", hs.datasets.load("randhie")).names[-1]
    'alpha'
    """
    frame, extra = prepare(data, (formula,), {"exposure": exposure, "offset": offset}, missing)
    y, X = matrices(formula, frame)
    return negbin_model(y, X, exposure=extra["exposure"], offset=extra["offset"],
                        description=_describe("negbin", formula, exposure=exposure, offset=offset, missing=missing))


def zip(formula: str, data: pd.DataFrame, *, inflation: str = "~ 1", exposure: Any = None,  # noqa: A001
        offset: Any = None, missing: str = "raise") -> Model:
    """Zero-inflated Poisson from a formula; ``inflation`` is a one-sided formula for the logit part.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.zip("mdvis ~ lncoins", hs.datasets.load("randhie"), inflation="~ idp").names
    ('Intercept', 'lncoins', 'inflate_Intercept', 'inflate_idp')
    """
    frame, extra = prepare(data, (formula, inflation), {"exposure": exposure, "offset": offset}, missing)
    y, X = matrices(formula, frame)
    Z = rhs_matrix(inflation, frame)
    return zip_model(y, X, Z, exposure=extra["exposure"], offset=extra["offset"],
                     description=_describe("zip", formula, inflation=inflation, exposure=exposure, offset=offset,
                                           missing=missing))


def ols(formula: str, data: pd.DataFrame, *, missing: str = "raise") -> Model:
    """Normal linear regression by maximum likelihood (``beta`` then ``sigma``; see
    :mod:`hessstats.models.continuous` for the relation to statsmodels OLS).

    Example
    -------
    >>> import hessstats as hs
    >>> hs.ols("TOTEMP ~ GNP + POP", hs.datasets.load("longley")).names
    ('Intercept', 'GNP', 'POP', 'sigma')
    """
    frame, _ = prepare(data, (formula,), {}, missing)
    y, X = matrices(formula, frame)
    return normal_model(y, X, description=_describe("ols", formula, missing=missing))


def gamma(formula: str, data: pd.DataFrame, *, missing: str = "raise") -> Model:
    """Gamma regression with log link by maximum likelihood (``beta`` then ``scale``).

    Example
    -------
    >>> import hessstats as hs
    >>> hs.gamma("YES ~ COUTAX + UNEMPF", hs.datasets.load("scotland")).names
    ('Intercept', 'COUTAX', 'UNEMPF', 'scale')
    """
    frame, _ = prepare(data, (formula,), {}, missing)
    y, X = matrices(formula, frame)
    return gamma_model(y, X, description=_describe("gamma", formula, missing=missing))


def tobit(formula: str, data: pd.DataFrame, *, left: Any = 0.0, right: Any = None, missing: str = "raise") -> Model:
    """Tobit (censored normal) regression; ``left``/``right`` are numbers, column names, arrays or ``None``.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.tobit("affairs ~ rate_marriage + age", hs.datasets.load("fair"), left=0).names
    ('Intercept', 'rate_marriage', 'age', 'sigma')
    """
    frame, extra = prepare(data, (formula,), {"left": left, "right": right}, missing)
    y, X = matrices(formula, frame)
    return tobit_model(y, X, left=extra["left"], right=extra["right"],
                       description=_describe("tobit", formula, left=left, right=right, missing=missing))


def weibull(formula: str, data: pd.DataFrame, *, event: Any = None, shape: float | None = None,
            missing: str = "raise") -> Model:
    """Weibull AFT regression of durations with right censoring; ``event`` a column name or array (1 = observed).

    Example
    -------
    >>> import hessstats as hs
    >>> hs.weibull("survival ~ age", hs.datasets.load("heart"), event="censors").names
    ('Intercept', 'age', 'shape')
    """
    frame, extra = prepare(data, (formula,), {"event": event}, missing)
    y, X = matrices(formula, frame)
    return weibull_model(y, X, event=extra["event"], shape=shape,
                         description=_describe("weibull", formula, event=event, shape=shape, missing=missing))


def _categorical_outcome(formula: str, frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    lhs = str(_parse(formula).lhs).strip()
    if lhs not in frame.columns:
        raise SpecificationError(message("the outcome of a categorical model must be a column",
                                         expected=f"a column name left of '~', one of {list(frame.columns)}",
                                         got=repr(lhs), fix="create the outcome column first, then use its name"))
    rhs = formula.split("~", 1)[1]
    return frame[lhs], rhs_matrix(rhs, frame)


def mnlogit(formula: str, data: pd.DataFrame, *, missing: str = "raise") -> Model:
    """Multinomial logit; parameters named ``"category:term"``, first category the base.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.mnlogit("PID ~ logpopul + age", hs.datasets.load("anes96")).names[:3]
    ('1:Intercept', '1:logpopul', '1:age')
    """
    frame, _ = prepare(data, (formula,), {}, missing)
    y, X = _categorical_outcome(formula, frame)
    return mnlogit_model(y, X, description=_describe("mnlogit", formula, missing=missing))


def _ordered(distr: str, formula: str, data: pd.DataFrame, missing: str) -> Model:
    frame, _ = prepare(data, (formula,), {}, missing)
    y, X = _categorical_outcome(formula, frame)
    X = X.drop(columns=[c for c in X.columns if c == "Intercept"])
    return ordered_model(y, X, distr=distr, description=_describe(f"ordered_{distr}", formula, missing=missing))


def ordered_logit(formula: str, data: pd.DataFrame, *, missing: str = "raise") -> Model:
    """Ordered logit; the formula's ``Intercept`` is dropped (the cutpoints play its role).

    Example
    -------
    >>> import hessstats as hs
    >>> hs.ordered_logit("PID ~ logpopul + age", hs.datasets.load("anes96")).names[:3]
    ('logpopul', 'age', '0/1')
    """
    return _ordered("logit", formula, data, missing)


def ordered_probit(formula: str, data: pd.DataFrame, *, missing: str = "raise") -> Model:
    """Ordered probit; as :func:`ordered_logit` with the normal distribution.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.ordered_probit("PID ~ logpopul + age", hs.datasets.load("anes96")).description["model"]
    'ordered_probit'
    """
    return _ordered("probit", formula, data, missing)


MODELS: dict[str, Callable[..., Model]] = {
    "ols": ols,
    "logit": logit,
    "probit": probit,
    "poisson": poisson,
    "negbin": negbin,
    "gamma": gamma,
    "mnlogit": mnlogit,
    "ordered_logit": ordered_logit,
    "ordered_probit": ordered_probit,
    "zip": zip,
    "tobit": tobit,
    "weibull": weibull,
}
"""Built-in models by name: ``MODELS[name](formula, data, **options) -> Model``."""


def from_formula(model: str, formula: str, data: pd.DataFrame, **options: Any) -> Model:
    """Build the built-in ``model`` (a key of :data:`MODELS`) from a formula and a DataFrame.

    Example
    -------
    >>> import hessstats as hs
    >>> m = from_formula("logit", "GRADE ~ GPA + PSI", hs.datasets.load("spector"))
    >>> m.description["model"], m.description["formula"]
    ('logit', 'GRADE ~ GPA + PSI')
    """
    try:
        constructor = MODELS[model]
    except KeyError:
        raise SpecificationError(message(f"unknown model {model!r}", expected=f"one of {sorted(MODELS)}",
                                         got=repr(model), fix="choose one of the listed model names")) from None
    return constructor(formula, data, **options)
