"""Poisson, NB2 and zero-inflated Poisson (issue 4).

References: statsmodels 0.15 ``Poisson`` and ``NegativeBinomial(loglike_method="nb2")`` (analytic
Hessians: 1e-8); Stata's published ``poisson accident yr_con op_75_79, exposure(service)
vce(cluster ship)`` on the MASS ships data (stored in statsmodels' test suite,
``discrete/tests/results/results_count_robust_cluster.py``; Stata stops Newton at its own
tolerance, so 1e-6); statsmodels ``ZeroInflatedPoisson`` estimates (1e-8) with SEs from
central differences of statsmodels' analytic score (1e-5: its analytic ZIP Hessian drops the
inflation/count cross block, shown below); numdifftools for our AD Hessians.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.tools.numdiff import approx_hess3

import hessstats as hs
from hessstats.crosscheck.cases import RANDHIE
from hessstats.errors import DataError, SeparationWarning

SHIPS = "accident ~ yr_con + op_75_79"
STATA_PARAMS = [-6.974712802772, 0.30633819450439, 0.35592229608495]  # _cons, yr_con, op_75_79
STATA_SE = [0.13252425018256, 0.05790831365493, 0.12151759298719]
STATA_SE_CLUSTER = [0.0968656626603, 0.03817694295902, 0.09213163536669]


@pytest.fixture(scope="module")
def randhie() -> pd.DataFrame:
    return hs.datasets.load("randhie")


@pytest.fixture(scope="module")
def ships() -> pd.DataFrame:
    return hs.datasets.load("ships")


@pytest.fixture(scope="module")
def nb2(randhie):
    return hs.negbin(RANDHIE, randhie).fit()


@pytest.fixture(scope="module")
def zip_fit(randhie):
    return hs.zip(RANDHIE, randhie).fit()


def test_poisson_randhie_matches_statsmodels(randhie):
    ours = hs.poisson(RANDHIE, randhie).fit(cov_type="HC0")
    model = smf.poisson(RANDHIE, randhie)
    theirs = model.fit(method="newton", tol=1e-14, disp=0, cov_type="HC0")
    np.testing.assert_allclose(ours.params[theirs.params.index], theirs.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse[theirs.bse.index], theirs.bse, rtol=1e-8)
    np.testing.assert_allclose(ours.llf, theirs.llf, rtol=1e-12)


def test_ships_exposure_matches_stata_and_statsmodels(ships):
    """Exposure enters as log(service); rows with missing service are dropped only on request."""
    with pytest.raises(DataError, match=r"'accident': 6.*'service': 6|'service': 6.*'accident': 6"):
        hs.poisson(SHIPS, ships, exposure="service")
    model = hs.poisson(SHIPS, ships, exposure="service", missing="drop")
    complete = ships.dropna()
    plain = model.fit()
    clustered = model.fit(cov_type="cluster", groups=pd.factorize(complete["ship"])[0])
    np.testing.assert_allclose(plain.params, STATA_PARAMS, rtol=1e-6)
    np.testing.assert_allclose(plain.bse, STATA_SE, rtol=1e-6)
    np.testing.assert_allclose(clustered.bse, STATA_SE_CLUSTER, rtol=1e-6)
    np.testing.assert_allclose(plain.llf, -91.28727940081573, rtol=1e-10)
    theirs = smf.poisson(SHIPS, complete, exposure=complete["service"]).fit(method="newton", tol=1e-14, disp=0)
    np.testing.assert_allclose(plain.params, theirs.params, rtol=1e-8)
    np.testing.assert_allclose(plain.bse, theirs.bse, rtol=1e-8)
    # an offset of log(service) is the same model
    same = hs.poisson(SHIPS, complete, offset=np.log(complete["service"].to_numpy())).fit()
    np.testing.assert_allclose(same.params, plain.params, rtol=1e-12)


def test_negbin_matches_statsmodels_nb2(nb2, randhie):
    model = smf.negativebinomial(RANDHIE, randhie, loglike_method="nb2")
    theirs = model.fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    np.testing.assert_allclose(nb2.params[theirs.params.index], theirs.params, rtol=1e-8)
    np.testing.assert_allclose(nb2.bse[theirs.bse.index], theirs.bse, rtol=1e-8)
    assert nb2.names[-1] == "alpha"


def test_zip_matches_statsmodels_reference(zip_fit):
    """Stored statsmodels reference (data/reference/zip_randhie.json, scripts/make_reference.py):
    ZeroInflatedPoisson estimates, covariance from central differences of statsmodels' score."""
    from hessstats.crosscheck.cases import CASES
    from hessstats.crosscheck.validation import load_reference

    ref = load_reference(next(c for c in CASES if c.key == "zip_randhie"))
    np.testing.assert_allclose(zip_fit.params, [ref["params"][n] for n in zip_fit.names], rtol=1e-8)
    np.testing.assert_allclose(zip_fit.bse, [ref["bse"]["nonrobust"][n] for n in zip_fit.names], rtol=1e-5)


def test_statsmodels_zip_analytic_hessian_drops_cross_block(randhie):
    """Why the ZIP reference uses statsmodels' numerical Hessian: statsmodels 0.15's analytic one
    has a zero inflation/count cross block, while its own finite differences (approx_hess3) and
    our exact Hessian agree on a non-zero block."""
    df = randhie.head(2000)
    y, X = df["mdvis"], df[["lncoins", "idp"]].assign(const=1.0)
    model = sm.ZeroInflatedPoisson(y, X, exog_infl=np.ones((len(y), 1)), inflation="logit")
    params = model.fit(method="newton", maxiter=100, disp=0).params.to_numpy()
    analytic, numeric = model.hessian(params), approx_hess3(params, model.loglike)
    assert np.all(analytic[0, 1:] == 0) and np.abs(numeric[0, 1:]).min() > 1.0
    ours = hs.models.zip_model(y, X).evaluate(np.r_[params[1:], params[0]])[2]
    np.testing.assert_allclose(ours[-1, :-1], numeric[0, 1:], rtol=1e-5)


@pytest.mark.parametrize("bad, match", [(-1, "non-negative integer"), (1.5, "non-negative integer")])
def test_counts_must_be_non_negative_integers(randhie, bad, match):
    df = randhie.head(50).astype({"mdvis": float})
    df.loc[3, "mdvis"] = bad
    for build in (hs.poisson, hs.negbin, hs.zip):
        with pytest.raises(DataError, match=match):
            build("mdvis ~ lncoins", df)


def test_exposure_must_be_positive(ships):
    df = ships.dropna().assign(service=lambda d: d["service"].where(d.index != 0, 0.0))
    with pytest.raises(DataError, match="exposure has invalid values"):
        hs.poisson(SHIPS, df, exposure="service")


def test_poisson_mle_nonexistence_warns_with_variable():
    """Group d = 1 has only zero counts: the MLE does not exist (Santos Silva & Tenreyro 2010,
    Economics Letters 107, 310-312); the coefficient of d diverges to -inf."""
    df = pd.DataFrame({"y": [1, 3, 0, 2, 1, 0, 0, 0.0], "x": [0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.6, 0.4],
                       "d": [0, 0, 0, 0, 0, 1, 1, 1.0]})
    for build in (hs.poisson, hs.negbin):
        with pytest.warns(SeparationWarning, match=r"\['d'\].*negative for 3 zero counts"):
            build("y ~ x + d", df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hs.poisson("y ~ x", df)  # without d the MLE exists: no warning


def test_existence_screen_on_many_rows():
    """Santos Silva & Tenreyro (2010) on 20,000 rows: with overlapping data the subsample certificate
    holds (no warning); a dummy whose 10 rows are all zero counts makes the MLE not exist, and the
    warning names it, as on small data (the zero counts of that group are fitted as mean -> 0)."""
    import warnings

    from hessstats.errors import SeparationWarning

    rng = np.random.default_rng(3)
    n = 20_000
    x = rng.normal(size=n)
    y = rng.poisson(np.exp(0.3 + 0.5 * x)).astype(float)
    df = pd.DataFrame({"y": y, "x": x})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hs.poisson("y ~ x", df)
    df["d"] = 0.0
    zeros = df.index[df["y"] == 0][:10]
    df.loc[zeros, "d"] = 1.0
    with pytest.warns(SeparationWarning, match=r"\['d'\]"):
        hs.poisson("y ~ x + d", df)


def test_newton_existence_certificate_never_contradicts_the_linear_programme():
    """Reference: the HiGHS linear programme of check_existence (Santos Silva & Tenreyro 2010). On 400
    random count designs (n 8..300, dummies whose rows are sometimes all zero counts) the Newton
    certificate (inequality rows: zero counts, equality rows: positive counts) is never found where
    the programme finds non-existence, and is found for nearly every design where the MLE exists."""
    import scipy.optimize

    from hessstats.models.binary import SEPARATION_TOL, newton_overlap_certificate

    rng = np.random.default_rng(2)
    certified = exists = 0
    for t in range(400):
        n, k = int(rng.integers(8, 300)), int(rng.integers(2, 6))
        X = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
        X[:, 1] = (rng.random(n) < 0.2).astype(float) if t % 2 == 0 else X[:, 1]
        y = rng.poisson(np.exp(np.clip(X @ rng.normal(size=k) - 1.0, -20, 5))).astype(float)
        if t % 4 == 0:
            y[X[:, 1] == 1] = 0.0  # a dummy whose rows are all zero counts
        zero = y == 0
        if not zero.any() or zero.all() or np.ptp(X[:, 1]) == 0:
            continue
        Xs = X / np.abs(X).max(axis=0)
        neg = -Xs[zero]
        out = scipy.optimize.linprog(-neg.sum(axis=0), A_ub=-neg, b_ub=np.zeros(len(neg)), A_eq=Xs[~zero],
                                     b_eq=np.zeros(int((~zero).sum())), bounds=[(-1.0, 1.0)] * k, method="highs")
        missing = out.status == 0 and -out.fun > SEPARATION_TOL
        found = newton_overlap_certificate(neg, Xs[~zero])
        assert not (found and missing), t
        certified += found
        exists += not missing
    assert exists > 100 and certified >= 0.95 * exists
