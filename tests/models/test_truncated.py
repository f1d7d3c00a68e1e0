"""Zero-truncated Poisson and NB2 (issue 16).

Reference: statsmodels 0.15 ``TruncatedLFPoisson`` and ``TruncatedLFNegativeBinomialP(p=2)``
(``truncation=0``) fitted live on the positive counts among the first 5,000 rows of randhie:
parameters to 1e-8 (statsmodels' own Newton step from our estimates, built from its score and
Hessian, is below 1e-8 relative: a refit there would not move; a full statsmodels refit of the NB2
takes 10 s) and llf to 1e-8. Its truncated models have no analytic Hessian
(``TruncatedLFGeneric.hessian`` is ``approx_hess``), so the SEs are checked twice: against the
Richardson-extrapolated Hessian of statsmodels' log-likelihood (numdifftools: 1e-8 for the NB2,
2e-7 for the Poisson's smallest SE) at 1e-6, and against ``approx_hess`` at its own tier, 1e-4: its step noise moved the NB2's SEs
by 8e-6 relative when our estimates moved by 1e-13 (a new start value), so 1e-5 sat on its noise.
"""

from __future__ import annotations

import numdifftools as nd
import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.truncated_model import TruncatedLFNegativeBinomialP, TruncatedLFPoisson

import hessstats as hs
from hessstats._config import x64
from hessstats.crosscheck.cases import RANDHIE
from hessstats.errors import DataError
from hessstats.formula import truncated_negbin, truncated_poisson

FD_TIER = 1e-4
"""statsmodels' approx_hess: its SEs move by up to 1e-5 relative with 1e-13 changes of the point."""
ND_TIER = 1e-6
"""numdifftools' Richardson Hessian of statsmodels' log-likelihood: 1e-8 (NB2) to 2e-7 (Poisson) here."""


@pytest.fixture(scope="module")
def positive() -> pd.DataFrame:
    df = hs.datasets.load("randhie").iloc[:5000]  # a subsample keeps the suite fast
    return df[df["mdvis"] > 0]


@pytest.mark.parametrize("ours_fn, sm_class, options", [
    (truncated_poisson, TruncatedLFPoisson, {}),
    (truncated_negbin, TruncatedLFNegativeBinomialP, {"p": 2}),
], ids=["poisson", "negbin"])
def test_truncated_randhie_matches_statsmodels(positive, ours_fn, sm_class, options):
    """statsmodels truncated counts: params and llf to 1e-8, SEs at its finite-difference tier."""
    ours = ours_fn(RANDHIE, positive).fit()
    model = sm_class.from_formula(RANDHIE, positive, **options)
    assert list(ours.params.index) == model.exog_names  # statsmodels appends "alpha" for NB2, as we do
    theta = ours.params.to_numpy()
    hessian = model.hessian(theta)  # statsmodels' finite-difference Hessian at our estimates
    newton_step = np.linalg.solve(hessian, model.score(theta))  # what statsmodels' Newton would still move
    np.testing.assert_array_less(np.abs(newton_step), 1e-8 * np.maximum(np.abs(theta), 1e-2))
    np.testing.assert_allclose(ours.llf, model.loglike(theta), rtol=1e-8)
    np.testing.assert_allclose(ours.bse, np.sqrt(np.diag(np.linalg.inv(-hessian))), rtol=FD_TIER)
    richardson = nd.Hessian(model.loglike)(theta)
    np.testing.assert_allclose(ours.bse, np.sqrt(np.diag(np.linalg.inv(-richardson))), rtol=ND_TIER)
    # the null model fixes the slopes (statsmodels llnull: intercept only, plus alpha for NB2)
    assert ours.lr_test_null().df == len(ours.params) - 1 - len(options)


def test_truncated_predict_is_conditional_mean(positive):
    """statsmodels ``predict(which="mean")`` of the truncated Poisson is E(y | y > 0) = mu / (1 - exp(-mu))."""
    ours = truncated_poisson("mdvis ~ lncoins + idp", positive).fit()
    model = TruncatedLFPoisson.from_formula("mdvis ~ lncoins + idp", positive)
    expected = model.predict(ours.params.to_numpy(), which="mean")
    data = {"X": np.asarray(model.exog)}
    with x64():
        got = np.asarray(ours.model.defaults.predict(ours.model.params_tree(ours.params.to_numpy()), data))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_truncated_rejects_zero_counts():
    """The data contract: zeros cannot occur in a zero-truncated sample."""
    df = hs.datasets.load("randhie").iloc[:200]
    with pytest.raises(DataError, match="positive counts"):
        truncated_poisson("mdvis ~ lncoins", df)
