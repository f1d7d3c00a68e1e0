"""Predictions at new data (issue 13): ``res.predict`` and ``res.get_prediction``.

References:

- statsmodels 0.15 live, ``Logit``/``Poisson`` (formula API) ``get_prediction(new, which=...)``: for
  ``which="mean"`` it reports the delta-method SE and the *endpoint-transformed* interval of the
  linear predictor (``base/_prediction_inference.get_prediction_monotonic``), for ``"linear"`` the
  Wald interval. Analytic models: 1e-8 relative (fits converged with Newton at tol 1e-14).
- statsmodels GLM (``Binomial`` with counts, ``Poisson``) ``get_prediction(...).summary_frame()``
  columns ``mean, mean_se, mean_ci_lower, mean_ci_upper`` (also link-scale intervals transformed).
- statsmodels ``MNLogit.predict`` and ``OrderedModel.predict`` (per-category probabilities),
  ``ZeroInflatedPoisson.predict(which="mean"|"prob-zero")``.
- closed forms: Tobit censored mean (numerical integration, scipy.integrate.quad), Weibull
  survival ``exp(-(t/lam)^k)`` and hazard ``k/lam (t/lam)^(k-1)``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.integrate
import scipy.stats
import statsmodels.api as sm
import statsmodels.formula.api as smf

import hessstats as hs
from hessstats.errors import DataError, SpecificationError
from hessstats.inference.prediction import Which

RTOL = 1e-8


@pytest.fixture(scope="module")
def spector() -> pd.DataFrame:
    return hs.datasets.load("spector")


@pytest.fixture(scope="module")
def randhie() -> pd.DataFrame:
    df = hs.datasets.load("randhie")
    return df.assign(grp=pd.qcut(df["lpi"], 3, labels=["lo", "mid", "hi"]).astype(str),
                     years=np.exp(df["lpi"] / 10.0))


@pytest.fixture(scope="module")
def star98() -> pd.DataFrame:
    df = hs.datasets.load("star98")
    return df.assign(N=df["NABOVE"] + df["NBELOW"],
                     size=pd.qcut(df["PTRATIO"], 3, labels=["small", "mid", "large"]).astype(str))


def _same(ours: pd.DataFrame, ref: pd.DataFrame, columns: list[str]) -> None:
    for mine, theirs in zip(["predicted", "se", "ci_lower", "ci_upper"], columns):
        np.testing.assert_allclose(ours[mine].to_numpy(), ref[theirs].to_numpy(), rtol=RTOL, err_msg=mine)


def test_logit_get_prediction_matches_statsmodels(spector):
    """Logit with a C() factor: new rows and the fitted rows, mean (endpoint interval) and linear."""
    formula = "GRADE ~ GPA + TUCE + C(PSI)"
    res = hs.logit(formula, spector).fit()
    sm_res = smf.logit(formula, spector).fit(method="newton", tol=1e-14, disp=0)
    new = pd.DataFrame({"GPA": [2.5, 3.0, 3.8], "TUCE": [18, 22, 25], "PSI": [0, 1, 1]}, index=["a", "b", "c"])
    cols = ["predicted", "se", "ci_lower", "ci_upper"]
    for which in ("mean", "linear"):
        ours = res.get_prediction(new, which=which).summary_frame()
        _same(ours, sm_res.get_prediction(new, which=which).summary_frame(), cols)
        assert list(ours.index) == ["a", "b", "c"]
    _same(res.get_prediction().summary_frame(), sm_res.get_prediction().summary_frame(), cols)
    np.testing.assert_allclose(res.predict(new), sm_res.predict(new), rtol=RTOL)
    assert res.get_prediction(new).interval == "link"


def test_poisson_with_exposure_column_matches_statsmodels(randhie):
    """Poisson with C(grp) and exposure given as a column: new rows read the exposure column
    (statsmodels: ``get_prediction(new, exposure=...)``); ``rate`` leaves it out (Stata ``ir``)."""
    formula = "mdvis ~ lncoins + C(grp) + idp"
    res = hs.poisson(formula, randhie, exposure="years").fit()
    sm_res = smf.poisson(formula, randhie, exposure=randhie["years"]).fit(method="newton", tol=1e-14, disp=0)
    new = randhie.iloc[[3, 50, 700, 9000]].copy()
    new["years"] = [0.5, 1.0, 2.0, 4.0]
    cols = ["predicted", "se", "ci_lower", "ci_upper"]
    for which in ("mean", "linear"):
        ref = sm_res.get_prediction(new, which=which, exposure=new["years"]).summary_frame()
        _same(res.get_prediction(new, which=which).summary_frame(), ref, cols)
    rate = res.predict(new, which="rate")
    np.testing.assert_allclose(rate * new["years"], res.predict(new), rtol=1e-12)


def test_glm_binomial_and_poisson_match_statsmodels(star98, randhie):
    """GLM parity: Binomial with counts (trials) and C(size); Poisson GLM with C(grp). GLMs fitted by
    Newton: IRLS reports the covariance at the weights of its previous iteration (8e-9 off here)."""
    formula = "NABOVE ~ LOWINC + PERASIAN + C(size)"
    res = hs.binomial(formula, star98, trials="N").fit()
    glm = smf.glm("NABOVE + NBELOW ~ LOWINC + PERASIAN + C(size)", star98,
                  family=sm.families.Binomial()).fit(method="newton", tol=1e-14)
    new = star98.iloc[[0, 10, 200]]
    cols = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
    _same(res.get_prediction(new).summary_frame(), glm.get_prediction(new).summary_frame(), cols)
    formula = "mdvis ~ lncoins + C(grp)"
    res = hs.poisson(formula, randhie).fit()
    glm = smf.glm(formula, randhie, family=sm.families.Poisson()).fit(method="newton", tol=1e-14)
    new = randhie.iloc[[1, 2000, 15000]]
    _same(res.get_prediction(new).summary_frame(), glm.get_prediction(new).summary_frame(), cols)


def test_unseen_levels_and_missing_columns_are_named(spector):
    res = hs.logit("GRADE ~ GPA + C(PSI)", spector).fit()
    with pytest.raises(DataError, match=r"unseen levels \['2'\] in rows \(labels\) \['z'\]"):
        res.predict(pd.DataFrame({"GPA": [3.0], "PSI": [2]}, index=["z"]))
    with pytest.raises(DataError, match=r"lacks columns \['PSI'\]"):
        res.predict(pd.DataFrame({"GPA": [3.0]}))
    with pytest.raises(DataError, match=r"rows \(labels\) \['q'\]"):
        res.predict(pd.DataFrame({"GPA": [3.0, None], "PSI": [1, 0]}, index=["p", "q"]))
    with pytest.raises(SpecificationError, match="cannot predict 'probs'"):
        res.predict(which="probs")
    with pytest.raises(SpecificationError, match="unknown prediction"):
        res.predict(which="median")


def test_stateful_transform_keeps_its_training_state(spector):
    """scale(GPA) at new rows uses the fitted mean and sd (formulaic's stored state), so
    predicting the first training rows as new data reproduces the in-sample predictions."""
    res = hs.logit("GRADE ~ scale(GPA) + TUCE", spector).fit()
    first = spector.iloc[:3]
    np.testing.assert_allclose(res.predict(first).to_numpy(), res.predict().to_numpy()[:3], rtol=1e-12)
    gpa = spector["GPA"]
    z = (3.0 - gpa.mean()) / gpa.std()
    p = res.params
    expected = 1 / (1 + np.exp(-(p["Intercept"] + p["scale(GPA)"] * z + p["TUCE"] * 20)))
    np.testing.assert_allclose(res.predict(pd.DataFrame({"GPA": [3.0], "TUCE": [20]})), [expected], rtol=1e-12)


def test_mnlogit_and_ordered_probabilities_match_statsmodels():
    """Per-category probabilities: statsmodels MNLogit.predict and OrderedModel.predict (its fit is
    BFGS with finite-difference derivatives, so 1e-6)."""
    df = hs.datasets.load("anes96")
    formula = "PID ~ logpopul + age"
    res = hs.mnlogit(formula, df).fit()
    sm_res = smf.mnlogit(formula, df).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    new = df.iloc[[0, 5, 100]]
    probs = res.predict(new)
    assert probs.shape == (3, 7) and list(probs.columns) == [str(c) for c in range(7)]
    np.testing.assert_allclose(probs.to_numpy(), np.asarray(sm_res.predict(new)), rtol=RTOL)
    frame = res.get_prediction(new).summary_frame()
    assert frame.index.names == ["row", "outcome"] and len(frame) == 21
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    ordered = hs.ordered_logit(formula, df).fit()
    sm_ord = OrderedModel(df["PID"], df[["logpopul", "age"]], distr="logit").fit(method="bfgs", disp=0, gtol=1e-10)
    np.testing.assert_allclose(ordered.predict(new).to_numpy(),
                               sm_ord.predict(new[["logpopul", "age"]]), rtol=1e-6)
    np.testing.assert_allclose(ordered.predict(new).sum(axis=1), 1.0, rtol=1e-12)


def test_zip_mean_and_zero_probability_match_statsmodels(randhie):
    formula = "mdvis ~ lncoins + idp"
    res = hs.zip(formula, randhie, inflation="~ idp").fit()
    sm_res = smf.zeroinflated_poisson if hasattr(smf, "zeroinflated_poisson") else None
    from statsmodels.discrete.count_model import ZeroInflatedPoisson

    exog = sm.add_constant(randhie[["lncoins", "idp"]])
    infl = sm.add_constant(randhie[["idp"]])
    zres = ZeroInflatedPoisson(randhie["mdvis"], exog, exog_infl=infl).fit(
        start_params=np.r_[res.params.to_numpy()[3:], res.params.to_numpy()[:3]], method="newton", disp=0, maxiter=50)
    rows = [0, 7, 500]
    for which, sm_which in (("mean", "mean"), ("prob_zero", "prob-zero")):
        ref = zres.predict(exog.iloc[rows], exog_infl=infl.iloc[rows], which=sm_which)
        np.testing.assert_allclose(res.predict(randhie.iloc[rows], which=which), ref, rtol=1e-6)
    del sm_res


def test_tobit_censored_mean_and_weibull_survival_closed_form(spector):
    """Tobit: E(max(0, y*)) by numerical integration; Weibull: S and h in closed form."""
    df = hs.datasets.load("fair")
    res = hs.tobit("affairs ~ rate_marriage + age", df, left=0).fit()
    new = df.iloc[[0, 10]]
    xb = res.predict(new, which="linear").to_numpy()
    sigma = res.params["sigma"]
    expected = [scipy.integrate.quad(lambda e, m=m: max(0.0, e) * scipy.stats.norm.pdf(e, m, sigma), -60, 60,
                                     points=[0.0])[0] for m in xb]
    np.testing.assert_allclose(res.predict(new, which="censored_mean"), expected, rtol=1e-7)
    np.testing.assert_allclose(res.predict(new, which="mean"), xb, rtol=1e-12)
    heart = hs.datasets.load("heart")
    w = hs.weibull("survival ~ age", heart, event="censors").fit()
    rows = heart.iloc[[0, 3]]
    lam = np.exp(w.params["Intercept"] + w.params["age"] * rows["age"].to_numpy())
    k, t = w.params["shape"], rows["survival"].to_numpy()
    np.testing.assert_allclose(w.predict(rows, which="survival"), np.exp(-(t / lam) ** k), rtol=1e-12)
    np.testing.assert_allclose(w.predict(rows, which="hazard"), k / lam * (t / lam) ** (k - 1), rtol=1e-12)
    with pytest.raises(DataError, match="'survival'"):
        w.predict(rows[["age"]], which="survival")
    assert Which.parse("ystar") is Which.CENSORED_MEAN


def test_custom_likelihood_passes_a_prediction_function():
    """A custom model: predict=fn(params, data); delta-method SE in closed form
    (mean of a normal sample: se(mu) = sigma_hat / sqrt(n))."""
    y = np.array([0.5, 1.5, 2.0, 4.0])

    def loglike(p, d):
        return -0.5 * ((d["y"] - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])

    res = hs.fit(loglike, {"mu": 0.0, "sigma": 1.0}, {"y": y})
    out = res.get_prediction({"z": np.array([1.0, 2.0])}, predict=lambda p, d: p["mu"] * d["z"]).summary_frame()
    se = y.std() / np.sqrt(len(y))
    np.testing.assert_allclose(out["se"], [se, 2 * se], rtol=1e-10)
    np.testing.assert_allclose(out["ci_upper"] - out["predicted"], 1.959963984540054 * out["se"], rtol=1e-10)
    with pytest.raises(SpecificationError, match="declares no predictions"):
        res.predict()
