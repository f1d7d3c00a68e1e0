"""Bivariate probit (issue 16).

References: the bivariate normal CDF against Owen's (1956) T-function formula (scipy ``owens_t``),
scipy ``multivariate_normal.cdf`` and the closed form ``1/4 + asin(r)/(2 pi)`` at the origin; its
derivatives against central differences; the fit against the stored ``hessstats validate`` reference
(statsmodels ``GenericLikelihoodModel`` on the Owen-formula likelihood with numdifftools Hessian,
fair data), two independent probits (statsmodels ``Probit``) for the LR test of rho = 0, and a
seeded simulation recovering rho.
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest
import scipy.special
import scipy.stats
import statsmodels.api as sm

import hessstats as hs
from hessstats.crosscheck.cases import CASES
from hessstats.crosscheck.validation import run_case
from hessstats.models.biprobit import bivariate_normal_cdf


def _owen(h, k, r):
    s = np.sqrt(1 - r * r)
    beta = np.where(h * k > 0, 0.0, 0.5)
    return (0.5 * (scipy.stats.norm.cdf(h) + scipy.stats.norm.cdf(k)) - scipy.special.owens_t(h, (k - r * h) / (h * s))
            - scipy.special.owens_t(k, (h - r * k) / (k * s)) - beta)


def test_bivariate_normal_cdf_matches_owen_and_scipy():
    """Genz's algorithm vs Owen's T formula (both ~1e-16): 4e-15 absolute over 5000 points, both branches
    (|r| < 0.925 and up to 0.99999); scipy's multivariate_normal.cdf (its default abseps 1e-5) to 1e-6;
    the closed form at h = k = 0."""
    rng = np.random.default_rng(0)
    h, k = rng.normal(0, 2.5, 5000), rng.normal(0, 2.5, 5000)
    r = np.r_[rng.uniform(-0.999, 0.999, 4000), rng.choice([-1, 1], 1000) * rng.uniform(0.9, 0.99999, 1000)]
    with jax.enable_x64(True):
        ours = np.asarray(bivariate_normal_cdf(h, k, r))
        origin = np.asarray(bivariate_normal_cdf(np.zeros(3), np.zeros(3), np.array([-0.95, 0.3, 0.99])))
    np.testing.assert_allclose(ours, _owen(h, k, r), rtol=0, atol=4e-15)
    for i in range(5):
        mvn = scipy.stats.multivariate_normal(mean=[0, 0], cov=[[1, r[i]], [r[i], 1]]).cdf([h[i], k[i]])
        np.testing.assert_allclose(ours[i], mvn, atol=1e-6)
    np.testing.assert_allclose(origin, 0.25 + np.arcsin([-0.95, 0.3, 0.99]) / (2 * np.pi), rtol=1e-14)


def test_bivariate_normal_cdf_derivatives_match_finite_differences():
    """Gradient vs central differences of the value (2e-9 absolute at step 1e-5); Hessian vs central
    differences of the exact gradient (1e-7 relative): the closed-form custom_jvp is differentiated again."""
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        f = lambda x: bivariate_normal_cdf(x[0], x[1], x[2])  # noqa: E731
        grad, hess = jax.jit(jax.grad(f)), jax.jit(jax.hessian(f))
        for _ in range(40):
            x = np.array([rng.normal(0, 2), rng.normal(0, 2), rng.uniform(-0.99, 0.99)])
            eps = 1e-5
            numeric = np.array([(float(f(x + eps * e)) - float(f(x - eps * e))) / (2 * eps) for e in np.eye(3)])
            np.testing.assert_allclose(np.asarray(grad(x)), numeric, atol=5e-9)
            numeric_h = np.array([(np.asarray(grad(x + eps * e)) - np.asarray(grad(x - eps * e))) / (2 * eps)
                                  for e in np.eye(3)])
            np.testing.assert_allclose(np.asarray(hess(x)), numeric_h, rtol=1e-6, atol=1e-7 * np.abs(numeric_h).max())


def test_biprobit_fair_matches_stored_reference():
    """The `hessstats validate` case biprobit_fair (GenericLikelihoodModel on Owen's formula, numdifftools
    Hessian; tier 1e-5, measured 3.5e-10)."""
    rows = run_case(next(c for c in CASES if c.key == "biprobit_fair"))
    assert rows[0]["passed"] and rows[0]["max_rel_se"] < 1e-8


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(16)
    n = 1500
    x, z = rng.normal(size=n), rng.normal(size=n)
    e = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=n)
    return pd.DataFrame({"x": x, "z": z, "y1": (0.3 + 0.8 * x + e[:, 0] > 0).astype(float),
                         "y2": (-0.2 + 0.5 * x - 0.7 * z + e[:, 1] > 0).astype(float)})


def test_biprobit_recovers_rho_and_lr_test_of_independence(simulated):
    """Seeded simulation (rho = 0.5): within 3 SEs; rho's delta-method SE is (1 - rho^2) se(athrho); the
    LR test of rho = 0 equals 2 (llf - llf(Probit y1) - llf(Probit y2)) with statsmodels Probit (1e-8)."""
    res = hs.biprobit("y1 ~ x", simulated, second="y2 ~ x + z").fit()
    assert res.names == ("y1_Intercept", "y1_x", "y2_Intercept", "y2_x", "y2_z", "athrho")
    rho = res.transformed().loc["rho"]
    assert abs(rho["coef"] - 0.5) < 3 * rho["std_err"]
    np.testing.assert_allclose(rho["std_err"], (1 - rho["coef"] ** 2) * res.bse["athrho"], rtol=1e-10)
    p1 = sm.Probit(simulated["y1"], sm.add_constant(simulated[["x"]])).fit(disp=0, method="newton", tol=1e-12)
    p2 = sm.Probit(simulated["y2"], sm.add_constant(simulated[["x", "z"]])).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(res.lr_test_null().statistic, 2 * (res.llf - p1.llf - p2.llf), rtol=1e-8)
