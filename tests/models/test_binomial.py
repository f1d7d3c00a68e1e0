"""Binomial regression with trials (issue 16).

Reference: statsmodels 0.15 GLM ``Binomial`` with the two-column endog ``[NABOVE, NBELOW]`` fitted
live on star98 (303 districts; the successes-out-of-trials example of statsmodels' GLM docs).
Fitted by Newton, its Hessian is analytic (observed information): parameters, SEs and llf to
1e-8 for logit, probit and cloglog; its default IRLS fit reports expected-information SEs,
which ``cov_type="expected"`` reproduces (1e-8); ``llnull`` to 1e-8.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.errors import DataError, SpecificationError
from hessstats.formula import binomial

FORMULA = ("NABOVE ~ LOWINC + PERASIAN + PERBLACK + PERHISP + PCTCHRT + PCTYRRND + PERMINTE + AVYRSEXP"
           " + PERMINTE_AVYRSEXP + AVSALK + PERSPENK + PTRATIO + PCTAF")
LINKS = {"logit": sm.families.links.Logit, "probit": sm.families.links.Probit, "cloglog": sm.families.links.CLogLog}


@pytest.fixture(scope="module")
def star98() -> pd.DataFrame:
    return hs.datasets.load("star98").eval("N = NABOVE + NBELOW")


@pytest.mark.parametrize("link", list(LINKS))
def test_binomial_star98_matches_statsmodels_glm(star98, link):
    """statsmodels GLM Binomial (two-column endog), Newton/observed and IRLS/expected: 1e-8."""
    ours = binomial(FORMULA, star98, trials="N", link=link).fit()
    exog = sm.add_constant(star98[list(ours.params.index[1:])])
    glm = sm.GLM(star98[["NABOVE", "NBELOW"]].to_numpy(), exog, family=sm.families.Binomial(LINKS[link]()))
    newton = glm.fit(start_params=ours.params.to_numpy() * 0.99, method="newton", tol=1e-14, maxiter=100)
    np.testing.assert_allclose(ours.params, newton.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse, newton.bse, rtol=1e-8)
    np.testing.assert_allclose(ours.llf, newton.llf, rtol=1e-8)
    irls = glm.fit(tol=1e-14)
    np.testing.assert_allclose(ours.with_cov("expected").bse, irls.bse, rtol=1e-8)
    if link == "logit":
        np.testing.assert_allclose(ours.lr_test_null().statistic, 2 * (newton.llf - newton.llnull), rtol=1e-8)


def test_binomial_with_one_trial_is_logit():
    """statsmodels Logit on spector: trials = 1 is the binary logit (params and SEs 1e-8)."""
    df = hs.datasets.load("spector")
    ours = binomial("GRADE ~ GPA + TUCE + PSI", df).fit()
    theirs = sm.Logit.from_formula("GRADE ~ GPA + TUCE + PSI", df).fit(method="newton", tol=1e-14, disp=0)
    np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse, theirs.bse, rtol=1e-8)


def test_binomial_rejects_more_successes_than_trials(star98):
    """The data contract: 0 <= successes <= trials, integers."""
    with pytest.raises(DataError, match="between 0 and the number of trials"):
        binomial("N ~ LOWINC", star98, trials="NABOVE")


def test_binomial_failures_option_is_cbind(star98):
    """R's ``cbind(successes, failures)``: failures=NBELOW gives statsmodels' two-column GLM (1e-8)."""
    ours = binomial("NABOVE ~ LOWINC + PERASIAN", star98, failures="NBELOW").fit()
    exog = sm.add_constant(star98[["LOWINC", "PERASIAN"]])
    theirs = sm.GLM(star98[["NABOVE", "NBELOW"]].to_numpy(), exog, family=sm.families.Binomial()).fit(tol=1e-14)
    np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse, theirs.bse, rtol=1e-8)
    with pytest.raises(SpecificationError, match="both trials and failures"):
        binomial("NABOVE ~ LOWINC", star98, trials="N", failures="NBELOW")
