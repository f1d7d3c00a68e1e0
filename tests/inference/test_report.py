"""Fit statistics with statsmodels' names and ``res.summary()`` (issue 14, item 1).

References: statsmodels 0.15 live (``Logit``, ``Probit``, ``Poisson``, ``NegativeBinomial(nb2)``
``llnull``/``llr``/``llr_pvalue``/``prsquared``/``df_model``/``df_resid`` on the bundled spector and
randhie data, fitted with ``tol=1e-12``; ``OLS`` ``rsquared``/``rsquared_adj``/``df_model``/``df_resid``
and, for ``llnull``, the ``llf`` of ``OLS(y, ones)``), to 1e-8; p-value formatting against the rule
stated in the issue (``<0.001``, 3 significant digits).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import hessstats as hs
from hessstats.inference.report import Summary, format_pvalue

RTOL = 1e-8
RANDHIE = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
STATS = ("llnull", "llr", "llr_pvalue", "prsquared", "df_model", "df_resid")

CASES = {
    "logit": ("spector", "GRADE ~ GPA + TUCE + PSI", lambda f, d: smf.logit(f, d).fit(disp=0, tol=1e-12)),
    "probit": ("spector", "GRADE ~ GPA + TUCE + PSI", lambda f, d: smf.probit(f, d).fit(disp=0, tol=1e-12)),
    "poisson": ("randhie", RANDHIE, lambda f, d: smf.poisson(f, d).fit(disp=0, tol=1e-12)),
    "negbin": ("randhie", RANDHIE, lambda f, d: smf.negativebinomial(f, d, loglike_method="nb2").fit(
        disp=0, method="newton", tol=1e-12, maxiter=200)),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def discrete(request):
    dataset, formula, sm_fit = CASES[request.param]
    df = hs.datasets.load(dataset)
    return getattr(hs, request.param)(formula, df).fit(), sm_fit(formula, df)


def test_discrete_statistics_equal_statsmodels(discrete):
    """llnull, llr, llr_pvalue, prsquared, df_model, df_resid: statsmodels live, 1e-8."""
    res, ref = discrete
    for name in STATS:
        np.testing.assert_allclose(getattr(res, name), getattr(ref, name), rtol=RTOL, err_msg=name)
    assert math.isnan(res.rsquared) and math.isnan(res.rsquared_adj)


@pytest.mark.parametrize("formula", ["TOTEMP ~ GNP + POP", "TOTEMP ~ GNP + POP - 1"])
def test_ols_rsquared_equal_statsmodels(formula):
    """R2 / adjusted R2 (centred with a constant, uncentred without), df_model/df_resid: statsmodels OLS live;
    llnull: llf of the constant-only OLS (statsmodels OLS has no llnull)."""
    df = hs.datasets.load("longley")
    res, ref = hs.ols(formula, df).fit(), smf.ols(formula, df).fit()
    for name in ("rsquared", "rsquared_adj", "df_resid"):
        np.testing.assert_allclose(getattr(res, name), getattr(ref, name), rtol=RTOL, err_msg=name)
    if "- 1" in formula:
        assert math.isnan(res.llnull) and math.isnan(res.df_model)  # no constant: no null model declared
    else:
        np.testing.assert_allclose(res.df_model, ref.df_model, rtol=RTOL)
        null = sm.OLS(df["TOTEMP"], np.ones(len(df))).fit()
        np.testing.assert_allclose(res.llnull, null.llf, rtol=RTOL)
        np.testing.assert_allclose(res.llr, 2 * (ref.llf - null.llf), rtol=1e-7)
        np.testing.assert_allclose(res.prsquared, 1 - ref.llf / null.llf, rtol=RTOL)


def test_custom_model_has_no_null():
    """A custom log-likelihood declares no null: NaN statistics; df_resid = nobs - k (closed form)."""
    res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 2.0, 4.0]))
    assert all(math.isnan(getattr(res, n)) for n in ("llnull", "llr", "llr_pvalue", "prsquared", "df_model"))
    assert res.df_resid == pytest.approx(2.0)
    text = str(res.summary())
    assert "LR chi2" not in text and "Pseudo R2" not in text and "Df resid:" in text and "Df model" not in text


@pytest.mark.parametrize("p, text", [(0.0, "<0.001"), (2.1404e-310, "<0.001"), (0.000999, "<0.001"),
                                     (0.001, "0.00100"), (0.0252384, "0.0252"), (0.5, "0.500"),
                                     (0.99999, "1.00"), (float("nan"), "")])
def test_format_pvalue(p, text):
    """Statisticians' rule: below 0.001 '<0.001', else 3 significant digits (NaN blank)."""
    assert format_pvalue(p) == text


def test_summary_text_logit():
    """Header values against statsmodels Logit live (spector): llnull -20.5917, LR chi2 15.4042 (3, 0.00150)."""
    df = hs.datasets.load("spector")
    res = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit()
    ref = smf.logit("GRADE ~ GPA + TUCE + PSI", df).fit(disp=0)
    s = res.summary()
    assert isinstance(s, Summary)
    head = dict(s.header)
    assert head["Model"] == "logit" and head["Formula"] == "GRADE ~ GPA + TUCE + PSI"
    assert head["Observations"] == "32" and head["Df model / resid"] == "3 / 28"
    assert head["LL-null"] == f"{ref.llnull:.6g}"
    assert head["LR chi2 (df, p)"] == f"{ref.llr:.6g} (3, {ref.llr_pvalue:#.3g})"
    assert head["Pseudo R2"] == f"{ref.prsquared:.4f}"
    assert head["Covariance"] == "nonrobust" and head["Converged"].startswith("yes")
    text = str(s)
    for name in res.names:
        assert name in text
    assert "Pseudo R2:" in text and "AIC / BIC:" in text
    # summary_frame keeps raw floats
    assert res.summary_frame()["p_value"].dtype == np.float64
    html = s._repr_html_()
    assert html.startswith("<table>") and "LR chi2 (df, p)" in html and "<td>15.4042 (3, 0.00150)</td>" in html
    assert str(res).startswith("Model:")  # str(res) unchanged


def test_summary_ols_clusters_and_small_pvalues():
    """OLS header shows R2/adj R2 (statsmodels live) and '<0.001' p-values; clusters counted in nobs."""
    df = hs.datasets.load("longley")
    res = hs.ols("TOTEMP ~ GNP + POP", df).fit()
    ref = smf.ols("TOTEMP ~ GNP + POP", df).fit()
    head = dict(res.summary().header)
    assert head["R2 / adj. R2"] == f"{ref.rsquared:.4f} / {ref.rsquared_adj:.4f}"
    assert "Pseudo R2" not in head
    assert "<0.001" in str(res.summary())
    groups = np.repeat(np.arange(4), 4)
    clustered = res.with_cov("cluster", groups=groups)
    assert dict(clustered.summary().header)["Observations"] == "16 (4 clusters)"
    assert dict(clustered.summary().header)["Covariance"] == "cluster"


def test_summary_warns_when_not_converged():
    """A fit stopped at maxiter=0 away from the optimum: header says NO and the report carries the message."""
    df = hs.datasets.load("spector")
    with pytest.warns(hs.errors.ConvergenceWarning):
        res = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit(maxiter=0, start=np.zeros(4))
    s = res.summary()
    assert dict(s.header)["Converged"].startswith("NO")
    assert "WARNING: the optimiser stopped after 0 iterations" in str(s) and "<b>Warning:</b>" in s._repr_html_()


def test_probability_weights_label_a_pseudolikelihood():
    """Reference: Stata's logit output after pweights labels the value 'Log pseudolikelihood' (and
    reports no LR chi2); unweighted fits keep 'Log-likelihood'."""
    df = hs.datasets.load("spector")
    weighted = hs.logit("GRADE ~ GPA", df, weights=np.linspace(1.0, 3.0, 32), weight_type="probability").fit()
    for text in (str(weighted.summary()), str(weighted)):
        assert "Log pseudolikelihood:" in text and "Log-likelihood" not in text and "LR chi2" not in text
    plain = hs.logit("GRADE ~ GPA", df).fit()
    assert "Log-likelihood:" in str(plain.summary()) and "pseudolikelihood" not in str(plain)


def test_sandwich_covariances_report_a_wald_chi2_of_the_slopes():
    """Reference: Stata's logit header after vce(robust) (and pweights) reports 'Wald chi2' of the
    slopes with that covariance, not the LR chi2 (which hs.lr_test refuses there). Recomputed from
    statsmodels' HC0 covariance (live) times Stata's n/(n-1): chi2 = b' (V_HC0 n/(n-1))^-1 b."""
    df = hs.datasets.load("spector")
    res = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit(cov_type="robust")
    head = dict(res.summary().header)
    assert "LR chi2 (df, p)" not in head and "LL-null" not in head
    sm_res = smf.logit("GRADE ~ GPA + TUCE + PSI", df).fit(disp=0, cov_type="HC0")
    slopes = ["GPA", "TUCE", "PSI"]
    b, V = sm_res.params[slopes].to_numpy(), sm_res.cov_params().loc[slopes, slopes].to_numpy() * 32 / 31
    stat = float(b @ np.linalg.solve(V, b))
    shown, rest = head["Wald chi2 (df, p)"].split(" ", 1)
    np.testing.assert_allclose(float(shown), stat, rtol=1e-5)  # shown to 6 significant digits
    assert rest.startswith("(3, ")
    assert "LR chi2 (df, p)" in dict(hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit().summary().header)
