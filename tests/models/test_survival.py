"""Weibull regression with right censoring (issue 4), on the Stanford heart-transplant data.

References: closed form for exponential regression with censoring (shape fixed at 1,
intercept only: ``exp(b) = sum(t) / sum(event)``, ``se(b) = 1 / sqrt(sum(event))``); scipy 1.17
``weibull_min.fit`` (uncensored) and ``weibull_min.fit(CensoredData(...))`` (right-censored) for the
intercept-only Weibull (scipy optimises to about 1e-6); the stored statsmodels
GenericLikelihoodModel reference for the regression (data/reference/weibull_heart.json, 1e-5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import hessstats as hs
from hessstats.crosscheck.cases import CASES
from hessstats.crosscheck.validation import load_reference
from hessstats.errors import DataError


@pytest.fixture(scope="module")
def heart() -> pd.DataFrame:
    return hs.datasets.load("heart")


def test_exponential_closed_form_with_censoring(heart):
    res = hs.weibull("survival ~ 1", heart, event="censors", shape=1.0).fit()
    t, d = heart["survival"].to_numpy(), heart["censors"].to_numpy()
    np.testing.assert_allclose(res.params["Intercept"], np.log(t.sum() / d.sum()), rtol=1e-12)
    np.testing.assert_allclose(res.bse["Intercept"], 1 / np.sqrt(d.sum()), rtol=1e-10)
    assert res.names == ("Intercept",)


def test_uncensored_weibull_matches_scipy(heart):
    res = hs.weibull("survival ~ 1", heart).fit()
    shape, _, scale = scipy.stats.weibull_min.fit(heart["survival"], floc=0)
    np.testing.assert_allclose(res.params["shape"], shape, rtol=1e-5)
    np.testing.assert_allclose(np.exp(res.params["Intercept"]), scale, rtol=1e-5)


def test_censored_weibull_matches_scipy_censored_fit(heart):
    res = hs.weibull("survival ~ 1", heart, event="censors").fit()
    t, d = heart["survival"].to_numpy(), heart["censors"].to_numpy()
    data = scipy.stats.CensoredData(uncensored=t[d == 1], right=t[d == 0])
    shape, _, scale = scipy.stats.weibull_min.fit(data, floc=0)
    np.testing.assert_allclose(res.params["shape"], shape, rtol=1e-5)
    np.testing.assert_allclose(np.exp(res.params["Intercept"]), scale, rtol=1e-5)


def test_weibull_regression_matches_reference(heart):
    case = next(c for c in CASES if c.model == "weibull")
    ref = load_reference(case)
    res = hs.weibull(case.formula, heart, **case.options).fit()
    np.testing.assert_allclose(res.params, [ref["params"][n] for n in res.names], rtol=1e-5)
    np.testing.assert_allclose(res.bse, [ref["bse"]["nonrobust"][n] for n in res.names], rtol=1e-5)


@pytest.mark.parametrize("column, value, match", [("censors", 2.0, "event has invalid"),
                                                  ("survival", 0.0, "positive durations")])
def test_bad_survival_data(heart, column, value, match):
    df = heart.copy()
    df.loc[0, column] = value
    with pytest.raises(DataError, match=match):
        hs.weibull("survival ~ age", df, event="censors")
