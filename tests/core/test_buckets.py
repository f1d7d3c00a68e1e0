"""Row buckets (hessstats.core.engine.bucket): in-memory models are evaluated on their rows padded to a
bucket size with weight 0, so models of many sizes share a few compiled kernels, and every result
equals the unpadded fit.

References: statsmodels ``Logit`` live (params, SEs nonrobust/HC0/cluster, llf, predictions), the
closed-form OPG covariance ``(S'S)^-1`` from the scores, the unpadded fit (``row_buckets=False``) to
1e-10, frequency weights = the expanded rows (Stata ``fweight``), and the trace counters
(:data:`hessstats.core.compilation.TRACES`) for the number of compiled kernels.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.core import engine
from hessstats.core.compilation import trace_count
from hessstats.models.binary import logit_model

RTOL = 1e-10


def logit_data(n, seed=0, k=3):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=(n, k - 1)), np.ones(n)])
    y = (X @ np.linspace(-0.6, 0.6, k) + rng.logistic(size=n) > 0).astype(float)
    return y, X


def logit_loglike(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


def user_logit(n, seed=0, **options):
    y, X = logit_data(n, seed)
    return hs.Model(logit_loglike, {"beta": np.zeros(X.shape[1])}, {"y": y, "X": X}, **options)


def test_bucket_sizes():
    """Policy (closed form): powers of two from 64 to 4096, then 2^(1/4) steps rounded up to a
    multiple of 256 up to 2^17, no padding above; 27 buckets in all."""
    assert [engine.bucket_rows(n) for n in (1, 64, 65, 128, 129, 4096)] == [64, 64, 128, 128, 256, 4096]
    assert [engine.bucket_rows(n) for n in (4097, 5121, 8192)] == [5120, 5888, 8192]
    assert engine.bucket_rows(131072) == 131072 and engine.bucket_rows(131073) == 131073
    sizes = {engine.bucket_rows(n) for n in range(1, engine.BUCKET_MAX_ROWS + 1, 7)} | {engine.BUCKET_MAX_ROWS}
    assert len(sizes) == 27
    assert all(engine.bucket_rows(n) >= n for n in range(1, 20000, 13))
    assert max(engine.bucket_rows(n) / n for n in range(4097, engine.BUCKET_MAX_ROWS, 101)) < 1.25


def test_large_data_is_not_padded():
    """Memory bound: rows whose padded copy would exceed BUCKET_MAX_BYTES keep their own shape
    (closed form: 3000 x 3000 float64 = 72 MB)."""
    X = np.zeros((3000, 3000))
    model = hs.Model(lambda p, d: -0.5 * (d["y"] - p["mu"]) ** 2 + 0.0 * d["X"][:, 0], {"mu": 0.0},
                     {"y": np.arange(3000.0), "X": X})
    assert model.padding is None and engine.bucket_rows(3000) == 4096
    np.testing.assert_allclose(model.fit().params["mu"], 1499.5, rtol=1e-12)


def test_many_sizes_compile_one_kernel_per_bucket():
    """Trace counters: 20 distinct n in 50..500 fall in 4 buckets (64, 128, 256, 512); the Hessian,
    score and check kernels each compile at most once per bucket (not once per n)."""
    sizes = np.linspace(50, 500, 20).astype(int)
    assert len(set(sizes)) == 20
    before = {k: trace_count(k) for k in ("value_grad_hess", "scores", "score_squares")}
    for n in sizes:
        res = user_logit(int(n), seed=int(n)).fit(cov_type="HC0")
        assert res.nobs == n
    for kernel, count in before.items():
        assert trace_count(kernel) - count <= 4, kernel


def test_builtin_logit_equals_statsmodels_at_many_sizes():
    """statsmodels Logit live, at sizes in three buckets: params, SEs (nonrobust, HC0, cluster),
    llf, nobs, df and BIC to 1e-10 (BIC/df use the real n); predictions: test_pandas_data_and_row_labels."""
    for n, bucket in ((57, 512), (600, 1024), (1500, 2048)):  # built-ins: buckets from TRUSTED_MIN_ROWS
        y, X = logit_data(n, seed=n)
        model = logit_model(y, X)
        assert model.padding is not None and model.padding.rows == bucket
        res = model.fit()
        ref = sm.Logit(y, X).fit(method="newton", disp=0, tol=1e-12)
        np.testing.assert_allclose(res.params, ref.params, rtol=RTOL)
        np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-8)
        np.testing.assert_allclose(res.llf, ref.llf, rtol=RTOL)
        assert res.nobs == n and res.df_resid == ref.df_resid
        np.testing.assert_allclose(res.bic, ref.bic, rtol=RTOL)
        robust = sm.Logit(y, X).fit(method="newton", disp=0, tol=1e-12, cov_type="HC0")
        np.testing.assert_allclose(res.with_cov("HC0").bse, robust.bse, rtol=1e-8)
        groups = np.arange(n) % 7
        clustered = sm.Logit(y, X).fit(method="newton", disp=0, tol=1e-12, cov_type="cluster",
                                       cov_kwds={"groups": groups})
        # statsmodels' correction G/(G-1) (N-1)/(N-K) is hessstats' "regress" (Stata's for logit: G/(G-1))
        np.testing.assert_allclose(res.with_cov("cluster", groups=groups, cov_options={"correction": "regress"}).bse,
                                   clustered.bse, rtol=1e-8)


@pytest.mark.parametrize("n", [50, 199, 777])
def test_padded_equals_unpadded(n):
    """The unpadded fit (row_buckets=False) to 1e-10: params, llf, every covariance, per-row values
    and scores (trimmed to n rows), and OPG against its closed form (S'S)^-1."""
    padded, plain = user_logit(n), user_logit(n, row_buckets=False)
    assert padded.padding is not None and plain.padding is None
    a, b = padded.fit(), plain.fit()
    np.testing.assert_allclose(a.params, b.params, rtol=RTOL)
    np.testing.assert_allclose(a.llf, b.llf, rtol=RTOL)
    for cov in ("nonrobust", "HC0", "HC1", "opg"):
        np.testing.assert_allclose(a.with_cov(cov).bse, b.with_cov(cov).bse, rtol=RTOL)
    groups = np.arange(n) % 5
    np.testing.assert_allclose(a.with_cov("cluster", groups=groups).bse, b.with_cov("cluster", groups=groups).bse,
                               rtol=RTOL)
    scores = padded.scores(a.theta)
    assert scores.shape == (n, 3) and padded.loglike_obs(a.theta).shape == (n,)
    np.testing.assert_allclose(scores, plain.scores(a.theta), rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(a.with_cov("opg").cov_params().to_numpy(), np.linalg.inv(scores.T @ scores), rtol=1e-9)
    assert a.nobs == b.nobs == n
    np.testing.assert_allclose([a.aic, a.bic], [b.aic, b.bic], rtol=RTOL)


@pytest.mark.parametrize("kind", ["frequency", "analytic", "probability", "importance"])
def test_weights_with_padding(kind):
    """Case weights on the real rows, 0 on the padding: equal to the unpadded weighted fit (params,
    llf, default and robust SEs, weighted nobs)."""
    n = 90
    w = np.random.default_rng(1).integers(0, 4, size=n).astype(float)
    a = user_logit(n, weights=w, weight_type=kind)
    b = user_logit(n, weights=w, weight_type=kind, row_buckets=False)
    assert a.padding is not None
    np.testing.assert_allclose(np.asarray(a.padding.weights)[:n], np.asarray(a.case_weights), rtol=0)
    assert float(np.abs(np.asarray(a.padding.weights)[n:]).sum()) == 0.0
    ra, rb = a.fit(), b.fit()
    np.testing.assert_allclose(ra.params, rb.params, rtol=RTOL)
    np.testing.assert_allclose(ra.llf, rb.llf, rtol=RTOL)
    np.testing.assert_allclose(ra.bse, rb.bse, rtol=RTOL)
    np.testing.assert_allclose(ra.with_cov("robust").bse, rb.with_cov("robust").bse, rtol=RTOL)
    assert ra.nobs == rb.nobs


def test_frequency_weights_equal_expanded_rows():
    """Stata fweight: weights w equal the rows repeated w times (here 60 rows -> 117 expanded, two
    buckets: 64 and 128), params, llf and SEs to 1e-10; with_weights keeps the padding."""
    y, X = logit_data(60, seed=3)
    w = np.random.default_rng(2).integers(1, 4, size=60)
    base = hs.Model(logit_loglike, {"beta": np.zeros(3)}, {"y": y, "X": X})
    weighted = base.with_weights(w, "frequency")
    assert weighted.padding is not None
    expanded = hs.Model(logit_loglike, {"beta": np.zeros(3)}, {"y": np.repeat(y, w), "X": np.repeat(X, w, axis=0)})
    a, b = weighted.fit(), expanded.fit()
    np.testing.assert_allclose(a.params, b.params, rtol=RTOL)
    np.testing.assert_allclose(a.llf, b.llf, rtol=RTOL)
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-9)
    assert a.nobs == b.nobs == int(w.sum())  # Stata: fweights count the expanded rows


def test_log_of_data_is_finite_on_the_padding():
    """A log-likelihood that is -inf/NaN at zero data (log y) is exact: the padding rows are copies
    of real rows, never zeros (closed form: exponential MLE rate = 1 / mean(y), SE = rate / sqrt(n))."""
    y = np.random.default_rng(4).exponential(2.0, size=77)

    def expo(p, d):
        return jnp.log(p["rate"]) - p["rate"] * d + 0.0 * jnp.log(d)

    model = hs.Model(expo, {"rate": 1.0}, y)
    assert model.padding is not None and np.all(np.asarray(model.padding.data) > 0)
    res = model.fit()
    rate = 1.0 / y.mean()
    np.testing.assert_allclose(res.params["rate"], rate, rtol=1e-10)
    np.testing.assert_allclose(res.bse["rate"], rate / np.sqrt(77), rtol=1e-8)
    assert np.all(np.isfinite(res.hessian.to_numpy()))


def test_functions_of_other_rows_are_not_padded():
    """A statistic over all rows (demeaning), the row count used as a value, and indexing from the
    end would change with padding: such models keep their own rows and give the unpadded answer
    (closed form: the mean of the demeaned data is 0; the mean of y plus n)."""
    y = np.random.default_rng(6).normal(size=40)
    demean = hs.Model(lambda p, d: -0.5 * (d - d.mean() - p["mu"]) ** 2, {"mu": 1.0}, y)
    assert demean.padding is None
    np.testing.assert_allclose(demean.fit().params["mu"], 0.0, atol=1e-12)
    count = hs.Model(lambda p, d: -0.5 * (d + d.shape[0] - p["mu"]) ** 2, {"mu": 0.0}, y)
    assert count.padding is None
    np.testing.assert_allclose(count.fit().params["mu"], y.mean() + 40, rtol=1e-12)
    last = hs.Model(lambda p, d: -0.5 * (d - d[-1] - p["mu"]) ** 2, {"mu": 0.0}, y)
    assert last.padding is None
    np.testing.assert_allclose(last.fit().params["mu"], y.mean() - y[-1], rtol=1e-12)


def test_lags_keep_their_values_with_padding():
    """A lag depends on earlier rows only: padding at the end leaves the real rows' values as they
    are (closed form: least squares of y_t on y_{t-1} without intercept)."""
    y = np.cumsum(np.random.default_rng(7).normal(size=50))

    def ar1(p, d):
        lag = jnp.concatenate([jnp.zeros(1), d[:-1]])
        return -0.5 * (d - p["rho"] * lag) ** 2

    res = hs.Model(ar1, {"rho": 0.0}, y).fit()
    np.testing.assert_allclose(res.params["rho"], (y[1:] @ y[:-1]) / (y[:-1] @ y[:-1]), rtol=1e-10)


def test_index_model_pads_its_design():
    """IndexModel (Hessian X' diag(w) X) on padded rows: the padding rows have weight 0 in the Gram
    product; equal to the generic Hessian and the unpadded fit to 1e-10, one index kernel per bucket."""
    def logit(eta, params, d):
        return d["y"] * eta["beta"] - jnp.logaddexp(0.0, eta["beta"])

    before = trace_count("index_value_grad_hess")
    for n in (70, 90, 110):
        y, X = logit_data(n, seed=n)
        fast = hs.IndexModel(logit, {"beta": np.zeros(3)}, {"X": X, "y": y}, design={"beta": "X"})
        plain = hs.IndexModel(logit, {"beta": np.zeros(3)}, {"X": X, "y": y}, design={"beta": "X"},
                              index_hessian=False, row_buckets=False)
        assert fast.padding is not None and fast.index is not None
        a, b = fast.fit(), plain.fit()
        np.testing.assert_allclose(a.params, b.params, rtol=RTOL)
        np.testing.assert_allclose(a.bse, b.bse, rtol=RTOL)
        np.testing.assert_allclose(a.hessian.to_numpy(), b.hessian.to_numpy(), rtol=1e-10)
    assert trace_count("index_value_grad_hess") - before <= 1


def test_restricted_fits_and_profiles_on_padded_rows():
    """fix(), LR test and profile CI on a padded model equal the unpadded model's (the fixed values
    travel in the data; replacing them pads the new data the same way)."""
    a, b = user_logit(80).fit(), user_logit(80, row_buckets=False).fit()
    name = a.names[0]
    np.testing.assert_allclose(a.lr_test_null({name: 0.0}).statistic, b.lr_test_null({name: 0.0}).statistic, rtol=1e-8)
    pa = a.profile_ci([name]).loc[name, ["profile_lower", "profile_upper"]].to_numpy(float)
    pb = b.profile_ci([name]).loc[name, ["profile_lower", "profile_upper"]].to_numpy(float)
    np.testing.assert_allclose(pa, pb, rtol=1e-7)


def test_pandas_data_and_row_labels():
    """A DataFrame's row labels stay the real rows' (predictions indexed like the data), with padding."""
    y, X = logit_data(70, seed=9)
    df = pd.DataFrame({"y": y, "x1": X[:, 0], "x2": X[:, 1]}, index=[f"r{i}" for i in range(70)])
    res = hs.logit("y ~ x1 + x2", df).fit()
    ref = sm.Logit(y, X).fit(method="newton", disp=0, tol=1e-12)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params[[2, 0, 1]], rtol=1e-8, atol=1e-10)
    pred = res.predict()
    assert list(pred.index) == list(df.index)
    np.testing.assert_allclose(pred.to_numpy(dtype=float), ref.predict(), rtol=1e-9)


def test_hs_fit_forwards_row_buckets():
    """Closed form (the mean of y and its SE sqrt(1/n) for a unit-variance Gaussian): hs.fit pads by
    default and honours row_buckets=False, with the same estimate either way."""
    import hessstats as hs

    y = np.random.default_rng(0).normal(size=50)
    padded = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y)
    plain = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y, row_buckets=False)
    assert padded.model.padding is not None and plain.model.padding is None
    for res in (padded, plain):
        np.testing.assert_allclose(res.params.iloc[0], y.mean(), rtol=1e-12)
        np.testing.assert_allclose(res.bse.iloc[0], np.sqrt(1 / 50), rtol=1e-10)


def test_row_buckets_must_be_a_bool():
    """A truthy string such as "no" must not silently turn padding on: a typed SpecificationError."""
    from hessstats.errors import SpecificationError

    with pytest.raises(SpecificationError, match="row_buckets must be True or False"):
        hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.ones(5), row_buckets="no")


# ---------------------------------------------------------------- trusted built-ins (issue 17)

def _builtin_models(n):
    """Built-in models (trusted log-likelihoods: logit, ordered logit with integer codes, a Poisson GLM
    with its family and link bound by WithOptions) on n rows."""
    from hessstats.models.categorical import ordered_model
    from hessstats.models.glm import glm_model

    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    X = np.column_stack([x, np.ones(n)])
    logit = logit_model((x + rng.logistic(size=n) > 0).astype(float), X)
    ordered = ordered_model(np.digitize(x + rng.logistic(size=n), [-1.0, 0.5]), x[:, None])
    glm = glm_model(rng.poisson(np.exp(0.5 + 0.3 * x)).astype(float), X, family="poisson", link="log")
    return logit, ordered, glm


@pytest.mark.parametrize("n", [57])
def test_trusted_builtins_padded_equal_unpadded(n):
    """Trusted built-ins take the row-bucket path without probes: their padded value, gradient and
    Hessian near the start equal the unpadded ones (the same log-likelihood as Model(...,
    row_buckets=False)) to 1e-10, and the fit's per-row values have n rows."""
    for model in _builtin_models(n):
        assert model.padding is not None and model.padding.rows == max(engine.TRUSTED_MIN_ROWS, engine.bucket_rows(n))
        data = {k: hs.index_array(np.asarray(v)) if np.asarray(v).dtype.kind in "iu" else v for k, v in model.data.items()}
        plain = hs.Model(model.loglike, model.spec.unravel(model.start), data, row_buckets=False)
        assert plain.padding is None
        theta = model.start + 0.05
        for a, b in zip(model.evaluate(theta), plain.evaluate(theta)):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-12)
        assert model.loglike_obs(theta).shape == (n,)


def test_trusted_builtin_with_a_non_row_leaf_takes_the_checked_path():
    """Data with a leaf that is not a row leaf (a scalar) are not padded on trust: the bucket's checks
    decide (engine.trusted_rows gives None), and the values equal the unpadded model's to 1e-10."""
    from hessstats.models.binary import BinaryParams, logit_loglike

    y, X = logit_data(90, seed=4)
    data = {"y": y, "X": X, "c": np.float64(1.0)}
    assert engine.trusted_rows(data, 90) is None and engine.trusted_rows({"y": y, "X": X}, 90) == engine.TRUSTED_MIN_ROWS
    model = hs.Model(logit_loglike, BinaryParams(np.zeros(3)), data)
    plain = hs.Model(logit_loglike, BinaryParams(np.zeros(3)), data, row_buckets=False)
    for a, b in zip(model.evaluate(np.full(3, 0.1)), plain.evaluate(np.full(3, 0.1))):
        np.testing.assert_allclose(a, b, rtol=RTOL)
