"""Model comparison: ``ic_table`` and Vuong's non-nested test (issue 14, item 3).

References: R ``pscl::vuong`` (pscl 1.5.5) on ``bioChemists`` (``data/biochemists.csv``, exported by
``scripts/export_biochemists.R``): Poisson ``glm(art ~ .)`` vs ZIP ``zeroinfl(art ~ . | 1)``, published
raw z = -3.246221, AIC-corrected -3.138987, BIC-corrected -2.880611 (full precision from pscl's own
formula in R: -3.24622068489694, -3.13898683198464, -2.88061093477901); a closed-form numpy computation
of the statistic on simulated data; statsmodels 0.15 ``Logit``/``Probit`` ``llf``/``aic``/``bic`` live.
"""

from __future__ import annotations

import re
import warnings

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.stats
import statsmodels.formula.api as smf

import hessstats as hs
from hessstats.errors import ConvergenceWarning, DataError, SpecificationError
from hessstats.inference.selection import ic_table, outcome_fingerprint, vuong

PSCL_PUBLISHED = {"raw": -3.246221, "aic": -3.138987, "bic": -2.880611}
PSCL_FULL = {"raw": -3.24622068489694, "aic": -3.13898683198464, "bic": -2.88061093477901}
FORMULA = "art ~ fem + mar + kid5 + phd + ment"


def _logistic(p, d):
    """Log-density of the logistic distribution with location mu and scale 1."""
    u = d - p["mu"]
    return -u - 2.0 * jnp.log1p(jnp.exp(-u))


@pytest.fixture(scope="module")
def biochemists():
    df = hs.datasets.load("biochemists")
    return hs.poisson(FORMULA, df).fit(), hs.zip(FORMULA, df).fit()


def test_vuong_equals_pscl_biochemists(biochemists):
    """Poisson vs ZIP on bioChemists: pscl::vuong's published z (7 digits) and its full-precision values (1e-6)."""
    pois, zip_ = biochemists
    v = vuong(pois, zip_)
    assert v.index.tolist() == ["raw", "aic", "bic"]
    for name, z in PSCL_PUBLISHED.items():
        assert round(v.loc[name, "z"], 6) == pytest.approx(z, abs=1e-12)
        np.testing.assert_allclose(v.loc[name, "z"], PSCL_FULL[name], rtol=1e-6)
    # pscl prints p-values 0.00058474, 0.00084767, 0.00198453 (one-sided, "model2 > model1")
    np.testing.assert_allclose(v["p_value"], [0.00058474, 0.00084767, 0.00198453], rtol=1e-4)
    assert (v["favours"] == "model 2").all()
    swapped = vuong(zip_, pois)
    np.testing.assert_allclose(swapped["z"], -v["z"], rtol=1e-12)
    assert (swapped["favours"] == "model 1").all()


def test_vuong_closed_form_simulated():
    """Simulated normal data, N(mu, 1) (k=1) vs N(mu, sigma) (k=2): z from m_i = l1_i - l2_i in numpy."""
    rng = np.random.default_rng(14)
    y = rng.standard_t(5, size=400)
    m1 = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2 - 0.5 * jnp.log(2 * jnp.pi), {"mu": 0.0}, y)
    m2 = hs.fit(_logistic, {"mu": 0.0}, y)  # logistic(mu, 1), k=1
    m3 = hs.fit(lambda p, d: -0.5 * ((d - p["mu"]) / p["s"]) ** 2 - jnp.log(p["s"]) - 0.5 * jnp.log(2 * jnp.pi),
                {"mu": 0.0, "s": 1.0}, y)
    for a, b in ((m1, m2), (m2, m3)):
        l1 = np.asarray(a.model.loglike_obs(a.theta))
        l2 = np.asarray(b.model.loglike_obs(b.theta))
        m, n, dk = l1 - l2, len(y), a.k_params - b.k_params
        v = vuong(a, b)
        for name, c in (("raw", 0.0), ("aic", dk / n), ("bic", dk * np.log(n) / (2 * n))):
            z = (m - c).mean() / (m - c).std(ddof=1) * np.sqrt(n)
            np.testing.assert_allclose(v.loc[name, "z"], z, rtol=1e-12)
            p = scipy.stats.norm.sf(abs(z))
            np.testing.assert_allclose(v.loc[name, "p_value"], p, rtol=1e-10)


def test_vuong_refuses_different_data_and_scalar_loglike():
    """Typed errors: fits on different outcomes (DataError); a summed log-likelihood (SpecificationError)."""
    df = hs.datasets.load("biochemists")
    a = hs.poisson(FORMULA, df).fit()
    b = hs.poisson(FORMULA, df.iloc[:-1]).fit()
    with pytest.raises(DataError, match="not on the same data"):
        vuong(a, b)
    y = np.array([1.0, 2.0, 4.0])
    s1 = hs.fit(lambda p, d: jnp.sum(-0.5 * (d - p["mu"]) ** 2), {"mu": 0.0}, y, nobs=3)
    s2 = hs.fit(lambda p, d: jnp.sum(_logistic(p, d)), {"mu": 0.0}, y, nobs=3)
    with pytest.raises(SpecificationError, match="per-observation"):
        vuong(s1, s2)


def test_ic_table_equals_statsmodels():
    """llf, k, nobs, AIC, BIC of logit and probit on spector: statsmodels live (1e-8)."""
    df = hs.datasets.load("spector")
    ours = [hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit(), hs.probit("GRADE ~ GPA + PSI", df).fit()]
    refs = [smf.logit("GRADE ~ GPA + TUCE + PSI", df).fit(disp=0, tol=1e-12),
            smf.probit("GRADE ~ GPA + PSI", df).fit(disp=0, tol=1e-12)]
    t = ic_table(ours, labels=["logit", "probit"])
    assert t.columns.tolist() == ["llf", "k", "nobs", "aic", "bic"] and t.index.tolist() == ["logit", "probit"]
    for label, ref in zip(t.index, refs):
        np.testing.assert_allclose(t.loc[label, ["llf", "aic", "bic"]].astype(float), [ref.llf, ref.aic, ref.bic], rtol=1e-8)
        assert t.loc[label, "k"] == len(ref.params) and t.loc[label, "nobs"] == ref.nobs


def test_ic_table_refuses_different_data():
    """Same nobs but another outcome, or another sample: DataError (fingerprints of the outcome differ)."""
    df = hs.datasets.load("spector")
    flipped = df.assign(GRADE=1 - df["GRADE"])
    a, b = hs.logit("GRADE ~ GPA", df).fit(), hs.logit("GRADE ~ GPA", flipped).fit()
    assert outcome_fingerprint(a)[0] == outcome_fingerprint(b)[0] == 32
    with pytest.raises(DataError, match="not on the same data"):
        ic_table([a, b])
    with pytest.raises(DataError, match="nobs 32 vs 31"):
        ic_table([a, hs.logit("GRADE ~ GPA", df.iloc[1:]).fit()])
    with pytest.raises(SpecificationError, match="no results"):
        ic_table([])
    with pytest.raises(SpecificationError, match="labels"):
        ic_table([a, a], labels=["x", "x"])
    # custom log-likelihoods: the whole data is fingerprinted
    y = pd.Series([1.0, 2.0, 4.0]).to_numpy()
    c1 = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y)
    c2 = hs.fit(_logistic, {"mu": 0.0}, y)
    assert ic_table([c1, c2]).shape == (2, 5)
    with pytest.raises(DataError):
        ic_table([c1, hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y + 1)])


def test_selection_statistics_of_a_fit_that_did_not_converge_warn():
    """Reference: the fits' own converged flags: an information-criteria table or Vuong test with a
    fit stopped at its start values (maxiter=0) warns, naming that fit; converged fits are silent."""
    df = hs.datasets.load("spector")
    with pytest.warns(ConvergenceWarning):
        stopped = hs.logit("GRADE ~ GPA", df).fit(maxiter=0)
    good = hs.probit("GRADE ~ GPA", df).fit()
    with pytest.warns(ConvergenceWarning, match=re.escape("model selection statistics (model 1)")):
        hs.ic_table([stopped, good])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        hs.ic_table([hs.logit("GRADE ~ GPA", df).fit(), good])
