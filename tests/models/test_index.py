"""Index models (eta = X @ beta): the X' diag(w) X Hessian equals the generic jax.hessian one.

References: statsmodels 0.15 ``Logit`` / ``NegativeBinomial`` (analytic derivatives) for estimates
and standard errors; the generic ``jax.hessian`` kernel (forward-over-reverse AD of the same
likelihood) for the exactness of the assembled Hessian.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.errors import SpecificationError


def logit_obs(eta, params, d):
    return d["y"] * eta["beta"] - jnp.logaddexp(0.0, eta["beta"])


def negbin_obs(eta, params, d):
    """NB2 log-likelihood with log link and log(alpha) (statsmodels NegativeBinomial 'nb2')."""
    from jax.scipy.special import gammaln

    mu, alpha = jnp.exp(eta["beta"]), jnp.exp(params["lnalpha"])
    r = 1.0 / alpha
    y = d["y"]
    return (gammaln(y + r) - gammaln(r) - gammaln(y + 1) + r * jnp.log(r / (r + mu)) + y * jnp.log(mu / (r + mu)))


def hetero_obs(eta, params, d):
    """Normal with mean X beta and log standard deviation Z gamma (two linear predictors)."""
    return -0.5 * ((d["y"] - eta["beta"]) * jnp.exp(-eta["gamma"])) ** 2 - eta["gamma"] + 0.0 * params["c"]


def test_logit_matches_statsmodels_and_generic(spector):
    """statsmodels Logit (analytic) at 1e-8; the generic AD Hessian at 1e-12."""
    data = {"X": spector["X"], "y": spector["y"]}
    model = hs.IndexModel(logit_obs, {"beta": np.zeros(4)}, data, design={"beta": "X"},
                          names={"beta": spector["names"]})
    res = model.fit()
    ref = sm.Logit(spector["y"], spector["X"]).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=1e-8)
    generic = hs.IndexModel(logit_obs, {"beta": np.zeros(4)}, data, design={"beta": "X"}, index_hessian=False)
    assert generic.index is None and model.index is not None
    theta = res.theta + 0.05  # away from the optimum, where the gradient is not ~0
    for a, b in zip(model.evaluate(theta), generic.evaluate(theta)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.max(np.abs(b)))


def test_extra_parameter_negbin_matches_statsmodels(randhie):
    """NB2 with an extra dispersion parameter: statsmodels NegativeBinomial (analytic Hessian) at 1e-6
    (its optimiser stops at ~1e-8 gradient, so we compare at the tolerance its estimate reaches)."""
    X, y = randhie["X"], randhie["y"]
    start = {"beta": np.zeros(X.shape[1]), "lnalpha": 0.0}
    model = hs.IndexModel(negbin_obs, start, {"X": X, "y": y}, design={"beta": "X"})
    res = model.fit()
    ref = sm.NegativeBinomial(y, X, loglike_method="nb2").fit(disp=0, method="newton", maxiter=100, tol=1e-12)
    np.testing.assert_allclose(res.params.to_numpy()[:-1], ref.params[:-1], rtol=1e-6)
    np.testing.assert_allclose(np.exp(res.params.iloc[-1]), ref.params[-1], rtol=1e-6)
    np.testing.assert_allclose(res.bse.to_numpy()[:-1], ref.bse[:-1], rtol=1e-6)
    generic = hs.IndexModel(negbin_obs, start, {"X": X, "y": y}, design={"beta": "X"}, index_hessian=False)
    h_fast, h_ref = model.evaluate(res.theta)[2], generic.evaluate(res.theta)[2]
    np.testing.assert_allclose(h_fast, h_ref, rtol=1e-12, atol=1e-12 * np.max(np.abs(h_ref)))


def test_two_linear_predictors_equal_generic_hessian():
    """Two designs (mean X beta, log-sd Z gamma) and an extra scalar: blocks and cross terms exact."""
    rng = np.random.default_rng(1)
    n = 500
    X = np.column_stack([rng.normal(size=(n, 2)), np.ones(n)])
    Z = np.column_stack([rng.normal(size=n), np.ones(n)])
    y = X @ [1.0, -1.0, 0.5] + np.exp(Z @ [0.3, -0.2]) * rng.normal(size=n)
    start = {"beta": np.zeros(3), "gamma": np.zeros(2), "c": 0.0}
    kw = dict(design={"beta": "X", "gamma": "Z"})
    fast = hs.IndexModel(hetero_obs, start, {"X": X, "Z": Z, "y": y}, **kw)
    slow = hs.IndexModel(hetero_obs, start, {"X": X, "Z": Z, "y": y}, index_hessian=False, **kw)
    theta = np.array([0.9, -1.1, 0.4, 0.1, 0.2, -0.3])
    for a, b in zip(fast.evaluate(theta), slow.evaluate(theta)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.max(np.abs(b)))


def test_row_mixing_likelihood_is_refused():
    """A term that depends on other rows breaks the X' diag(w) X identity: refused at construction."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 2))
    y = rng.normal(size=50)

    def mixing(eta, params, d):
        return -0.5 * (d["y"] - jnp.cumsum(eta["beta"]) / 10) ** 2

    with pytest.raises(SpecificationError, match="mixes observations"):
        hs.IndexModel(mixing, {"beta": np.zeros(2)}, {"X": X, "y": y}, design={"beta": "X"})


def test_bad_design_is_a_typed_error():
    X = np.ones((10, 3))
    with pytest.raises(SpecificationError, match="with 2 columns"):
        hs.IndexModel(logit_obs, {"beta": np.zeros(2)}, {"X": X, "y": np.zeros(10)}, design={"beta": "X"})
    with pytest.raises(SpecificationError, match="does not name a vector"):
        hs.IndexModel(logit_obs, {"b": np.zeros(3)}, {"X": X, "y": np.zeros(10)}, design={"beta": "X"})


def test_index_model_is_a_model_class():
    """hs.IndexModel is a real class (the layout issue: isinstance raised when it was a function)."""
    import jax.numpy as jnp

    X = np.column_stack([np.linspace(-1, 1, 20), np.ones(20)])
    y = (np.arange(20) % 3 == 0).astype(float)

    def logit(eta, params, d):
        return d["y"] * eta["beta"] - jnp.logaddexp(0.0, eta["beta"])

    model = hs.IndexModel(logit, {"beta": np.zeros(2)}, {"X": X, "y": y}, design={"beta": "X"})
    assert isinstance(model, hs.IndexModel) and isinstance(model, hs.Model)
    assert isinstance(model.replace(description={"model": "x"}), hs.IndexModel)


# ------------------------------------------------------------ built-ins on the index Hessian (issue 17)

def _builtin_model(name: str):
    import hessstats as hs

    load = hs.datasets.load
    builders = {
        "logit": lambda: hs.logit("GRADE ~ GPA + TUCE + PSI", load("spector")),
        "probit": lambda: hs.probit("GRADE ~ GPA + TUCE + PSI", load("spector")),
        "poisson": lambda: hs.poisson("mdvis ~ lncoins + idp + lpi", load("randhie").iloc[:800]),
        "negbin": lambda: hs.negbin("mdvis ~ lncoins + idp + lpi", load("randhie").iloc[:800]),
        "poisson_exposure": lambda: hs.poisson("accident ~ yr_con + op_75_79", load("ships").dropna(), exposure="service"),
        "zip": lambda: hs.zip("mdvis ~ lncoins + idp + lpi", load("randhie").iloc[:800]),
    }
    return builders[name]()


@pytest.mark.parametrize("path", ["compiled", "blas"])
@pytest.mark.parametrize("name", ["logit", "probit", "poisson", "negbin", "poisson_exposure", "zip"])
def test_builtins_use_the_index_hessian_equal_to_the_generic_one(name, path, monkeypatch):
    """Each built-in single-index model assembles its Hessian as X' diag(w) X (``Model.index`` set);
    value, gradient and Hessian equal the generic AD path (``jax.hessian`` of the same log-likelihood,
    the reference) to 1e-12 relative, at the start and at a point away from it, by the one-call
    compiled path (small data) and by the host BLAS path (large data; forced here). Small models
    keep the generic path unless the threshold is lowered (as here)."""
    from hessstats.models import index
    from hessstats.models.index import IndexHessian

    monkeypatch.setattr(index, "INDEX_MIN_CELLS", 0)  # small data: attach the index path anyway
    if path == "blas":
        monkeypatch.setattr(index, "SMALL_CELLS", 0)

    model = _builtin_model(name)  # built after the patch: the threshold applies
    assert isinstance(model.index, IndexHessian)
    generic = model.replace(index=None)
    rng = np.random.default_rng(0)
    for theta in (model.start, model.start + 0.05 * rng.standard_normal(model.k_params)):
        if name == "negbin":
            theta = theta.copy()
            theta[-1] = 0.7  # alpha > 0
        v1, g1, h1 = model.evaluate(theta)
        v2, g2, h2 = generic.evaluate(theta)
        np.testing.assert_allclose(v1, v2, rtol=1e-12)
        np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-12 * np.max(np.abs(g2)))
        np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-12 * np.max(np.abs(h2)))


def test_builtins_take_the_index_path_only_when_large():
    """Small built-in models keep the generic kernel (as fast there, and it compiles in about half the
    time); above INDEX_MIN_CELLS = nobs * k^2 they get the index Hessian, with the same fit
    (reference: the generic AD path of the same model, ``index=None``, to 1e-10)."""
    from hessstats.models.binary import logit_model
    from hessstats.models.index import INDEX_MIN_CELLS, IndexHessian

    assert _builtin_model("logit").index is None
    rng = np.random.default_rng(5)
    n = INDEX_MIN_CELLS // 9 + 1000
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = (X @ [0.2, 0.5, -0.5] + rng.logistic(size=n) > 0).astype(float)
    model = logit_model(y, X)
    assert isinstance(model.index, IndexHessian)
    fast, generic = model.fit(), model.replace(index=None).fit()
    np.testing.assert_allclose(fast.params, generic.params, rtol=1e-10)
    np.testing.assert_allclose(fast.bse, generic.bse, rtol=1e-10)
