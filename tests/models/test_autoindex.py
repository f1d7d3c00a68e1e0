"""Linear predictors detected in user log-likelihoods (``hs.fit``): the index Hessian, same values.

Reference: the generic path on the same function (``hs.Model(loglike, ...)``, which never detects:
reverse-over-reverse AD of the summed log-likelihood), at 1e-12; statsmodels 0.15 ``Logit`` /
``Poisson`` (analytic Hessians) for the fitted standard errors at 1e-8.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm
from jax.scipy.stats import norm

import hessstats as hs
from hessstats.core.compilation import trace_count
from hessstats.models.autoindex import AutoIndex, detect_index

N, K = 10_000, 5  # N * K^2 = 250,000 > INDEX_MIN_CELLS: big enough for the index path


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(17)
    X = np.column_stack([rng.normal(size=(N, K - 1)), np.ones(N)])
    Z = np.column_stack([rng.normal(size=(N, 2)), np.ones(N)])[:, :2]
    eta = X @ np.linspace(-0.5, 0.5, K)
    return {"X": X, "Z": Z, "offset": rng.normal(size=N) * 0.1,
            "y": (eta + rng.logistic(size=N) > 0).astype(float),
            "count": rng.poisson(np.exp(0.3 * eta)).astype(float),
            "latent": np.maximum(eta + rng.normal(size=N), 0.0)}


def logit(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


def probit(p, d):
    eta = jnp.dot(d["X"], p["beta"])
    return d["y"] * norm.logcdf(eta) + (1.0 - d["y"]) * norm.logcdf(-eta)


def poisson_offset(p, d):
    eta = d["X"].dot(p["beta"]) + d["offset"]
    return d["count"] * eta - jnp.exp(eta)


def het_probit(p, d):  # two indices: mean X @ beta, log scale Z @ gamma
    z = (d["X"] @ p["beta"]) / jnp.exp(jnp.einsum("ij,j->i", d["Z"], p["gamma"]))
    return d["y"] * norm.logcdf(z) + (1.0 - d["y"]) * norm.logcdf(-z)


def tobit(p, d):  # an index and an extra parameter (log sigma)
    sigma = jnp.exp(p["log_sigma"])
    xb = d["X"] @ p["beta"]
    censored = norm.logcdf(-xb / sigma)
    observed = norm.logpdf((d["latent"] - xb) / sigma) - jnp.log(sigma)
    return jnp.where(d["latent"] <= 0.0, censored, observed)


def twice(p, d):  # the same product written twice (two dot_generals, one linear predictor)
    return d["y"] * (d["X"] @ p["beta"]) - jnp.logaddexp(0.0, jnp.dot(d["X"], p["beta"]))


def two_part(p, d):  # two coefficient vectors on one shared design
    a, b = d["X"] @ p["a"], d["X"] @ p["b"]
    return d["y"] * a - jnp.logaddexp(0.0, a) + d["count"] * b - jnp.exp(b)


CASES = [
    (logit, {"beta": np.zeros(K)}, {"beta": "X"}),
    (probit, {"beta": np.zeros(K)}, {"beta": "X"}),
    (poisson_offset, {"beta": np.zeros(K)}, {"beta": "X"}),
    (het_probit, {"beta": np.zeros(K), "gamma": np.zeros(2)}, {"beta": "X", "gamma": "Z"}),
    (tobit, {"beta": np.zeros(K), "log_sigma": 0.0}, {"beta": "X"}),
    (twice, {"beta": np.zeros(K)}, {"beta": "X"}),
    (two_part, {"a": np.zeros(K), "b": np.zeros(K)}, {"a": "X", "b": "X"}),
]


@pytest.mark.parametrize(("loglike", "start", "design"), CASES, ids=[c[0].__name__ for c in CASES])
def test_detected_hessian_equals_generic(data, loglike, start, design):
    """Detected (index path) and generic Hessians agree at 1e-12 at a point away from the start,
    and so do the fitted estimates and standard errors."""
    generic = hs.Model(loglike, start, data)
    fast = detect_index(generic, loglike)
    assert isinstance(fast.index, AutoIndex) and fast.index.design == design
    theta = generic.start + 0.1 * np.random.default_rng(0).standard_normal(generic.k_params)
    v0, g0, h0 = generic.evaluate(theta)
    v1, g1, h1 = fast.evaluate(theta)
    np.testing.assert_allclose(v1, v0, rtol=1e-12)
    np.testing.assert_allclose(g1, g0, rtol=1e-12, atol=1e-12 * np.max(np.abs(g0)))
    np.testing.assert_allclose(h1, h0, rtol=1e-12, atol=1e-12 * np.max(np.abs(h0)))
    res = hs.fit(loglike, start, data)
    assert isinstance(res.model.index, AutoIndex)
    ref = generic.fit()
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-9)
    np.testing.assert_allclose(res.hessian, ref.hessian, rtol=1e-9, atol=1e-9 * np.max(np.abs(ref.hessian)))


def test_detected_fits_match_statsmodels(data):
    """Logit and Poisson (with offset) through hs.fit: statsmodels' analytic standard errors."""
    res = hs.fit(logit, {"beta": np.zeros(K)}, data)
    ref = sm.Logit(data["y"], data["X"]).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=1e-8)
    res = hs.fit(poisson_offset, {"beta": np.zeros(K)}, data)
    ref = sm.Poisson(data["count"], data["X"], offset=data["offset"]).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=1e-8)


def test_hc1_and_robust_unchanged(data):
    """Detection changes no covariance: HC1 still counts every parameter (the generic model's)."""
    res = hs.fit(tobit, {"beta": np.zeros(K), "log_sigma": 0.0}, data, cov_type="HC1")
    ref = hs.Model(tobit, {"beta": np.zeros(K), "log_sigma": 0.0}, data).fit(cov_type="HC1")
    assert isinstance(res.model.index, AutoIndex)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-9)


def penalised(p, d):  # beta also in a penalty
    return logit(p, d) - 1e-3 * jnp.sum(p["beta"] ** 2) / d["y"].shape[0]


def squared_across_rows(p, d):  # (X @ beta) summed over rows enters every observation
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta) - 1e-4 * jnp.sum(eta) ** 2 / eta.shape[0]


def lagged(p, d):  # observation i uses eta of row i - 1
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta) + 0.01 * jnp.roll(eta, 1)


def scalar_total(p, d):
    return jnp.sum(logit(p, d))


@jax.jit
def _jitted_index(X, b):
    return X @ b


def inside_jit(p, d):  # the product inside a jitted helper: not seen (generic path)
    eta = _jitted_index(d["X"], p["beta"])
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


def sliced(p, d):  # the product with a slice of the design, not a data matrix
    eta = d["X"][:, :-1] @ p["beta"][:-1] + p["beta"][-1]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


@pytest.mark.parametrize("loglike", [penalised, squared_across_rows, lagged, scalar_total, inside_jit, sliced])
def test_not_an_index_keeps_generic_path(data, loglike):
    """Where detection must not apply, hs.fit keeps the generic Hessian (index None), whose fit
    equals the generic model's (reference) at 1e-10."""
    options = {"nobs": N} if loglike is scalar_total else {}
    res = hs.fit(loglike, {"beta": np.zeros(K)}, data, **options)
    assert res.model.index is None
    ref = hs.Model(loglike, {"beta": np.zeros(K)}, data, **options).fit()
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-10)


def test_declined_models(data):
    """Row blocks, small models and array parameters keep the generic path, as with_index_hessian decides."""
    start = {"beta": np.zeros(K)}
    assert detect_index(hs.Model(logit, start, data, chunk_size=5_000), logit).index is None
    small = {key: value[:500] for key, value in data.items()}  # 500 * 25 <= INDEX_MIN_CELLS
    assert detect_index(hs.Model(logit, start, small), logit).index is None
    flat = hs.Model(lambda b, d: logit({"beta": b}, d), np.zeros(K), data)  # an array of parameters
    assert flat.index is None and detect_index(flat, flat.loglike).index is None


def test_refit_reuses_compiled_kernels(data):
    """A second hs.fit of the same function compiles nothing new (kernels keyed by the function)."""
    hs.fit(logit, {"beta": np.zeros(K)}, data)
    before = trace_count()
    res = hs.fit(logit, {"beta": np.zeros(K)}, data)
    assert isinstance(res.model.index, AutoIndex) and trace_count() == before


def test_case_weights_take_the_index_path(data):
    """Frequency weights multiply each row in both paths: detected Hessian equals the generic one at 1e-12."""
    weights = np.random.default_rng(3).integers(1, 4, size=N).astype(float)
    generic = hs.Model(logit, {"beta": np.zeros(K)}, data, weights=weights, weight_type="frequency")
    fast = detect_index(generic, logit)
    assert isinstance(fast.index, AutoIndex)
    theta = np.linspace(-0.2, 0.2, K)
    h0, h1 = generic.evaluate(theta)[2], fast.evaluate(theta)[2]
    np.testing.assert_allclose(h1, h0, rtol=1e-12, atol=1e-12 * np.max(np.abs(h0)))
