"""Logit and probit (issue 4): statsmodels parity, exact Hessians, and bad input.

References: statsmodels 0.15 ``Logit``/``Probit`` (analytic Hessians: 1e-8 relative); numdifftools
finite differences of the same log-likelihood for the AD Hessian; the closed-form expected
information of the logit (equal to the observed one for a canonical link).
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numdifftools as nd
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import hessstats as hs
import hessstats.models.binary as binary
from hessstats.errors import CollinearityError, DataError, PerfectSeparationError, SeparationWarning

FORMULA = "GRADE ~ GPA + TUCE + PSI"


@pytest.fixture(scope="module")
def spector() -> pd.DataFrame:
    return hs.datasets.load("spector")


@pytest.fixture(scope="module", params=["logit", "probit"])
def pair(request, spector):
    """(our fit, statsmodels fit) of the same binary model on spector."""
    ours = hs.from_formula(request.param, FORMULA, spector).fit()
    theirs = getattr(smf, request.param)(FORMULA, spector).fit(method="newton", tol=1e-14, disp=0)
    return ours, theirs


def test_matches_statsmodels(pair):
    """statsmodels Logit/Probit (analytic Hessian): params, SEs and llf to 1e-8 relative."""
    ours, theirs = pair
    np.testing.assert_allclose(ours.params[theirs.params.index], theirs.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse[theirs.bse.index], theirs.bse, rtol=1e-8)
    np.testing.assert_allclose(ours.llf, theirs.llf, rtol=1e-12)


def test_ad_hessian_matches_finite_differences(pair):
    """numdifftools central differences of the same summed log-likelihood (about 1e-6 accurate)."""
    ours, _ = pair
    f = lambda theta: float(np.sum(ours.model.loglike_obs(theta)))  # noqa: E731
    fd = nd.Hessian(f, step=1e-4)(ours.theta)
    np.testing.assert_allclose(ours.hessian_array, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


def test_logit_expected_information_equals_observed(spector):
    """Canonical link: Fisher information X'WX equals -H, so cov_type='expected' gives the same SEs."""
    model = hs.logit(FORMULA, spector)
    np.testing.assert_allclose(model.fit(cov_type="expected").bse, model.fit().bse, rtol=1e-10)


def test_outcome_outside_zero_one(spector):
    df = spector.assign(GRADE=spector["GRADE"] * 2)
    with pytest.raises(DataError, match=r"only 0 and 1"):
        hs.logit(FORMULA, df)


def test_complete_separation_names_variables():
    """x > 0 predicts y exactly: the MLE does not exist (Albert & Anderson 1984)."""
    df = pd.DataFrame({"y": [0, 0, 0, 1, 1, 1.0], "x": [-3, -2, -1, 1, 2, 3.0], "z": [1, 0, 1, 0, 1, 1.0]})
    with pytest.raises(PerfectSeparationError, match=r"predicted exactly by \['x'\]"):
        hs.logit("y ~ x + z", df)


def test_quasi_separation_warns_with_variables():
    """d = 1 implies y = 1 (quasi-complete separation): a warning naming d, and the fit diverges."""
    df = pd.DataFrame({"y": [0, 1, 0, 1, 0, 1, 1, 1.0], "x": [0.5, 0.1, 0.9, 0.4, 0.3, 0.2, 0.8, 0.7],
                       "d": [0, 0, 0, 0, 0, 1, 1, 1.0]})
    with pytest.warns(SeparationWarning, match=r"'d'.*predicts 3 of 8"):
        hs.probit("y ~ x + d", df)


def test_separation_check_can_be_disabled():
    df = pd.DataFrame({"y": [0, 0, 1, 1.0], "x": [1, 2, 3, 4.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = hs.logit("y ~ x", df, separation=False)
    assert model.names == ("Intercept", "x")


def test_collinear_columns_named(spector):
    df = spector.assign(GPA2=2 * spector["GPA"] - 1)
    with pytest.raises(CollinearityError, match=r"\['Intercept', 'GPA', 'GPA2'\]"):
        hs.logit("GRADE ~ GPA + GPA2 + PSI", df)


def test_missing_values_named_or_dropped(spector):
    df = spector.copy()
    df.loc[[1, 4], "TUCE"] = np.nan
    df.loc[7, "GRADE"] = np.nan
    with pytest.raises(DataError, match=r"'TUCE': 2.*'GRADE': 1|'GRADE': 1.*'TUCE': 2"):
        hs.logit(FORMULA, df)
    dropped = hs.logit(FORMULA, df, missing="drop")
    assert dropped.nobs == 29
    assert df["TUCE"].isna().sum() == 2  # the caller's data are untouched


def test_categorical_regressor_like_statsmodels(spector):
    """C(x) and string columns become treatment dummies: same fit as statsmodels' patsy formula."""
    df = spector.assign(band=np.where(spector["TUCE"] > 22, "high", "low"))
    ours = hs.logit("GRADE ~ GPA + C(band)", df).fit()
    theirs = smf.logit("GRADE ~ GPA + C(band)", df).fit(method="newton", tol=1e-14, disp=0)
    table = hs.compare(ours, theirs)  # patsy orders the terms differently: matched by name
    assert table["coef_rel_diff"].max() < 1e-8 and table["std_err_rel_diff"].max() < 1e-8
    assert hs.logit("GRADE ~ GPA + band", df).names == ("Intercept", "GPA", "band[T.low]")


# ---------------------------------------------------------------- separation screen on many rows (issue 17)

def _large_logit(n: int = 20_000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    y = (0.5 * x - 0.3 * z + rng.logistic(size=n) > 0).astype(float)
    return pd.DataFrame({"y": y, "x": x, "z": z})


def test_screen_certifies_overlap_on_a_subsample():
    """Overlapping data (Albert & Anderson 1984: the MLE exists): the subsample certificate holds, and
    it agrees with the linear programme of Konis (2007) on all rows (optimum 0: no separating
    direction), so no warning either way."""
    from hessstats.models.binary import overlap_certified

    df = _large_logit()
    X = np.column_stack([np.ones(len(df)), df[["x", "z"]].to_numpy()])
    sign = 2.0 * df["y"].to_numpy() - 1.0
    scale = np.abs(X).max(axis=0)
    assert overlap_certified(X, scale, lambda r: sign[r][:, None] * X[r] / scale)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hs.logit("y ~ x + z", df)


def test_screen_falls_back_to_the_full_programme_on_separated_rows():
    """Complete separation in 20,000 rows (x > 0 iff y = 1): the screen cannot certify, and the full
    linear programme raises as on small data (closed form: any b = (0, c, 0), c > 0 separates; the
    sparsest direction the programme reports also uses the other columns' slack)."""
    df = _large_logit()
    df["y"] = (df["x"] > 0).astype(float)
    with pytest.raises(PerfectSeparationError, match=r"(?s)predicted exactly by \[.*'x'.*classifies all 20000"):
        hs.logit("y ~ x + z", df)


def test_screen_catches_a_rare_dummy_that_predicts_its_rows():
    """Quasi-separation hidden in 12 of 20,000 rows: a dummy d whose rows all have y = 1 (the
    direction b_d > 0 predicts exactly those 12 rows). A random subsample misses such rows; the
    screen adds the rows of sparse columns, so the certificate fails and the warning names d."""
    df = _large_logit()
    df["d"] = 0.0
    rows = df.index[df["y"] == 1][:12]
    df.loc[rows, "d"] = 1.0
    with pytest.warns(SeparationWarning, match=r"\['d'\] predicts 12 of 20000"):
        hs.logit("y ~ x + z + d", df)


def test_screen_collinear_design_still_named():
    """Collinear columns in 20,000 rows (w = 2x - 1): the Gram screen cannot certify the rank, the
    exact SVD names the dependence, as on small data."""
    df = _large_logit().assign(w=lambda d: 2 * d["x"] - 1)
    with pytest.raises(CollinearityError, match=r"\['Intercept', 'x', 'w'\]"):
        hs.logit("y ~ x + w", df)


def test_overlap_certificate_small_cases():
    """Stiemke's alternative by hand: rows +1 and -1 balance (lam = (1, 1)); rows 1 and 2 cannot
    (b = 1 has both >= 0), and a row equal to zero only through b (equality rows) is no obstacle."""
    from hessstats.models.binary import overlap_certificate

    assert overlap_certificate(np.array([[1.0], [-1.0]]))
    assert not overlap_certificate(np.array([[1.0], [2.0]]))
    assert overlap_certificate(np.array([[1.0], [2.0]]), equality=np.array([[1.0]]))


# ---------------------------------------------------------------- Newton certificate at small n (issue 17)

def _signed(y, X):
    return (2.0 * y - 1.0)[:, None] * (X / np.abs(X).max(axis=0))


def _lp_separated(signed):
    """The linear programme of check_separation (HiGHS): max sum(signed @ b), signed @ b >= 0, |b| <= 1."""
    import scipy.optimize

    from hessstats.models.binary import SEPARATION_TOL

    out = scipy.optimize.linprog(-signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(len(signed)),
                                 bounds=[(-1.0, 1.0)] * signed.shape[1], method="highs")
    return out.status == 0 and -out.fun > SEPARATION_TOL


def test_newton_certificate_never_contradicts_the_linear_programme():
    """Reference: the HiGHS linear programme of check_separation. On 300 random designs (n 8..200,
    k 2..5, effects from weak to nearly separating, dummies included) a certificate is never found
    where the programme finds separation, and it is found for nearly every design without."""
    from hessstats.models.binary import newton_overlap_certificate

    rng = np.random.default_rng(7)
    certified = not_separated = 0
    for t in range(300):
        n, k = int(rng.integers(8, 200)), int(rng.integers(2, 6))
        X = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1)) * rng.choice([1.0, 100.0], size=k - 1)])
        if t % 3 == 0:
            X[:, 1] = rng.integers(0, 2, n)
        eta = X @ rng.normal(size=k) * rng.choice([0.5, 2.0, 8.0, 30.0]) / np.abs(X).max(axis=0).mean()
        y = (eta + rng.logistic(size=n) > 0).astype(float)
        if y.min() == y.max():
            continue
        signed = _signed(y, X)
        found, separated = newton_overlap_certificate(signed), _lp_separated(signed)
        assert not (found and separated), (t, n, k)
        certified += found
        not_separated += not separated
    assert not_separated > 100 and certified >= 0.95 * not_separated


def test_certificate_residual_is_proved_with_rounding_included(monkeypatch):
    """Closed form, exact rational sums (fractions): rows +1/-1 with equal weights balance exactly. Small
    weights are proved balanced by the BLAS sum and its a-priori rounding bound, without math.fsum; weights
    of 1e5 on 1000 rows make that bound (about 4e-5) too coarse for SEPARATION_TOL, and the correctly
    rounded sums decide; a residual of 1 is never accepted by either."""
    calls = []
    fsum = binary.math.fsum
    monkeypatch.setattr(binary.math, "fsum", lambda terms: calls.append(1) or fsum(terms))
    signed = np.tile([[1.0, 0.5], [-1.0, -0.5]], (500, 1))
    for lam, balanced, exact in ((np.ones(1000), True, False), (np.full(1000, 1e5), True, True)):
        calls.clear()
        residual = sum(abs(sum(Fraction(a) * Fraction(b) for a, b in zip(signed[:, j], lam))) for j in range(2))
        assert residual == 0
        assert binary._balanced(signed, lam) is balanced
        assert bool(calls) is exact
        off = lam.copy()
        off[0] += 1.0
        assert not binary._balanced(signed, off)


def test_newton_certificate_refuses_separated_and_quasi_separated_rows():
    """Closed form: x > 0 iff y = 1 (complete separation) and a dummy d whose rows all have y = 1
    (quasi-separation) admit no positive weights balancing the rows: never certified; overlapping rows are."""
    from hessstats.models.binary import newton_overlap_certificate

    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    X = np.column_stack([np.ones(60), x])
    assert not newton_overlap_certificate(_signed((x > 0).astype(float), X))
    d = (np.arange(60) < 5).astype(float)
    y = np.where(d == 1, 1.0, (x + rng.logistic(size=60) > 0).astype(float))
    Xd = np.column_stack([X, d])
    assert _lp_separated(_signed(y, Xd)) and not newton_overlap_certificate(_signed(y, Xd))
    y_mixed = (x + rng.logistic(size=60) > 0).astype(float)
    assert not _lp_separated(_signed(y_mixed, X)) and newton_overlap_certificate(_signed(y_mixed, X))


def test_small_quasi_separation_still_warns_through_the_programme():
    """The certificate fails on quasi-separated rows, so the programmes run and warn as before (the
    dummy d predicts its 5 rows; 60 rows, below the subsample screen's size)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    d = (np.arange(60) < 5).astype(float)
    y = np.where(d == 1, 1.0, (x + rng.logistic(size=60) > 0).astype(float))
    df = pd.DataFrame({"y": y, "x": x, "d": d})
    with pytest.warns(SeparationWarning, match=r"'d'.*predicts 5 of 60"):
        hs.logit("y ~ x + d", df)
