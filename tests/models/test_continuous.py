"""Normal linear regression by ML, Tobit and Gamma (issue 4).

References: statsmodels 0.15 ``OLS`` with the exact ML relation (``sigma^2 = RSS/n``,
``se_ML = se_OLS * sqrt((n-k)/n)``, ``se(sigma) = sigma/sqrt(2n)``); closed forms for Tobit
(no censoring = normal ML; right censoring of y = left censoring of -y); an independent Tobit fit
(scipy.optimize on scipy.stats log-densities, numdifftools Hessian); statsmodels ``GLM`` Gamma(log)
coefficients and the closed-form ML scale and covariance of ``validation_cases._gamma``.
"""

from __future__ import annotations

import numdifftools as nd
import numpy as np
import pandas as pd
import pytest
import scipy.optimize
import statsmodels.api as sm
import statsmodels.formula.api as smf

import hessstats as hs
from hessstats.crosscheck.cases import CASES, FAIR, _gamma, _tobit_ll
from hessstats.errors import DataError

OLS_FAIR = "rate_marriage ~ age + yrs_married + children + religious + educ"
LONGLEY = "TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR"
GAMMA = next(c for c in CASES if c.model == "gamma")


@pytest.fixture(scope="module")
def fair() -> pd.DataFrame:
    return hs.datasets.load("fair")


@pytest.fixture(scope="module")
def tobit_fit(fair):
    return hs.tobit(FAIR, fair, left=0).fit()


@pytest.mark.parametrize("dataset, formula, rtol", [("fair", OLS_FAIR, 1e-8), ("longley", LONGLEY, 1e-6)])
def test_ml_normal_is_ols_rescaled(dataset, formula, rtol):
    """Exact relation to OLS of the ML variant (``variance="ml"``: z inference); Longley's
    equilibrated information has condition number 1.9e9, so an explicit-Hessian inverse is good to
    ~cond*eps = 4e-7 there (see validation_cases.LONGLEY)."""
    df = hs.datasets.load(dataset)
    ours = hs.ols(formula, df, variance="ml").fit()
    assert ours.df_inference is None and "z" in ours.summary_frame()
    ols = smf.ols(formula, df).fit()
    n, k = ols.nobs, len(ols.params)
    sigma = np.sqrt(ols.ssr / n)
    np.testing.assert_allclose(ours.params[ols.params.index], ols.params, rtol=1e-9)
    np.testing.assert_allclose(ours.params["sigma"], sigma, rtol=1e-12)
    np.testing.assert_allclose(ours.bse[ols.params.index], ols.bse * np.sqrt((n - k) / n), rtol=rtol)
    np.testing.assert_allclose(ours.bse["sigma"], sigma / np.sqrt(2 * n), rtol=rtol)
    np.testing.assert_allclose(ours.llf, ols.llf, rtol=1e-12)


@pytest.mark.parametrize("dataset, formula", [("fair", OLS_FAIR), ("longley", LONGLEY)])
def test_default_ols_reports_what_statsmodels_ols_reports(dataset, formula):
    """Reference: statsmodels OLS live (``s^2 = RSS/(n-k)``, t with df_resid); the default
    (``variance="ols"``) classical SEs come from a QR of X, so even Longley agrees to 1e-10."""
    df = hs.datasets.load(dataset)
    ours = hs.ols(formula, df).fit()
    ols = smf.ols(formula, df).fit()
    names = ols.params.index
    np.testing.assert_allclose(ours.bse[names], ols.bse, rtol=1e-10)
    np.testing.assert_allclose(ours.pvalues[names], ols.pvalues, rtol=1e-8)
    np.testing.assert_allclose(ours.conf_int().loc[names], ols.conf_int(), rtol=1e-9)
    assert ours.df_inference == ols.df_resid and "t" in ours.summary_frame()
    # the ML variant is also a covariance option of the same fit
    ml = ours.with_cov("nonrobust", cov_options={"dispersion": "ml"})
    np.testing.assert_allclose(ml.bse[names], ols.bse * np.sqrt(ols.df_resid / ols.nobs), rtol=1e-6)


def test_unknown_variance_is_a_typed_error(fair):
    from hessstats.errors import SpecificationError
    with pytest.raises(SpecificationError, match="variance"):
        hs.ols(OLS_FAIR, fair, variance="reml")


def test_tobit_without_censoring_is_normal_ml(fair):
    """No observation at or below the limit: the Tobit likelihood is the normal one, term by term
    (the ML variant of the built-in OLS)."""
    tobit = hs.tobit(OLS_FAIR, fair, left=-100.0).fit()
    normal = hs.ols(OLS_FAIR, fair, variance="ml").fit()
    assert tobit.model.extra["censored"] == {"left": 0, "right": 0}
    np.testing.assert_allclose(tobit.params, normal.params, rtol=1e-10)
    np.testing.assert_allclose(tobit.bse, normal.bse, rtol=1e-8)


def test_tobit_matches_independent_fit(tobit_fit, fair):
    """scipy.optimize (BFGS) on scipy.stats norm.logcdf/logpdf; numdifftools Hessian at its optimum."""
    y = fair["affairs"].to_numpy()
    X = np.asarray(hs.formula.matrices(FAIR, fair)[1], dtype=float)
    f = lambda p: -np.sum(_tobit_ll(p, y, X, fair)) if p[-1] > 0 else np.inf  # noqa: E731
    start = np.r_[np.zeros(X.shape[1]), 3.0]
    opt = scipy.optimize.minimize(f, start, method="BFGS", options={"gtol": 1e-9, "maxiter": 5000})
    cov = np.linalg.inv(nd.Hessian(f)(opt.x))
    np.testing.assert_allclose(tobit_fit.params, opt.x, rtol=1e-5)
    np.testing.assert_allclose(tobit_fit.bse, np.sqrt(np.diag(cov)), rtol=1e-5)
    assert tobit_fit.model.extra["censored"] == {"left": int((y <= 0).sum()), "right": 0}


def test_tobit_right_censoring_mirrors_left(fair):
    """y right-censored at 4 is -y left-censored at -4 with negated coefficients (same sigma, SEs)."""
    df = fair.assign(neg=-fair["affairs"])
    right = hs.tobit("affairs ~ age + educ", df, left=None, right=4.0).fit()
    left = hs.tobit("neg ~ age + educ", df, left=-4.0).fit()
    np.testing.assert_allclose(right.params[:-1], -left.params[:-1], rtol=1e-8)
    np.testing.assert_allclose(right.bse, left.bse, rtol=1e-8)
    np.testing.assert_allclose(right.llf, left.llf, rtol=1e-12)


def test_tobit_limits_as_column_or_number(fair):
    df = fair.assign(limit=0.0)
    by_column = hs.tobit("affairs ~ age", df, left="limit")
    by_number = hs.tobit("affairs ~ age", df, left=0)
    assert by_column.extra["censored"] == by_number.extra["censored"]
    np.testing.assert_allclose(by_column.evaluate(by_column.start)[0], by_number.evaluate(by_number.start)[0])
    assert by_column.description["left"] == "limit"


def test_gamma_coefficients_equal_glm_and_closed_form_covariance():
    df = hs.datasets.load("scotland")
    ours = hs.gamma(GAMMA.formula, df).fit()
    ref = _gamma(df, ours.names, GAMMA.formula)
    np.testing.assert_allclose(ours.params, ref["params"], rtol=1e-8)
    np.testing.assert_allclose(ours.bse, ref["bse"]["nonrobust"], rtol=1e-8)
    np.testing.assert_allclose(ours.llf, ref["llf"], rtol=1e-12)
    # statsmodels' GLM scale is Pearson chi2 / (n - k), not the ML scale
    glm = smf.glm(GAMMA.formula, df, family=sm.families.Gamma(sm.families.links.Log())).fit(tol=1e-14)
    np.testing.assert_allclose(glm.scale, glm.pearson_chi2 / glm.df_resid, rtol=1e-12)
    assert abs(glm.scale / ours.params["scale"] - 1) > 0.1


def test_gamma_expected_information_is_close_to_observed():
    """Log link is not canonical: expected and observed information differ, but not by much."""
    model = hs.gamma(GAMMA.formula, hs.datasets.load("scotland"))
    observed, expected = model.fit().bse, model.fit(cov_type="expected").bse
    np.testing.assert_allclose(expected, observed, rtol=0.2)
    assert np.max(np.abs(expected / observed - 1)) > 1e-6


def test_gamma_needs_positive_outcome():
    df = hs.datasets.load("scotland")
    df.loc[2, "YES"] = 0.0
    with pytest.raises(DataError, match="positive values"):
        hs.gamma("YES ~ COUTAX", df)
