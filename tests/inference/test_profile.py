"""Profile-likelihood intervals and restricted fits (issue 3).

References: closed forms (iid normal mean: 2(l_hat - l_p(mu)) = n log(1 + (mu - ybar)^2 / s^2);
Poisson rates: the root equation 2(S log(S/(n lam)) - S + n lam) = chi2 solved independently with
scipy), and R's ``MASS::confint`` for ``glm(SF ~ sex + ldose, family = binomial)`` on the budworm
data of Venables & Ripley (2002, pp. 190-2): ldose 2.5% 0.8228708, 97.5% 1.3390581, as printed in
Clay Ford, "Profile likelihood ratio confidence intervals",
https://www.clayford.net/statistics/profile-likelihood-ratio-confidence-intervals/ . R interpolates
its profile with a spline, so agreement is to about 2e-5 relative (measured -2.0e-5 and -1.4e-5;
tolerance 5e-5).
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.optimize
import scipy.stats
from catalogue import logit_ll, normal_ll

import hessstats as hs
from hessstats.core import compilation as diff
from hessstats.errors import IdentificationWarning, SpecificationError

DATA = Path(__file__).resolve().parents[2] / "data"


def test_normal_mean_closed_form():
    y = np.random.default_rng(1).normal(1.0, 2.0, size=30)
    res = hs.fit(normal_ll, {"mu": 0.0, "log_sigma": 0.0}, y)
    for alpha in (0.05, 0.1):
        out = res.profile_ci(["mu"], alpha=alpha)
        crit = scipy.stats.chi2.ppf(1 - alpha, 1)
        half = np.sqrt(np.mean((y - y.mean()) ** 2)) * np.sqrt(np.exp(crit / len(y)) - 1)
        np.testing.assert_allclose(out.loc["mu", ["profile_lower", "profile_upper"]].to_numpy(float),
                                   [y.mean() - half, y.mean() + half], rtol=1e-9)
        assert out.loc["mu", "status"] == "ok"
    assert list(out.columns) == ["coef", "profile_lower", "profile_upper", "wald_lower", "wald_upper", "status"]
    np.testing.assert_allclose(out.loc["mu", "wald_lower"], res.conf_int(0.1).loc["mu", "ci_lower"])


def test_poisson_rates_root_equation():
    """Two independent Poisson samples with log rates: each profile is that sample's own likelihood."""
    rng = np.random.default_rng(2)
    y1, y2 = rng.poisson(3.0, size=25).astype(float), rng.poisson(0.7, size=40).astype(float)
    data = {"y1": y1, "y2": y2}

    def loglike(p, d):
        return (jnp.sum(d["y1"] * p["a"] - jnp.exp(p["a"])) + jnp.sum(d["y2"] * p["b"] - jnp.exp(p["b"]))) * jnp.ones(1)

    res = hs.fit(loglike, {"a": 0.0, "b": 0.0}, data)
    out = res.profile_ci()
    crit = scipy.stats.chi2.ppf(0.95, 1)
    for name, y in (("a", y1), ("b", y2)):
        S, n = y.sum(), len(y)
        dev = lambda lam: 2 * (S * np.log(S / (n * lam)) - S + n * lam) - crit  # noqa: E731
        lo = scipy.optimize.brentq(dev, 1e-6, S / n, xtol=1e-15)
        hi = scipy.optimize.brentq(dev, S / n, 100, xtol=1e-15)
        np.testing.assert_allclose(out.loc[name, ["profile_lower", "profile_upper"]].to_numpy(float),
                                   np.log([lo, hi]), rtol=1e-9)


def test_budworm_matches_r_confint():
    df = pd.read_csv(DATA / "budworm.csv")
    X = np.column_stack([np.ones(len(df)), (df["sex"] == "M").to_numpy(float), df["ldose"].to_numpy(float)])
    data = {"X": X, "dead": df["numdead"].to_numpy(float), "total": np.full(len(df), 20.0)}

    def binomial_ll(p, d):
        eta = d["X"] @ p["beta"]
        return d["dead"] * eta - d["total"] * jnp.logaddexp(0.0, eta)

    res = hs.fit(binomial_ll, {"beta": np.zeros(3)}, data, names={"beta": ["(Intercept)", "sexM", "ldose"]})
    out = res.profile_ci()
    np.testing.assert_allclose(out.loc["ldose", ["profile_lower", "profile_upper"]].to_numpy(float),
                               [0.8228708, 1.3390581], rtol=5e-5)
    assert (out["status"] == "ok").all()


def test_profiling_compiles_once(spector, monkeypatch):
    """All parameters and grid points share one compiled kernel (the value is fixed via data).
    Kernels compile at once here: with numpy evaluations first, the switch to the compiled kernel
    (one more trace) comes when numpy has cost one compile, which depends on the compile times
    other tests in the same process measured."""
    monkeypatch.setattr(diff, "INTERPRET", False)
    res = hs.fit(logit_ll, {"beta": np.zeros(4)}, {"X": spector["X"], "y": spector["y"]})
    before = diff.trace_count()
    res.profile_ci(["beta[0]"])
    after_first = diff.trace_count()
    res.profile_ci()
    assert diff.trace_count() == after_first
    assert after_first - before <= 3  # value_grad_hess (+ loglike_obs/scores at most) for the wrapper


def test_open_and_unidentified_status(spector):
    res = hs.fit(logit_ll, {"beta": np.zeros(4)}, {"X": spector["X"], "y": spector["y"]})
    short = res.profile_ci(["beta[0]"], max_steps=0.5)  # search stops before the 95% ends
    assert short.loc["beta[0]", "status"] == "open"
    assert np.isnan(short.loc["beta[0]", ["profile_lower", "profile_upper"]].to_numpy(float)).all()
    X = np.column_stack([spector["X"][:, 0], spector["X"]])
    with pytest.warns(IdentificationWarning):
        bad = hs.fit(logit_ll, {"beta": np.zeros(5)}, {"X": X, "y": spector["y"]})
    out = bad.profile_ci(["beta[0]", "beta[2]"])
    assert out.loc["beta[0]", "status"] == "not identified"
    assert out.loc["beta[2]", "status"] == "ok"
    with pytest.raises(SpecificationError, match="unknown parameter"):
        res.profile_ci(["nope"])


def test_restricted_fit_errors(spector):
    y = np.array([1.0, 2.0, 4.0, 5.0])
    res = hs.fit(normal_ll, {"mu": 0.0, "log_sigma": 0.0}, y)
    with pytest.raises(SpecificationError, match="cannot fix"):
        res.fit_restricted({"sigma": 1.0})
    with pytest.raises(SpecificationError, match="cannot fix"):
        res.fit_restricted({"mu": 1.0, "log_sigma": 0.0})
    fixed = res.fit_restricted({"mu": 3.0})  # closed form: log_sigma = log sqrt(mean (y - 3)^2)
    np.testing.assert_allclose(fixed.params["log_sigma"], np.log(np.sqrt(np.mean((y - 3.0) ** 2))), rtol=1e-10)


def test_progress_bar_when_asked(capsys):
    y = np.array([0.5, 1.5, 2.0, 4.0, 3.0])
    res = hs.fit(normal_ll, {"mu": 0.0, "log_sigma": 0.0}, y)
    quiet = res.profile_ci()
    assert capsys.readouterr().err == ""  # not a terminal: no bar by default
    loud = res.profile_ci(progress=True)
    assert "profiling" in capsys.readouterr().err
    pd.testing.assert_frame_equal(quiet, loud)
