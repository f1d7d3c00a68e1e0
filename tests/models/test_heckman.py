"""Heckman selection model by ML (issue 16).

References: the ``hessstats validate`` case heckman_psid1976 (Mroz's PSID 1975 data from R AER;
statsmodels ``GenericLikelihoodModel`` on an independent scipy.stats log-likelihood, numdifftools
Newton polish and Hessian: the finite-difference tier, since neither statsmodels nor the installed R
packages have Heckman ML; measured 3e-10 estimates, 5e-8 SEs); the closed-form factorisation at
rho = 0 (probit + normal regression: statsmodels ``Probit`` and ``OLS`` log-likelihoods) for the LR
test; delta-method identities for rho/sigma/lambda; numdifftools on a simulated sample for the Hessian.
"""

from __future__ import annotations

import numdifftools as nd
import numpy as np
import pandas as pd
import pytest
import scipy.stats
import statsmodels.api as sm

import hessstats as hs
from hessstats.crosscheck.cases import CASES, PSID_SELECTION
from hessstats.crosscheck.validation import run_case
from hessstats.errors import DataError
from hessstats.models.heckman import heckman_model

OUTCOME = "wage ~ education + experience + {experience**2} + city"


@pytest.fixture(scope="module")
def psid_fit():
    return hs.heckman(OUTCOME, hs.datasets.load("psid1976"), selection=PSID_SELECTION).fit()


def test_heckman_psid_matches_stored_reference():
    """The `hessstats validate` case (GenericLikelihoodModel + numdifftools; tier 1e-5)."""
    rows = run_case(next(c for c in CASES if c.key == "heckman_psid1976"))
    assert rows[0]["passed"] and rows[0]["max_rel_params"] < 1e-8 and rows[0]["max_rel_se"] < 1e-6


def test_heckman_transforms_and_lr_test_of_independence(psid_fit):
    """rho = tanh(athrho), sigma = exp(lnsigma), lambda = rho sigma with delta-method SEs (closed-form
    gradients, 1e-10); the LR test of rho = 0 against statsmodels Probit + OLS (the likelihood factorises
    at rho = 0; OLS's llf is the ML normal log-likelihood) to 1e-8."""
    t = psid_fit.transformed()
    a, ls = psid_fit.params["athrho"], psid_fit.params["lnsigma"]
    rho, sigma = np.tanh(a), np.exp(ls)
    np.testing.assert_allclose(t.loc[["rho", "sigma", "lambda"], "coef"], [rho, sigma, rho * sigma], rtol=1e-12)
    np.testing.assert_allclose(t.loc["rho", "std_err"], (1 - rho ** 2) * psid_fit.bse["athrho"], rtol=1e-10)
    np.testing.assert_allclose(t.loc["sigma", "std_err"], sigma * psid_fit.bse["lnsigma"], rtol=1e-10)
    cov = psid_fit.cov_params().loc[["athrho", "lnsigma"], ["athrho", "lnsigma"]].to_numpy()
    g = np.array([(1 - rho ** 2) * sigma, rho * sigma])
    np.testing.assert_allclose(t.loc["lambda", "std_err"], np.sqrt(g @ cov @ g), rtol=1e-10)
    df = hs.datasets.load("psid1976")
    from formulaic import model_matrix
    s, Z = model_matrix(PSID_SELECTION, df)
    probit = sm.Probit(s.iloc[:, 0].to_numpy(), np.asarray(Z)).fit(disp=0, method="newton", tol=1e-12)
    sel = df["participation"] == "yes"
    y, X = model_matrix(OUTCOME, df[sel])
    ols = sm.OLS(y.iloc[:, 0].to_numpy(), np.asarray(X)).fit()
    np.testing.assert_allclose(psid_fit.lr_test_null().statistic, 2 * (psid_fit.llf - probit.llf - ols.llf), rtol=1e-8)


def test_heckman_hessian_matches_finite_differences_and_recovers_rho():
    """Seeded simulation (rho = 0.6, sigma = 2): estimates within 3 SEs; the exact Hessian against
    numdifftools on an independent scipy.stats log-likelihood (1e-6)."""
    rng = np.random.default_rng(16)
    n = 2000
    x, w = rng.normal(size=n), rng.normal(size=n)
    u, e = rng.multivariate_normal([0, 0], [[1, 1.2], [1.2, 4]], size=n).T
    s = (0.2 + 0.5 * x + 1.0 * w + u > 0).astype(float)
    y = np.where(s > 0, 1.0 + 0.7 * x + e, 0.0)
    X, Z = np.column_stack([np.ones(n), x]), np.column_stack([np.ones(n), x, w])
    res = heckman_model(y, X, s, Z, names=["const", "x"], select_names=["const", "x", "w"]).fit()
    t = res.transformed()
    assert abs(t.loc["rho", "coef"] - 0.6) < 3 * t.loc["rho", "std_err"]
    assert abs(t.loc["sigma", "coef"] - 2.0) < 3 * t.loc["sigma", "std_err"]

    def loglike(p):
        zg, r, rho = Z @ p[2:5], (y - X @ p[:2]) / np.exp(p[6]), np.tanh(p[5])
        return np.sum(np.where(s > 0, scipy.stats.norm.logcdf((zg + rho * r) / np.sqrt(1 - rho ** 2))
                               + scipy.stats.norm.logpdf(r) - p[6], scipy.stats.norm.logcdf(-zg)))

    numeric = nd.Hessian(loglike)(res.params.to_numpy())
    np.testing.assert_allclose(res.hessian_array, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())
    np.testing.assert_allclose(res.llf, loglike(res.params.to_numpy()), rtol=1e-12)


def test_heckman_rejects_a_bad_selection_indicator():
    """Input checks: a non-0/1 selection indicator, and every row selected."""
    X = pd.DataFrame({"const": np.ones(5), "x": np.arange(5.0)})
    with pytest.raises(DataError, match="selection indicator"):
        heckman_model(np.ones(5), X, np.array([0, 1, 2, 1, 0]), X)
    with pytest.raises(DataError, match="too few selected or no unselected"):
        heckman_model(np.arange(5.0), X, np.ones(5), X)
