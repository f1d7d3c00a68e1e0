"""Argument-free post-estimation of the built-in models: ``res.margins()`` and ``res.lr_test_null()``.

References (statsmodels 0.15, formula API on the same data):

- margins: ``get_margeff(at="overall"|"mean", dummy=True)`` for ``res.margins()`` (0/1 columns as a
  discrete change), ``dummy=False`` (dummies differentiated like continuous columns) for
  ``res.margins(dummy=False)``. Its dy/dx is analytic and its delta-method Jacobian is complex-step
  (``discrete_margins.margeff_cov_params`` -> ``approx_fprime_cs``), exact to rounding, so the
  analytic-model tolerance 1e-8 applies to effects and standard errors;
- null model: ``llnull`` (constant-only refit), ``llr`` and ``llr_pvalue``; ``MNLogit`` the same;
  ``OrderedModel``'s ``llnull`` is its log-likelihood at the sample-frequency cutpoints (the exact
  null MLE), computed analytically, so 1e-8 as well.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.miscmodels.ordinal_model import OrderedModel

import hessstats as hs
from hessstats.core.compilation import trace_count
from hessstats.errors import SpecificationError

RTOL = 1e-8
SPECTOR = "GRADE ~ GPA + TUCE + PSI"
RANDHIE = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea"


@pytest.fixture(scope="module")
def spector_df() -> pd.DataFrame:
    return hs.datasets.load("spector")


@pytest.fixture(scope="module")
def randhie_df() -> pd.DataFrame:
    df = hs.datasets.load("randhie")
    # a three-level string category for the C(x) checks, and a positive exposure
    return df.assign(grp=pd.qcut(df["lpi"], 3, labels=["lo", "mid", "hi"]).astype(str),
                     years=np.exp(df["lpi"] / 10.0))


def _sm_fit(name: str, formula: str, df: pd.DataFrame, **kw):
    """statsmodels fit of the same model, converged tightly (Newton)."""
    model = {"logit": smf.logit, "probit": smf.probit, "poisson": smf.poisson,
             "negbin": smf.negativebinomial}[name](formula, df, **kw)
    return model.fit(method="newton", tol=1e-14, maxiter=200, disp=0)


def _assert_same(ours: pd.DataFrame, sm_me) -> None:
    """Effects and SEs equal to statsmodels', matched by name (patsy orders terms differently)."""
    ref = sm_me.summary_frame()
    assert sorted(ours.index) == sorted(ref.index)
    ref = ref.loc[ours.index]
    np.testing.assert_allclose(ours["coef"], ref["dy/dx"], rtol=RTOL)
    np.testing.assert_allclose(ours["std_err"], ref["Std. Err."], rtol=RTOL)


CASES = [("logit", SPECTOR), ("probit", SPECTOR), ("poisson", RANDHIE), ("negbin", RANDHIE)]


@pytest.fixture(scope="module")
def case_fits(spector_df, randhie_df):
    """Ours and statsmodels' fit of each of CASES, each fitted once per module (margins of both
    kinds and the LR test of the null all read the same frozen results), by (name, formula)."""
    fits: dict = {}

    def get(name: str, formula: str):
        if (name, formula) not in fits:
            df = spector_df if formula == SPECTOR else randhie_df
            fits[name, formula] = (getattr(hs, name)(formula, df).fit(), _sm_fit(name, formula, df))
        return fits[name, formula]

    return get


@pytest.mark.parametrize("name,formula", CASES)
@pytest.mark.parametrize("kind,at", [("average", "overall"), ("mean", "mean")])
def test_default_margins_match_statsmodels(name, formula, kind, at, case_fits):
    res, sm_fit = case_fits(name, formula)
    ours = res.margins(kind=kind)
    assert list(ours.index) == [n for n in res.names if n not in ("Intercept", "alpha")]
    _assert_same(ours, sm_fit.get_margeff(at=at, dummy=True))
    _assert_same(res.margins(at=at, dummy=False), sm_fit.get_margeff(at=at))


def test_top_level_margins_and_array_constructor(spector_df, case_fits):
    """hs.margins(res) and the array constructor (constant last, named 'const') give the same
    table as the formula model: statsmodels drops the constant wherever it is (zero variance)."""
    res, sm_res = case_fits("logit", SPECTOR)
    formula = res.margins()
    X = spector_df[["GPA", "TUCE", "PSI"]].assign(const=1.0)
    arrays = hs.margins(hs.models.binary.logit_model(spector_df["GRADE"], X).fit())
    sm_me = sm_res.get_margeff(dummy=True)
    assert list(arrays.index) == ["GPA", "TUCE", "PSI"]
    np.testing.assert_allclose(arrays["coef"], sm_me.margeff, rtol=RTOL)
    np.testing.assert_allclose(arrays["std_err"], formula["std_err"], rtol=RTOL)


@pytest.mark.parametrize("kind,at", [("average", "overall"), ("mean", "mean")])
def test_categorical_regressor_treated_as_continuous(kind, at, randhie_df):
    """dummy=False: C(grp)'s dummy columns differentiated like continuous ones (statsmodels' default)."""
    formula = "mdvis ~ lncoins + C(grp) + idp"
    ours = hs.poisson(formula, randhie_df).fit().margins(kind=kind, dummy=False)
    sm_me = _sm_fit("poisson", formula, randhie_df).get_margeff(at=at, dummy=False)
    assert list(ours.index) == ["lncoins", "C(grp)[T.lo]", "C(grp)[T.mid]", "idp"]
    _assert_same(ours, sm_me)


def test_poisson_margins_leave_out_the_exposure(randhie_df):
    """statsmodels' Poisson get_margeff differentiates exp(x'b) without the exposure/offset
    (``_derivative_exog`` predicts from exog alone); we follow it."""
    formula = "mdvis ~ lncoins + idp"
    res = hs.poisson(formula, randhie_df, exposure="years").fit()
    sm_me = _sm_fit("poisson", formula, randhie_df, exposure=randhie_df["years"]).get_margeff(dummy=True)
    ours = res.margins()
    _assert_same(ours, sm_me)
    # closed form: the average of exp(x'b) * b_lncoins (offset excluded)
    X = np.column_stack([np.ones(len(randhie_df)), randhie_df[["lncoins", "idp"]].to_numpy()])
    ame = np.mean(np.exp(X @ res.params.to_numpy())) * res.params["lncoins"]
    np.testing.assert_allclose(ours.loc["lncoins", "coef"], ame, rtol=1e-12)


def test_margins_without_defaults_say_what_to_pass(spector_df):
    """Every built-in formula model has a default (OLS: dy/dx = the slope, closed form); a custom
    likelihood without defaults is told what to pass."""
    res = hs.ols("GRADE ~ GPA", spector_df).fit()
    np.testing.assert_allclose(res.margins().loc["GPA", ["coef", "std_err"]], res.summary_frame().loc["GPA", ["coef", "std_err"]],
                               rtol=1e-7)
    custom = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    with pytest.raises(SpecificationError, match="pass them"):
        custom.margins(kind="mean")


@pytest.mark.parametrize("name,formula", CASES)
def test_lr_test_null_matches_statsmodels(name, formula, case_fits):
    res, sm_res = case_fits(name, formula)
    test = res.lr_test_null()
    assert test.df == int(sm_res.df_model)
    llnull = res.llf - test.statistic / 2
    np.testing.assert_allclose(llnull, sm_res.llnull, rtol=RTOL)
    assert llnull >= sm_res.llnull - 1e-9 * abs(llnull)  # statsmodels' null refit is BFGS: never above ours
    # negbin: statsmodels' BFGS null llnull is 5e-6 (1e-10 relative) below the maximum, which is
    # 6e-9 of the statistic (a difference of log-likelihoods): compare that at 1e-7
    rtol = 1e-7 if name == "negbin" else RTOL
    np.testing.assert_allclose(test.statistic, sm_res.llr, rtol=rtol)
    np.testing.assert_allclose(test.p_value, sm_res.llr_pvalue, rtol=rtol)


def test_lr_test_null_multinomial_and_ordered():
    """mnlogit: statsmodels MNLogit.llnull; ordered logit: OrderedModel.llnull (cutpoints only)."""
    df = hs.datasets.load("anes96")
    formula = "PID ~ logpopul + age"
    res = hs.mnlogit(formula, df).fit()
    mn = res.lr_test_null()
    sm_mn = smf.mnlogit(formula, df).fit(method="newton", tol=1e-14, maxiter=200, disp=0)
    # statsmodels fits MNLogit's null by BFGS (llnull 7e-7 below the maximum here): compare the
    # null log-likelihoods at 1e-8 (the statistic, a difference, only at 1e-7) and check ours is higher
    llnull = res.llf - mn.statistic / 2
    np.testing.assert_allclose(llnull, sm_mn.llnull, rtol=RTOL)
    assert llnull >= sm_mn.llnull
    np.testing.assert_allclose(mn.statistic, sm_mn.llr, rtol=1e-7)
    assert mn.df == int(sm_mn.df_model)
    ordered = hs.ordered_logit(formula, df).fit()
    sm_ord = OrderedModel(df["PID"], df[["logpopul", "age"]], distr="logit").fit(method="bfgs", disp=0)
    np.testing.assert_allclose(ordered.llf - ordered.lr_test_null().statistic / 2, sm_ord.llnull, rtol=RTOL)


def test_lr_test_null_ols_closed_form(spector_df):
    """Normal model: null llf = -n/2 (log(2 pi s2) + 1) with s2 the MLE variance of y (sigma free)."""
    res = hs.ols("GRADE ~ GPA + PSI", spector_df).fit()
    y = spector_df["GRADE"].to_numpy()
    llnull = -len(y) / 2 * (np.log(2 * np.pi * y.var()) + 1)
    np.testing.assert_allclose(res.llf - res.lr_test_null().statistic / 2, llnull, rtol=RTOL)


def test_lr_test_null_explicit_and_no_intercept(spector_df):
    """Explicit fixed= still works (statsmodels: 2 (llf_full - llf of the fit without TUCE), a
    difference of two log-likelihoods each to 1e-8 relative, hence 1e-7); without an intercept no
    null model is defined."""
    res = hs.logit(SPECTOR, spector_df).fit()
    full, small = _sm_fit("logit", SPECTOR, spector_df), _sm_fit("logit", "GRADE ~ GPA + PSI", spector_df)
    test = res.lr_test_null({"TUCE": 0.0})
    np.testing.assert_allclose(test.statistic, 2 * (full.llf - small.llf), rtol=1e-7)
    assert test.df == 1
    with pytest.raises(SpecificationError, match="intercept"):
        hs.logit("GRADE ~ 0 + GPA + TUCE", spector_df).fit().lr_test_null()


def test_margins_compile_once_per_model_and_kind():
    """Compile once, reuse: a second margins() call on a new fit of the same model shape
    does not retrace (the prediction function and variables are static, data an argument)."""
    df = hs.datasets.load("spector")
    first = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit()
    first.margins()
    before = trace_count("margins")
    again = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit()
    np.testing.assert_allclose(again.margins().to_numpy(), first.margins().to_numpy(), rtol=1e-14)
    assert trace_count("margins") == before
