"""The optimiser: globalisation (closed-form references: a double-well log-likelihood, a kinked
one), the relative stopping rule (statsmodels, live), the certificate (NIST StRD certified values)
and the one factorisation per point."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import nist_models
import numpy as np
import pandas as pd
import pytest
import scipy.optimize
import statsmodels.api as sm

import hessstats as hs
from hessstats.core import linalg
from hessstats.core.linalg import invert_information
from hessstats.core.optimize import NR_TOL, certify, maximize
from hessstats.errors import ConvergenceWarning

DATA = Path(__file__).resolve().parents[2] / "data"

N = 50


def double_well(p, d):
    """Per observation -(m^2 - 1)^2: maxima at m = +-1 with second derivative -8, so the
    inverse observed information gives se(m) = 1 / sqrt(8 N) there (closed form)."""
    return -((p["m"] ** 2 - 1.0) ** 2) * d


def test_auto_hands_over_to_trust_region_on_negative_curvature():
    # at m = 0.1 the log-likelihood curves upwards: a Newton step would go downhill
    res = hs.fit(double_well, {"m": 0.1}, np.ones(N))
    assert res.converged
    np.testing.assert_allclose(res.params["m"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(res.bse["m"], 1 / np.sqrt(8 * N), rtol=1e-12)


def test_pure_newton_refuses_to_go_downhill():
    with pytest.warns(ConvergenceWarning, match="negative curvature|not converged"):
        res = hs.fit(double_well, {"m": 0.1}, np.ones(N), method="newton")
    assert not res.converged


@pytest.mark.parametrize("method", ["auto", "newton", "trust-exact"])
def test_every_method_reaches_the_same_maximum(method):
    res = hs.fit(double_well, {"m": 1.7}, np.ones(N), method=method)
    assert res.converged
    np.testing.assert_allclose(res.params["m"], 1.0, rtol=1e-12)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(hs.errors.SpecificationError, match="one of .*auto"):
        hs.fit(double_well, {"m": 0.5}, np.ones(N), method="bfgs")


# ---------------------------------------------------------------- trust region, stopping, certificate


def sqrt_kink(p, d):
    """-(m + 1)^2 + sqrt(m) for m > 0, written with a single ``jnp.where``: the value is finite
    everywhere but the derivatives are NaN for m < 0 (the double-where pitfall). The maximum of the
    smooth part solves -2 (m + 1) + 1 / (2 sqrt(m)) = 0 (closed form, solved by brentq below)."""
    m = p["m"]
    return (-(m + 1.0) ** 2 + jnp.where(m > 0, jnp.sqrt(m), 0.0)) * d


@pytest.mark.parametrize("method", ["auto", "trust-exact", "newton"])
def test_nan_derivatives_on_the_way_are_rejected_not_raised(method):
    """The first Newton step from m = 1 lands at m = -5/9, where the value is finite but the
    derivatives are NaN: scipy's trust-exact used to raise ``ValueError: array must not contain
    infs or NaNs`` here. The step is rejected instead, and the iteration recovers."""
    m_star = scipy.optimize.brentq(lambda m: -2 * (m + 1) + 0.5 / np.sqrt(m), 1e-6, 1.0, xtol=1e-15)
    res = hs.fit(sqrt_kink, {"m": 1.0}, np.ones(3), method=method)
    assert res.converged
    np.testing.assert_allclose(res.params["m"], m_star, rtol=1e-9)  # 1e-10 standard errors
    model = hs.Model(sqrt_kink, {"m": 1.0}, np.ones(3))
    assert "non-finite derivatives" in maximize(model, model.start, method=method).nonfinite


def test_hard_case_saddle_with_zero_gradient():
    """At m = 0 the double well has zero gradient and negative curvature (a saddle of the
    log-likelihood's negative): the exact trust-region step must leave along the curvature
    (the 'hard case' of the secular equation), reaching m = +-1 (closed form)."""
    res = hs.fit(double_well, {"m": 0.0}, np.ones(N))
    assert res.converged
    np.testing.assert_allclose(abs(res.params["m"]), 1.0, rtol=1e-12)


def test_boundary_sigma_to_zero_is_a_typed_warning():
    """Constant data: the normal likelihood grows without bound as sigma -> 0 (no maximum). Steps
    to sigma <= 0 give NaN; the result must be flagged with expected/got/fix, never raise."""
    def loglike(p, d):
        return -jnp.log(p["sigma"]) - 0.5 * ((d - p["mu"]) / p["sigma"]) ** 2

    with pytest.warns(ConvergenceWarning) as caught:
        res = hs.fit(loglike, {"mu": 0.0, "sigma": 1.0}, np.full(5, 2.0))
    assert not res.converged
    text = "\n".join(str(w.message) for w in caught)
    assert "expected:" in text and "got:" in text and "fix:" in text
    assert "sigma" in text and "not finite" in text
    assert res.params["sigma"] < 1e-8


def test_certificate_holds_even_when_the_iteration_limit_was_hit():
    """NIST MGH09 started at its certified optimum (11 digits): the scaled gradient is ~1e-19 and
    the Hessian negative definite, so the fit is converged although maxiter=0 stopped the
    optimiser at once (the certificate, not an inner limit, decides; NIST certified values)."""
    problem = nist_models.load("MGH09")
    start = {"b": problem.certified, "log_sigma": 0.5 * np.log(problem.rss / problem.n)}
    model = hs.Model(nist_models.NormalLoglike("MGH09"), start, nist_models.data(problem))
    opt = maximize(model, model.start, maxiter=0)
    assert opt.hit_maxiter and opt.decrement < 1e-15
    converged, why = certify(opt, invert_information(opt.hessian, model.names, eigen=opt.eigen), NR_TOL, model.names)
    assert converged and why == "converged"
    res = model.fit(maxiter=0)
    assert res.converged
    np.testing.assert_allclose(res.params.to_numpy()[:4], problem.certified, rtol=1e-9)


def test_relative_stop_poisson_counts_around_5e8():
    """Poisson with counts ~5e8 (|llf| ~ 5e12): the llf's rounding scale is ~1e-3, so an absolute
    'negligible decrement' of 1e-20 was never reached and the fit reported 'not converged' after
    100 iterations. Reference: statsmodels 0.15 Poisson(method='newton', tol=1e-14), live."""
    rng = np.random.default_rng(0)
    n = 500
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(size=n)])
    y = rng.poisson(np.exp(20 + 0.1 * X[:, 1] + 0.2 * X[:, 2])).astype(float)

    def loglike(p, d):
        eta = d["X"] @ p["b"]
        return d["y"] * eta - jnp.exp(eta)

    res = hs.fit(loglike, {"b": np.array([np.log(y.mean()), 0.0, 0.0])}, {"y": y, "X": X})
    ref = sm.Poisson(y, X).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    assert res.converged and res.iterations < 20
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=1e-11)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=1e-8)


def test_longley_normal_likelihood_by_hand_from_zero():
    """Longley (NIST StRD's ill-conditioned linear benchmark) as a hand-written normal likelihood,
    every coefficient started at 0 and log_sigma at 0: converges within the default limits to
    statsmodels 0.15 OLS (live); ML standard errors = OLS bse * sqrt((n - k) / n) (closed form)."""
    df = pd.read_csv(DATA / "longley.csv")
    y = df["TOTEMP"].to_numpy()
    X = np.column_stack([np.ones(len(df)), df.drop(columns=["TOTEMP"]).to_numpy()])

    def loglike(p, d):
        r = d["y"] - d["X"] @ p["b"]
        return -p["log_sigma"] - 0.5 * (r * jnp.exp(-p["log_sigma"])) ** 2

    res = hs.fit(loglike, {"b": np.zeros(7), "log_sigma": 0.0}, {"y": y, "X": X})
    ols = sm.OLS(y, X).fit()
    assert res.converged and res.iterations <= 100
    np.testing.assert_allclose(res.params.to_numpy()[:7], ols.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy()[:7], ols.bse * np.sqrt((len(y) - 7) / len(y)), rtol=1e-6)


def test_one_factorisation_per_accepted_point_and_none_after():
    """Every accepted point's information is factorised once; the covariance reuses the
    optimum's factorisation (Optimum.eigen), so a fit adds none after the optimiser. Reference:
    counting (no point is evaluated without being counted in Optimum.evaluations)."""
    def loglike(p, d):
        eta = d["X"] @ p["beta"]
        return d["y"] * eta - jnp.logaddexp(0.0, eta)

    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=300), np.ones(300)])
    data = {"X": X, "y": (X @ [1.0, -0.5] + rng.logistic(size=300) > 0).astype(float)}
    model = hs.Model(loglike, {"beta": np.zeros(2)}, data)
    before = linalg.FACTORISATIONS[0]
    opt = maximize(model, model.start)
    during = linalg.FACTORISATIONS[0] - before
    assert 1 <= during <= opt.evaluations
    before = linalg.FACTORISATIONS[0]
    res = model.fit()
    assert res.converged
    assert linalg.FACTORISATIONS[0] - before == during  # the same path; the covariance adds nothing


def test_a_degenerate_information_raises_no_numpy_runtime_warnings():
    """sigma -> 0 on constant data (closed form: no maximum, the information degenerates): the user
    sees the typed hessstats warning and a flagged result, not floods of numpy divide-by-zero warnings
    from the trust-region step."""
    import warnings

    import jax.numpy as jnp

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = hs.fit(lambda p, d: -0.5 * (d / p["s"]) ** 2 - jnp.log(p["s"]), {"s": 1.0}, np.zeros(10))
    kinds = {type(w.message) for w in caught}
    assert not res.converged
    assert RuntimeWarning not in kinds and any(issubclass(k, hs.errors.ConvergenceWarning) for k in kinds)


# ----------------------------------------------------------------------------- maxima that are not attained


def _logit(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


@pytest.mark.parametrize("case", ["complete", "quasi-complete"])
def test_separated_hand_written_logit_is_not_converged(case):
    """Reference: Albert & Anderson (1984): with (quasi-)complete separation the logit MLE does not
    exist, so no finite point is a maximum. The optimiser stops where gradient and curvature have
    died away (the certificate then holds numerically; the fit reported converged with SEs of 1e7
    before); now converged is False, with a ConvergenceWarning naming the diverging direction."""
    x = np.linspace(-2.0, 2.0, 40)
    y = (x > 0).astype(float)
    if case == "quasi-complete":
        x = np.concatenate([x, [0.0, 0.0]])
        y = np.concatenate([y, [0.0, 1.0]])
        x[np.abs(x) < 0.2] = 0.0  # rows at x = 0 with both outcomes: the slope alone diverges
    data = {"X": np.column_stack([np.ones_like(x), x]), "y": y}
    with pytest.warns(ConvergenceWarning, match="the maximum is not attained") as caught:
        res = hs.fit(_logit, {"beta": np.zeros(2)}, data, names={"beta": ["const", "x"]})
    assert not res.converged and "not attained" in res.convergence_message
    assert "x (" in str(caught[0].message)


def test_poisson_rate_of_an_all_zero_group_is_not_converged():
    """Reference: closed form: a group dummy whose outcomes are all 0 has log-likelihood increasing
    in -b without bound (exp(a + b) -> 0): the maximum is not attained."""
    g = np.repeat([0.0, 1.0], 10)
    y = np.where(g == 1, 0.0, np.arange(20) % 4 + 1.0)

    def poisson(p, d):
        eta = p["a"] + p["b"] * d["g"]
        return d["y"] * eta - jnp.exp(eta)

    with pytest.warns(ConvergenceWarning, match="not attained"):
        res = hs.fit(poisson, {"a": 0.0, "b": 0.0}, {"g": g, "y": y})
    assert not res.converged


def test_a_large_standard_error_of_a_genuine_maximum_is_not_flagged(recwarn):
    """Reference: closed form: a normal mean with known sigma = 1e4 on three points has
    se = 1e4 / sqrt(3) (far beyond 100 x |mu|, so the maximum is probed) and a quadratic
    log-likelihood that is exactly 8 lower 4 standard errors away: converged, no warning."""
    data = np.array([-1.0, 1.0, 0.5])
    res = hs.fit(lambda p, d: -0.5 * ((d - p["mu"]) / 1e4) ** 2, {"mu": 0.0}, data)
    assert res.converged
    np.testing.assert_allclose(res.bse["mu"], 1e4 / np.sqrt(3.0), rtol=1e-10)
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


def test_a_hand_written_random_effect_sd_running_to_zero_is_not_converged():
    """Reference: the data of the GLMM boundary test (seed 2, no group effect), where the ML estimate
    of the group SD is 0 (lme4: a singular fit). Written by hand with random=, the log-SD runs off
    towards -inf, where the log-likelihood has its supremum; far probes there are not finite (sd
    underflows), so the nearer probe decides: not converged, naming log_sd. hs.glmer reports the same
    boundary itself (BoundaryWarning) and stays converged (tests/models/test_glmm.py)."""
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(8), 6)
    y = rng.normal(size=48) + 1.0

    def joint(p, d):
        sd = jnp.exp(p["log_sd"])
        obs = -0.5 * (d["y"] - p["mu"] - p["u"][d["g"]]) ** 2 - 0.5 * jnp.log(2 * jnp.pi)
        prior = -0.5 * (p["u"] / sd) ** 2 - jnp.log(sd) - 0.5 * jnp.log(2 * jnp.pi)
        return obs.sum() + prior.sum()

    with pytest.warns(ConvergenceWarning, match="not attained") as caught:
        res = hs.fit(joint, {"mu": 0.0, "log_sd": 0.0, "u": np.zeros(8)}, {"y": y, "g": hs.index_array(g)},
                     random=["u"], nobs=48)
    assert not res.converged and "log_sd" in str(caught[0].message)
    np.testing.assert_allclose(res.params["mu"], y.mean(), rtol=1e-6)  # no group effect: the mean
