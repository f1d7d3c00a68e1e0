"""Every built-in index likelihood on the index Hessian (issue 17, item 2).

Reference for every case: the generic exact AD Hessian (``jax.hessian`` of the model's own
log-likelihood, the ``model.replace(index=None)`` twin of the same model), which the index path
(``X' diag(w) X`` from per-observation derivatives in the linear predictors) must reproduce to
1e-12 relative, and whose fit (params, SEs) it must reproduce to 1e-10.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

N = 400


def _design(rng, n=N, k=3, const=True):
    X = rng.normal(size=(n, k - 1 if const else k))
    return np.column_stack([X, np.ones(n)]) if const else X


def _counts(rng, X, scale=0.3, overdispersed=False):
    mu = np.exp(0.5 + X @ np.linspace(-scale, scale, X.shape[1]))
    if overdispersed:  # NB2 with alpha = 0.5
        mu = mu * rng.gamma(2.0, 0.5, size=mu.shape)
    return rng.poisson(mu).astype(float)


def _build(name: str):
    """The built-in model ``name`` on simulated data (array interfaces)."""
    from hessstats.models import betareg, binomial, categorical, continuous, count, genpoisson, glm, hurdle, nb1, survival, truncated

    rng = np.random.default_rng(zlib.crc32(name.encode()))
    X = _design(rng)
    eta = X @ np.array([0.4, -0.3, 0.2])
    if name in ("ols", "ols_ml"):
        y = eta + rng.normal(size=N)
        return continuous.normal_model(y, X, variance="ml" if name == "ols_ml" else "ols")
    if name == "tobit":
        return continuous.tobit_model(np.maximum(eta + rng.normal(size=N), 0.0), X, left=0.0)
    if name == "tobit_both":
        y = np.clip(eta + rng.normal(size=N), -0.5, 1.0)
        return continuous.tobit_model(y, X, left=-0.5, right=1.0)
    if name == "gamma":
        return continuous.gamma_model(rng.gamma(2.0, np.exp(eta) / 2.0), X)
    if name in ("weibull", "exponential"):
        t = np.exp(eta) * rng.weibull(1.5, size=N)
        event = (rng.uniform(size=N) < 0.8).astype(float)
        return survival.weibull_model(t, X, event=event, shape=1.0 if name == "exponential" else None)
    if name in ("ordered_logit", "ordered_probit"):
        Xn = X[:, :2]
        y = np.digitize(Xn @ [0.5, -0.5] + rng.logistic(size=N), [-1.0, 0.0, 1.2])
        return categorical.ordered_model(y, Xn, distr=name.split("_")[1])
    if name == "mnlogit":
        u = np.column_stack([np.zeros(N), eta, -eta + 0.3]) + rng.gumbel(size=(N, 3))
        return categorical.mnlogit_model(np.array(["a", "b", "c"])[np.argmax(u, axis=1)], X)
    if name in ("zinb", "zinb_probit"):
        Z = np.column_stack([np.ones(N), rng.normal(size=N)])
        y = _counts(rng, X, overdispersed=True) * (rng.uniform(size=N) > 0.25)
        return count.zinb_model(y, X, Z, inflation_link="probit" if name == "zinb_probit" else "logit")
    if name == "genpoisson":
        return genpoisson.genpoisson_model(_counts(rng, X), X)
    if name == "nb1":
        return nb1.nb1_model(_counts(rng, X), X, exposure=rng.uniform(0.5, 2.0, size=N))
    if name in ("betareg", "betareg_z"):
        mu = 1 / (1 + np.exp(-eta))
        y = np.clip(rng.beta(mu * 8, (1 - mu) * 8), 1e-4, 1 - 1e-4)
        Z = np.column_stack([np.ones(N), rng.normal(size=N)]) if name == "betareg_z" else None
        return betareg.betareg_model(y, X, Z)
    if name in ("truncated_poisson", "truncated_negbin"):
        y = _counts(rng, X, overdispersed=name == "truncated_negbin") + 1.0
        build = truncated.truncated_poisson_model if name == "truncated_poisson" else truncated.truncated_negbin_model
        return build(y, X)
    if name in ("hurdle_poisson", "hurdle_negbin_z"):
        y = _counts(rng, X, overdispersed=name != "hurdle_poisson") * (rng.uniform(size=N) > 0.3)
        if name == "hurdle_poisson":
            return hurdle.hurdle_poisson_model(y, X)
        Z = np.column_stack([np.ones(N), rng.normal(size=N)])
        return hurdle.hurdle_negbin_model(y, X, Z, link="cloglog")
    if name == "glm_gaussian":
        return glm.glm_model(eta + 3.0 + rng.normal(size=N), X)
    if name == "glm_gamma":
        return glm.glm_model(rng.gamma(2.0, np.exp(eta) / 2.0), X, family="gamma", link="log")
    if name == "glm_inverse_gaussian":
        return glm.glm_model(rng.wald(np.exp(eta), 4.0), X, family="inverse_gaussian", link="log")
    if name == "glm_tweedie":
        y = rng.poisson(np.exp(eta)) * rng.gamma(2.0, 0.5, size=N)
        return glm.glm_model(y, X, family="tweedie", power=1.5)
    if name == "glm_binomial_probit":
        trials = rng.integers(1, 6, size=N).astype(float)
        y = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-eta))).astype(float)
        return glm.glm_model(y, X, family="binomial", link="probit", trials=trials)
    if name in ("binomial_trials", "binomial_cloglog"):
        trials = rng.integers(1, 8, size=N).astype(float)
        y = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-eta))).astype(float)
        return binomial.binomial_model(y, X, trials=trials, link="cloglog" if name == "binomial_cloglog" else "logit",
                                       offset=0.1 * rng.normal(size=N))
    raise KeyError(name)


CASES = ["ols", "ols_ml", "tobit", "tobit_both", "gamma", "weibull", "exponential", "ordered_logit", "ordered_probit",
         "mnlogit", "zinb", "zinb_probit", "genpoisson", "nb1", "betareg", "betareg_z", "truncated_poisson",
         "truncated_negbin", "hurdle_poisson", "hurdle_negbin_z", "glm_gaussian", "glm_gamma", "glm_inverse_gaussian",
         "glm_tweedie", "glm_binomial_probit", "binomial_trials", "binomial_cloglog"]


def _away(model, rng):
    """A point away from the start and the optimum (positive parameters stay positive)."""
    theta = np.array(model.start, dtype=float)
    return theta + 0.05 * np.abs(theta).clip(0.2) * rng.standard_normal(theta.size)


@pytest.fixture
def index_everywhere(monkeypatch):
    """Attach the index path to small models too (the threshold INDEX_MIN_CELLS lowered)."""
    from hessstats.models import index

    monkeypatch.setattr(index, "INDEX_MIN_CELLS", 0)
    return monkeypatch


@pytest.mark.parametrize("name", CASES)
def test_index_hessian_and_fit_equal_the_generic_ad_path(name, index_everywhere):
    """Value, gradient and Hessian by the index path equal the generic exact AD Hessian of the same
    likelihood (reference: the ``model.replace(index=None)`` twin) to 1e-12 relative, at the start
    and at a point away from the optimum, by the one-call compiled path (small data) and by the host
    BLAS path (forced); the fit on the BLAS path (params, default SEs) equals the generic fit to 1e-10."""
    from hessstats.models import index
    from hessstats.models.index import IndexHessian

    model = _build(name)
    assert isinstance(model.index, IndexHessian)
    generic = model.replace(index=None)
    rng = np.random.default_rng(1)
    for theta in (model.start, _away(model, rng)):
        v2, g2, h2 = generic.evaluate(theta)
        assert np.all(np.isfinite(h2))
        for small_cells in (index.SMALL_CELLS, 0):  # compiled path, then the host BLAS path
            index_everywhere.setattr(index, "SMALL_CELLS", small_cells)
            v1, g1, h1 = model.evaluate(theta)
            np.testing.assert_allclose(v1, v2, rtol=1e-12)
            # at the start (OLS: the optimum) the gradient is round-off: its tolerance scales with the Hessian
            np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-12 * max(np.max(np.abs(g2)), np.max(np.abs(h2))))
            np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-12 * np.max(np.abs(h2)))
    fast, slow = model.fit(), generic.fit()
    assert fast.converged and slow.converged
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.bse, slow.bse, rtol=1e-10)


def test_large_mnlogit_takes_the_multi_index_path_without_patching():
    """Above INDEX_MIN_CELLS a multinomial logit (a (J-1, k) coefficient matrix: J-1 linear
    predictors on one design) gets the index Hessian by itself; its Hessian equals the generic exact
    AD Hessian (reference) to 1e-12, and so do its fitted params and SEs to 1e-10."""
    from hessstats.models.categorical import mnlogit_model
    from hessstats.models.index import INDEX_MIN_CELLS, IndexHessian

    rng = np.random.default_rng(3)
    k = 4
    n = INDEX_MIN_CELLS // (3 * k) ** 2 + 500
    X = _design(rng, n, k)
    u = np.column_stack([np.zeros(n), X @ [0.3, -0.2, 0.1, 0.0], X @ [-0.1, 0.2, 0.3, 0.2], X @ [0.2, 0.2, -0.3, 0.1]])
    model = mnlogit_model(np.argmax(u + rng.gumbel(size=u.shape), axis=1), X)
    assert isinstance(model.index, IndexHessian) and model.index.loglike.widths == (3,)
    generic = model.replace(index=None)
    theta = 0.1 * rng.standard_normal(model.k_params)
    h1, h2 = model.evaluate(theta)[2], generic.evaluate(theta)[2]
    np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-12 * np.max(np.abs(h2)))
    fast, slow = model.fit(), generic.fit()
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.bse, slow.bse, rtol=1e-10)


def test_matrix_and_vector_coefficients_in_one_user_model(index_everywhere):
    """``with_index_hessian`` with a coefficient matrix (two linear predictors on ``X``) next to a
    vector on another design ``Z`` and an extra parameter: the Hessian equals the generic exact AD
    Hessian of the same log-likelihood (reference) to 1e-12, cross blocks included."""
    import jax.numpy as jnp

    import hessstats as hs
    from hessstats.models.index import with_index_hessian

    rng = np.random.default_rng(4)
    n = 200
    data = {"X": rng.normal(size=(n, 3)), "Z": rng.normal(size=(n, 2)), "y": rng.normal(size=n)}

    def obs(eta, extra, d):
        a, b = eta["B"][:, 0], eta["B"][:, 1]
        return -0.5 * (d["y"] - a - jnp.tanh(b) * eta["g"]) ** 2 / extra["s"] ** 2 - jnp.log(extra["s"]) + jnp.sin(a * b)

    def loglike(p, d):
        return obs({"B": d["X"] @ p["B"].T, "g": d["Z"] @ p["g"]}, {"s": p["s"]}, d)

    start = {"B": 0.1 * rng.normal(size=(2, 3)), "g": 0.1 * rng.normal(size=2), "s": 1.3}
    model = with_index_hessian(hs.Model(loglike, start, data), obs, {"B": "X", "g": "Z"})
    assert model.index is not None and model.index.loglike.widths == (2, 0)
    theta = np.array(model.start) + 0.2 * rng.standard_normal(model.k_params)
    v1, g1, h1 = model.evaluate(theta)
    v2, g2, h2 = model.replace(index=None).evaluate(theta)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-12 * np.max(np.abs(g2)))
    np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-12 * np.max(np.abs(h2)))
