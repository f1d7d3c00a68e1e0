"""Generalized Poisson, GP-1 (issue 16).

Reference: statsmodels 0.15 ``GeneralizedPoisson(p=1)`` fitted live on the first 5,000 rows of
randhie (its Hessian is analytic: parameters and SEs to 1e-8, llf to 1e-8), and its ``llr`` for
the null model (slopes fixed at 0; its null fit stops at its own tolerance: 1e-6).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.crosscheck.cases import RANDHIE
from hessstats.formula import genpoisson
from hessstats.models.genpoisson import genpoisson_model


@pytest.fixture(scope="module")
def randhie() -> pd.DataFrame:
    return hs.datasets.load("randhie").iloc[:5000]  # a subsample keeps the suite fast


@pytest.fixture(scope="module")
def fits(randhie):
    ours = genpoisson(RANDHIE, randhie).fit()
    model = sm.GeneralizedPoisson.from_formula(RANDHIE, randhie, p=1)
    start = np.r_[ours.params.to_numpy()[:-1] * 0.95, 0.5]  # near, not at, the optimum
    theirs = model.fit(start_params=start, method="newton", tol=1e-14, maxiter=100, disp=0)
    return ours, theirs


def test_genpoisson_randhie_matches_statsmodels(fits):
    """statsmodels GeneralizedPoisson(p=1), analytic Hessian: params, SEs and llf to 1e-8."""
    ours, theirs = fits
    assert list(ours.params.index) == list(theirs.params.index)
    np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse, theirs.bse, rtol=1e-8)
    np.testing.assert_allclose(ours.llf, theirs.llf, rtol=1e-8)


def test_genpoisson_null_model_matches_statsmodels(fits):
    """statsmodels ``llr`` = 2 (llf - llnull), null model with intercept and alpha only (1e-6)."""
    ours, theirs = fits
    out = ours.lr_test_null()
    assert out.df == len(ours.params) - 2
    np.testing.assert_allclose(out.statistic, theirs.llr, rtol=1e-6)


def test_genpoisson_alpha_zero_is_poisson():
    """Closed form: at alpha = 0 the GP-1 log-likelihood is the Poisson one (statsmodels Poisson.loglike)."""
    df = hs.datasets.load("randhie").iloc[:500]
    X = df[["lncoins", "idp"]].assign(const=1.0)
    beta = np.array([-0.1, -0.2, 0.9])
    model = genpoisson_model(df["mdvis"], X)
    ours = float(np.sum(model.loglike_obs(np.r_[beta, 0.0])))
    np.testing.assert_allclose(ours, sm.Poisson(df["mdvis"], X).loglike(beta), rtol=1e-12)
