"""NB1 negative binomial (issue 16).

Reference: statsmodels 0.15 ``NegativeBinomial(loglike_method="nb1")`` fitted live on the first 5,000 rows of randhie (its
NB1 Hessian, ``_hessian_nb1``, is analytic: parameters and SEs to 1e-8, llf to 1e-8); its
``llnull``/``llr`` for the null model and ``get_margeff()`` for the average marginal effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import hessstats as hs
from hessstats.crosscheck.cases import RANDHIE
from hessstats.errors import DataError
from hessstats.formula import nb1
from hessstats.models.nb1 import nb1_model


@pytest.fixture(scope="module")
def randhie() -> pd.DataFrame:
    return hs.datasets.load("randhie").iloc[:5000]  # a subsample keeps the suite fast


@pytest.fixture(scope="module")
def fits(randhie):
    ours = nb1(RANDHIE, randhie).fit()
    model = smf.negativebinomial(RANDHIE, randhie, loglike_method="nb1")
    start = np.r_[ours.params.to_numpy()[:-1] * 0.95, 0.8]  # near, not at, the optimum
    theirs = model.fit(start_params=start, method="newton", tol=1e-14, maxiter=100, disp=0)
    return ours, theirs


def test_nb1_randhie_matches_statsmodels(fits):
    """statsmodels NB1 (analytic Hessian): params, SEs and llf to 1e-8."""
    ours, theirs = fits
    assert list(ours.params.index) == list(theirs.params.index)
    np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse, theirs.bse, rtol=1e-8)
    np.testing.assert_allclose(ours.llf, theirs.llf, rtol=1e-8)


def test_nb1_null_model_and_margins_match_statsmodels(fits):
    """statsmodels ``llr`` (slopes fixed at 0, alpha free; its null fit stops at its own tolerance:
    1e-6) and ``get_margeff()`` (average dy/dx of exp(X beta): 1e-6 through the fitted params; SEs
    1e-5, as statsmodels differentiates the effects numerically for their delta method)."""
    ours, theirs = fits
    np.testing.assert_allclose(ours.lr_test_null().statistic, theirs.llr, rtol=1e-6)
    margins, sm_margins = ours.margins(dummy=False), theirs.get_margeff()  # statsmodels default: no discrete changes
    assert list(margins.index) == list(theirs.params.index[1:-1])
    np.testing.assert_allclose(margins["coef"], sm_margins.margeff, rtol=1e-6)
    np.testing.assert_allclose(margins["std_err"], sm_margins.margeff_se, rtol=1e-5)


def test_nb1_array_interface_rejects_negative_counts():
    """Closed-form check of the data contract: counts must be non-negative integers."""
    X = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    with pytest.raises(DataError, match="non-negative integer"):
        nb1_model(np.array([1.0, -1.0, 2.0, 0.0]), X)
