"""Core fit (issue 2): hand-written likelihoods against statsmodels, closed forms, certificate.

Reference values: statsmodels ``Logit``/``Probit``/``Poisson`` (analytic derivatives, Newton) on
the spector and randhie datasets; closed-form normal-ML standard errors.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import jax.scipy.special as jsp
import jax.scipy.stats as jst
import numpy as np
import pytest
import statsmodels.api as sm
from catalogue import logit_ll, probit_ll  # the problem catalogue's likelihoods

import hessstats as hs
from hessstats.core.compilation import trace_count
from hessstats.errors import ConvergenceWarning, IdentificationWarning

RTOL = 1e-8  # statsmodels analytic models (DESIGN.md tolerance tiers)


def poisson_ll(p, d):
    """Poisson with the -log(y!) constant, so llf/AIC/BIC match statsmodels too."""
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.exp(eta) - jsp.gammaln(d["y"] + 1)


def normal_ll(p, y):
    return jst.norm.logpdf(y, p["mu"], p["sigma"])


@pytest.mark.parametrize("loglike, sm_model, dataset", [
    (logit_ll, sm.Logit, "spector"),
    (probit_ll, sm.Probit, "spector"),
    (poisson_ll, sm.Poisson, "randhie"),
])
def test_matches_statsmodels_analytic_models(loglike, sm_model, dataset, request):
    """Source: statsmodels Logit/Probit/Poisson .fit(method='newton', tol=1e-12)."""
    d = request.getfixturevalue(dataset)
    res = hs.fit(loglike, {"beta": np.zeros(d["X"].shape[1])}, {"X": d["X"], "y": d["y"]},
                 names={"beta": d["names"]})
    ref = sm_model(d["y"], d["X"]).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
    assert res.converged
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=RTOL)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=RTOL)
    np.testing.assert_allclose(res.cov_params().to_numpy(), ref.cov_params(), rtol=RTOL)
    np.testing.assert_allclose(res.llf, ref.llf, rtol=1e-12)
    np.testing.assert_allclose([res.aic, res.bic], [ref.aic, ref.bic], rtol=1e-12)
    np.testing.assert_allclose(res.pvalues.to_numpy(), ref.pvalues, rtol=1e-6)
    np.testing.assert_allclose(res.conf_int().to_numpy(), ref.conf_int(), rtol=1e-8)
    assert list(res.params.index) == d["names"]
    assert res.nobs == len(d["y"])


@pytest.fixture(scope="module")
def normal_sample():
    return np.random.default_rng(12345).normal(3.0, 2.0, size=500)


def test_iid_normal_se_is_sigma_over_sqrt_n(normal_sample):
    """Closed form: MLE mu = mean, sigma = sqrt(mean((y-mean)^2)); se(mu) = sigma/sqrt(n),
    se(sigma) = sigma/sqrt(2n) (inverse observed information at the MLE). The log-likelihood is
    summed, not averaged: averaging would multiply these by sqrt(n)."""
    y = normal_sample
    n = len(y)
    res = hs.fit(normal_ll, {"mu": 0.0, "sigma": 1.0}, y)
    sigma_hat = np.sqrt(np.mean((y - y.mean()) ** 2))
    np.testing.assert_allclose(res.params["mu"], y.mean(), rtol=1e-12)
    np.testing.assert_allclose(res.params["sigma"], sigma_hat, rtol=1e-12)
    np.testing.assert_allclose(res.bse["mu"], sigma_hat / np.sqrt(n), rtol=1e-10)
    np.testing.assert_allclose(res.bse["sigma"], sigma_hat / np.sqrt(2 * n), rtol=1e-10)
    np.testing.assert_allclose(res.cov_params().loc["mu", "sigma"], 0.0, atol=1e-12)


def test_unidentified_sum_gets_nan_se_and_named_warning(normal_sample):
    """y ~ N(a + b, sigma): a and b are not separately identified; sigma is (closed form above)."""
    y = normal_sample

    def loglike(p, d):
        return jst.norm.logpdf(d, p["a"] + p["b"], p["sigma"])

    with pytest.warns(IdentificationWarning, match=r"\['a', 'b'\]"):
        res = hs.fit(loglike, {"a": 0.0, "b": 0.0, "sigma": 1.0}, y)
    assert np.isnan(res.bse["a"]) and np.isnan(res.bse["b"])
    sigma_hat = np.sqrt(np.mean((y - y.mean()) ** 2))
    np.testing.assert_allclose(res.bse["sigma"], sigma_hat / np.sqrt(2 * len(y)), rtol=1e-9)
    np.testing.assert_allclose(res.params["a"] + res.params["b"], y.mean(), rtol=1e-10)
    # along the flat ridge a + b = mean, the reported point is the one nearest the start (0, 0)
    np.testing.assert_allclose([res.params["a"], res.params["b"]], [y.mean() / 2] * 2, rtol=1e-8)
    assert not res.converged
    assert sorted(res.identification["parameter"]) == ["a", "b"]
    np.testing.assert_allclose(np.abs(res.identification["loading"]), np.sqrt(0.5), rtol=1e-8)
    frame = res.summary_frame()
    assert frame.loc[["a", "b"], ["std_err", "z", "p_value", "ci_lower"]].isna().all().all()
    assert np.isfinite(frame.loc["sigma"]).all()


def test_collinear_column_detected(spector):
    """A column equal to GPA + PSI makes X'WX singular: statsmodels' generic model reported finite
    SEs here; we must give NaN for the loading parameters and keep TUCE's finite."""
    X = np.column_stack([spector["X"], spector["X"][:, 0] + spector["X"][:, 2]])
    with pytest.warns(IdentificationWarning, match="GPA"):
        res = hs.fit(logit_ll, {"beta": np.zeros(5)}, {"X": X, "y": spector["y"]},
                     names={"beta": spector["names"] + ["GPA_plus_PSI"]})
    assert res.bse[["GPA", "PSI", "GPA_plus_PSI"]].isna().all()
    ref = sm.Logit(spector["y"], spector["X"]).fit(disp=0)  # TUCE and const do not load on it
    np.testing.assert_allclose(res.bse[["TUCE", "const"]].to_numpy(), ref.bse[[1, 3]], rtol=1e-7)


def test_pytree_names_and_explicit_names():
    start = {"beta": np.zeros(2), "sigma": 1.0, "B": np.zeros((2, 2))}
    spec = hs.Model(lambda p, d: -jnp.sum(p["beta"] ** 2) - p["sigma"] ** 2 - jnp.sum(p["B"] ** 2), start).names
    assert spec == ("B[0,0]", "B[0,1]", "B[1,0]", "B[1,1]", "beta[0]", "beta[1]", "sigma")
    named = hs.Model(lambda p, d: -jnp.sum(p["beta"] ** 2) - p["sigma"] ** 2, {"beta": np.zeros(2), "sigma": 1.0},
                     names={"beta": ["x1", "x2"]}).names
    assert named == ("x1", "x2", "sigma")


def test_model_fit_equals_hs_fit(spector):
    data = {"X": spector["X"], "y": spector["y"]}
    a = hs.fit(logit_ll, {"beta": np.zeros(4)}, data)
    b = hs.Model(logit_ll, {"beta": np.zeros(4)}, data).fit()
    # the same optimum to rounding (a later fit of the same kernel shape may run in one call: hessstats.core.fused)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-13)
    np.testing.assert_allclose(a.bse.to_numpy(), b.bse.to_numpy(), rtol=1e-12)


def test_no_retrace_across_iterations_and_repeated_fits(spector):
    """Kernels compile once per (loglike, parameter structure, data shapes)."""
    data = {"X": spector["X"], "y": spector["y"]}

    def fresh_ll(p, d):  # a new function object, so the first fit must trace once
        return logit_ll(p, d)

    before = trace_count("value_grad_hess")
    first = hs.fit(fresh_ll, {"beta": np.zeros(4)}, data)
    hs.fit(fresh_ll, {"beta": np.ones(4) * 0.1}, data, names={"beta": list("abcd")})
    hs.fit(fresh_ll, {"beta": np.zeros(4)}, {"X": spector["X"] * 1.0, "y": spector["y"]})
    assert first.iterations > 2
    assert trace_count("value_grad_hess") - before == 1


def test_non_convergence_is_flagged(spector):
    with pytest.warns(ConvergenceWarning, match="not converged"):
        res = hs.fit(logit_ll, {"beta": np.zeros(4)}, {"X": spector["X"], "y": spector["y"]},
                     method="newton", maxiter=1)
    assert not res.converged
    assert "scaled gradient" in res.convergence_message
    assert "WARNING" in str(res)


def test_results_value_is_frozen_and_renders(spector):
    res = hs.fit(logit_ll, {"beta": np.zeros(4)}, {"X": spector["X"], "y": spector["y"]},
                 names={"beta": spector["names"]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.llf = 0.0
    frame = res.summary_frame()
    assert list(frame.columns) == ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    assert frame.index.tolist() == spector["names"]
    np.testing.assert_allclose(frame["z"], frame["coef"] / frame["std_err"], rtol=1e-14)
    assert "GPA" in str(res) and "<table>" in res._repr_html_()
    assert frame.loc["GPA", "coef"] == pytest.approx(float(str(res).split("GPA")[1].split()[0]), rel=1e-5)
    np.testing.assert_allclose(res.hessian.to_numpy(), res.hessian.to_numpy().T)
    assert res.gradient.abs().max() < 1e-8
    assert res.k_params == 4
    wide = res.conf_int(alpha=0.01)
    assert (wide["ci_lower"] < frame["ci_lower"]).all()


def test_scalar_loglike_is_accepted(normal_sample):
    """A summed log-likelihood gives the same nonrobust fit; scores are then unavailable."""
    y = normal_sample
    res = hs.fit(lambda p, d: jnp.sum(normal_ll(p, d)), {"mu": 0.0, "sigma": 1.0}, y, nobs=len(y))
    ref = hs.fit(normal_ll, {"mu": 0.0, "sigma": 1.0}, y)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-10)
    assert res.nobs == len(y)
    with pytest.raises(hs.errors.SpecificationError, match="per-observation"):
        res.model.scores(res.theta)


def test_fit_forwards_model_keywords_and_rejects_unknown(spector):
    """hs.fit(..., chunk_size=) is the chunked Model path: same estimates as in memory (1e-10)."""
    data = {"X": spector["X"], "y": spector["y"]}
    full = hs.fit(logit_ll, {"beta": np.zeros(4)}, data)
    chunked = hs.fit(logit_ll, {"beta": np.zeros(4)}, data, chunk_size=10)
    np.testing.assert_allclose(chunked.params.to_numpy(), full.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(chunked.bse.to_numpy(), full.bse.to_numpy(), rtol=1e-10)
    with pytest.raises(hs.errors.SpecificationError, match="unknown keyword.*cov_typo"):
        hs.fit(logit_ll, {"beta": np.zeros(4)}, data, cov_typo="HC0")
