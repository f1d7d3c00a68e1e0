"""Zero-inflated Poisson / NB2 with a choice of inflation link (issue 16; additions to models/count.py).

Reference: statsmodels 0.15 ``ZeroInflatedPoisson`` / ``ZeroInflatedNegativeBinomialP(p=2)`` with
``inflation="probit"``/``"logit"`` on the bundled biochemists data (pscl's bioChemists): its
``loglike`` evaluated at our estimate (1e-10), its numdifftools gradient there (zero: our estimate
maximises its likelihood) and the numdifftools Hessian of its ``loglike`` in standard-error units
(the finite-difference tier 1e-5; measured ~1e-9). Its own Newton fit is not used: its analytic
score is inaccurate with the probit inflation, see ``hessstats.crosscheck.cases``.
"""

from __future__ import annotations

import warnings

import numdifftools as nd
import numpy as np
import pytest
import statsmodels.api as sm
from formulaic import model_matrix

import hessstats as hs
from hessstats.crosscheck.cases import CASES
from hessstats.crosscheck.validation import run_case

FORMULA = "art ~ C(fem) + C(mar) + kid5 + phd + ment"
INFLATION = "~ kid5 + ment"


@pytest.fixture(scope="module")
def biochemists():
    return hs.datasets.load("biochemists")


@pytest.mark.parametrize(("name", "link"), [("zip", "probit"), ("zinb", "probit")])
def test_inflation_link_matches_statsmodels_loglike(biochemists, name, link):
    """statsmodels' log-likelihood at our estimate (1e-10), its numerical gradient ~0, and SEs from its
    numdifftools Hessian (SE units) to 1e-6."""
    ours = getattr(hs, name)(FORMULA, biochemists, inflation=INFLATION, inflation_link=link).fit()
    mm = model_matrix(FORMULA, biochemists)
    y, X = mm.lhs.iloc[:, 0].to_numpy(float), np.asarray(mm.rhs, float)
    Z = np.asarray(model_matrix(INFLATION, biochemists), float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = (sm.ZeroInflatedPoisson(y, X, exog_infl=Z, inflation=link) if name == "zip"
                 else sm.ZeroInflatedNegativeBinomialP(y, X, exog_infl=Z, inflation=link, p=2))
    kx, kz = X.shape[1], Z.shape[1]
    theta = ours.params.to_numpy()
    sm_theta = np.r_[theta[kx:kx + kz], theta[:kx], theta[kx + kz:]]  # statsmodels: inflation, count, alpha
    np.testing.assert_allclose(model.loglike(sm_theta), ours.llf, rtol=1e-10)
    size = np.r_[ours.bse.to_numpy()[kx:kx + kz], ours.bse.to_numpy()[:kx], ours.bse.to_numpy()[kx + kz:]]
    f = lambda z: model.loglike(sm_theta + z * size)  # noqa: E731
    assert np.max(np.abs(nd.Gradient(f)(np.zeros(len(theta))))) < 1e-5
    hess = nd.Hessian(f)(np.zeros(len(theta))) / np.outer(size, size)
    se = np.sqrt(np.diag(np.linalg.inv(-hess)))
    np.testing.assert_allclose(np.r_[se[kz:kz + kx], se[:kz], se[kz + kx:]], ours.bse, rtol=1e-6)


def test_zip_probit_validation_case_passes():
    """The `hessstats validate` case zip_biochemists (probit inflation) against its stored reference
    (the live reference maximises statsmodels' loglike with numerical gradients: a minute, left to
    `hessstats validate`)."""
    case = next(c for c in CASES if c.key == "zip_biochemists")
    rows = run_case(case, live=False)
    assert [r["reference"] for r in rows] == ["stored"]
    assert all(r["passed"] for r in rows)


def test_logit_inflation_is_the_default(biochemists):
    """Closed form: with no regressors the ZIP constant-only inflation probability is the same under
    logit and probit links (expit(g_logit) = Phi(g_probit)); the default stays logit."""
    logit = hs.zip("art ~ 1", biochemists)
    probit = hs.zip("art ~ 1", biochemists, inflation_link="probit")
    assert "inflation_link" not in logit.description and probit.description["inflation_link"] == "probit"
    a, b = logit.fit(), probit.fit()
    from scipy import special, stats
    np.testing.assert_allclose(special.expit(a.params["inflate_Intercept"]),
                               stats.norm.cdf(b.params["inflate_Intercept"]), rtol=1e-8)
    np.testing.assert_allclose(a.llf, b.llf, rtol=1e-12)
