"""Covariance types (issue 3): opg, HC0, robust, cluster, expected, with_cov, chunked scores.

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

import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm
from catalogue import logit_ll, poisson_ll, probit_ll
from statsmodels.base.model import GenericLikelihoodModel

import hessstats as hs
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
    np.testing.assert_allclose(res.with_cov("robust").cov_array, hc0 * n / (n - 1), rtol=1e-13)
    raw = res.with_cov("cluster", groups=g, cov_options={"correction": "none"}).cov_array
    np.testing.assert_allclose(res.with_cov("cluster", groups=g).cov_array, raw * G / (G - 1), rtol=1e-13)
    np.testing.assert_allclose(res.with_cov("cluster", groups=g, cov_options={"correction": "regress"}).cov_array,
                               raw * G / (G - 1) * (n - 1) / (n - k), rtol=1e-13)
    # every observation its own cluster and no correction is HC0 (closed form of the definitions)
    np.testing.assert_allclose(res.with_cov("cluster", groups=np.arange(n), cov_options={"correction": "none"}).cov_array,
                               hc0, rtol=1e-12)


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
