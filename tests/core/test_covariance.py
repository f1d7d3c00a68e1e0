"""Covariance types (issue 3): opg, HC0, robust, cluster, expected, with_cov, chunked scores; the
covariance family of issue 12: HC1-HC3, two-way cluster, "regress", Newey-West / Driscoll-Kraay,
OLS's classical s^2 and t inference, the Pearson dispersion (references named per test: statsmodels
live, R sandwich outputs stored in data/reference/sandwich_petersen.json, NIST, closed forms).

References: statsmodels 0.15 ``Logit``/``Poisson`` ``fit(cov_type="HC0")`` and
``fit(cov_type="cluster", cov_kwds={"groups": g})`` (``use_correction=True``: factor
G/(G-1)(n-1)/(n-k), read in ``statsmodels/stats/sandwich_covariance.py::cov_cluster``; HC0 is
``cov_white_simple(use_correction=False)``, read in ``base/covtype.py``), analytic derivatives,
tolerance 1e-8 relative. OPG: the inverse outer product of statsmodels' analytic ``score_obs``
(1e-8), and ``GenericLikelihoodModel.bsejac`` (forward finite-difference scores, about 1e-7
relative error per score, so 1e-5). Stata conventions (robust = HC0 n/(n-1), cluster = G/(G-1))
are checked as exact ratios to HC0 / the uncorrected cluster sandwich.
"""

from __future__ import annotations

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from catalogue import logit_ll, poisson_ll, probit_ll
from statsmodels.base.model import GenericLikelihoodModel

import hessstats as hs
from hessstats.core import covariance
from hessstats.core.scores import score_meat
from hessstats.errors import CovarianceError, IdentificationWarning

RTOL = 1e-8


@pytest.fixture(scope="module")
def logit(spector):
    d = {"X": spector["X"], "y": spector["y"]}
    return hs.fit(logit_ll, {"beta": np.zeros(4)}, d, names={"beta": spector["names"]}), sm.Logit(d["y"], d["X"])


@pytest.fixture(scope="module")
def poisson(randhie):
    d = {"X": randhie["X"], "y": randhie["y"]}
    return hs.fit(poisson_ll, {"beta": np.zeros(10)}, d, names={"beta": randhie["names"]}), sm.Poisson(d["y"], d["X"])


def groups_for(n: int) -> np.ndarray:
    """Deterministic clusters: row index mod 7 (7 clusters)."""
    return np.arange(n) % 7


@pytest.mark.parametrize("which", ["logit", "poisson"])
def test_hc0_and_cluster_match_statsmodels(which, request):
    res, sm_model = request.getfixturevalue(which)
    g = groups_for(res.nobs)
    sm_hc0 = sm_model.fit(disp=0, cov_type="HC0", tol=1e-12)
    sm_clu = sm_model.fit(disp=0, cov_type="cluster", cov_kwds={"groups": g}, tol=1e-12)
    np.testing.assert_allclose(res.with_cov("HC0").bse, sm_hc0.bse, rtol=RTOL)
    ours = res.with_cov("cluster", groups=g, cov_options={"correction": "regress"})
    np.testing.assert_allclose(ours.cov_array, sm_clu.cov_params(), rtol=RTOL)
    np.testing.assert_allclose(ours.bse, sm_clu.bse, rtol=RTOL)


def test_stata_factors_are_exact_ratios(logit):
    res, _ = logit
    n, k, G = res.nobs, res.k_params, 7
    g = groups_for(n)
    hc0 = res.with_cov("HC0").cov_array
    # each covariance re-evaluates the scores (numpy or compiled, equal to rounding): tolerances at the matrix's scale
    np.testing.assert_allclose(res.with_cov("robust").cov_array, hc0 * n / (n - 1), rtol=1e-13, atol=1e-13 * np.abs(hc0).max())
    raw = res.with_cov("cluster", groups=g, cov_options={"correction": "none"}).cov_array
    np.testing.assert_allclose(res.with_cov("cluster", groups=g).cov_array, raw * G / (G - 1), rtol=1e-13,
                               atol=1e-13 * np.abs(raw).max())
    # rounding is relative to the matrix's scale: a small off-diagonal entry has cancelled digits
    np.testing.assert_allclose(res.with_cov("cluster", groups=g, cov_options={"correction": "regress"}).cov_array,
                               raw * G / (G - 1) * (n - 1) / (n - k), rtol=1e-13, atol=1e-13 * np.abs(raw).max())
    # every observation its own cluster and no correction is HC0 (closed form of the definitions)
    np.testing.assert_allclose(res.with_cov("cluster", groups=np.arange(n), cov_options={"correction": "none"}).cov_array,
                               hc0, rtol=1e-12, atol=1e-13 * np.abs(hc0).max())


def test_opg_matches_analytic_scores_and_generic_bsejac(logit, spector):
    res, sm_model = logit
    sm_res = sm_model.fit(disp=0, tol=1e-12)
    S = sm_model.score_obs(sm_res.params)  # statsmodels' analytic per-observation scores
    np.testing.assert_allclose(res.with_cov("opg").cov_array, np.linalg.inv(S.T @ S), rtol=RTOL)

    class GenericLogit(GenericLikelihoodModel):
        def loglikeobs(self, params):
            eta = self.exog @ params
            return self.endog * eta - np.logaddexp(0.0, eta)

    generic = GenericLogit(spector["y"], spector["X"]).fit(start_params=sm_res.params, disp=0, method="newton")
    # bsejac uses forward finite-difference scores: ~1e-7 relative error, hence the 1e-5 tier
    np.testing.assert_allclose(res.with_cov("opg").bse, generic.bsejac, rtol=1e-5)


def test_fit_with_cov_type_equals_with_cov_and_result_is_new(logit, spector):
    res, _ = logit
    g = groups_for(res.nobs)
    direct = hs.fit(logit_ll, {"beta": np.zeros(4)}, {"X": spector["X"], "y": spector["y"], "school": g},
                    names={"beta": spector["names"]}, cov_type="cluster", groups="school")
    other = res.with_cov("cluster", groups=g)
    np.testing.assert_allclose(direct.bse, other.bse, rtol=1e-12)
    assert res.cov_type == "nonrobust" and other.cov_type == "cluster"
    with pytest.raises(dataclasses.FrozenInstanceError):
        other.cov_type = "HC0"
    assert direct.summary_frame().shape == (4, 6)


def test_string_labels_are_clusters(logit):
    res, _ = logit
    labels = np.array(["abcdefg"[i % 7] for i in range(res.nobs)], dtype=object)
    np.testing.assert_allclose(res.with_cov("cluster", groups=labels).bse,
                               res.with_cov("cluster", groups=groups_for(res.nobs)).bse, rtol=1e-14)


def test_expected_information_matches_glm_fisher_scoring(spector):
    """statsmodels GLM(Binomial(probit)) fitted by IRLS reports expected-information SEs."""
    X, y = spector["X"], spector["y"]

    def fisher(theta):
        from scipy.stats import norm
        eta = X @ theta
        w = norm.pdf(eta) ** 2 / (norm.cdf(eta) * norm.sf(eta))
        return X.T @ (w[:, None] * X)

    res = hs.fit(probit_ll, {"beta": np.zeros(4)}, {"X": X, "y": y}, expected_information=fisher, cov_type="expected")
    glm = sm.GLM(y, X, family=sm.families.Binomial(link=sm.families.links.Probit())).fit(tol=1e-14, maxiter=200)
    np.testing.assert_allclose(res.params, glm.params, rtol=1e-7)
    np.testing.assert_allclose(res.bse, glm.bse, rtol=1e-7)  # GLM's IRLS stop leaves ~1e-9 in params
    via_options = res.with_cov("nonrobust").with_cov("expected", cov_options={"information": fisher})
    np.testing.assert_allclose(via_options.bse, res.bse, rtol=1e-14)


def test_nan_confined_to_unidentified_parameters(spector):
    """A duplicated regressor: the sandwich on the identified block equals the reduced model's."""
    X = np.column_stack([spector["X"][:, 0], spector["X"]])  # GPA twice
    d = {"X": X, "y": spector["y"]}
    with pytest.warns(IdentificationWarning):
        res = hs.fit(logit_ll, {"beta": np.zeros(5)}, d, names={"beta": ["GPA_a"] + spector["names"]})
    reduced = hs.fit(logit_ll, {"beta": np.zeros(4)}, {"X": spector["X"], "y": spector["y"]})
    g = groups_for(res.nobs)
    for cov_type, groups in [("HC0", None), ("opg", None), ("robust", None), ("cluster", g)]:
        se = res.with_cov(cov_type, groups=groups).bse.to_numpy()
        assert np.isnan(se[:2]).all()
        np.testing.assert_allclose(se[2:], reduced.with_cov(cov_type, groups=groups).bse.to_numpy()[1:], rtol=1e-6)


def test_chunked_score_meat_equals_full_scores(logit):
    res, _ = logit
    S = res.model.scores(res.theta)
    codes = groups_for(res.nobs)
    np.testing.assert_allclose(score_meat(res.model, res.theta, chunk_rows=5), S.T @ S, rtol=1e-12)
    C = np.vstack([S[codes == c].sum(0) for c in range(7)])
    np.testing.assert_allclose(score_meat(res.model, res.theta, codes, chunk_rows=5), C.T @ C, rtol=1e-12)


def test_chunking_falls_back_when_rows_are_not_independent():
    """An AR(1)-type likelihood (row i uses row i-1): blocks would be wrong, so full scores are used."""
    rng = np.random.default_rng(3)
    y = np.cumsum(rng.normal(size=40)) * 0.1

    def ar1(p, y):
        prev = jnp.concatenate([jnp.zeros(1), y[:-1]])
        return -0.5 * (y - p["rho"] * prev) ** 2

    model = hs.Model(ar1, {"rho": 0.5}, y)
    S = model.scores(np.array([0.3]))
    np.testing.assert_allclose(score_meat(model, np.array([0.3]), chunk_rows=7), S.T @ S, rtol=1e-12)


def test_bad_input_gives_typed_errors(logit):
    res, _ = logit
    n = res.nobs
    with pytest.raises(CovarianceError, match="HC0"):  # the message lists the valid types
        res.with_cov("HC4")
    with pytest.raises(CovarianceError, match="leverage"):  # a user log-likelihood declares no single index
        res.with_cov("HC2")
    with pytest.raises(CovarianceError, match="maxlags"):
        res.with_cov("hac", cov_options={"maxlags": -1})
    with pytest.raises(CovarianceError, match="bad value"):
        res.with_cov("hac", cov_options={"correction": "stata"})
    with pytest.raises(CovarianceError, match="one time variable"):
        res.with_cov("hac", groups=[groups_for(n), np.arange(n) % 3])
    with pytest.raises(CovarianceError, match="one- or two-way"):
        res.with_cov("cluster", groups=[groups_for(n), np.arange(n) % 3, np.arange(n) % 2])
    with pytest.raises(CovarianceError, match="declares its dispersion"):
        res.with_cov("nonrobust", cov_options={"dispersion": "pearson"})
    with pytest.raises(CovarianceError, match="wrong shape"):
        res.with_cov("cluster", groups=np.arange(n - 1))
    with pytest.raises(CovarianceError, match="missing"):
        res.with_cov("cluster", groups=np.where(np.arange(n) == 3, np.nan, 1.0 * (np.arange(n) % 2)))
    with pytest.raises(CovarianceError, match="at least two clusters"):
        res.with_cov("cluster", groups=np.zeros(n))
    with pytest.raises(CovarianceError, match="needs groups"):
        res.with_cov("cluster")
    with pytest.raises(CovarianceError, match="does not use them"):
        res.with_cov("HC0", groups=groups_for(n))
    with pytest.raises(CovarianceError, match="does not exist"):
        res.with_cov("cluster", groups="school")
    with pytest.raises(CovarianceError, match="bad value"):
        res.with_cov("cluster", groups=groups_for(n), cov_options={"correction": "stata2"})
    with pytest.raises(CovarianceError, match="unknown cov_options"):
        res.with_cov("HC0", cov_options={"correction": "stata"})
    with pytest.raises(CovarianceError, match="expected information is not available"):
        res.with_cov("expected")
    with pytest.raises(CovarianceError, match="wrong shape"):
        res.with_cov("expected", cov_options={"information": lambda t: np.eye(3)})


def test_scalar_loglike_has_no_robust_covariance():
    y = np.array([1.0, 2.0, 4.0])
    res = hs.fit(lambda p, d: jnp.sum(-0.5 * (d - p["mu"]) ** 2), {"mu": 0.0}, y, nobs=3)
    with pytest.raises(CovarianceError, match="per-observation"):
        res.with_cov("HC0")


def test_groups_column_of_a_dataframe(spector):
    """groups='name' reads a column of DataFrame data (the column need not enter the likelihood)."""
    import pandas as pd

    frame = pd.DataFrame(spector["X"][:, :3], columns=spector["names"][:3]).assign(y=spector["y"], g=np.arange(32) % 7)

    def loglike(p, d):
        eta = p["a"] + p["b"][0] * d["GPA"] + p["b"][1] * d["TUCE"] + p["b"][2] * d["PSI"]
        return d["y"] * eta - jnp.logaddexp(0.0, eta)

    res = hs.fit(loglike, {"a": 0.0, "b": np.zeros(3)}, frame, cov_type="cluster", groups="g",
                 cov_options={"correction": "regress"})
    sm_clu = sm.Logit(spector["y"], spector["X"]).fit(disp=0, tol=1e-12, cov_type="cluster",
                                                      cov_kwds={"groups": np.arange(32) % 7})
    np.testing.assert_allclose(res.bse.to_numpy()[[1, 2, 3, 0]], sm_clu.bse, rtol=RTOL)


def test_a_new_estimator_declares_its_inputs_in_one_place():
    """Registering an estimator that needs groups is all it takes: covariance_for checks groups by
    the declaration (the layout issue: adding one used to touch several files)."""
    import hessstats as hs
    from hessstats.core import covariance

    @covariance.register("cluster_half", needs=frozenset({covariance.Needs.GROUPS}))
    def cluster_half(inputs):
        return covariance.REGISTRY["cluster"](inputs) / 2.0

    try:
        res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0, 4.0]))
        half = res.with_cov("cluster_half", groups=[0, 0, 1, 1])
        full = res.with_cov("cluster", groups=[0, 0, 1, 1])
        np.testing.assert_allclose(half.cov_array, full.cov_array / 2.0, rtol=1e-14)
        assert "cluster_half" in covariance.available()
        with pytest.raises(CovarianceError, match="needs groups"):
            res.with_cov("cluster_half")
    finally:
        for table in (covariance.REGISTRY, covariance.OPTIONS, covariance.NEEDS):
            table.pop("cluster_half", None)


# ----------------------------------------------------------------------------- the covariance family (issue 12)

SANDWICH = json.loads((hs.datasets.data_dir() / "reference" / "sandwich_petersen.json").read_text())
"""R sandwich 3.0.2 outputs written by data/reference/sandwich_petersen.R (provenance inside)."""


def r_matrix(key: str, entry: str) -> np.ndarray:
    return np.array(SANDWICH[key][entry], dtype=float)


@pytest.fixture(scope="module")
def petersen():
    frame = hs.datasets.load("petersen")
    return frame, hs.ols("y ~ x", frame).fit()


@pytest.fixture(scope="module")
def grunfeld():
    frame = sm.datasets.grunfeld.load_pandas().data
    return frame, hs.ols("invest ~ value + capital", frame).fit()


@pytest.mark.parametrize("entry, groups", [("vcovCL_firm", ["firm"]), ("vcovCL_year", ["year"]),
                                           ("vcovCL_firm_year", ["firm", "year"])])
def test_cluster_one_and_two_way_match_r_vcovcl_on_petersen(petersen, entry, groups):
    """Reference: R sandwich::vcovCL(lm(y ~ x, PetersenCL), cluster = ~firm / ~year / ~firm + year)
    (stored; default type HC1 = our "regress", the OLS default). The issue's targets: slope 1.0348334,
    SE 0.0505957 (firm), 0.0333889 (year), 0.0535580 (firm and year)."""
    frame, res = petersen
    out = res.with_cov("cluster", groups=[frame[g] for g in groups] if len(groups) > 1 else frame[groups[0]])
    np.testing.assert_allclose(out.params[["Intercept", "x"]], list(SANDWICH["petersen"]["coef"].values()), rtol=1e-12)
    np.testing.assert_allclose(out.cov_array[:2, :2], r_matrix("petersen", entry), rtol=1e-10)
    assert round(float(out.bse["x"]), 7) == {"vcovCL_firm": 0.0505957, "vcovCL_year": 0.0333889,
                                             "vcovCL_firm_year": 0.0535580}[entry]
    # t inference with G - 1 df (the smaller G for two-way), as statsmodels OLS / Stata regress
    assert out.df_inference == (9.0 if "year" in groups else 499.0)


def test_two_way_groups_spellings_agree(petersen):
    """Closed form of the definition: a list of two arrays, a list of two column names of dict data,
    a two-column array and a DataFrame are the same clustering."""
    frame, res = petersen
    ref = res.with_cov("cluster", groups=[frame["firm"], frame["year"]]).cov_array
    for groups in (frame[["firm", "year"]], frame[["firm", "year"]].to_numpy(),
                   (frame["firm"].to_numpy(), frame["year"].to_numpy())):
        np.testing.assert_allclose(res.with_cov("cluster", groups=groups).cov_array, ref, rtol=1e-13)
    d = {"y": frame["y"].to_numpy(), "x": frame["x"].to_numpy(), "firm": frame["firm"].to_numpy(),
         "year": frame["year"].to_numpy()}
    fit = hs.fit(lambda p, d: -0.5 * (d["y"] - p["a"] - p["b"] * d["x"]) ** 2, {"a": 0.0, "b": 0.0}, d,
                 cov_type="cluster", groups=["firm", "year"], cov_options={"correction": "none"})
    assert fit.groups.shape == (5000, 2)


def test_cluster_stata_correction_is_r_vcovcl_hc0(petersen):
    """Reference: R vcovCL(type = "HC0") = G/(G-1) only, our "stata" correction (stored)."""
    frame, res = petersen
    out = res.with_cov("cluster", groups=frame["firm"], cov_options={"correction": "stata"})
    np.testing.assert_allclose(out.cov_array[:2, :2], r_matrix("petersen", "vcovCL_firm_HC0"), rtol=1e-10)


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
def test_hc_family_matches_r_vcovhc_on_petersen(petersen, cov_type):
    """Reference: R sandwich::vcovHC(lm(y ~ x), type = cov_type) (stored); HC1's k = 2 coefficients."""
    _, res = petersen
    np.testing.assert_allclose(res.with_cov(cov_type).cov_array[:2, :2], r_matrix("petersen", f"vcovHC_{cov_type}"),
                               rtol=1e-10)


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
def test_hc_family_of_a_logit_matches_r_vcovhc(cov_type):
    """Reference: R vcovHC(glm(GRADE ~ GPA + TUCE + PSI, binomial), type) (stored; glm epsilon 1e-14):
    for the canonical link the exact-Hessian working weights are R's IRLS weights. HC1: k = 4.
    Measured 1.4e-9 (R's glm convergence)."""
    res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    np.testing.assert_allclose(res.with_cov(cov_type).cov_array, r_matrix("logit_spector", f"vcovHC_{cov_type}"),
                               rtol=1e-8)


def test_index_model_leverage_equals_the_built_in(spector):
    """Closed form of the definition: an hs.IndexModel with one design derives its index (mean part
    and leverage) from ``design``; its HC3 equals the built-in logit's (which R confirms above)."""
    def logit(eta, params, d):
        return d["y"] * eta["beta"] - jnp.logaddexp(0.0, eta["beta"])

    model = hs.IndexModel(logit, {"beta": np.zeros(4)}, {"X": spector["X"], "y": spector["y"]}, design={"beta": "X"})
    built_in = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit(cov_type="HC3")
    ours = model.fit(cov_type="HC3").bse.to_numpy()
    np.testing.assert_allclose(ours[[3, 0, 1, 2]], built_in.bse.to_numpy(), rtol=1e-9)


def test_hc1_k_counts_the_mean_parameters_only():
    """Closed form: HC1 = HC0 n/(n-k) with k = the coefficients (not alpha) for the built-in negbin;
    a user log-likelihood counts every parameter."""
    df = hs.datasets.load("randhie").iloc[:2000]
    res = hs.negbin("mdvis ~ lncoins + idp", df).fit()
    n = res.nobs
    np.testing.assert_allclose(res.with_cov("HC1").cov_array, res.with_cov("HC0").cov_array * n / (n - 3), rtol=1e-13)
    user = hs.fit(lambda p, d: -0.5 * ((d - p["mu"]) / p["s"]) ** 2 - jnp.log(p["s"]), {"mu": 0.0, "s": 1.0},
                  np.array([1.0, 3.0, 8.0, 4.0, 2.0]))
    np.testing.assert_allclose(user.with_cov("HC1").cov_array, user.with_cov("HC0").cov_array * 5 / 3, rtol=1e-13)


GRUNFELD_COVS = [("nonrobust", {}, {}), ("HC1", {}, {}), ("HC2", {}, {}), ("HC3", {}, {}),
                 ("cluster", {"groups": "firm"}, {"groups": "firm"})]


@pytest.mark.parametrize("cov_type, ours, theirs", GRUNFELD_COVS, ids=[c[0] for c in GRUNFELD_COVS])
def test_ols_on_grunfeld_reports_what_statsmodels_ols_reports(grunfeld, cov_type, ours, theirs):
    """Reference: statsmodels OLS live, ``fit(cov_type, use_t=True)`` (Stata regress and R lm/coeftest
    use t; statsmodels' robust default is z): SEs, t p-values, intervals and the Wald F test to 1e-10.
    Cluster by firm: G/(G-1)(n-1)/(n-k) with k = 3 coefficients (not sigma) and t with G-1 df."""
    frame, res = grunfeld
    kwargs = {"groups": frame[ours["groups"]]} if ours else {}
    out = res.with_cov(cov_type, **kwargs)
    sm_kwds = {"cov_kwds": {"groups": pd.factorize(frame[theirs["groups"]])[0]}} if theirs else {}
    ref = smf.ols("invest ~ value + capital", frame).fit(cov_type=cov_type, use_t=True, **sm_kwds)
    names = list(ref.params.index)
    np.testing.assert_allclose(out.bse[names], ref.bse, rtol=1e-10)
    np.testing.assert_allclose(out.pvalues[names], ref.pvalues, rtol=1e-8)
    np.testing.assert_allclose(out.conf_int().loc[names], ref.conf_int(), rtol=1e-10)
    wald, sm_wald = out.wald_test("value = 0, capital = 0"), ref.wald_test("value = 0, capital = 0", scalar=True)
    np.testing.assert_allclose([wald.statistic, wald.p_value], [float(sm_wald.statistic), float(sm_wald.pvalue)],
                               rtol=1e-8)
    assert wald.test == "Wald F" and out.df_inference == float(sm_wald.df_denom)


def test_longley_classical_matches_nist_and_hc1_statsmodels():
    """References: NIST StRD certified standard deviations of the Longley coefficients (published,
    https://www.itl.nist.gov/div898/strd/lls/data/Longley.shtml; 1e-10: the classical covariance comes
    from a QR of X), and statsmodels OLS HC1, HC3, cluster and HAC live: 1e-7 (measured 1.8e-8 with the
    QR bread of index_bread, 1.7e-7 without; statsmodels' own HC1 differs by 1.3e-8 from its formula
    re-evaluated in numpy: the residuals cancel about five digits of X b on Longley)."""
    df = hs.datasets.load("longley")
    formula = "TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR"
    res = hs.ols(formula, df).fit()
    nist = [890420.383607373, 84.9149257747669, 0.334910077722432e-01, 0.488399681651699, 0.214274163161675,
            0.226073200069370, 455.478499142212]
    np.testing.assert_allclose(res.bse.to_numpy()[:7], nist, rtol=1e-10)
    g = np.arange(16) % 4
    for cov_type, ours, theirs in [("HC1", {}, {}), ("HC3", {}, {}),
                                   ("cluster", {"groups": g}, {"cov_kwds": {"groups": g}}),
                                   ("hac", {"cov_options": {"maxlags": 2}}, {"cov_kwds": {"maxlags": 2}})]:
        ref = smf.ols(formula, df).fit(cov_type="HAC" if cov_type == "hac" else cov_type, **theirs)
        np.testing.assert_allclose(res.with_cov(cov_type, **ours).bse[ref.params.index], ref.bse, rtol=1e-7)


def test_ill_conditioned_single_index_bread_is_the_inverse_information():
    """Reference: the equilibrated inverse of the exact Hessian (good to cond * eps = 1.4e-8 here):
    the QR/Schur bread of index_bread (used above ILL_CONDITIONED) is the same matrix, for a negbin
    (mean block X'WX plus alpha) with a nearly collinear, badly scaled regressor."""
    rng = np.random.default_rng(0)
    df = hs.datasets.load("randhie").iloc[:3000].copy()
    df["big"] = 1e4 * (df["lncoins"] + rng.normal(size=len(df)) * 1e-3)
    model = hs.negbin("mdvis ~ lncoins + idp + big + physlm", df)
    res = model.fit()
    eigen = res.inverse_information.eigenvalues
    assert eigen.max() / eigen.min() > covariance.ILL_CONDITIONED
    positions = tuple(range(5))
    inputs = covariance.CovarianceInputs(
        res.inverse_information, scores=lambda: None, nobs=res.nobs, mean_positions=positions, k_mean=5,
        index_weights=lambda: covariance.index_weights(model, res.theta, positions, "X"),
        hessian=lambda: model.evaluate(res.theta)[2])
    bread = covariance.index_bread(inputs)
    assert bread is not None
    np.testing.assert_allclose(bread, res.inverse_information.cov, rtol=1e-7)


@pytest.mark.parametrize("entry, correction", [("NeweyWest_lag2", "none"), ("NeweyWest_lag2_adjust", "hac")])
def test_newey_west_matches_r_and_statsmodels(entry, correction):
    """References: R NeweyWest(lm(TOTEMP ~ GNP + POP, longley), lag = 2, prewhite = FALSE, adjust =
    FALSE/TRUE) (stored) and statsmodels OLS cov_type="HAC", maxlags=2, use_correction=False/True
    (live). Measured 2e-11 (Longley's conditioning)."""
    df = hs.datasets.load("longley")
    res = hs.ols("TOTEMP ~ GNP + POP", df).fit(cov_type="hac", cov_options={"maxlags": 2, "correction": correction})
    np.testing.assert_allclose(res.cov_array[:3, :3], r_matrix("longley", entry), rtol=1e-9)
    ref = smf.ols("TOTEMP ~ GNP + POP", df).fit(cov_type="HAC", cov_kwds={"maxlags": 2,
                                                                          "use_correction": correction == "hac"})
    np.testing.assert_allclose(res.bse[ref.params.index], ref.bse, rtol=1e-9)


def test_hac_default_bandwidth_and_zero_lags():
    """Closed forms: maxlags=0 is HC0; the default is floor(4 (n/100)^(2/9)) (statsmodels' default)."""
    rng = np.random.default_rng(3)
    y = rng.normal(size=250)
    res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y)
    np.testing.assert_allclose(res.with_cov("hac", cov_options={"maxlags": 0}).cov_array,
                               res.with_cov("HC0").cov_array, rtol=1e-13)
    assert covariance.default_maxlags(250) == 4
    np.testing.assert_allclose(res.with_cov("hac").cov_array,
                               res.with_cov("hac", cov_options={"maxlags": 4}).cov_array, rtol=1e-13)


@pytest.mark.parametrize("entry, correction", [("vcovPL_year_lag2", "none"), ("vcovPL_year_lag2_adjust", "hac")])
def test_driscoll_kraay_matches_r_vcovpl_and_statsmodels(petersen, entry, correction):
    """References: R vcovPL(lm(y ~ x), cluster = ~firm, order.by = ~year, lag = 2, adjust) (stored:
    scores summed by year, Bartlett kernel) and statsmodels OLS cov_type="hac-groupsum" (live,
    use_correction "cluster" = our "regress")."""
    frame, res = petersen
    out = res.with_cov("hac", groups=frame["year"], cov_options={"maxlags": 2, "correction": correction})
    np.testing.assert_allclose(out.cov_array[:2, :2], r_matrix("petersen", entry), rtol=1e-10)
    regress = res.with_cov("hac", groups=frame["year"], cov_options={"maxlags": 2, "correction": "regress"})
    ref = smf.ols("y ~ x", frame).fit(cov_type="hac-groupsum", cov_kwds={"time": frame["year"].to_numpy() - 1,
                                                                         "maxlags": 2})
    np.testing.assert_allclose(regress.cov_array[:2, :2], ref.cov_params(), rtol=1e-10)
    assert regress.df_inference == 9.0


def test_two_way_non_psd_is_fixed_and_warned():
    """Closed form: V1 + V2 - V12 from the analytic OLS scores and block-diagonal bread (its beta
    block is statsmodels' cov_cluster_2groups, checked), not PSD here; ours is it with the negative
    eigenvalues set to 0 (CGM 2011, R vcovCL(fix = TRUE)), with a CovarianceWarning."""
    from statsmodels.stats.sandwich_covariance import cov_cluster_2groups

    from hessstats.errors import CovarianceWarning

    rng = np.random.default_rng(1)
    n = 12
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "g1": np.arange(n) % 3,
                          "g2": np.arange(n) % 4})
    with pytest.warns(CovarianceWarning, match="not positive semi-definite"):
        out = hs.ols("y ~ x", frame).fit(cov_type="cluster", groups=[frame["g1"], frame["g2"]])
    ols = smf.ols("y ~ x", frame).fit()
    X, e = ols.model.exog, ols.resid.to_numpy()
    s2 = float(e @ e) / n
    S = np.column_stack([X * e[:, None] / s2, (e ** 2 - s2) / s2 ** 1.5])
    bread = np.zeros((3, 3))
    bread[:2, :2] = s2 * np.linalg.inv(X.T @ X)
    bread[2, 2] = s2 / (2 * n)

    def part(codes):
        C = pd.DataFrame(S).groupby(codes).sum().to_numpy()
        G = len(C)
        return G / (G - 1) * C.T @ C

    raw = bread @ (part(frame["g1"]) + part(frame["g2"]) - part(frame["g1"] * 10 + frame["g2"])) @ bread
    raw *= (n - 1) / (n - 2)
    np.testing.assert_allclose(raw[:2, :2], cov_cluster_2groups(ols, frame["g1"].to_numpy(), frame["g2"].to_numpy())[0],
                               rtol=1e-10)
    values, vectors = np.linalg.eigh(raw)
    assert values.min() < 0
    np.testing.assert_allclose(out.cov_array, (vectors * np.clip(values, 0, None)) @ vectors.T, rtol=1e-9, atol=1e-14)
    assert np.linalg.eigvalsh(out.cov_array).min() > -1e-12


def test_gamma_pearson_dispersion_matches_statsmodels_and_r():
    """References: statsmodels GLM Gamma(log) fit(scale="X2") live (SEs, 1e-10) and R summary.glm
    (stored: SEs, the Pearson dispersion, t with df.residual = n - k p-values)."""
    df = hs.datasets.load("scotland")
    res = hs.gamma("YES ~ COUTAX + UNEMPF", df).fit(cov_options={"dispersion": "pearson"})
    ref = smf.glm("YES ~ COUTAX + UNEMPF", df, family=sm.families.Gamma(sm.families.links.Log())).fit(scale="X2")
    np.testing.assert_allclose(res.bse[ref.params.index], ref.bse, rtol=1e-10)
    r = SANDWICH["gamma_scotland"]
    np.testing.assert_allclose(res.bse.to_numpy()[:3], list(r["se"].values()), rtol=1e-9)
    np.testing.assert_allclose(res.pvalues.to_numpy()[:3], list(r["p"].values()), rtol=1e-6)
    assert res.df_inference == r["df_residual"]
    # the default stays ML (z), the scale's own variance is untouched
    ml = res.with_cov("nonrobust")
    assert ml.df_inference is None
    np.testing.assert_allclose(res.bse["scale"], ml.bse["scale"], rtol=1e-14)


def test_chunked_fits_give_the_same_new_covariances(petersen, monkeypatch):
    """Reference: the in-memory fit (exact sums in another order, 1e-10): two-way cluster with the
    score meat accumulated in row blocks of 256 (score_meat), and Newey-West / HC1 on a model whose
    rows are evaluated in chunks of 999 (chunk_size)."""
    from hessstats.core import scores

    frame, res = petersen
    two_way = [frame["firm"], frame["year"]]
    whole = res.with_cov("cluster", groups=two_way).cov_array
    monkeypatch.setattr(scores, "CHUNK_ELEMENTS", 512)  # 256-row blocks of scores
    assert scores.uses_row_blocks(res.model, scores.block_rows(res.k_params))
    np.testing.assert_allclose(res.with_cov("cluster", groups=two_way).cov_array, whole, rtol=1e-10)
    d = {"y": frame["y"].to_numpy(), "x": frame["x"].to_numpy()}

    def loglike(p, d):
        return -0.5 * ((d["y"] - p["a"] - p["b"] * d["x"]) / p["s"]) ** 2 - jnp.log(p["s"])

    start = {"a": 0.0, "b": 1.0, "s": 2.0}
    memory, chunked = hs.fit(loglike, start, d), hs.Model(loglike, start, d, chunk_size=999).fit()
    for cov_type, kwargs in [("hac", {"cov_options": {"maxlags": 3}}), ("HC1", {}),
                             ("cluster", {"groups": two_way})]:
        np.testing.assert_allclose(chunked.with_cov(cov_type, **kwargs).cov_array,
                                   memory.with_cov(cov_type, **kwargs).cov_array, rtol=1e-10)


def test_registry_lists_the_family_and_the_deprecated_alias_warns(logit):
    """The registry is what error messages and docs read; 'statsmodels' is a deprecated alias of
    'regress' (same factor, closed form)."""
    assert {"HC1", "HC2", "HC3", "hac"} <= set(covariance.available())
    assert covariance.NEEDS["hac"] == frozenset({covariance.Needs.OPTIONAL_GROUPS})
    assert set(covariance.OPTIONS["hac"]) == {"maxlags", "correction"}
    res, _ = logit
    g = groups_for(res.nobs)
    with pytest.warns(FutureWarning, match="regress"):
        alias = res.with_cov("cluster", groups=g, cov_options={"correction": "statsmodels"})
    np.testing.assert_allclose(alias.cov_array, res.with_cov("cluster", groups=g, cov_options={"correction": "regress"})
                               .cov_array, rtol=1e-14)
    assert res.df_inference is None  # ML: z


def test_ols_ml_variant_is_named_and_z_based(grunfeld):
    """Closed form: variance="ml" gives inv(-H) (OLS SEs times sqrt((n-k)/n)), z inference and the
    "stata" cluster default; reference statsmodels OLS live."""
    frame, default = grunfeld
    # "robust" is Stata's vce(robust) for the estimator: regress's HC1 for the default OLS
    np.testing.assert_allclose(default.with_cov("robust").cov_array, default.with_cov("HC1").cov_array, rtol=1e-14)
    ml = hs.ols("invest ~ value + capital", frame, variance="ml").fit()
    n_rows = len(frame)
    np.testing.assert_allclose(ml.with_cov("robust").cov_array, ml.with_cov("HC0").cov_array * n_rows / (n_rows - 1),
                               rtol=1e-13)
    ref = smf.ols("invest ~ value + capital", frame).fit()
    n, k = ref.nobs, 3
    np.testing.assert_allclose(ml.bse[ref.params.index], ref.bse * np.sqrt((n - k) / n), rtol=1e-9)
    assert ml.df_inference is None and "z" in ml.summary_frame()
    g = frame["firm"]
    G = g.nunique()
    raw = ml.with_cov("cluster", groups=g, cov_options={"correction": "none"}).cov_array
    np.testing.assert_allclose(ml.with_cov("cluster", groups=g).cov_array, raw * G / (G - 1), rtol=1e-13)


def test_quasi_poisson_and_quasi_binomial_match_r_and_statsmodels():
    """References: R summary.glm of quasipoisson (randhie, first 3000 rows) and quasibinomial
    (star98 counts) fits (stored; SEs, dispersion, t on df.residual), and statsmodels GLM Poisson
    fit(scale="X2") live. statsmodels' binomial scale="X2" with a two-column endog is a different
    number (it computes the Pearson chi2 on the proportions), so the binomial reference is R's."""
    randhie = hs.datasets.load("randhie").iloc[:3000]
    formula = "mdvis ~ lncoins + idp + physlm"
    poisson = hs.poisson(formula, randhie).fit(cov_options={"dispersion": "pearson"})
    ref = smf.glm(formula, randhie, family=sm.families.Poisson()).fit(scale="X2")
    np.testing.assert_allclose(poisson.bse[ref.params.index], ref.bse, rtol=1e-10)
    r = SANDWICH["quasipoisson_randhie"]
    np.testing.assert_allclose(poisson.bse.to_numpy(), list(r["se"].values()), rtol=1e-8)
    assert poisson.df_inference == r["df_residual"]
    star98 = hs.datasets.load("star98")
    binomial = hs.binomial("NABOVE ~ LOWINC + PERASIAN + PERBLACK + PERHISP + PCTCHRT", star98,
                           failures="NBELOW").fit(cov_options={"dispersion": "pearson"})
    r = SANDWICH["quasibinomial_star98"]
    np.testing.assert_allclose(binomial.bse.to_numpy(), list(r["se"].values()), rtol=1e-8)
    np.testing.assert_allclose(binomial.pvalues.to_numpy(), list(r["p"].values()), rtol=1e-6)
    assert binomial.df_inference == r["df_residual"]


def test_gram_inverse_where_well_conditioned_and_qr_elsewhere():
    """(X'WX)^-1 from the equilibrated Gram matrix where its condition number is below
    GRAM_CONDITION; None (the QR path) for NIST's Longley design, whose scaled condition number is
    far above it. References: numpy.linalg.inv of X'WX (closed form, well conditioned) and
    statsmodels OLS cov_params on Longley (live, the QR path) at 1e-8."""
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(400), rng.normal(size=(400, 3))])
    w = rng.uniform(0.5, 2.0, 400)
    np.testing.assert_allclose(covariance.gram_inverse(X, w), np.linalg.inv((X * w[:, None]).T @ X), rtol=1e-11)
    assert covariance.gram_inverse(X, -w) is None and covariance.gram_inverse(X, np.r_[w[:-1], np.nan]) is None
    longley = hs.datasets.load("longley")
    names = ["GNPDEFL", "GNP", "UNEMP", "ARMED", "POP", "YEAR"]
    L = sm.add_constant(longley[names]).to_numpy()
    assert covariance.gram_inverse(L, np.ones(len(L))) is None
    res = hs.ols("TOTEMP ~ " + " + ".join(names), longley).fit()
    ref = sm.OLS(longley["TOTEMP"], sm.add_constant(longley[names])).fit()
    np.testing.assert_allclose(res.bse.to_numpy()[:-1], ref.bse.to_numpy(), rtol=1e-8)
