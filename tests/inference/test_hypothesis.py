"""Delta method, transforms, Wald / LR / score tests (issue 3).

References: closed-form delta-method SEs computed here in numpy from ``res.cov_params()``;
statsmodels 0.15 ``Logit.wald_test(..., use_f=False, scalar=True)``, ``Logit`` ``llf``/``llr``/
``llr_pvalue``, ``GLM(Poisson).score_test(params_constrained, k_constraints, observed=True)``
(analytic models, 1e-8); ``statsmodels.stats._delta_method.NonlinearDeltaCov`` (complex-step
Jacobian for numpy functions, exact to rounding: 1e-10); closed forms for the iid normal.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.stats
import statsmodels.api as sm
from catalogue import logit_ll, normal_ll, poisson_ll
from statsmodels.stats._delta_method import NonlinearDeltaCov

import hessstats as hs
from hessstats.errors import CovarianceError, IdentificationWarning, SpecificationError
from hessstats.inference.hypothesis import chi_bar_squared

RTOL = 1e-8
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def logit(spector):
    d = {"X": spector["X"], "y": spector["y"]}
    res = hs.fit(logit_ll, {"beta": np.zeros(4)}, d, names={"beta": spector["names"]})
    sm_res = sm.Logit(d["y"], d["X"]).fit(disp=0, tol=1e-12)
    return res, sm_res


def test_delta_exp_and_ratio_closed_form(logit):
    res, _ = logit
    b, V = res.params.to_numpy(), res.cov_params().to_numpy()
    out = res.delta(lambda p: jnp.exp(p["beta"]), names=[f"exp_{n}" for n in res.names])
    np.testing.assert_allclose(out["coef"], np.exp(b), rtol=1e-14)
    np.testing.assert_allclose(out["std_err"], np.exp(b) * res.bse.to_numpy(), rtol=1e-12)  # exp(b) se(b)
    assert list(out.columns) == list(res.summary_frame().columns)
    ratio = res.delta(lambda p: p["beta"][0] / p["beta"][2])
    grad = np.array([1 / b[2], 0, -b[0] / b[2] ** 2, 0])  # d(b0/b2)/db by hand
    np.testing.assert_allclose(ratio.loc["fn", "std_err"], np.sqrt(grad @ V @ grad), rtol=1e-12)


def test_delta_matches_statsmodels_nonlinear_delta_cov(logit):
    res, sm_res = logit
    fun = lambda b: np.array([b[0] / b[2], np.exp(b[1])])  # noqa: E731
    nl = NonlinearDeltaCov(fun, sm_res.params, sm_res.cov_params())
    ours = res.delta(lambda p: jnp.stack([p["beta"][0] / p["beta"][2], jnp.exp(p["beta"][1])]))
    np.testing.assert_allclose(ours["coef"], nl.predicted(), rtol=1e-8)
    np.testing.assert_allclose(ours["std_err"], nl.se_vectorized(), rtol=1e-10)  # complex-step Jacobian there
    assert list(ours.index) == ["fn[0]", "fn[1]"]


def test_delta_uses_the_result_covariance_type(logit):
    res, _ = logit
    hc0 = res.with_cov("HC0")
    out = hc0.delta(lambda p: 2.0 * p["beta"][1])
    np.testing.assert_allclose(out["std_err"].iloc[0], 2 * hc0.bse.iloc[1], rtol=1e-13)


def test_delta_bad_functions(logit):
    res, _ = logit
    with pytest.raises(SpecificationError, match="wrong kind"):
        res.delta(lambda p: jnp.outer(p["beta"], p["beta"]))
    with pytest.raises(SpecificationError, match="wrong kind"):
        res.delta(lambda p: jnp.argmax(p["beta"]))
    with pytest.raises(SpecificationError, match="names"):
        res.delta(lambda p: p["beta"], names=["a"])
    with pytest.raises(SpecificationError, match="failed"):
        res.delta(lambda p: p["gamma"])
    with pytest.raises(SpecificationError, match="not callable"):
        res.delta(3.0)


def test_delta_nan_stays_with_unidentified(spector):
    X = np.column_stack([spector["X"][:, 0], spector["X"]])
    with pytest.warns(IdentificationWarning):
        res = hs.fit(logit_ll, {"beta": np.zeros(5)}, {"X": X, "y": spector["y"]})
    out = res.delta(lambda p: jnp.stack([p["beta"][2] * 2, p["beta"][0] + p["beta"][3]]))
    assert np.isfinite(out["std_err"].iloc[0]) and np.isnan(out["std_err"].iloc[1])
    np.testing.assert_allclose(out["std_err"].iloc[0], 2 * res.bse.iloc[2], rtol=1e-13)


def test_transforms_normal_sigma_closed_form():
    """iid normal: sigma_hat = sqrt(mean((y - ybar)^2)), se(sigma_hat) = sigma_hat / sqrt(2 n)."""
    y = np.random.default_rng(0).normal(3.0, 2.0, size=50)
    res = hs.fit(normal_ll, {"mu": 0.0, "log_sigma": 0.0}, y,
                 transforms={"sigma": lambda p: jnp.exp(p["log_sigma"]),
                             "moments": lambda p: jnp.stack([p["mu"], jnp.exp(2 * p["log_sigma"])])})
    sigma = np.sqrt(np.mean((y - y.mean()) ** 2))
    out = res.transformed()
    assert list(out.index) == ["sigma", "moments[0]", "moments[1]"]
    np.testing.assert_allclose(out.loc["sigma", "coef"], sigma, rtol=1e-10)
    np.testing.assert_allclose(out.loc["sigma", "std_err"], sigma / np.sqrt(2 * len(y)), rtol=1e-8)
    np.testing.assert_allclose(out.loc["moments[1]", "std_err"], sigma ** 2 * np.sqrt(2 / len(y)), rtol=1e-8)
    np.testing.assert_allclose(out.loc["moments[0]", "std_err"], sigma / np.sqrt(len(y)), rtol=1e-8)
    with pytest.raises(SpecificationError, match="no transforms"):
        hs.fit(normal_ll, {"mu": 0.0, "log_sigma": 0.0}, y).transformed()


def test_wald_linear_matches_statsmodels(logit):
    res, sm_res = logit
    sm_w = sm_res.wald_test("x1 = x3, x2 = 0", use_f=False, scalar=True)
    for spec in ["GPA = PSI, TUCE = 0", ["GPA - PSI = 0", "TUCE = 0"]]:
        ours = res.wald_test(spec)
        np.testing.assert_allclose(ours.statistic, sm_w.statistic, rtol=RTOL)
        np.testing.assert_allclose(ours.p_value, sm_w.pvalue, rtol=1e-7)
        assert ours.df == 2
    R = np.array([[1.0, 0, -1, 0], [0, 1, 0, 0]])
    np.testing.assert_allclose(res.wald_test(R).statistic, sm_w.statistic, rtol=RTOL)
    sm_q = sm_res.wald_test((np.array([[0, 1.0, 0, 0]]), np.array([0.1])), use_f=False, scalar=True)
    np.testing.assert_allclose(res.wald_test("TUCE = 0.1").statistic, sm_q.statistic, rtol=RTOL)
    assert "Wald test" in repr(res.wald_test("TUCE = 0"))


def test_wald_nonlinear_closed_form(logit):
    res, _ = logit
    b, V = res.params.to_numpy(), res.cov_params().to_numpy()
    g = b[0] * b[2] - 1.0
    J = np.array([b[2], 0, b[0], 0])
    ours = res.wald_test(lambda p: p["beta"][0] * p["beta"][2], q=1.0)
    np.testing.assert_allclose(ours.statistic, g ** 2 / (J @ V @ J), rtol=1e-12)


def test_wald_bad_constraints(logit):
    res, _ = logit
    with pytest.raises(SpecificationError, match="unknown name"):
        res.wald_test("GPAX = 0")
    with pytest.raises(SpecificationError, match="cannot read the constraint"):  # GPA * PSI = 0 is testnl's now
        res.wald_test("GPA * = 0")
    with pytest.raises(SpecificationError, match="exactly one"):
        res.wald_test("GPA == 0")
    with pytest.raises(SpecificationError, match="linearly dependent"):
        res.wald_test("GPA = 0, 2*GPA = 0")
    with pytest.raises(SpecificationError, match="wrong shape"):
        res.wald_test(np.ones((1, 3)))


def test_lr_test_matches_statsmodels(logit, spector):
    res, sm_res = logit
    keep = [0, 2, 3]
    restricted = hs.fit(logit_ll, {"beta": np.zeros(3)}, {"X": spector["X"][:, keep], "y": spector["y"]})
    sm_r = sm.Logit(spector["y"], spector["X"][:, keep]).fit(disp=0, tol=1e-12)
    out = hs.lr_test(restricted, res)
    np.testing.assert_allclose(out.statistic, 2 * (sm_res.llf - sm_r.llf), rtol=1e-9)
    assert out.df == 1
    null = res.lr_test_null({"GPA": 0.0, "TUCE": 0.0, "PSI": 0.0})
    np.testing.assert_allclose(null.statistic, sm_res.llr, rtol=1e-9)
    np.testing.assert_allclose(null.p_value, sm_res.llr_pvalue, rtol=1e-7)
    assert null.df == 3
    fixed = res.fit_restricted({"TUCE": 0.0})  # same as dropping the column
    np.testing.assert_allclose(fixed.llf, sm_r.llf, rtol=1e-12)


def test_lr_test_refuses_non_nested_or_other_data(logit, spector):
    res, _ = logit
    keep = [0, 2, 3]
    restricted = hs.fit(logit_ll, {"beta": np.zeros(3)}, {"X": spector["X"][:, keep], "y": spector["y"]})
    with pytest.raises(SpecificationError, match="more parameters"):
        hs.lr_test(res, restricted)
    other_y = hs.fit(logit_ll, {"beta": np.zeros(3)}, {"X": spector["X"][:, keep], "y": 1.0 - spector["y"]})
    with pytest.raises(SpecificationError, match="differ"):
        hs.lr_test(other_y, res)
    fewer = hs.fit(logit_ll, {"beta": np.zeros(3)}, {"X": spector["X"][:-2, keep], "y": spector["y"][:-2]})
    with pytest.raises(SpecificationError, match="observations"):
        hs.lr_test(fewer, res)
    with pytest.raises(SpecificationError, match="no null model"):
        res.lr_test_null()


def test_score_test_matches_statsmodels_glm(randhie):
    X, y = randhie["X"], randhie["y"]
    drop = [6, 7, 8]  # hlthg, hlthf, hlthp
    keep = [i for i in range(X.shape[1]) if i not in drop]
    restricted = hs.fit(poisson_ll, {"beta": np.zeros(len(keep))}, {"X": X[:, keep], "y": y},
                        names={"beta": [randhie["names"][i] for i in keep]})
    full = hs.Model(poisson_ll, {"beta": np.zeros(X.shape[1])}, {"X": X, "y": y}, names={"beta": randhie["names"]})
    constrained = np.zeros(X.shape[1])
    constrained[keep] = restricted.theta
    stat, pvalue, df = sm.GLM(y, X, family=sm.families.Poisson()).score_test(constrained, k_constraints=3)
    out = hs.score_test(restricted, full)
    np.testing.assert_allclose(out.statistic, stat, rtol=1e-8)
    np.testing.assert_allclose(out.p_value, pvalue, rtol=1e-6)
    assert out.df == df == 3
    explicit = hs.score_test(restricted, full, {"beta": constrained}, information="opg")
    assert explicit.df == 3 and explicit.statistic > 0
    with pytest.raises(CovarianceError, match="not available"):
        hs.score_test(restricted, full, information="expected")


def test_example_script_runs():
    """Smoke test: the documented example runs end to end."""
    runpy.run_path(str(ROOT / "examples" / "robust_and_delta.py"), run_name="__main__")


def test_score_test_expected_information_equals_observed_for_canonical_poisson(randhie):
    """Poisson with the log link: expected information X'diag(mu)X equals the observed one."""
    X, y = randhie["X"][:2000], randhie["y"][:2000]
    restricted = hs.fit(poisson_ll, {"beta": np.zeros(7)}, {"X": X[:, [0, 1, 2, 3, 4, 5, 9]], "y": y},
                        names={"beta": [randhie["names"][i] for i in [0, 1, 2, 3, 4, 5, 9]]})
    fisher = lambda theta: X.T @ (np.exp(X @ theta)[:, None] * X)  # noqa: E731
    full = hs.Model(poisson_ll, {"beta": np.zeros(10)}, {"X": X, "y": y}, names={"beta": randhie["names"]},
                    expected_information=fisher)
    np.testing.assert_allclose(hs.score_test(restricted, full, information="expected").statistic,
                               hs.score_test(restricted, full).statistic, rtol=1e-10)


# ----------------------------------------------------------------------------- issue 13: whole terms

def test_whole_term_and_chained_wald_tests_match_statsmodels():
    """``wald_test("C(grp)")`` tests every level of the factor jointly; ``"a = b = 0"`` chains; the
    term table equals statsmodels 0.15 ``wald_test_terms(scalar=True)`` (chi2, df, p) live, 1e-8."""
    import pandas as pd
    import statsmodels.formula.api as smf

    df = hs.datasets.load("randhie")
    df = df.assign(grp=pd.qcut(df["lpi"], 3, labels=["lo", "mid", "hi"]).astype(str))
    formula = "mdvis ~ lncoins + C(grp) + idp + C(grp):lncoins"
    res = hs.poisson(formula, df).fit()
    sm_res = smf.poisson(formula, df).fit(method="newton", tol=1e-14, disp=0)
    ref = sm_res.wald_test_terms(scalar=True).summary_frame()
    ours = res.wald_terms()
    assert list(ours.index) == ["Intercept", "lncoins", "C(grp)", "idp", "C(grp):lncoins"]
    ref = ref.loc[list(ours.index)]
    np.testing.assert_allclose(ours["statistic"], ref["chi2"], rtol=1e-8)
    np.testing.assert_allclose(ours["p_value"], ref["P>chi2"], rtol=1e-7)
    assert ours["df"].tolist() == ref["df constraint"].astype(int).tolist() == [1, 1, 2, 1, 2]
    term = res.wald_test("C(grp)")
    assert term.df == 2 and term.pvalue == term.p_value
    np.testing.assert_allclose(term.statistic, ref.loc["C(grp)", "chi2"], rtol=1e-8)
    chained = res.wald_test("lncoins = idp = 0")
    explicit = sm_res.wald_test("lncoins = idp, idp = 0", scalar=True)
    np.testing.assert_allclose(chained.statistic, explicit.statistic, rtol=1e-8)
    assert chained.df == 2


def test_whole_term_errors_and_multi_equation_terms():
    """Unknown names are refused with the list of terms; a custom model has no term table; mnlogit
    terms gather the term's parameters of every equation (df = categories - 1 per column)."""
    df = hs.datasets.load("spector")
    res = hs.logit("GRADE ~ GPA + C(PSI)", df).fit()
    with pytest.raises(SpecificationError, match="neither a term nor a parameter"):
        res.wald_test("C(region)")
    custom = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    with pytest.raises(SpecificationError, match="formula model"):
        custom.wald_terms()
    mn = hs.mnlogit("PID ~ logpopul + age", hs.datasets.load("anes96")).fit()
    table = mn.wald_terms()
    assert table["df"].tolist() == [6, 6, 6]
    by_hand = mn.wald_test([f"{c}:age = 0" for c in range(1, 7)])
    np.testing.assert_allclose(table.loc["age", "statistic"], by_hand.statistic, rtol=1e-12)


# ----------------------------------------------------------------------------- LR tests Stata's lrtest refuses


@pytest.fixture(scope="module")
def spector_frame():
    return hs.datasets.load("spector")


@pytest.mark.parametrize(("restricted", "full", "needle"), [
    (lambda d: hs.probit("GRADE ~ GPA", d).fit(), lambda d: hs.logit("GRADE ~ GPA + PSI", d).fit(),
     "different models (probit restricted, logit full)"),
    (lambda d: hs.glm("GRADE ~ GPA", d, family="binomial", link="probit").fit(),
     lambda d: hs.glm("GRADE ~ GPA + PSI", d, family="binomial").fit(), "differ in link"),
    (lambda d: hs.logit("GRADE ~ GPA", d, weights=np.full(32, 2.0), weight_type="probability").fit(),
     lambda d: hs.logit("GRADE ~ GPA + PSI", d, weights=np.full(32, 2.0), weight_type="probability").fit(),
     "probability weights"),
    (lambda d: hs.logit("GRADE ~ GPA", d).fit(cov_type="cluster", groups=np.arange(32) % 8),
     lambda d: hs.logit("GRADE ~ GPA + PSI", d).fit(cov_type="cluster", groups=np.arange(32) % 8), "sandwich covariance"),
])
def test_lr_test_refuses_what_stata_lrtest_refuses(spector_frame, restricted, full, needle):
    """Reference: Stata [R] lrtest, option force: the test is refused for fits of different estimation
    commands and after pweights or robust/cluster VCEs (a pseudo-likelihood, or a likelihood the user
    does not trust); force=True computes 2 (llf_full - llf_restricted) all the same (closed form)."""
    r, f = restricted(spector_frame), full(spector_frame)
    with pytest.raises(SpecificationError, match=re.escape(needle)):
        hs.lr_test(r, f)
    forced = hs.lr_test(r, f, force=True)
    np.testing.assert_allclose(forced.statistic, 2.0 * (f.llf - r.llf), rtol=1e-12)


def test_lr_test_of_one_model_is_statsmodels_llr(spector_frame):
    spector = spector_frame
    """Reference: statsmodels Logit (live): the LR statistic of GRADE ~ GPA within GRADE ~ GPA + PSI is
    2 (llf_full - llf_restricted) of statsmodels' fits; a GLM with its canonical link named or left
    to the default is the same model (not refused)."""
    small = sm.Logit(spector["GRADE"], sm.add_constant(spector[["GPA"]])).fit(disp=0)
    large = sm.Logit(spector["GRADE"], sm.add_constant(spector[["GPA", "PSI"]])).fit(disp=0)
    test = hs.lr_test(hs.logit("GRADE ~ GPA", spector).fit(), hs.logit("GRADE ~ GPA + PSI", spector).fit())
    np.testing.assert_allclose(test.statistic, 2.0 * (large.llf - small.llf), rtol=1e-8)
    glm = hs.lr_test(hs.glm("GRADE ~ GPA", spector, family="binomial", link="logit").fit(),
                     hs.glm("GRADE ~ GPA + PSI", spector, family="binomial").fit())
    np.testing.assert_allclose(glm.statistic, test.statistic, rtol=1e-8)


def test_score_test_refuses_other_data_unknown_names_and_pweights(spector_frame):
    """Reference: statsmodels Logit score and Hessian (live) at the restricted estimate for the valid
    case, LM = g'(-H)^-1 g: GRADE ~ GPA within GRADE ~ GPA + PSI (observed information). Refused: a restricted fit on other data of the same
    size (once silently tested), a restricted parameter the full model does not have (once silently
    dropped), probability weights (a pseudo-likelihood)."""
    d = spector_frame
    full_model = hs.logit("GRADE ~ GPA + PSI", d)
    restricted = hs.logit("GRADE ~ GPA", d).fit()
    ours = hs.score_test(restricted, full_model)
    X = sm.add_constant(d[["GPA", "PSI"]])
    small = sm.Logit(d["GRADE"], sm.add_constant(d[["GPA"]])).fit(disp=0)
    at = np.r_[small.params.to_numpy(), 0.0]
    g, H = sm.Logit(d["GRADE"], X).score(at), sm.Logit(d["GRADE"], X).hessian(at)
    np.testing.assert_allclose(ours.statistic, g @ np.linalg.solve(-H, g), rtol=1e-8)
    other = hs.logit("GRADE ~ GPA", d.assign(GRADE=d["GRADE"][::-1].to_numpy())).fit()
    with pytest.raises(SpecificationError, match="differ between the fit and the model"):
        hs.score_test(other, full_model)
    renamed = hs.logit("GRADE ~ TUCE", d).fit()
    with pytest.raises(SpecificationError, match=re.escape("restricted parameters ['TUCE']")):
        hs.score_test(renamed, full_model)
    w = np.linspace(1.0, 2.0, 32)
    with pytest.raises(SpecificationError, match="probability weights"):
        hs.score_test(hs.logit("GRADE ~ GPA", d, weights=w, weight_type="probability").fit(),
                      hs.logit("GRADE ~ GPA + PSI", d, weights=w, weight_type="probability"))


def test_nonlinear_text_constraints_are_stata_testnl(spector_frame):
    """Reference: statsmodels Logit covariance (live) and closed-form Jacobians: 'GPA / PSI = 1' is
    the Wald statistic r^2 / (J V J') with r = GPA/PSI - 1, J = (0, 1/PSI, 0, -GPA/PSI^2) (Stata
    testnl); with 'TUCE = 0' added, r' (J V J')^-1 r on 2 df. Linear text keeps the linear path."""
    d = spector_frame
    res = hs.logit("GRADE ~ GPA + TUCE + PSI", d).fit()
    sm_res = sm.Logit(d["GRADE"], sm.add_constant(d[["GPA", "TUCE", "PSI"]])).fit(disp=0)
    b, V = sm_res.params.to_numpy(), sm_res.cov_params().to_numpy()
    r = np.array([b[1] / b[3] - 1.0, b[2]])
    J = np.array([[0.0, 1.0 / b[3], 0.0, -b[1] / b[3] ** 2], [0.0, 0.0, 1.0, 0.0]])
    one = res.wald_test("GPA / PSI = 1")
    np.testing.assert_allclose(one.statistic, r[0] ** 2 / (J[0] @ V @ J[0]), rtol=1e-8)
    both = res.wald_test(["GPA / PSI = 1", "TUCE = 0"])
    np.testing.assert_allclose(both.statistic, r @ np.linalg.solve(J @ V @ J.T, r), rtol=1e-8)
    assert both.df == 2
    with pytest.raises(SpecificationError, match="unknown name 'PSII'"):
        res.wald_test("GPA / PSII = 1")


def test_boundary_lr_test_is_chibar2_of_poisson_within_nb2():
    """Reference: statsmodels Poisson and NegativeBinomial (NB2) log-likelihoods (live) on simulated
    overdispersed counts (seed 4), and the chi-bar-squared p-value of Stata's nbreg 'LR test of
    alpha=0: chibar2(01)' and R pscl::odTest: half the chi-squared(1) tail. Without boundary= the
    test is refused (different models); a mixture for two boundary parameters by its closed form."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=200)
    mu = np.exp(0.5 + 0.3 * x)
    y = rng.negative_binomial(1 / 0.15, 1 / (1 + 0.15 * mu)).astype(float)
    frame = pd.DataFrame({"y": y, "x": x})
    poisson, nb2 = hs.poisson("y ~ x", frame).fit(), hs.negbin("y ~ x", frame).fit()
    X = sm.add_constant(x)
    stat = 2.0 * (sm.NegativeBinomial(y, X).fit(disp=0, maxiter=200).llf - sm.Poisson(y, X).fit(disp=0).llf)
    with pytest.raises(SpecificationError, match="boundary=1"):
        hs.lr_test(poisson, nb2)
    test = hs.lr_test(poisson, nb2, boundary=1)
    np.testing.assert_allclose(test.statistic, stat, rtol=1e-8)
    np.testing.assert_allclose(test.p_value, 0.5 * scipy.stats.chi2.sf(stat, 1), rtol=1e-8)
    two = chi_bar_squared(3.0, 2, 2)  # 1/4 chi2_0 + 1/2 chi2_1 + 1/4 chi2_2
    np.testing.assert_allclose(two.p_value, 0.5 * scipy.stats.chi2.sf(3.0, 1) + 0.25 * scipy.stats.chi2.sf(3.0, 2),
                               rtol=1e-12)
    with pytest.raises(SpecificationError, match="boundary=3"):
        hs.lr_test(poisson, nb2, boundary=3)
