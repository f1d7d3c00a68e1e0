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

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from hessstats.errors import DataError, SpecificationError, message
from hessstats.model import Model
from hessstats.models.betareg import betareg_model
from hessstats.models.binary import logit_model, probit_model
from hessstats.models.binomial import BinomialLink, binomial_model
from hessstats.models.biprobit import biprobit_model
from hessstats.models.categorical import mnlogit_model, ordered_model
from hessstats.models.continuous import gamma_model, normal_model, tobit_model
from hessstats.models.count import InflationLink, negbin_model, poisson_model, zinb_model, zip_model
from hessstats.models.firth import FirthInformation, firth_logit_model
from hessstats.models.genpoisson import genpoisson_model
from hessstats.models.glm import CANONICAL, GLMFamily, GLMLink, GLMScale, glm_model
from hessstats.models.heckman import heckman_model
from hessstats.models.hurdle import ZeroLink, hurdle_negbin_model, hurdle_poisson_model
from hessstats.models.nb1 import nb1_model
from hessstats.models.predictors import remember
from hessstats.models.survival import weibull_model
from hessstats.models.terms import categorical_outcome, describe, matrices, prepare, rhs_matrix
from hessstats.models.truncated import truncated_negbin_model, truncated_poisson_model


def cluster_groups(fn: Callable[..., Model]) -> Callable[..., Model]:
    """Give a formula function the keyword ``groups=``: cluster labels as a column name (or a list of
    two for two-way clustering), a Series (aligned by row label) or an array (one per row of
    ``data``), kept for the rows that survive ``missing="drop"`` and used by ``fit(cov_type="cluster")``
    when no ``groups`` is passed there (Stata ``vce(cluster g)``, R ``vcovCL(fit, cluster = ~g)``);
    ``fit(groups="g")`` names them too.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("petersen")
    >>> res = hs.ols("y ~ x", df, groups="firm").fit(cov_type="cluster")
    >>> round(float(res.bse["x"]), 7)  # R sandwich::vcovCL(lm(y ~ x), cluster = ~firm)
    0.0505957
    """

    @functools.wraps(fn)
    def with_groups(formula: str, data: pd.DataFrame, *args: Any, groups: Any = None, **kwargs: Any) -> Model:
        model = fn(formula, data, *args, **kwargs)
        return model if groups is None else _attach_groups(model, data, groups)

    signature = inspect.signature(fn)
    with_groups.__signature__ = signature.replace(parameters=[  # type: ignore[attr-defined]
        *signature.parameters.values(), inspect.Parameter("groups", inspect.Parameter.KEYWORD_ONLY, default=None)])
    return with_groups


def _attach_groups(model: Model, data: pd.DataFrame, groups: Any) -> Model:
    """``model`` with ``extra["groups"]``: ``{name: labels of the kept rows}`` for one or two clusterings."""
    labels = getattr(model, "row_labels", None)
    if labels is None or not isinstance(data, pd.DataFrame):
        raise SpecificationError(message(
            "groups= on this formula model needs the data's row labels", expected="a pandas DataFrame as data",
            got=type(data).__name__, fix="pass groups to fit() as an array aligned with the model's rows"))
    items = list(groups) if isinstance(groups, (list, tuple)) else [groups]
    if not 1 <= len(items) <= 2:
        raise SpecificationError(message(
            "groups= takes one or two clusterings", expected="a column name, or a list of two",
            got=f"{len(items)} items", fix="pass groups='g' or groups=['g1', 'g2']"))
    kept: dict[str, np.ndarray] = {}
    for i, item in enumerate(items):
        if isinstance(item, str):
            if item not in data.columns:
                raise DataError(message(
                    f"groups names a column that is not in the data: {item!r}",
                    expected=f"one of {list(data.columns)[:20]}", got=repr(item), fix="check the spelling"))
            column, name = data[item], item
        elif isinstance(item, pd.Series):
            column, name = item, str(item.name if item.name is not None else f"groups{i}")
        else:
            values = np.asarray(item)
            if values.ndim != 1 or len(values) != len(data):
                raise DataError(message(
                    "groups has the wrong length", expected=f"one label per row of data ({len(data)})",
                    got=f"shape {values.shape}", fix="pass a column name, a Series, or an array as long as data"))
            column, name = pd.Series(values, index=data.index), f"groups{i}"
        missing = labels.difference(column.index)
        if len(missing):
            raise DataError(message(
                "groups does not cover every row of the model", expected="a label for every row used",
                got=f"no label for rows {list(missing[:5])}", fix="align the Series with the data's index"))
        kept[name] = column.loc[labels].to_numpy()
    return model.replace(extra={**model.extra, "groups": kept})


@cluster_groups
def logit(formula: str, data: pd.DataFrame, *, missing: str = "raise", weights: Any = None,
          weight_type: Any = None, separation: bool = True) -> Model:
    """Logit model from a formula, e.g. ``hs.logit("GRADE ~ GPA + TUCE + PSI", data=df)``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    separation : bool
        Check for perfect separation (by linear programming) before fitting.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> list(res.params.index)
    ['Intercept', 'GPA', 'TUCE', 'PSI']
    """
    frame, extra = prepare(data, (formula,), {"weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = logit_model(y, X, weights=extra["weights"], weight_type=weight_type, separation=separation,
                       description=describe("logit", formula, missing=missing, **_weight_options(weights, weight_type)))
    return remember(model, "logit", formula, frame, {"X": X}, outcome=y)


@cluster_groups
def probit(formula: str, data: pd.DataFrame, *, missing: str = "raise", weights: Any = None,
           weight_type: Any = None, separation: bool = True) -> Model:
    """Probit model from a formula.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    separation : bool
        Check for perfect separation (by linear programming) before fitting.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.probit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> round(float(res.params["PSI"]), 6)
    1.426332
    """
    frame, extra = prepare(data, (formula,), {"weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = probit_model(y, X, weights=extra["weights"], weight_type=weight_type, separation=separation,
                        description=describe("probit", formula, missing=missing, **_weight_options(weights, weight_type)))
    return remember(model, "probit", formula, frame, {"X": X}, outcome=y)


@cluster_groups
def poisson(formula: str, data: pd.DataFrame, *, exposure: Any = None, offset: Any = None,
            missing: str = "raise", weights: Any = None,
            weight_type: Any = None) -> Model:
    """Poisson model from a formula; ``exposure``/``offset`` are column names or arrays.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    exposure, offset : str or array-like, optional
        Column names or arrays; ``log(exposure)`` and ``offset`` enter the linear predictor with coefficient 1.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.poisson("mdvis ~ lncoins + idp", hs.datasets.load("randhie"))
    >>> m.description["model"], m.names
    ('poisson', ('Intercept', 'lncoins', 'idp'))
    """
    frame, extra = prepare(data, (formula,), {"exposure": exposure, "offset": offset, "weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = poisson_model(y, X, weights=extra["weights"], weight_type=weight_type, exposure=extra["exposure"], offset=extra["offset"],
                         description=describe("poisson", formula, exposure=exposure, offset=offset, missing=missing,
                                              **_weight_options(weights, weight_type)))
    return remember(model, "poisson", formula, frame, {"X": X}, outcome=y,
                    options={"exposure": exposure, "offset": offset}, arrays=extra)


@cluster_groups
def negbin(formula: str, data: pd.DataFrame, *, exposure: Any = None, offset: Any = None,
           missing: str = "raise", weights: Any = None,
           weight_type: Any = None) -> Model:
    """Negative binomial (NB2) model from a formula; last parameter ``alpha``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    exposure, offset : str or array-like, optional
        Column names or arrays, as :func:`poisson`.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.negbin("mdvis ~ lncoins + idp", hs.datasets.load("randhie")).names[-1]
    'alpha'
    """
    frame, extra = prepare(data, (formula,), {"exposure": exposure, "offset": offset, "weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = negbin_model(y, X, weights=extra["weights"], weight_type=weight_type, exposure=extra["exposure"], offset=extra["offset"],
                        description=describe("negbin", formula, exposure=exposure, offset=offset, missing=missing,
                                             **_weight_options(weights, weight_type)))
    return remember(model, "negbin", formula, frame, {"X": X}, outcome=y,
                    options={"exposure": exposure, "offset": offset}, arrays=extra)


@cluster_groups
def zip(formula: str, data: pd.DataFrame, *, inflation: str = "~ 1", exposure: Any = None,  # noqa: A001
        offset: Any = None, missing: str = "raise", inflation_link: InflationLink | str = "logit",
        weights: Any = None, weight_type: Any = None) -> Model:
    """Zero-inflated Poisson from a formula; ``inflation`` is a one-sided formula for the inflation part,
    ``inflation_link`` its link (``"logit"``, default, or ``"probit"``: statsmodels ``inflation=``).

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    inflation : str
        One-sided formula of the logit inflation part (default ``"~ 1"``).
    exposure, offset : str or array-like, optional
        Column names or arrays; ``log(exposure)`` and ``offset`` enter the linear predictor with coefficient 1.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.zip("mdvis ~ lncoins", hs.datasets.load("randhie"), inflation="~ idp").names
    ('Intercept', 'lncoins', 'inflate_Intercept', 'inflate_idp')
    """
    frame, extra = prepare(data, (formula, inflation), {"exposure": exposure, "offset": offset, "weights": weights}, missing)
    y, X = matrices(formula, frame)
    Z = rhs_matrix(inflation, frame)
    link = InflationLink(inflation_link)
    desc = describe("zip", formula, inflation=inflation, exposure=exposure, offset=offset, missing=missing,
                    **_weight_options(weights, weight_type))
    if link is not InflationLink.LOGIT:
        desc["inflation_link"] = link.value
    model = zip_model(y, X, Z, weights=extra["weights"], weight_type=weight_type, exposure=extra["exposure"],
                      offset=extra["offset"], description=desc, inflation_link=link)
    return remember(model, "zip", formula, frame, {"X": X, "Z": Z}, outcome=y,
                    options={"exposure": exposure, "offset": offset}, arrays=extra)


@cluster_groups
def zinb(formula: str, data: pd.DataFrame, *, inflation: str = "~ 1", exposure: Any = None, offset: Any = None,
         missing: str = "raise", inflation_link: InflationLink | str = "logit", weights: Any = None,
         weight_type: Any = None) -> Model:
    """Zero-inflated NB2 from a formula (statsmodels ``ZeroInflatedNegativeBinomialP(p=2)``, Stata ``zinb``);
    ``inflation`` a one-sided formula, ``inflation_link`` logit or probit; last parameter ``alpha``.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.zinb("art ~ ment", hs.datasets.load("biochemists"), inflation_link="probit").names
    ('Intercept', 'ment', 'inflate_Intercept', 'alpha')
    """
    frame, extra = prepare(data, (formula, inflation), {"exposure": exposure, "offset": offset, "weights": weights},
                           missing)
    y, X = matrices(formula, frame)
    Z = rhs_matrix(inflation, frame)
    link = InflationLink(inflation_link)
    model = zinb_model(y, X, Z, weights=extra["weights"], weight_type=weight_type, exposure=extra["exposure"],
                       offset=extra["offset"], inflation_link=link,
                       description=describe("zinb", formula, inflation=inflation, exposure=exposure, offset=offset,
                                            inflation_link=link.value, missing=missing,
                                            **_weight_options(weights, weight_type)))
    return remember(model, "zinb", formula, frame, {"X": X, "Z": Z}, outcome=y,
                    options={"exposure": exposure, "offset": offset}, arrays=extra)


@cluster_groups
def ols(formula: str, data: pd.DataFrame, *, missing: str = "raise", variance: str = "ols", weights: Any = None,
        weight_type: Any = None) -> Model:
    """Normal linear regression by maximum likelihood (``beta`` then ``sigma``; see
    :mod:`hessstats.models.continuous` for the relation to statsmodels OLS). ``variance="ols"``
    (default) reports as statsmodels OLS / R ``lm`` / Stata ``regress`` (``s^2 = RSS/(n-k)``, t
    inference); ``variance="ml"`` the maximum-likelihood covariance with z inference.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.ols("TOTEMP ~ GNP + POP", hs.datasets.load("longley")).names
    ('Intercept', 'GNP', 'POP', 'sigma')
    """
    frame, extra = prepare(data, (formula,), {"weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = normal_model(y, X, weights=extra["weights"], weight_type=weight_type, variance=variance,
                         description=describe("ols", formula, missing=missing, **_weight_options(weights, weight_type)))
    return remember(model, "ols", formula, frame, {"X": X}, outcome=y)


@cluster_groups
def gamma(formula: str, data: pd.DataFrame, *, missing: str = "raise", weights: Any = None,
          weight_type: Any = None) -> Model:
    """Gamma regression with log link by maximum likelihood (``beta`` then ``scale``).

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.gamma("YES ~ COUTAX + UNEMPF", hs.datasets.load("scotland")).names
    ('Intercept', 'COUTAX', 'UNEMPF', 'scale')
    """
    frame, extra = prepare(data, (formula,), {"weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = gamma_model(y, X, weights=extra["weights"], weight_type=weight_type,
                       description=describe("gamma", formula, missing=missing, **_weight_options(weights, weight_type)))
    return remember(model, "gamma", formula, frame, {"X": X}, outcome=y)


@cluster_groups
def tobit(formula: str, data: pd.DataFrame, *, left: Any = 0.0, right: Any = None, missing: str = "raise", weights: Any = None,
          weight_type: Any = None) -> Model:
    """Tobit (censored normal) regression; ``left``/``right`` are numbers, column names, arrays or ``None``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    left, right : float, str or array-like, optional
        Censoring limits: numbers, column names or arrays; ``None`` for no limit on that side.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.tobit("affairs ~ rate_marriage + age", hs.datasets.load("fair"), left=0).names
    ('Intercept', 'rate_marriage', 'age', 'sigma')
    """
    frame, extra = prepare(data, (formula,), {"left": left, "right": right, "weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = tobit_model(y, X, weights=extra["weights"], weight_type=weight_type, left=extra["left"], right=extra["right"],
                       description=describe("tobit", formula, left=left, right=right, missing=missing,
                                            **_weight_options(weights, weight_type)))
    return remember(model, "tobit", formula, frame, {"X": X}, outcome=y, options={"left": left, "right": right},
                    arrays=extra)


@cluster_groups
def weibull(formula: str, data: pd.DataFrame, *, event: Any = None, shape: float | None = None,
            missing: str = "raise", weights: Any = None,
            weight_type: Any = None) -> Model:
    """Weibull AFT regression of durations with right censoring; ``event`` a column name or array (1 = observed).

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    event : str or array-like, optional
        1 where the duration is observed, 0 where right-censored (default: all observed).
    shape : float, optional
        Fix the Weibull shape at this value (default: estimated).
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.weibull("survival ~ age", hs.datasets.load("heart"), event="censors").names
    ('Intercept', 'age', 'shape')
    """
    frame, extra = prepare(data, (formula,), {"event": event, "weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = weibull_model(y, X, weights=extra["weights"], weight_type=weight_type, event=extra["event"], shape=shape,
                         description=describe("weibull", formula, event=event, shape=shape, missing=missing,
                                              **_weight_options(weights, weight_type)))
    return remember(model, "weibull", formula, frame, {"X": X}, outcome=y, options={"event": event}, arrays=extra)


@cluster_groups
def mnlogit(formula: str, data: pd.DataFrame, *, missing: str = "raise", weights: Any = None,
            weight_type: Any = None) -> Model:
    """Multinomial logit; parameters named ``"category:term"``, first category the base.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.mnlogit("PID ~ logpopul + age", hs.datasets.load("anes96")).names[:3]
    ('1:Intercept', '1:logpopul', '1:age')
    """
    frame, extra = prepare(data, (formula,), {"weights": weights}, missing)
    y, X = categorical_outcome(formula, frame)
    model = mnlogit_model(y, X, weights=extra["weights"], weight_type=weight_type,
                         description=describe("mnlogit", formula, missing=missing, **_weight_options(weights, weight_type)))
    return remember(model, "mnlogit", formula, frame, {"X": X}, outcome=y)


def _ordered(distr: str, formula: str, data: pd.DataFrame, missing: str, weights: Any = None,
             weight_type: Any = None) -> Model:
    frame, extra = prepare(data, (formula,), {"weights": weights}, missing)
    y, X = categorical_outcome(formula, frame)
    spec, dropped = X.attrs.get("model_spec"), tuple(c for c in X.columns if c == "Intercept")
    X = X.drop(columns=list(dropped))
    model = ordered_model(y, X, weights=extra["weights"], weight_type=weight_type, distr=distr,
                          description=describe(f"ordered_{distr}", formula, missing=missing,
                                               **_weight_options(weights, weight_type)))
    X.attrs["model_spec"] = spec
    return remember(model, f"ordered_{distr}", formula, frame, {"X": X}, outcome=y, drop={"X": dropped})


@cluster_groups
def ordered_logit(formula: str, data: pd.DataFrame, *, missing: str = "raise", weights: Any = None,
                  weight_type: Any = None) -> Model:
    """Ordered logit; the formula's ``Intercept`` is dropped (the cutpoints play its role).

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.ordered_logit("PID ~ logpopul + age", hs.datasets.load("anes96")).names[:3]
    ('logpopul', 'age', '0/1')
    """
    return _ordered("logit", formula, data, missing, weights, weight_type)


@cluster_groups
def ordered_probit(formula: str, data: pd.DataFrame, *, missing: str = "raise", weights: Any = None,
                   weight_type: Any = None) -> Model:
    """Ordered probit; as :func:`ordered_logit` with the normal distribution.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hs.ordered_probit("PID ~ logpopul + age", hs.datasets.load("anes96")).description["model"]
    'ordered_probit'
    """
    return _ordered("probit", formula, data, missing, weights, weight_type)


def _count_formula(constructor: Callable[..., Model], kind: str, formula: str, data: pd.DataFrame, exposure: Any,
                   offset: Any, missing: str, weights: Any = None, weight_type: Any = None) -> Model:
    frame, extra = prepare(data, (formula,), {"exposure": exposure, "offset": offset, "weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = constructor(y, X, weights=extra["weights"], weight_type=weight_type, exposure=extra["exposure"], offset=extra["offset"],
                       description=describe(kind, formula, exposure=exposure, offset=offset, missing=missing,
                                            **_weight_options(weights, weight_type)))
    return remember(model, kind, formula, frame, {"X": X}, outcome=y, options={"exposure": exposure, "offset": offset},
                    arrays=extra)


@cluster_groups
def nb1(formula: str, data: pd.DataFrame, *, exposure: Any = None, offset: Any = None,
        missing: str = "raise", weights: Any = None,
        weight_type: Any = None) -> Model:
    """NB1 negative binomial (``Var(y) = mu (1 + alpha)``, Stata ``nbreg, dispersion(constant)``) from a
    formula; last parameter ``alpha``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    exposure, offset : str or array-like, optional
        Column names or arrays; ``log(exposure)`` and ``offset`` enter the linear predictor with coefficient 1.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> nb1("mdvis ~ lncoins + idp", hs.datasets.load("randhie")).names
    ('Intercept', 'lncoins', 'idp', 'alpha')
    """
    return _count_formula(nb1_model, "nb1", formula, data, exposure, offset, missing, weights, weight_type)


@cluster_groups
def genpoisson(formula: str, data: pd.DataFrame, *, exposure: Any = None, offset: Any = None,
               missing: str = "raise", weights: Any = None,
               weight_type: Any = None) -> Model:
    """Generalized Poisson (GP-1, statsmodels ``GeneralizedPoisson(p=1)``) from a formula; last parameter ``alpha``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    exposure, offset : str or array-like, optional
        Column names or arrays; ``log(exposure)`` and ``offset`` enter the linear predictor with coefficient 1.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> genpoisson("mdvis ~ lncoins + idp", hs.datasets.load("randhie")).names
    ('Intercept', 'lncoins', 'idp', 'alpha')
    """
    return _count_formula(genpoisson_model, "genpoisson", formula, data, exposure, offset, missing, weights, weight_type)


@cluster_groups
def truncated_poisson(formula: str, data: pd.DataFrame, *, exposure: Any = None, offset: Any = None,
                      missing: str = "raise", weights: Any = None,
                      weight_type: Any = None) -> Model:
    """Zero-truncated Poisson (Stata ``tpoisson``) from a formula; the outcome must be positive.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    exposure, offset : str or array-like, optional
        Column names or arrays; ``log(exposure)`` and ``offset`` enter the linear predictor with coefficient 1.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie").query("mdvis > 0")
    >>> truncated_poisson("mdvis ~ lncoins + idp", df).description["model"]
    'truncated_poisson'
    """
    return _count_formula(truncated_poisson_model, "truncated_poisson", formula, data, exposure, offset, missing, weights, weight_type)


@cluster_groups
def truncated_negbin(formula: str, data: pd.DataFrame, *, exposure: Any = None, offset: Any = None,
                     missing: str = "raise", weights: Any = None,
                     weight_type: Any = None) -> Model:
    """Zero-truncated NB2 (Stata ``tnbreg``) from a formula; the outcome must be positive; last parameter ``alpha``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    exposure, offset : str or array-like, optional
        Column names or arrays; ``log(exposure)`` and ``offset`` enter the linear predictor with coefficient 1.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("randhie").query("mdvis > 0")
    >>> truncated_negbin("mdvis ~ lncoins + idp", df).names
    ('Intercept', 'lncoins', 'idp', 'alpha')
    """
    return _count_formula(truncated_negbin_model, "truncated_negbin", formula, data, exposure, offset, missing, weights, weight_type)


def _hurdle_formula(constructor: Callable[..., Model], kind: str, formula: str, data: pd.DataFrame, zero: str | None,
                    link: ZeroLink | str, missing: str, weights: Any = None, weight_type: Any = None) -> Model:
    frame, extra = prepare(data, (formula,) if zero is None else (formula, zero), {"weights": weights}, missing)
    y, X = matrices(formula, frame)
    Z = None if zero is None else rhs_matrix(zero, frame)
    return constructor(y, X, Z, weights=extra["weights"], weight_type=weight_type, link=link,
                       description=describe(kind, formula, zero=zero, link=ZeroLink(link).value,
                                                                  missing=missing, **_weight_options(weights, weight_type)))


@cluster_groups
def hurdle_poisson(formula: str, data: pd.DataFrame, *, zero: str | None = None, link: ZeroLink | str = "logit",
                   missing: str = "raise", weights: Any = None,
                   weight_type: Any = None) -> Model:
    """Hurdle Poisson from a formula: ``zero`` is a one-sided formula for ``P(y > 0)`` (default: the
    count regressors), ``link`` its link (``"logit"`` as R pscl; ``"cloglog"`` is statsmodels'
    ``HurdleCountModel`` default); zero-part parameters are named ``zm_<term>``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    zero : str, optional
        One-sided formula of the zero part ``P(y > 0)`` (default: the count regressors).
    link : {"logit", "probit", "cloglog"} or ZeroLink
        Link of the zero part.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hurdle_poisson("mdvis ~ lncoins", hs.datasets.load("randhie"), zero="~ idp").names
    ('zm_Intercept', 'zm_idp', 'Intercept', 'lncoins')
    """
    return _hurdle_formula(hurdle_poisson_model, "hurdle_poisson", formula, data, zero, link, missing, weights, weight_type)


@cluster_groups
def hurdle_negbin(formula: str, data: pd.DataFrame, *, zero: str | None = None, link: ZeroLink | str = "logit",
                  missing: str = "raise", weights: Any = None,
                  weight_type: Any = None) -> Model:
    """Hurdle NB2 from a formula, as :func:`hurdle_poisson`; last parameter ``alpha``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    zero : str, optional
        One-sided formula of the zero part ``P(y > 0)`` (default: the count regressors).
    link : {"logit", "probit", "cloglog"} or ZeroLink
        Link of the zero part.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> hurdle_negbin("mdvis ~ lncoins", hs.datasets.load("randhie")).names
    ('zm_Intercept', 'zm_lncoins', 'Intercept', 'lncoins', 'alpha')
    """
    return _hurdle_formula(hurdle_negbin_model, "hurdle_negbin", formula, data, zero, link, missing, weights, weight_type)


@cluster_groups
def betareg(formula: str, data: pd.DataFrame, *, precision: str | None = None, missing: str = "raise", weights: Any = None,
            weight_type: Any = None) -> Model:
    """Beta regression of a proportion in (0, 1) from a formula (logit mean); ``precision`` is a one-sided
    formula for the log precision (R ``betareg(y ~ x | z)``), a constant named ``precision`` when ``None``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    precision : str, optional
        One-sided formula of the log precision (default: a constant named ``precision``).
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("star98").eval("share = NABOVE / (NABOVE + NBELOW)")
    >>> betareg("share ~ LOWINC", df, precision="~ PCTCHRT").names
    ('Intercept', 'LOWINC', 'precision-Intercept', 'precision-PCTCHRT')
    """
    frame, extra = prepare(data, (formula,) if precision is None else (formula, precision), {"weights": weights}, missing)
    y, X = matrices(formula, frame)
    Z = None if precision is None else rhs_matrix(precision, frame)
    return betareg_model(y, X, Z, weights=extra["weights"], weight_type=weight_type,
                         description=describe("betareg", formula, precision=precision, missing=missing,
                                              **_weight_options(weights, weight_type)))


@cluster_groups
def binomial(formula: str, data: pd.DataFrame, *, trials: Any = None, failures: Any = None,
             link: BinomialLink | str = "logit", offset: Any = None, missing: str = "raise", weights: Any = None,
             weight_type: Any = None) -> Model:
    """Binomial regression from a formula: the left-hand side counts successes out of ``trials`` (a column
    name or array; 1 when ``None``), or give ``failures`` instead, as R
    ``glm(cbind(successes, failures) ~ x, family=binomial(link))``.

    Parameters
    ----------
    formula : str
        A formulaic formula, e.g. ``"y ~ x1 + C(g)"``.
    data : pandas.DataFrame
        The data the formula's names refer to.
    trials : str or array-like, optional
        Number of trials per row (default 1).
    failures : str or array-like, optional
        Number of failures per row, instead of ``trials``.
    link : {"logit", "probit", "cloglog"} or BinomialLink
        Link function.
    offset : str or array-like, optional
        Enters the linear predictor with coefficient 1.
    missing : {"raise", "drop"}
        Rows with missing values in the formula's columns: an error naming them (default) or dropped.

    Returns
    -------
    Model
        Call ``.fit(cov_type=...)`` on it.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("star98").eval("N = NABOVE + NBELOW")
    >>> binomial("NABOVE ~ LOWINC", df, trials="N").fit().params.round(4).tolist()
    [1.0348, -0.0309]
    >>> binomial("NABOVE ~ LOWINC", df, failures="NBELOW").fit().params.round(4).tolist()
    [1.0348, -0.0309]
    """
    frame, extra = prepare(data, (formula,), {"trials": trials, "failures": failures, "offset": offset, "weights": weights}, missing)
    y, X = matrices(formula, frame)
    model = binomial_model(y, X, weights=extra["weights"], weight_type=weight_type, trials=extra["trials"], failures=extra["failures"],
                          link=link, offset=extra["offset"],
                          description=describe("binomial", formula, trials=trials, failures=failures,
                                               link=BinomialLink(link).value, offset=offset, missing=missing,
                                               **_weight_options(weights, weight_type)))
    return remember(model, "binomial", formula, frame, {"X": X}, outcome=y, options={"offset": offset}, arrays=extra)


def _weight_options(weights: Any, weight_type: Any) -> dict[str, Any]:
    """The weights in a model's description (a column name, or ``"<array>"``), only when given."""
    if weights is None:
        return {}
    return {"weights": weights, "weight_type": getattr(weight_type, "value", weight_type)}


@cluster_groups
def firth_logit(formula: str, data: pd.DataFrame, *, information: FirthInformation | str = "fisher",
                missing: str = "raise") -> Model:
    """Firth's penalised logit (R ``logistf``, ``brglm2`` ``AS_mean``) from a formula; no separation check
    (it is the remedy for separation). ``information="fisher"`` (default): SEs from the inverse Fisher
    information at the estimate, as logistf/brglm2; ``"penalised"``: the exact Hessian of ``l*``.

    Example
    -------
    >>> import hessstats as hs
    >>> res = firth_logit("HG ~ NV + PI + EH", hs.datasets.load("endometrial")).fit()
    >>> res.params.round(4).tolist(), res.bse.round(4).tolist()
    ([3.7746, 2.9293, -0.0348, -2.6042], [1.4887, 1.5508, 0.0396, 0.776])
    """
    frame, _ = prepare(data, (formula,), {}, missing)
    y, X = matrices(formula, frame)
    return firth_logit_model(y, X, information=information,
                             description=describe("firth_logit", formula, information=FirthInformation(information).value,
                                                  missing=missing))


@cluster_groups
def glm(formula: str, data: pd.DataFrame, *, family: GLMFamily | str = "gaussian", link: GLMLink | str | None = None,
        power: float = 1.5, scale: GLMScale | str | float = "pearson", trials: Any = None, failures: Any = None,
        offset: Any = None, missing: str = "raise") -> Model:
    """Generalised linear model from a formula (statsmodels ``GLM``, R ``glm``): ``family`` gaussian,
    binomial, poisson, gamma, inverse_gaussian or tweedie (``power``), ``link`` (default canonical),
    dispersion ``scale`` (``"pearson"`` chi2/(n-k) as statsmodels, ``"deviance"``, or a number; 1 for
    binomial/Poisson), binomial ``trials``/``failures`` and ``offset`` as column names or arrays. SEs:
    ``fit()`` observed information (statsmodels Newton), ``fit(cov_type="expected")`` expected (IRLS).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("scotland")
    >>> res = glm("YES ~ COUTAX + UNEMPF", df, family="gamma", link="log").fit()
    >>> res.params.round(4).tolist()
    [4.4255, 0.0004, -0.0283]
    """
    frame, extra = prepare(data, (formula,), {"trials": trials, "failures": failures, "offset": offset}, missing)
    y, X = matrices(formula, frame)
    fam = GLMFamily(family)
    method = scale if isinstance(scale, (int, float)) and not isinstance(scale, bool) else GLMScale(scale).value
    return glm_model(y, X, family=fam, link=link, power=power, scale=scale, trials=extra["trials"],
                     failures=extra["failures"], offset=extra["offset"],
                     description=describe("glm", formula, family=fam.value, link=(CANONICAL[fam] if link is None else GLMLink(link)).value,
                                          power=power, scale=method, trials=trials, failures=failures, offset=offset,
                                          missing=missing))


@cluster_groups
def biprobit(formula: str, data: pd.DataFrame, *, second: str, equations: Any = None, missing: str = "raise") -> Model:
    """Bivariate probit (Stata ``biprobit (y1 = x1) (y2 = x2)``) from two formulas: ``formula`` for the
    first 0/1 outcome, ``second`` for the other; parameters ``<eq>_<term>`` with equation labels
    ``equations`` (default: the outcome names), then ``athrho`` (``res.transformed()``: ``rho``).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("fair").eval("affair = affairs > 0").eval("happy = rate_marriage >= 4")
    >>> biprobit("affair ~ age", df, second="happy ~ educ").names
    ('affair_Intercept', 'affair_age', 'happy_Intercept', 'happy_educ', 'athrho')
    """
    frame, _ = prepare(data, (formula, second), {}, missing)
    y1, X1 = matrices(formula, frame)
    y2, X2 = matrices(second, frame)
    labels = (str(y1.name), str(y2.name)) if equations is None else tuple(str(e) for e in equations)
    return biprobit_model(y1, X1, y2, X2, equations=labels,
                          description=describe("biprobit", formula, second=second,
                                               equations=None if equations is None else ",".join(labels),
                                               missing=missing))


@cluster_groups
def heckman(formula: str, data: pd.DataFrame, *, selection: str, missing: str = "raise") -> Model:
    """Heckman selection model by ML (Stata ``heckman y x, select(s = z)``): ``formula`` is the outcome
    equation, ``selection`` a formula whose 0/1 left-hand side marks the rows where the outcome is observed.
    Parameters: outcome terms, ``select_<term>``, ``athrho``, ``lnsigma``; ``res.transformed()`` gives
    ``rho``, ``sigma`` and ``lambda``. Outcome variables of unselected rows must be finite (any value).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("psid1976").eval("lfp = participation == 'yes'")
    >>> heckman("wage ~ education", df, selection="lfp ~ age + education").names
    ('Intercept', 'education', 'select_Intercept', 'select_age', 'select_education', 'athrho', 'lnsigma')
    """
    frame, _ = prepare(data, (formula, selection), {}, missing)
    y, X = matrices(formula, frame)
    s, Z = matrices(selection, frame)
    return heckman_model(y, X, s, Z, description=describe("heckman", formula, selection=selection, missing=missing))



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
    "nb1": nb1,
    "genpoisson": genpoisson,
    "truncated_poisson": truncated_poisson,
    "truncated_negbin": truncated_negbin,
    "hurdle_poisson": hurdle_poisson,
    "hurdle_negbin": hurdle_negbin,
    "betareg": betareg,
    "binomial": binomial,
    "firth_logit": firth_logit,
    "glm": glm,
    "zinb": zinb,
    "biprobit": biprobit,
    "heckman": heckman,
}
"""Built-in models by name: ``MODELS[name](formula, data, **options) -> Model``."""


def from_formula(model: str, formula: str, data: pd.DataFrame, **options: Any) -> Model:
    """Build the built-in ``model`` (a key of :data:`MODELS`) from a formula and a DataFrame.

    Parameters
    ----------
    model : str
        A built-in model's name (``"logit"``, ``"poisson"``, ...).
    formula : str
        A formulaic formula.
    data : pandas.DataFrame
        The data.
    **options
        The model's own keywords (``exposure``, ``inflation``, ``left``, ...).

    Returns
    -------
    Model
        As the model's own entry (``hs.logit``, ...) returns.

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
