"""Observation weights (``weights=``/``weight_type=``, :mod:`hessstats.rows.weights`) with Stata's semantics.

References: frequency weights against the row-expanded data (exact identity; Stata ``[fweight]``),
statsmodels GLM ``freq_weights``/``var_weights`` (live), closed-form rules for analytic/probability/
importance weights, and typed errors.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.errors import CovarianceError, DataError, SpecificationError
from hessstats.rows.weights import WeightType


def logit(p, d):
    eta = d["X"] @ p["b"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


@pytest.fixture(scope="module")
def spector():
    df = hs.datasets.load("spector")
    X = np.column_stack([np.ones(len(df)), df[["GPA", "TUCE", "PSI"]].to_numpy()])
    w = np.random.default_rng(3).integers(0, 4, len(df)).astype(float)
    return X, df["GRADE"].to_numpy(float), w


def test_frequency_weights_equal_expanded_rows(spector):
    """fweight = row expansion (Stata; exact identity): llf, params, nobs, BIC and the nonrobust, HC0,
    robust, cluster and OPG covariances of the expanded data (zero weights drop rows): llf, params, BIC
    to 1e-12 relative, covariances to 1e-11 (measured 1e-13..1e-12)."""
    X, y, w = spector
    reps = w.astype(int)
    groups = np.arange(len(y)) % 5
    weighted = hs.fit(logit, {"b": np.zeros(4)}, {"X": X, "y": y}, weights=w, weight_type="frequency")
    expanded = hs.fit(logit, {"b": np.zeros(4)}, {"X": np.repeat(X, reps, axis=0), "y": np.repeat(y, reps)})
    assert weighted.nobs == expanded.nobs == int(w.sum())
    np.testing.assert_allclose(weighted.llf, expanded.llf, rtol=1e-12)
    np.testing.assert_allclose(weighted.bic, expanded.bic, rtol=1e-12)
    np.testing.assert_allclose(weighted.params, expanded.params, rtol=1e-12)
    for cov in ("nonrobust", "HC0", "robust", "opg"):  # measured: 1e-13 .. 1e-12
        ref = expanded.with_cov(cov).cov_array  # a small off-diagonal entry has cancelled digits: atol at the scale
        np.testing.assert_allclose(weighted.with_cov(cov).cov_array, ref, rtol=1e-11, atol=1e-12 * np.abs(ref).max(),
                                   err_msg=cov)
    ref = expanded.with_cov("cluster", groups=np.repeat(groups, reps)).cov_array
    np.testing.assert_allclose(weighted.with_cov("cluster", groups=groups).cov_array, ref, rtol=1e-11,
                               atol=1e-12 * np.abs(ref).max())
    assert weighted.weight_type is WeightType.FREQUENCY and "frequency (fweight)" in str(weighted)


def test_poisson_freq_and_var_weights_statsmodels():
    """statsmodels GLM(Poisson, freq_weights=w) (live): params, nonrobust SEs, llf; GLM(var_weights=w)
    = importance weights (weights as given), and var_weights rescaled to sum to n = analytic weights."""
    df = hs.datasets.load("randhie").iloc[:2000]
    w = np.random.default_rng(1).integers(1, 5, len(df)).astype(float)
    X = sm.add_constant(df[["lncoins", "idp"]]).to_numpy()
    fw = hs.poisson("mdvis ~ lncoins + idp", df, weights=w, weight_type="frequency").fit()
    sm_fw = sm.GLM(df["mdvis"], X, family=sm.families.Poisson(), freq_weights=w).fit(tol=1e-13)
    np.testing.assert_allclose(fw.params, sm_fw.params, rtol=1e-8)
    np.testing.assert_allclose(fw.bse, sm_fw.bse, rtol=1e-8)
    np.testing.assert_allclose(fw.llf, sm_fw.llf, rtol=1e-10)
    assert fw.nobs == int(w.sum()) == round(sm_fw.df_resid + sm_fw.df_model + 1)  # statsmodels: wnobs - rank
    iw = hs.poisson("mdvis ~ lncoins + idp", df, weights=w, weight_type="importance").fit()
    sm_vw = sm.GLM(df["mdvis"], X, family=sm.families.Poisson(), var_weights=w).fit(tol=1e-13)
    np.testing.assert_allclose(iw.params, sm_vw.params, rtol=1e-8)
    np.testing.assert_allclose(iw.bse, sm_vw.bse, rtol=1e-8)
    aw = hs.poisson("mdvis ~ lncoins + idp", df, weights=w, weight_type="analytic").fit()
    sm_aw = sm.GLM(df["mdvis"], X, family=sm.families.Poisson(), var_weights=w * len(w) / w.sum()).fit(tol=1e-13)
    np.testing.assert_allclose(aw.bse, sm_aw.bse, rtol=1e-8)
    assert aw.nobs == len(w)


def test_binomial_freq_weights_statsmodels():
    """statsmodels GLM(Binomial, freq_weights=w) (live) on spector: the built-in logit with frequency weights."""
    df = hs.datasets.load("spector")
    w = np.random.default_rng(2).integers(1, 4, len(df)).astype(float)
    res = hs.logit("GRADE ~ GPA + TUCE + PSI", df.assign(w=w), weights="w", weight_type="frequency").fit()
    ref = sm.GLM(df["GRADE"], sm.add_constant(df[["GPA", "TUCE", "PSI"]]), family=sm.families.Binomial(),
                 freq_weights=w).fit(tol=1e-13)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-8)


def test_weighted_ordered_logit_equals_expanded():
    """Ordered logit with frequency weights = the row-expanded fit (R MASS::polr(weights=) has the same
    identity): params, SEs, llf to 1e-9."""
    df = hs.datasets.load("anes96").iloc[:300]
    w = np.random.default_rng(4).integers(1, 4, len(df))
    res = hs.ordered_logit("PID ~ logpopul + age", df, weights=w, weight_type="frequency").fit()
    exp = hs.ordered_logit("PID ~ logpopul + age", df.loc[df.index.repeat(w)].reset_index(drop=True)).fit()
    np.testing.assert_allclose(res.params, exp.params, rtol=1e-9)
    np.testing.assert_allclose(res.bse, exp.bse, rtol=1e-9)
    np.testing.assert_allclose(res.llf, exp.llf, rtol=1e-12)


def test_chunked_and_sharded_equal_in_memory(spector):
    """Row blocks (chunk_size=7, weights sliced with the rows) and shard=True give the in-memory weighted
    fit (closed form: the same sums), for probability weights with robust and cluster covariances."""
    X, y, w = spector
    w = w + 0.5
    fits = [hs.fit(logit, {"b": np.zeros(4)}, {"X": X, "y": y}, weights=w, weight_type="probability", **kw)
            for kw in ({}, {"chunk_size": 7}, {"shard": True})]
    for other in fits[1:]:
        np.testing.assert_allclose(other.params, fits[0].params, rtol=1e-10)
        np.testing.assert_allclose(other.cov_array, fits[0].cov_array, rtol=1e-9)
        np.testing.assert_allclose(other.with_cov("cluster", groups=np.arange(32) % 4).cov_array,
                                   fits[0].with_cov("cluster", groups=np.arange(32) % 4).cov_array, rtol=1e-9)
    assert fits[0].cov_type == "robust" and fits[0].nobs == 32


def test_probability_weights_sandwich_only(spector):
    """pweight (Stata): default robust; nonrobust/opg/expected are CovarianceErrors; meat (w s)(w s)' with
    n/(n-1), n = rows (closed form from the weighted scores)."""
    X, y, w = spector
    model = hs.Model(logit, {"b": np.zeros(4)}, {"X": X, "y": y}, weights=w + 1.0, weight_type="probability")
    res = model.fit()
    assert res.cov_type == "robust"
    for bad in ("nonrobust", "opg"):
        with pytest.raises(CovarianceError, match="sandwich"):
            res.with_cov(bad)
        with pytest.raises(CovarianceError, match="sandwich"):
            model.fit(cov_type=bad)
    S = model.scores(res.theta)  # rows w_i s_i
    bread = np.linalg.inv(-res.hessian_array)
    np.testing.assert_allclose(res.cov_array, bread @ (S.T @ S) @ bread * 32 / 31, rtol=1e-10)


def test_analytic_weights_scale_free(spector):
    """aweight (Stata): rescaled to sum to n, so w and 10 w give identical results; nobs = rows."""
    X, y, w = spector
    fits = [hs.fit(logit, {"b": np.zeros(4)}, {"X": X, "y": y}, weights=c * (w + 1.0), weight_type="analytic")
            for c in (1.0, 10.0)]
    np.testing.assert_allclose(fits[0].cov_array, fits[1].cov_array, rtol=1e-10)
    assert fits[0].nobs == 32
    with pytest.raises(CovarianceError, match="OPG"):
        fits[0].with_cov("opg")


def test_importance_weights_as_given(spector):
    """iweight: weights as given (not rescaled: 2 w halves the nonrobust variance); nobs = sum(w)."""
    X, y, w = spector
    one, two = (hs.fit(logit, {"b": np.zeros(4)}, {"X": X, "y": y}, weights=c * (w + 0.5), weight_type="importance")
                for c in (1.0, 2.0))
    np.testing.assert_allclose(two.cov_array, one.cov_array / 2, rtol=1e-10)
    assert one.nobs == pytest.approx(float((w + 0.5).sum()))


def test_invalid_weights_are_typed_errors(spector):
    """Negative, NaN, all-zero, wrong length, fractional frequency weights: DataError; no weight_type,
    an unknown weight_type, a scalar-total log-likelihood: SpecificationError (closed-form rules)."""
    X, y, w = spector
    data = {"X": X, "y": y}
    start = {"b": np.zeros(4)}
    for bad, match in ((-w, "negative"), (np.where(w > 0, np.nan, 1.0), "non-finite|missing"), (0 * w, "all weights"),
                       (w[:5], "wrong shape"), (w + 0.5, "integers")):
        with pytest.raises(DataError, match=match):
            hs.Model(logit, start, data, weights=bad, weight_type="frequency")
    with pytest.raises(SpecificationError, match="declared meaning"):
        hs.Model(logit, start, data, weights=w)
    with pytest.raises(SpecificationError, match="unknown weight_type"):
        hs.Model(logit, start, data, weights=w, weight_type="survey")
    with pytest.raises(SpecificationError, match="per-observation"):
        hs.Model(lambda p, d: jnp.sum(logit(p, d)), start, data, weights=w, weight_type="frequency", nobs=32)


def test_user_arrays_untouched_and_series_aligned(spector):
    """The caller's weights are never modified (aweight rescaling works on a copy); a pandas Series is
    aligned by row label with pandas data (as groups=): reversed labels give the same fit."""
    X, y, w = spector
    original = w + 1.0
    kept = original.copy()
    hs.fit(logit, {"b": np.zeros(4)}, {"X": X, "y": y}, weights=original, weight_type="analytic")
    np.testing.assert_array_equal(original, kept)
    frame = pd.DataFrame({"y": y}, index=[f"r{i}" for i in range(32)])
    data = {"X": pd.DataFrame(X, index=frame.index), "y": frame["y"]}
    series = pd.Series(original, index=frame.index)
    a = hs.fit(logit, {"b": np.zeros(4)}, data, weights=series, weight_type="frequency")
    b = hs.fit(logit, {"b": np.zeros(4)}, data, weights=series.iloc[::-1], weight_type="frequency")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)


def test_formula_weight_column_follows_dropped_rows():
    """A weight column name with missing='drop' follows the surviving rows (rows with a missing weight
    drop too); the same fit as dropping the rows first (closed form)."""
    df = hs.datasets.load("spector").assign(w=np.arange(32) % 3 + 1.0)
    holes = df.copy()
    holes.loc[[2, 5], "GPA"] = np.nan
    holes.loc[7, "w"] = np.nan
    res = hs.logit("GRADE ~ GPA + PSI", holes, weights="w", weight_type="frequency", missing="drop").fit()
    ref = hs.logit("GRADE ~ GPA + PSI", df.drop(index=[2, 5, 7]), weights="w", weight_type="frequency").fit()
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-12)
    assert res.nobs == ref.nobs == int(df.drop(index=[2, 5, 7])["w"].sum())


def test_parquet_source_weights_equal_in_memory(spector, tmp_path):
    """A Parquet row source whose blocks carry the weight column (weights='w'; one pass checks and sums
    them) gives the in-memory weighted fit (closed form: the same sums): frequency (nobs = sum w, robust,
    cluster) and analytic weights (rescaled on the fly)."""
    X, y, w = spector
    frame = pd.DataFrame(X[:, 1:], columns=["GPA", "TUCE", "PSI"]).assign(const=1.0, y=y, w=w)
    path = tmp_path / "spector.parquet"
    frame.to_parquet(path)
    source = hs.ParquetSource(str(path), {"X": ["const", "GPA", "TUCE", "PSI"], "y": "y", "w": "w"})
    for kind in ("frequency", "analytic"):
        streamed = hs.fit(logit, {"b": np.zeros(4)}, source, weights="w", weight_type=kind, chunk_size=10)
        memory = hs.fit(logit, {"b": np.zeros(4)}, {"X": X, "y": y}, weights=w, weight_type=kind)
        assert streamed.nobs == memory.nobs
        np.testing.assert_allclose(streamed.params, memory.params, rtol=1e-10)
        np.testing.assert_allclose(streamed.with_cov("robust").cov_array, memory.with_cov("robust").cov_array, rtol=1e-9)
    with pytest.raises(SpecificationError, match="data keys"):
        hs.fit(logit, {"b": np.zeros(4)}, source, weights=w, weight_type="frequency")


def test_index_model_and_null_model_with_weights(spector):
    """The index-model Hessian path (X' diag(w h) X) equals the generic one with weights, and the null
    model (llnull, via Model.fix) of a frequency-weighted logit equals the expanded data's (identities)."""
    X, y, w = spector

    def obs(eta, params, d):
        return d["y"] * eta["b"] - jnp.logaddexp(0.0, eta["b"])

    kwargs = dict(weights=w + 0.25, weight_type="probability")
    fast = hs.IndexModel(obs, {"b": np.zeros(4)}, {"X": X, "y": y}, design={"b": "X"}, **kwargs).fit()
    generic = hs.fit(logit, {"b": np.zeros(4)}, {"X": X, "y": y}, **kwargs)
    np.testing.assert_allclose(fast.hessian_array, generic.hessian_array, rtol=1e-11)
    np.testing.assert_allclose(fast.cov_array, generic.cov_array, rtol=1e-10)
    df = hs.datasets.load("spector")
    reps = (w + 1).astype(int)
    fw = hs.logit("GRADE ~ GPA + TUCE + PSI", df, weights=reps, weight_type="frequency").fit()
    ex = hs.logit("GRADE ~ GPA + TUCE + PSI", df.loc[df.index.repeat(reps)]).fit()
    np.testing.assert_allclose(fw.llnull, ex.llnull, rtol=1e-12)


def test_blocked_hessian_uses_weights(spector):
    """hs.hessian_blocked (Hessian-vector products, in memory and chunked) of a weighted model equals
    the weighted model's own exact Hessian (identity)."""
    X, y, w = spector
    for options in ({}, {"chunk_size": 9}):
        model = hs.Model(logit, {"b": np.zeros(4)}, {"X": X, "y": y}, weights=w, weight_type="frequency", **options)
        theta = np.array([0.1, -0.2, 0.05, 0.3])
        np.testing.assert_allclose(hs.hessian_blocked(model, theta, block_size=2), model.evaluate(theta)[2], rtol=1e-11)


def test_builtin_expected_information_dropped_with_weights():
    """A built-in's expected information is a function of the unweighted rows: with weights it is not
    used (cov_type='expected' is a CovarianceError instead of a silently unweighted matrix)."""
    df = hs.datasets.load("spector")
    res = hs.logit("GRADE ~ GPA + TUCE + PSI", df, weights=np.arange(32) % 3 + 1, weight_type="frequency").fit()
    with pytest.raises(CovarianceError, match="expected information"):
        res.with_cov("expected")


def test_margins_with_frequency_weights_equal_expanded():
    """Average (and at-means) marginal effects of a frequency-weighted logit are weighted averages (Stata
    margins with weights): equal to the expanded data's (identity), effects and SEs to 1e-10."""
    df = hs.datasets.load("spector")
    w = [1, 2, 1, 3, 1, 1, 2, 1] * 4
    fw = hs.logit("GRADE ~ GPA + TUCE + PSI", df.assign(w=w), weights="w", weight_type="frequency").fit()
    ex = hs.logit("GRADE ~ GPA + TUCE + PSI", df.loc[df.index.repeat(w)]).fit()
    for kind in ("average", "mean"):
        np.testing.assert_allclose(fw.margins(kind=kind).to_numpy(), ex.margins(kind=kind).to_numpy(), rtol=1e-10)


def test_weighted_ols_reports_as_wls_and_as_the_expanded_data():
    """statsmodels live: the built-in OLS default (s^2 with t) under analytic weights equals
    statsmodels WLS (Stata ``regress [aw=w]``), under frequency weights the OLS of the row-expanded
    data (Stata ``regress [fw=w]``), SEs to 1e-8; HC2/HC3 refuse weighted fits (typed error)."""
    df = hs.datasets.load("longley")
    df["w"] = np.random.default_rng(0).integers(1, 4, len(df)).astype(float)
    X = sm.add_constant(df[["GNP", "POP"]])
    wls = sm.WLS(df["TOTEMP"], X, weights=df["w"]).fit()
    res = hs.ols("TOTEMP ~ GNP + POP", df, weights="w", weight_type="analytic").fit()
    np.testing.assert_allclose(res.params.to_numpy()[:3], wls.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy()[:3], wls.bse.to_numpy(), rtol=1e-8)
    expanded = df.loc[df.index.repeat(df["w"].astype(int))]
    ols = sm.OLS(expanded["TOTEMP"], sm.add_constant(expanded[["GNP", "POP"]])).fit()
    res = hs.ols("TOTEMP ~ GNP + POP", df, weights="w", weight_type="frequency").fit()
    np.testing.assert_allclose(res.bse.to_numpy()[:3], ols.bse.to_numpy(), rtol=1e-8)
    assert res.df_inference == ols.df_resid
    with pytest.raises(CovarianceError, match="HC3"):
        res.with_cov("HC3")
