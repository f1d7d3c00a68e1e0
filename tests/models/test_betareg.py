"""Beta regression with a precision sub-model (issue 16).

Reference: statsmodels 0.15 ``BetaModel`` (logit mean, log precision; its observed Hessian is
analytic) fitted live on star98's share of students above the national median,
``NABOVE / (NABOVE + NBELOW)`` (303 school districts, all strictly inside (0, 1)): parameters,
SEs and llf to 1e-8, and its ``llr`` for the null model (constant mean and precision: 1e-8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.othermod.betareg import BetaModel

import hessstats as hs
from hessstats.errors import DataError
from hessstats.formula import betareg

MEAN = "share ~ LOWINC + PERASIAN + PERBLACK + PERHISP + AVYRSEXP + AVSALK + PERSPENK + PTRATIO + PCTAF"


@pytest.fixture(scope="module")
def star98() -> pd.DataFrame:
    return hs.datasets.load("star98").eval("share = NABOVE / (NABOVE + NBELOW)")


@pytest.fixture(scope="module")
def constant_fit(star98):
    return betareg(MEAN, star98).fit()


@pytest.mark.parametrize("precision", [None, "~ LOWINC + PCTCHRT"], ids=["constant", "submodel"])
def test_betareg_star98_matches_statsmodels(star98, constant_fit, precision):
    """statsmodels BetaModel (analytic observed Hessian): params, SEs and llf to 1e-8 (and llr, the
    null model, for the constant precision: each new model shape costs seconds of XLA compilation)."""
    ours = constant_fit if precision is None else betareg(MEAN, star98, precision=precision).fit()
    model = BetaModel.from_formula(MEAN, star98, exog_precision_formula=precision)
    start = ours.params.to_numpy() * 0.98  # near, not at, the optimum
    theirs = model.fit(start_params=start, method="newton", tol=1e-14, maxiter=100, disp=0)
    expected_names = (["precision"] if precision is None
                      else ["precision-Intercept", "precision-LOWINC", "precision-PCTCHRT"])
    assert list(ours.params.index) == list(theirs.params.index[:10]) + expected_names
    np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse, theirs.bse, rtol=1e-8)
    np.testing.assert_allclose(ours.llf, theirs.llf, rtol=1e-8)
    if precision is None:
        np.testing.assert_allclose(ours.lr_test_null().statistic, theirs.llr, rtol=1e-8)


def test_betareg_margins_match_closed_form(star98, constant_fit):
    """Closed form: the average margin of x_j is mean(b_j mu (1 - mu)) for the logit mean."""
    b = constant_fit.params
    slopes = b.index[1:10]
    eta = b["Intercept"] + star98[list(slopes)].to_numpy() @ b[slopes].to_numpy()
    mu = 1 / (1 + np.exp(-eta))
    expected = b[slopes].to_numpy() * np.mean(mu * (1 - mu))
    margins = constant_fit.margins()
    assert list(margins.index) == list(slopes)
    np.testing.assert_allclose(margins["coef"], expected, rtol=1e-10)


def test_betareg_rejects_boundary_values(star98):
    """The data contract: 0 and 1 have zero beta density."""
    bad = star98.assign(share=star98["share"].where(star98.index != 0, 1.0))
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        betareg("share ~ LOWINC", bad)
