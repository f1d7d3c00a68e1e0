"""Multinomial logit and ordered logit/probit (issue 4).

References: statsmodels 0.15 ``MNLogit`` (analytic Hessian: 1e-8); statsmodels ``OrderedModel``
stored in data/reference/ordered_*_anes96.json by scripts/make_reference.py (numerical Hessian:
1e-5); closed forms: a two-category MNLogit is the logit; ordered-probit tail probabilities from
scipy.stats.norm.logsf.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import statsmodels.formula.api as smf

import hessstats as hs
from hessstats.crosscheck.cases import ANES, CASES
from hessstats.crosscheck.validation import load_reference
from hessstats.errors import DataError, SpecificationError


@pytest.fixture(scope="module")
def anes() -> pd.DataFrame:
    return hs.datasets.load("anes96")


def test_mnlogit_matches_statsmodels(anes):
    ours = hs.mnlogit(ANES, anes).fit()
    theirs = smf.mnlogit(ANES, anes).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    table = hs.compare(ours, theirs)  # statsmodels' (k, J-1) params frame, matched by position and term
    assert table["coef_rel_diff"].max() < 1e-8 and table["std_err_rel_diff"].max() < 1e-8
    assert ours.names[:2] == ("1:Intercept", "1:logpopul") and ours.names[-1] == "6:income"
    assert ours.model.description["categories"] == ["0", "1", "2", "3", "4", "5", "6"]


def test_two_category_mnlogit_is_logit():
    df = hs.datasets.load("spector")
    mn = hs.mnlogit("GRADE ~ GPA + TUCE + PSI", df).fit()
    logit = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit()
    np.testing.assert_allclose(mn.params, logit.params, rtol=1e-10)
    np.testing.assert_allclose(mn.bse, logit.bse, rtol=1e-8)


@pytest.mark.parametrize("model", ["ordered_logit", "ordered_probit"])
def test_ordered_matches_statsmodels_reference(anes, model):
    """OrderedModel differentiates numerically, hence 1e-5 (estimates agree to ~5e-9)."""
    ref = load_reference(next(c for c in CASES if c.model == model))
    res = hs.from_formula(model, ANES, anes).fit()
    assert list(res.names) == ref["names"] and res.names[-1] == "5/6" and "Intercept" not in res.names
    np.testing.assert_allclose(res.params, [ref["params"][n] for n in res.names], rtol=1e-5)
    np.testing.assert_allclose(res.bse, [ref["bse"]["nonrobust"][n] for n in res.names], rtol=1e-5)
    np.testing.assert_allclose(res.llf, ref["llf"], rtol=1e-9)


def test_ordered_probit_extreme_tails_are_finite_and_exact():
    """Categories 10 standard deviations into the tails: log-probabilities from survival functions,
    no -inf, a finite Hessian (no inf cutpoints inside jnp.where)."""
    x = np.array([-12.0, -11.0, 0.0, 11.0, 12.0, 0.5])
    y = np.array([2, 2, 1, 0, 0, 1])
    model = hs.models.ordered_model(y, x[:, None], distr="probit", names=["x"])
    theta = np.array([1.0, -1.0, np.log(2.0)])  # beta = 1, cutpoints -1 and 1
    ll = model.loglike_obs(theta)
    cut = [-1.0, 1.0]
    expected = [scipy.stats.norm.logsf(cut[1] - x[0]), scipy.stats.norm.logsf(cut[1] - x[1]),
                np.log(scipy.stats.norm.cdf(1) - scipy.stats.norm.cdf(-1)),
                scipy.stats.norm.logcdf(cut[0] - x[3]), scipy.stats.norm.logcdf(cut[0] - x[4]),
                np.log(scipy.stats.norm.cdf(0.5) - scipy.stats.norm.cdf(-1.5))]
    np.testing.assert_allclose(ll, expected, rtol=1e-12)
    assert np.all(np.isfinite(model.evaluate(theta)[2]))


def test_ordered_rejects_constant_and_missing_categories(anes):
    with pytest.raises(SpecificationError, match="constant"):
        hs.models.ordered_model(anes["PID"], anes[["age"]].assign(const=1.0))
    with pytest.raises(DataError, match="too few categories"):
        hs.models.ordered_model(np.zeros(5), np.arange(5.0)[:, None])


def test_categorical_outcome_must_be_a_column(anes):
    with pytest.raises(SpecificationError, match="must be a column"):
        hs.mnlogit("np.log(PID + 1) ~ age", anes)
