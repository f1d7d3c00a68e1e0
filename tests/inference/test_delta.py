"""The coefficient table and the delta method (hessstats.inference.delta), through ``res.delta``,
``res.transformed`` and ``res.summary_frame``.

References: statsmodels' Logit covariance (live) with closed-form gradients for text expressions
(``res.delta("GPA / PSI")``); the fitted result's own coefficient table (the delta method of the identity is the
identity), closed-form delta-method variances ``a' V a`` of linear functions computed in numpy
from ``res.cov_params()``, and ``scipy.stats.norm`` quantiles and tail probabilities. Covered
elsewhere (inference/test_hypothesis): exp and ratio closed forms, statsmodels
``NonlinearDeltaCov``, HC0 covariances, bad functions, NaN confinement, transform closed forms.
"""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
import statsmodels.formula.api as smf
from catalogue import BY_NAME

import hessstats as hs
from hessstats import datasets
from hessstats.errors import ExpressionError, SpecificationError

LOGIT = BY_NAME["logit_spector"]


@pytest.fixture(scope="module")
def res():
    return LOGIT.model(transforms={"odds_GPA": lambda p: jnp.exp(p["beta"][0])}).fit()


def test_delta_of_the_identity_is_the_coefficient_table(res):
    """Same estimates, SEs, z, p-values and intervals as res.summary_frame (at alpha = 0.1 too)."""
    table = res.summary_frame(alpha=0.1)
    out = res.delta(lambda p: p["beta"], names=list(res.names), alpha=0.1)
    np.testing.assert_allclose(out.to_numpy(), table.to_numpy(), rtol=1e-13)
    assert list(out.columns) == list(table.columns) and out.index.name == table.index.name == "parameter"


def test_delta_table_uses_normal_quantiles(res):
    """ci = coef -/+ z_{1-alpha/2} se and p = 2 (1 - Phi(|z|)) from scipy.stats.norm; the variance of
    a linear combination is a' V a (closed form)."""
    a = np.array([1.0, -2.0, 0.5, 0.0])
    out = res.delta(lambda p: jnp.dot(jnp.asarray(a), p["beta"]), alpha=0.2).iloc[0]
    se = np.sqrt(a @ res.cov_params().to_numpy() @ a)
    coef = a @ res.params.to_numpy()
    q = scipy.stats.norm.ppf(0.9)
    np.testing.assert_allclose([out["coef"], out["std_err"]], [coef, se], rtol=1e-12)
    np.testing.assert_allclose([out["ci_lower"], out["ci_upper"]], [coef - q * se, coef + q * se], rtol=1e-12)
    np.testing.assert_allclose(out["p_value"], 2 * scipy.stats.norm.sf(abs(coef / se)), rtol=1e-10)


def test_default_names_come_from_the_function(res):
    """A named function names its rows (``odds``, ``odds[i]``); a lambda is ``fn``."""
    def odds(p):
        return jnp.exp(p["beta"][:2])

    def odds_gpa(p):
        return jnp.exp(p["beta"][0])

    assert list(res.delta(odds).index) == ["odds[0]", "odds[1]"]
    assert list(res.delta(odds_gpa).index) == ["odds_gpa"]
    assert list(res.delta(lambda p: p["beta"][0]).index) == ["fn"]
    assert list(res.delta(odds_gpa, names="OR").index) == ["OR"]


def test_a_pytree_valued_function_is_refused(res):
    with pytest.raises(SpecificationError, match="wrong kind of value"):
        res.delta(lambda p: {"a": p["beta"][0]})


def test_transformed_equals_delta_of_the_same_function(res):
    """Declared transforms are the delta method of the same function (exp(b) se(b) closed form)."""
    out = res.transformed()
    b, se = res.params["GPA"], res.bse["GPA"]
    np.testing.assert_allclose(out.loc["odds_GPA", ["coef", "std_err"]].to_numpy(float), [np.exp(b), np.exp(b) * se],
                               rtol=1e-12)
    hc0 = res.with_cov("HC0").transformed()  # under the result's covariance type
    np.testing.assert_allclose(hc0.loc["odds_GPA", "std_err"], np.exp(b) * res.with_cov("HC0").bse["GPA"], rtol=1e-12)


def test_a_failing_transform_is_named():
    res = LOGIT.model(transforms={"broken": lambda p: p["gamma"]}).fit()
    with pytest.raises(SpecificationError, match="transform 'broken' failed"):
        res.transformed()


# ----------------------------------------------------------------------------- t-based inference (issue 12)

def test_coef_table_with_df_uses_student_t():
    """Reference: scipy.stats.t quantiles and tail probabilities; the third column is named t."""
    from hessstats.inference.delta import coef_table

    table = coef_table(np.array([2.0, -1.0]), np.array([1.0, 0.5]), ["a", "b"], alpha=0.1, df=7.0)
    assert list(table.columns) == ["coef", "std_err", "t", "p_value", "ci_lower", "ci_upper"]
    np.testing.assert_allclose(table["p_value"], 2 * scipy.stats.t.sf([2.0, 2.0], 7), rtol=1e-13)
    q = scipy.stats.t.ppf(0.95, 7)
    np.testing.assert_allclose(table["ci_upper"], [2.0 + q, -1.0 + 0.5 * q], rtol=1e-13)


@pytest.fixture(scope="module")
def ols():
    import statsmodels.formula.api as smf

    import hessstats as hs

    df = hs.datasets.load("longley")
    return hs.ols("TOTEMP ~ GNP + POP", df).fit(), smf.ols("TOTEMP ~ GNP + POP", df).fit()


def test_delta_on_ols_is_t_based_like_statsmodels_t_test(ols):
    """Reference: statsmodels OLS ``t_test`` live (t with df_resid): a linear combination's
    estimate, SE, p-value and interval; the identity reproduces the t-based coefficient table."""
    res, sm_res = ols
    out = res.delta(lambda p: p.beta[1] - 2.0 * p.beta[2], names="c")
    ref = sm_res.t_test("GNP - 2 * POP = 0")
    np.testing.assert_allclose(out.loc["c", ["coef", "std_err", "t", "p_value"]],
                               [float(ref.effect[0]), float(ref.sd[0, 0]), float(ref.tvalue[0, 0]), float(ref.pvalue)],
                               rtol=1e-9)
    np.testing.assert_allclose(out.loc["c", ["ci_lower", "ci_upper"]], ref.conf_int()[0], rtol=1e-9)
    ident = res.delta(lambda p: p.beta, names=["Intercept", "GNP", "POP"])
    np.testing.assert_allclose(ident.to_numpy(), res.summary_frame().to_numpy()[:3], rtol=1e-12)


def test_inference_df_rules(ols):
    """Closed forms of the rule: OLS t with n - k (k = 3 coefficients, not sigma), G - 1 clustered;
    the ML dispersion and every user log-likelihood give z (None)."""
    from hessstats.inference.delta import inference_df

    res, _ = ols
    assert inference_df(res) == 13.0 and res.df_inference == 13.0
    assert inference_df(res.with_cov("HC1")) == 13.0
    assert inference_df(res.with_cov("cluster", groups=np.arange(16) % 4)) == 3.0
    assert inference_df(res.with_cov("cluster", groups=[np.arange(16) % 4, np.arange(16) % 3])) == 2.0
    assert inference_df(res.with_cov("nonrobust", cov_options={"dispersion": "ml"})) is None
    assert inference_df(LOGIT.model().fit()) is None


def test_a_quantity_without_a_value_has_no_standard_error(res):
    """log of a negative number is NaN; its Jacobian (1/x) exists, but a finite SE beside a NaN value
    would read as a result. Reference: closed form (the other entry, exp(b_GPA), keeps its SE)."""
    out = res.delta(lambda p: jnp.stack([jnp.log(-1.0 - p["beta"][0] ** 2), jnp.exp(p["beta"][0])]))
    assert np.isnan(out["coef"].iloc[0]) and np.isnan(out["std_err"].iloc[0])
    b, v = res.params.iloc[0], res.cov_params().iloc[0, 0]
    np.testing.assert_allclose(out["std_err"].iloc[1], np.exp(b) * np.sqrt(v), rtol=1e-12)


# ----------------------------------------------------------------------------- text over parameter names


@pytest.fixture(scope="module")
def formula_fit():
    df = datasets.load("spector")
    return hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit(), smf.logit("GRADE ~ GPA + TUCE + PSI", df).fit(disp=0)


def test_text_ratio_equals_statsmodels_delta_method(formula_fit):
    """``res.delta("GPA / PSI")`` (R car::deltaMethod, Stata nlcom) against the closed-form gradient
    (0, 1/PSI, 0, -GPA/PSI^2) applied to statsmodels' Logit covariance (live), and against the same
    function written as a callable on the parameter pytree."""
    res, sm = formula_fit
    b, V = sm.params, sm.cov_params().to_numpy()
    grad = np.array([0.0, 1.0 / b["PSI"], 0.0, -b["GPA"] / b["PSI"] ** 2])
    table = res.delta("GPA / PSI")
    assert list(table.index) == ["GPA / PSI"]
    np.testing.assert_allclose(table.loc["GPA / PSI", "coef"], b["GPA"] / b["PSI"], rtol=1e-8)
    np.testing.assert_allclose(table.loc["GPA / PSI", "std_err"], np.sqrt(grad @ V @ grad), rtol=1e-8)
    by_fn = res.delta(lambda p: p.beta[1] / p.beta[3], names="GPA / PSI")
    np.testing.assert_allclose(table.to_numpy(), by_fn.to_numpy(), rtol=1e-13)


def test_text_list_is_a_vector_with_rows_named_by_the_text(formula_fit):
    """Two expressions: rows in order, named by their text (whitespace collapsed); the odds ratio's SE
    is exp(b) * se(b) (closed form)."""
    res, _ = formula_fit
    table = res.delta(["exp(PSI)", "GPA  -  TUCE"])
    assert list(table.index) == ["exp(PSI)", "GPA - TUCE"]
    b, se = res.params, res.bse
    np.testing.assert_allclose(table["coef"], [np.exp(b["PSI"]), b["GPA"] - b["TUCE"]], rtol=1e-12)
    np.testing.assert_allclose(table.loc["exp(PSI)", "std_err"], np.exp(b["PSI"]) * se["PSI"], rtol=1e-12)


def test_text_reads_names_that_are_not_identifiers():
    """Names as formulaic writes them (``C(g)[T.b]``) are matched literally: exp of a dummy's
    coefficient has SE exp(b) * se(b) (closed form)."""
    df = datasets.load("spector").assign(g=lambda d: np.where(d["TUCE"] > 21, "b", "a"))
    res = hs.logit("GRADE ~ GPA + C(g)", df).fit()
    name = "C(g)[T.b]"
    assert name in res.params.index
    table = res.delta(f"exp({name})")
    np.testing.assert_allclose(table["coef"].iloc[0], np.exp(res.params[name]), rtol=1e-12)
    np.testing.assert_allclose(table["std_err"].iloc[0], np.exp(res.params[name]) * res.bse[name], rtol=1e-12)


@pytest.mark.parametrize(("text", "needle"), [
    ("GPA / PSII", "unknown parameter name 'PSII'"),
    ("GPA + p0", "unknown parameter name 'p0'"),  # never taken for an internal placeholder
    ("__import__('os').system('echo x')", "cannot read the expression"),
    ("GPA.real", "cannot read the expression"),
    ("2 + 3", "uses no parameter"),
    ("GPA ^ 2", "cannot read the expression"),
])
def test_text_errors_name_the_problem(formula_fit, text, needle):
    """Unknown names, code, attribute access, constants and '^' are refused with a typed error;
    nothing is evaluated."""
    res, _ = formula_fit
    with pytest.raises(ExpressionError, match=re.escape(needle)):
        res.delta(text)
