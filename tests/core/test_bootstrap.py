"""Bootstrap covariance (``cov_type="bootstrap"``; hessstats.core.bootstrap): closed-form limits for the
normal mean, exact replication of the vectorised Newton refits by per-replicate fits (hs.fit and
statsmodels live), cluster resampling, seeds, percentile intervals, failures and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.core import bootstrap as boot
from hessstats.core.compilation import TRACES
from hessstats.errors import ConvergenceWarning, CovarianceError


def _mean_loglike(p, d):
    return -0.5 * (d - p["mu"]) ** 2


@pytest.fixture(scope="module")
def normal_sample() -> np.ndarray:
    return np.random.default_rng(7).normal(loc=2.0, scale=1.5, size=60)


@pytest.fixture(scope="module")
def mean_fit(normal_sample):
    return hs.fit(_mean_loglike, {"mu": 0.0}, normal_sample)


def _hc0_of_mean(y: np.ndarray) -> float:
    return float(np.sqrt(np.sum((y - y.mean()) ** 2)) / len(y))


# ----------------------------------------------------------------------------- (a) closed form

@pytest.mark.parametrize("kind, factor", [("nonparametric", 1.0), ("score", 1.0), ("bayesian", None)])
def test_mean_bootstrap_se_converges_to_closed_form(mean_fit, normal_sample, kind, factor):
    """Closed-form math: for the mean, the nonparametric bootstrap variance is exactly
    sum (y - ybar)^2 / n^2 (the HC0 variance), the Rademacher score bootstrap's too (E w^2 = 1), and
    the Bayesian bootstrap's (flat Dirichlet weights) is that times n / (n + 1). With B = 2000 the
    Monte Carlo relative sd of an SE is 1/sqrt(2(B-1)) = 1.6%; tolerance 4 sd."""
    n = len(normal_sample)
    factor = n / (n + 1.0) if factor is None else factor
    res = mean_fit.with_cov("bootstrap", cov_options={"reps": 2000, "seed": 11, "kind": kind})
    expected = _hc0_of_mean(normal_sample) * np.sqrt(factor)
    assert abs(res.bse["mu"] / expected - 1.0) < 4.0 / np.sqrt(2 * 1999)
    assert res.cov_type == "bootstrap" and res.bootstrap_replicates.n_failed == 0


def test_mean_replicates_are_the_weighted_means(mean_fit, normal_sample):
    """Closed-form math: replicate b of the mean is sum_i c_bi y_i / sum_i c_bi with its multinomial
    counts c_b (regenerated from the seed): the vectorised Newton refit is exact (to 1e-12)."""
    reps = mean_fit.with_cov("bootstrap", cov_options={"reps": 40, "seed": 3}).bootstrap_replicates
    counts = boot.row_weights(reps.settings, len(normal_sample), None, range(40))
    assert np.all(counts.sum(axis=1) == len(normal_sample)) and np.all(counts == np.round(counts))
    np.testing.assert_allclose(reps.estimates[:, 0], counts @ normal_sample / counts.sum(axis=1), rtol=1e-12)


def test_score_bootstrap_replicates_are_one_step_scores(mean_fit, normal_sample):
    """Kline & Santos (2012): replicate b is theta + (-H)^-1 sum_i w_bi s_i; for the mean
    s_i = y_i - ybar and -H = n (closed form), with Mammen multipliers here."""
    reps = mean_fit.with_cov("bootstrap", cov_options={"reps": 30, "seed": 5, "kind": "score",
                                                       "multiplier": "mammen"}).bootstrap_replicates
    w = boot.row_weights(reps.settings, len(normal_sample), None, range(30))
    expected = normal_sample.mean() + w @ (normal_sample - normal_sample.mean()) / len(normal_sample)
    np.testing.assert_allclose(reps.estimates[:, 0], expected, rtol=1e-12)
    assert reps.iterations is None


def test_mammen_and_rademacher_multipliers_have_mean_zero_variance_one():
    """Closed-form math: Mammen's two-point weights -(sqrt5-1)/2 w.p. (sqrt5+1)/(2 sqrt5) and
    (sqrt5+1)/2 otherwise have mean 0, variance 1 and third moment 1; Rademacher +-1 mean 0, variance 1."""
    for multiplier, third in (("mammen", 1.0), ("rademacher", 0.0)):
        settings = boot.BootstrapSettings(kind=boot.BootstrapKind.SCORE, multiplier=boot.Multiplier(multiplier))
        w = boot.unit_weights(settings, 200_000, 0)
        np.testing.assert_allclose([w.mean(), (w ** 2).mean(), (w ** 3).mean()], [0.0, 1.0, third], atol=0.02)


# ----------------------------------------------------------------------------- (b) statsmodels live

@pytest.fixture(scope="module")
def spector():
    return hs.datasets.load("spector")


def test_logit_replicates_equal_per_replicate_refits(spector):
    """statsmodels live (Logit.fit on the resampled rows) and hs.fit on the same rows: with a fixed
    seed the vectorised replicate estimates equal plain refits on the resampled data to 1e-8 (spector
    logit; replicates whose resample is separated are skipped: the maximum does not exist)."""
    formula = "GRADE ~ GPA + TUCE + PSI"
    fit = hs.logit(formula, spector).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # some n=32 resamples are separated
        res = fit.with_cov("bootstrap", cov_options={"reps": 12, "seed": 4})
    reps = res.bootstrap_replicates
    counts = boot.row_weights(reps.settings, len(spector), None, range(12)).astype(int)
    X = sm.add_constant(spector[["GPA", "TUCE", "PSI"]]).to_numpy()
    y = spector["GRADE"].to_numpy()
    checked = 0
    for b in np.flatnonzero(reps.converged)[:6]:
        rows = np.repeat(np.arange(len(spector)), counts[b])
        np.testing.assert_allclose(reps.estimates[b], sm.Logit(y[rows], X[rows]).fit(disp=0, tol=1e-12).params,
                                   rtol=1e-8, atol=1e-8)
        again = hs.logit(formula, spector.iloc[rows].reset_index(drop=True), separation=False).fit()
        np.testing.assert_allclose(reps.estimates[b], again.theta, rtol=1e-8, atol=1e-10)
        checked += 1
    assert checked >= 4


def test_logit_bootstrap_se_near_statsmodels_robust_se():
    """statsmodels live: Logit(...).fit(cov_type="HC0") on a simulated logit (n=2000, k=3); the
    nonparametric bootstrap SE (B=400, Monte Carlo sd 3.5%) and the cluster-free score bootstrap SE
    agree with the sandwich SE within 15%. (On spector, n=32, about 15% of resamples are separated and
    the bootstrap distribution is far from the sandwich: see docs/bootstrap.md.)"""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 2))
    y = (0.2 + x @ [0.8, -0.5] + rng.logistic(size=2000) > 0).astype(float)
    df = pd.DataFrame({"y": y, "x1": x[:, 0], "x2": x[:, 1]})
    fit = hs.logit("y ~ x1 + x2", df).fit()
    robust = sm.Logit(y, sm.add_constant(x)).fit(disp=0, cov_type="HC0").bse
    for kind in ("nonparametric", "score"):
        se = fit.with_cov("bootstrap", cov_options={"reps": 400, "seed": 1, "kind": kind}).bse.to_numpy()
        assert np.all(np.abs(se / robust - 1.0) < 0.15), (kind, se, robust)


# ----------------------------------------------------------------------------- (c) clusters

def test_cluster_bootstrap_resamples_whole_groups(normal_sample, mean_fit):
    """Closed-form math: with cov_options["cluster"], a replicate's row counts are constant within
    each group and its G cluster counts sum to G; the replicate mean is the count-weighted mean."""
    groups = np.repeat(np.arange(12), 5)
    res = mean_fit.with_cov("bootstrap", cov_options={"reps": 25, "seed": 0, "cluster": groups})
    reps = res.bootstrap_replicates
    w = boot.row_weights(reps.settings, len(normal_sample), groups, range(25))
    per_group = w.reshape(25, 12, 5)
    assert np.all(per_group == per_group[:, :, :1])
    assert np.all(per_group[:, :, 0].sum(axis=1) == 12) and reps.n_clusters == 12
    np.testing.assert_allclose(reps.estimates[:, 0], w @ normal_sample / w.sum(axis=1), rtol=1e-12)


def test_cluster_bootstrap_se_converges_to_cluster_sandwich():
    """Closed-form math: for the mean with G equal-sized clusters, the cluster bootstrap variance is
    sum_g (sum_{i in g} (y_i - ybar))^2 / n^2 (the uncorrected cluster sandwich), B=2000 (tolerance
    4 Monte Carlo sd); a data column name works as the cluster."""
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(20), 4)
    y = rng.normal(size=80) + rng.normal(size=20)[g]
    fit = hs.fit(lambda p, d: -0.5 * (d["y"] - p["mu"]) ** 2, {"mu": 0.0}, {"y": y, "g": g.astype(float)})
    res = fit.with_cov("bootstrap", cov_options={"reps": 2000, "seed": 5, "cluster": "g"})
    sums = np.bincount(g, weights=y - y.mean())
    expected = np.sqrt(np.sum(sums ** 2)) / len(y)
    assert abs(res.bse["mu"] / expected - 1.0) < 4.0 / np.sqrt(2 * 1999)
    cluster = fit.with_cov("cluster", groups=g, cov_options={"correction": "none"}).bse["mu"]
    np.testing.assert_allclose(cluster, expected, rtol=1e-10)


# ----------------------------------------------------------------------------- (d) seeds

def test_same_seed_same_result_other_seed_differs(mean_fit):
    """Reproducibility: replicate b's draw depends only on (seed, b), so the same seed gives the same
    replicates whatever the batch size (1e-12), and another seed other replicates; the kernel is
    compiled once per model shape and batch (a second seed adds no trace)."""
    first = mean_fit.with_cov("bootstrap", cov_options={"reps": 30, "seed": 8})
    other_batch = mean_fit.with_cov("bootstrap", cov_options={"reps": 30, "seed": 8, "batch": 7})
    np.testing.assert_allclose(first.bootstrap_replicates.estimates, other_batch.bootstrap_replicates.estimates,
                               rtol=1e-12)
    traces = TRACES["bootstrap_refit"]
    other = mean_fit.with_cov("bootstrap", cov_options={"reps": 30, "seed": 9})
    assert TRACES["bootstrap_refit"] == traces
    assert not np.allclose(first.bootstrap_replicates.estimates, other.bootstrap_replicates.estimates)
    assert abs(first.bse["mu"] - other.bse["mu"]) > 1e-6


# ----------------------------------------------------------------------------- (e) percentile intervals

def test_percentile_intervals_are_numpy_percentiles_of_the_replicates(mean_fit):
    """Reference: numpy.percentile (linear interpolation) of the replicate column in
    res.bootstrap_replicates.frame; alpha = 0.1 gives the 5th and 95th percentiles."""
    res = mean_fit.with_cov("bootstrap", cov_options={"reps": 99, "seed": 2})
    frame = res.bootstrap_replicates.frame
    assert list(frame.columns) == ["mu", "converged"] and frame.shape == (99, 2)
    ci = res.bootstrap_ci(alpha=0.1)
    np.testing.assert_allclose(ci.loc["mu"].to_numpy(), np.percentile(frame["mu"], [5, 95]), rtol=1e-12)
    np.testing.assert_allclose(res.bse["mu"], frame["mu"].std(ddof=1), rtol=1e-12)


# ----------------------------------------------------------------------------- failures and errors

def test_failed_replicates_are_counted_warned_and_left_out(spector):
    """Convergence: with at most five Newton steps many spector-logit replicates cannot be polished, so
    they fail; a ConvergenceWarning says how many, and the covariance is np.cov (ddof=1) of the
    converged replicates only (reference: numpy on the replicate frame)."""
    fit = hs.logit("GRADE ~ GPA + TUCE + PSI", spector).fit()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = fit.with_cov("bootstrap", cov_options={"reps": 40, "seed": 0, "steps": 5})
    reps = res.bootstrap_replicates
    assert 0 < reps.n_failed < 40
    frame = reps.frame
    good = frame.loc[frame["converged"], list(fit.names)].to_numpy()
    np.testing.assert_allclose(res.cov_array, np.cov(good, rowvar=False, ddof=1), rtol=1e-12)


def test_scalar_total_loglike_cannot_be_bootstrapped():
    """Typed error: a scalar total has no rows to resample."""
    y = np.array([1.0, 2.0, 4.0, 5.0])
    res = hs.fit(lambda p, d: -0.5 * ((d - p["mu"]) ** 2).sum(), {"mu": 0.0}, y, nobs=4)
    with pytest.raises(CovarianceError, match="scalar total"):
        res.with_cov("bootstrap", cov_options={"reps": 10})


@pytest.mark.parametrize("options, text", [
    ({"reps": 1}, "reps"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"kind": "jackknife"}, "kind"),
    ({"tol": 0.0}, "tol"), ({"steps": 0}, "steps"), ({"draws": 5}, "unknown cov_options key"),
])
def test_bad_options_are_typed_errors(mean_fit, options, text):
    """Typed errors for bad cov_options (no silent defaults)."""
    with pytest.raises(CovarianceError, match=text):
        mean_fit.with_cov("bootstrap", cov_options=options)


def test_replicates_need_a_bootstrap_result_and_are_frozen(mean_fit):
    """The replicates belong to a cov_type="bootstrap" result (typed error otherwise) and are read-only."""
    with pytest.raises(CovarianceError, match="no bootstrap replicates"):
        _ = mean_fit.bootstrap_replicates
    reps = mean_fit.with_cov("bootstrap", cov_options={"reps": 10, "seed": 0}).bootstrap_replicates
    with pytest.raises(ValueError):
        reps.estimates[0, 0] = 1.0
    with pytest.raises(AttributeError):
        reps.settings = None


# ----------------------------------------------------------------------------- other model paths

def test_chunked_and_sharded_models_give_the_in_memory_replicates(normal_sample):
    """Reference: the in-memory model's replicates (1e-12): chunk_size keeps the rows in memory, and
    shard=1 pads the rows with weight-0 copies, which the resampling weights multiply."""
    opts = {"reps": 20, "seed": 4}
    ll = lambda p, d: -0.5 * (d - p["mu"]) ** 2
    whole = hs.Model(ll, {"mu": 0.0}, normal_sample).fit(cov_type="bootstrap", cov_options=opts)
    for other in (hs.Model(ll, {"mu": 0.0}, normal_sample, chunk_size=25), hs.Model(ll, {"mu": 0.0}, normal_sample, shard=1)):
        res = other.fit(cov_type="bootstrap", cov_options=opts)
        np.testing.assert_allclose(res.bootstrap_replicates.estimates, whole.bootstrap_replicates.estimates, rtol=1e-12)


def test_model_row_weights_multiply_the_resampling_counts(normal_sample):
    """Closed-form math: with row weights w (weights=, frequency), replicate b of the mean is
    sum_i c_bi w_i y_i / sum_i c_bi w_i (the resampled rows keep their weights). Runs where
    hs.Model takes weights= (the weights feature)."""
    import inspect

    if "weights" not in inspect.signature(hs.Model).parameters:
        pytest.skip("hs.Model has no weights= in this build")
    w = np.arange(len(normal_sample)) % 3 + 1.0
    model = hs.Model(_mean_loglike, {"mu": 0.0}, normal_sample, weights=w, weight_type="frequency")
    reps = model.fit(cov_type="bootstrap", cov_options={"reps": 15, "seed": 6}).bootstrap_replicates
    counts = boot.row_weights(reps.settings, len(normal_sample), None, range(15))
    np.testing.assert_allclose(reps.estimates[:, 0], (counts * w) @ normal_sample / (counts @ w), rtol=1e-12)


def test_groups_keyword_is_the_cluster_option(normal_sample, mean_fit):
    """Reference: cov_options["cluster"] (1e-12). groups= names the clusters where the covariance
    registry accepts optional groups (Needs.OPTIONAL_GROUPS); giving both is a typed error."""
    from hessstats.core.covariance import Needs

    if not hasattr(Needs, "OPTIONAL_GROUPS"):
        pytest.skip("the covariance registry has no optional groups in this build")
    g = np.arange(len(normal_sample)) % 6
    by_option = mean_fit.with_cov("bootstrap", cov_options={"reps": 20, "seed": 1, "cluster": g})
    by_groups = mean_fit.with_cov("bootstrap", groups=g, cov_options={"reps": 20, "seed": 1})
    np.testing.assert_allclose(by_groups.bootstrap_replicates.estimates, by_option.bootstrap_replicates.estimates,
                               rtol=1e-12)
    with pytest.raises(CovarianceError, match="given twice"):
        mean_fit.with_cov("bootstrap", groups=g, cov_options={"reps": 20, "cluster": g})


def test_unidentified_parameters_and_row_sources_are_typed_errors(tmp_path, normal_sample):
    """Typed errors: a flat direction at the estimate (a + b only) has no bootstrap distribution, and
    a Parquet row source has no rows in memory to resample."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fit's own identification warning
        res = hs.fit(lambda p, d: -0.5 * (d - p["a"] - p["b"]) ** 2, {"a": 0.0, "b": 0.0}, np.arange(5.0))
    with pytest.raises(CovarianceError, match="identified"):
        res.with_cov("bootstrap", cov_options={"reps": 10})
    path = tmp_path / "y.parquet"
    pd.DataFrame({"y": normal_sample}).to_parquet(path)
    source = hs.ParquetSource(str(path), {"y": "y"})
    fit = hs.Model(lambda p, d: -0.5 * (d["y"] - p["mu"]) ** 2, {"mu": 0.0}, source).fit()
    with pytest.raises(CovarianceError, match="in memory"):
        fit.with_cov("bootstrap", cov_options={"reps": 10})


@pytest.mark.parametrize("kind", ["bayesian", "score"])
def test_cluster_weights_of_the_other_kinds(normal_sample, mean_fit, kind):
    """Closed-form math: with clusters, the Bayesian replicate of the mean is the mean weighted by
    its cluster's Dirichlet weight (sum_i w_bi y_i / sum_i w_bi), the score replicate is
    ybar + sum_g w_bg (sum_{i in g} (y_i - ybar)) / n; weights are constant within clusters."""
    groups = np.repeat(np.arange(12), 5)
    reps = mean_fit.with_cov("bootstrap", cov_options={"reps": 25, "seed": 2, "cluster": groups,
                                                       "kind": kind}).bootstrap_replicates
    w = boot.row_weights(reps.settings, len(normal_sample), groups, range(25))
    assert np.all(w.reshape(25, 12, 5) == w.reshape(25, 12, 5)[:, :, :1])
    ybar = normal_sample.mean()
    expected = (w @ normal_sample / w.sum(axis=1) if kind == "bayesian"
                else ybar + w @ (normal_sample - ybar) / len(normal_sample))
    np.testing.assert_allclose(reps.estimates[:, 0], expected, rtol=1e-12)
