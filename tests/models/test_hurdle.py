"""Hurdle Poisson and NB2 (issue 16).

References, on the first 2,000 rows of randhie (a subsample keeps the suite fast):

- statsmodels 0.15 ``HurdleCountModel`` (its default ``zerodist="poisson"`` is our ``link="cloglog"``)
  evaluated live at our estimates: parameters to 1e-8 (statsmodels' own Newton step from them,
  from its score and Hessian, is below 1e-8 relative: a refit would not move) and llf to 1e-8;
  SEs at statsmodels' finite-difference tier (3e-5): its hurdle Hessian is the block-diagonal of
  two ``approx_hess`` blocks (censored and truncated models), whose noise alone moves the NB2
  SEs by 1e-5 when the estimate moves by 1e-14 (measured: the fit on the index Hessian and on the
  generic one differ by that much and give statsmodels SEs 1.4e-5 and 4e-6 from ours);
- the logit hurdle (R pscl's default) separates into a logit of ``y > 0`` and a zero-truncated
  count model: statsmodels ``Logit`` (analytic Hessian) gives its zero part to 1e-8.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.discrete.truncated_model import HurdleCountModel

import hessstats as hs
from hessstats.crosscheck.cases import RANDHIE
from hessstats.errors import DataError
from hessstats.formula import hurdle_negbin, hurdle_poisson

FD_TIER = 3e-5


@pytest.fixture(scope="module")
def randhie() -> pd.DataFrame:
    return hs.datasets.load("randhie").iloc[:2000]


@pytest.mark.parametrize("ours_fn, options", [(hurdle_poisson, {}), (hurdle_negbin, {"dist": "negbin"})],
                         ids=["poisson", "negbin"])
def test_hurdle_cloglog_matches_statsmodels(randhie, ours_fn, options):
    """statsmodels HurdleCountModel (zerodist="poisson"): params/llf 1e-8, SEs at its FD tier."""
    ours = ours_fn(RANDHIE, randhie, link="cloglog").fit()
    model = HurdleCountModel.from_formula(RANDHIE, randhie, **options)
    theta = ours.params.to_numpy()
    k = len(model.exog_names)
    assert list(ours.params.index)[:k] == ["zm_" + n for n in model.exog_names]
    assert list(ours.params.index)[k:2 * k] == model.exog_names
    hessian = model.hessian(theta)
    score = np.r_[model.model1.score(theta[:k]), model.model2.score(theta[k:])]
    newton_step = np.linalg.solve(hessian, score)
    np.testing.assert_array_less(np.abs(newton_step), 1e-8 * np.maximum(np.abs(theta), 1e-2))
    np.testing.assert_allclose(ours.llf, model.loglike(theta), rtol=1e-8)
    np.testing.assert_allclose(ours.bse, np.sqrt(np.diag(np.linalg.inv(-hessian))), rtol=FD_TIER)


def test_hurdle_logit_zero_part_is_statsmodels_logit(randhie):
    """Logit hurdle: zero part equals statsmodels Logit of (mdvis > 0) (analytic: params and SEs 1e-8),
    and the null model fixes the slopes of both parts."""
    ours = hurdle_poisson(RANDHIE, randhie).fit()
    positive = randhie.assign(any_visit=(randhie["mdvis"] > 0).astype(float))
    logit = sm.Logit.from_formula(RANDHIE.replace("mdvis", "any_visit"), positive).fit(
        method="newton", tol=1e-14, disp=0)
    k = len(logit.params)
    np.testing.assert_allclose(ours.params.iloc[:k], logit.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse.iloc[:k], logit.bse, rtol=1e-8)
    assert ours.lr_test_null().df == 2 * (k - 1)


def test_hurdle_margins_use_unconditional_mean(randhie):
    """Closed form: the default average margin of lncoins is d/dh of the mean of p * mu / (1 - exp(-mu))
    with every lncoins shifted by h (central differences in numpy: 1e-6)."""
    formula = "mdvis ~ lncoins + idp"
    res = hurdle_poisson(formula, randhie).fit()
    z, b = res.params.iloc[:3].to_numpy(), res.params.iloc[3:].to_numpy()
    X = np.column_stack([np.ones(len(randhie)), randhie["lncoins"], randhie["idp"]])

    def mean(h):
        Xm = X.copy()
        Xm[:, 1] += h
        p, mu = 1 / (1 + np.exp(-Xm @ z)), np.exp(Xm @ b)
        return np.mean(p * mu / (1 - np.exp(-mu)))

    h = 1e-5
    expected = (mean(h) - mean(-h)) / (2 * h)
    np.testing.assert_allclose(res.margins().loc["lncoins", "coef"], expected, rtol=1e-6)


def test_hurdle_needs_zeros(randhie):
    """The data contract: with no zero counts the hurdle is not identified."""
    with pytest.raises(DataError, match="zero and positive"):
        hurdle_poisson("mdvis ~ lncoins", randhie[randhie["mdvis"] > 0])


def test_hurdle_checks_separation_of_the_zero_part():
    """Closed form: a dummy that is 1 only where y = 0 quasi-separates P(y > 0) (its zm_ coefficient -> -inf)."""
    from hessstats.errors import SeparationWarning
    from hessstats.models.hurdle import hurdle_poisson_model
    y = np.array([0, 0, 0, 1, 2, 0, 3, 1.0])
    X = np.column_stack([np.ones(8), [1, 1, 0, 0, 0, 0, 0, 0.0], [0.1, 0.4, 0.3, 0.9, 0.2, 0.5, 0.8, 0.6]])
    with pytest.warns(SeparationWarning, match="zm_d"):
        hurdle_poisson_model(y, X, names=["const", "d", "x"])
