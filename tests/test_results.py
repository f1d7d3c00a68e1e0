"""The frozen result of a fit (hessstats.results.FitResult): derived quantities, ``with_cov``,
rendering, compile statistics.

References: the definitions, computed here from the result's own arrays with numpy and
``scipy.stats.norm`` (se = sqrt(diag V), z = b/se, p = 2 (1 - Phi(|z|)), ci = b -/+ z_{1-a/2} se,
AIC = -2 llf + 2k, BIC = -2 llf + k log n); statsmodels 0.15 ``Logit`` (analytic) for HC0. Covered
elsewhere (test_fitting): statsmodels parity of params, SEs, llf, AIC/BIC, p-values and intervals;
frozen fields; the summary columns; a non-converged result's text.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import scipy.stats
from catalogue import BY_NAME, logit_ll

import hessstats as hs
from hessstats.errors import ConvergenceWarning, HessstatsError

LOGIT = BY_NAME["logit_spector"]


@pytest.fixture(scope="module")
def res():
    return LOGIT.model().fit()


def test_derived_quantities_follow_their_definitions(res):
    V = res.cov_array
    se = np.sqrt(np.diag(V))
    z = res.theta / se
    np.testing.assert_allclose(res.bse.to_numpy(), se, rtol=1e-15)
    np.testing.assert_allclose(res.zvalues.to_numpy(), z, rtol=1e-15)
    np.testing.assert_allclose(res.pvalues.to_numpy(), 2 * scipy.stats.norm.sf(np.abs(z)), rtol=1e-12)
    q = scipy.stats.norm.ppf(0.95)
    np.testing.assert_allclose(res.conf_int(0.1).to_numpy(), np.column_stack([res.theta - q * se, res.theta + q * se]),
                               rtol=1e-13)
    np.testing.assert_allclose([res.aic, res.bic], [-2 * res.llf + 8, -2 * res.llf + 4 * np.log(32)], rtol=1e-14)
    for frame in (res.params, res.bse, res.zvalues, res.pvalues, res.gradient):
        assert list(frame.index) == LOGIT.names["beta"]
    for frame in (res.cov_params(), res.hessian):
        assert list(frame.index) == list(frame.columns) == LOGIT.names["beta"]
    assert res.k_params == 4 and res.nobs == 32 and res.names == tuple(LOGIT.names["beta"])
    assert res.identification.empty  # every parameter identified


def test_with_cov_is_a_new_result_without_refitting(res):
    """Estimates, llf, derivatives and iterations are the fit's; only the covariance changes
    (statsmodels Logit cov_type="HC0"); the original is unchanged and a round trip restores it."""
    import statsmodels.api as sm

    hc0 = res.with_cov("HC0")
    ref = sm.Logit(LOGIT.data["y"], LOGIT.data["X"]).fit(disp=0, method="newton", tol=1e-12, cov_type="HC0")
    np.testing.assert_allclose(hc0.bse.to_numpy(), ref.bse, rtol=1e-8)
    assert hc0 is not res and res.cov_type == "nonrobust" and hc0.cov_type == "HC0"
    assert hc0.theta is res.theta and hc0.iterations == res.iterations
    np.testing.assert_array_equal(hc0.llf, res.llf)
    np.testing.assert_array_equal(hc0.hessian_array, res.hessian_array)
    np.testing.assert_array_equal(hc0.with_cov("nonrobust").cov_array, res.cov_array)
    clustered = res.with_cov("cluster", groups=LOGIT.groups, cov_options={"correction": "none"})
    assert clustered.cov_options == {"correction": "none"} and clustered.groups.max() == 6
    assert clustered.with_cov("HC0").groups is None and clustered.with_cov("HC0").cov_options == {}


def test_text_html_and_repr_show_the_header_and_table(res):
    text = str(res)
    for line in ("Model:          logit_spector", "Observations:   32", f"Log-likelihood: {res.llf:.6g}",
                 f"AIC / BIC:      {res.aic:.6g} / {res.bic:.6g}", "Covariance:     nonrobust",
                 f"Converged:      True ({res.iterations} iterations)"):
        assert line in text
    assert "Formula" not in text and "WARNING" not in text
    assert repr(res) == f"<FitResult logit_spector: k=4, nobs=32, llf={res.llf:.6g}>"
    html = res._repr_html_()
    assert "<th style='text-align:left'>Covariance</th><td>nonrobust</td>" in html and "Warning" not in html
    formula = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    assert "Formula:        GRADE ~ GPA + TUCE + PSI" in str(formula)


def test_a_non_converged_result_says_so_in_html():
    with pytest.warns(ConvergenceWarning):
        res = LOGIT.model().fit(method="newton", maxiter=1)
    assert not res.converged
    assert "<b>Warning:</b>" in res._repr_html_() and res.convergence_message in res._repr_html_()


def test_compile_stats_count_this_models_traces():
    """A new log-likelihood traces its kernels once; an identical model refitted traces nothing
    (the documented contract of FitResult.compile_stats)."""
    def fresh(p, d):
        return logit_ll(p, d) + 0.0

    first = hs.Model(fresh, LOGIT.start, LOGIT.data).fit()
    again = hs.Model(fresh, LOGIT.start, LOGIT.data).fit()
    assert set(first.compile_stats) == {"traces", "compile_seconds"}
    assert first.compile_stats["traces"] >= 1 and first.compile_stats["compile_seconds"] > 0
    assert again.compile_stats["traces"] == 0


def test_params_tree_and_fields_are_frozen(res):
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.theta = np.zeros(4)
    tree = res.params_tree
    assert set(tree) == {"beta"}
    np.testing.assert_array_equal(tree["beta"], res.theta)
    assert isinstance(tree["beta"], np.ndarray) and tree["beta"].dtype == np.float64


def test_editing_a_returned_series_does_not_change_the_result():
    res = LOGIT.model().fit()
    before = res.params.to_numpy().copy()
    edited = res.params
    edited.iloc[0] = 99.0
    np.testing.assert_array_equal(res.params.to_numpy(), before)


def test_inference_on_a_fit_that_did_not_converge_warns():
    """Reference: the result's own converged flag. Every inference computed from a fit that is not a
    certified maximum (here maxiter=0: the start values) warns that it inherits the problem; the same
    calls on the converged fit are silent."""
    df = hs.datasets.load("spector")
    model = hs.logit("GRADE ~ GPA + C(PSI)", df)
    with pytest.warns(ConvergenceWarning):
        stopped = model.fit(maxiter=0)
    good = model.fit()
    calls = {
        "delta-method standard errors": lambda r: r.delta("GPA / 2"),
        "a Wald test": lambda r: r.wald_test("GPA = 0"),
        "term-wise Wald tests": lambda r: r.wald_terms(),
        "marginal effects": lambda r: r.margins(),
        "predictions with standard errors": lambda r: r.get_prediction(df.head(3)),
        "profile-likelihood intervals": lambda r: r.profile_ci(["GPA"]),
    }
    for what, call in calls.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                call(stopped)
            except HessstatsError:  # some cannot be computed at all there; the warning came first
                pass
        assert any(f"{what} of a fit that did not converge" in str(w.message) for w in caught), what
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            call(good)
