"""Marginal effects (issue 3) against statsmodels 0.15 ``get_margeff(at="overall"|"mean")``.

statsmodels computes dy/dx analytically and its delta-method Jacobian by complex-step
differentiation (``discrete_margins.margeff_cov_params``, ``approx_fprime_cs``), exact to rounding,
so the analytic-model tolerance 1e-8 applies to effects and standard errors.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.stats as jst
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from catalogue import logit_ll, poisson_ll, probit_ll

import hessstats as hs
from hessstats.errors import SpecificationError

RTOL = 1e-8


MODELS = {
    "logit": (logit_ll, lambda p, d: jax.nn.sigmoid(d["X"] @ p["beta"]), sm.Logit),
    "probit": (probit_ll, lambda p, d: jst.norm.cdf(d["X"] @ p["beta"]), sm.Probit),
    "poisson": (poisson_ll, lambda p, d: jnp.exp(d["X"] @ p["beta"]), sm.Poisson),
}


@pytest.mark.parametrize("name", ["logit", "probit", "poisson"])
@pytest.mark.parametrize("kind,at", [("average", "overall"), ("mean", "mean")])
def test_margins_match_statsmodels(name, kind, at, spector, randhie):
    loglike, predict, sm_class = MODELS[name]
    ds = randhie if name == "poisson" else spector
    X, y, names = ds["X"], ds["y"], ds["names"]
    res = hs.fit(loglike, {"beta": np.zeros(X.shape[1])}, {"X": X, "y": y}, names={"beta": names})
    sm_me = sm_class(y, X).fit(disp=0, tol=1e-12).get_margeff(at=at)
    variables = {n: ("X", i) for i, n in enumerate(names[:-1])}  # every column but the constant
    ours = res.margins(predict, variables, kind=kind, dummy=False)
    np.testing.assert_allclose(ours["coef"], sm_me.margeff, rtol=RTOL)
    np.testing.assert_allclose(ours["std_err"], sm_me.margeff_se, rtol=RTOL)
    assert list(ours.index) == names[:-1]


def test_one_dimensional_columns_and_top_level_function(spector):
    """Data as separate columns: the same effects as the design-matrix form."""
    X, y = spector["X"], spector["y"]
    cols = {n: X[:, i] for i, n in enumerate(spector["names"][:3])}

    def loglike(p, d):
        eta = p["a"] + p["gpa"] * d["GPA"] + p["tuce"] * d["TUCE"] + p["psi"] * d["PSI"]
        return d["y"] * eta - jnp.logaddexp(0.0, eta)

    def predict(p, d):
        return jax.nn.sigmoid(p["a"] + p["gpa"] * d["GPA"] + p["tuce"] * d["TUCE"] + p["psi"] * d["PSI"])

    res = hs.fit(loglike, {"a": 0.0, "gpa": 0.0, "tuce": 0.0, "psi": 0.0}, {**cols, "y": y})
    sm_me = sm.Logit(y, X).fit(disp=0, tol=1e-12).get_margeff()
    ours = hs.margins(res, predict, ["GPA", "TUCE", "PSI"], dummy=False)
    np.testing.assert_allclose(ours["coef"], sm_me.margeff, rtol=RTOL)
    np.testing.assert_allclose(ours["std_err"], sm_me.margeff_se, rtol=RTOL)
    # the default dummy=True: PSI (a 0/1 column) as a discrete change, statsmodels get_margeff(dummy=True)
    sm_dummy = sm.Logit(y, X).fit(disp=0, tol=1e-12).get_margeff(dummy=True)
    ours = hs.margins(res, predict, ["GPA", "TUCE", "PSI"])
    np.testing.assert_allclose(ours["coef"], sm_dummy.margeff, rtol=RTOL)
    np.testing.assert_allclose(ours["std_err"], sm_dummy.margeff_se, rtol=RTOL)


def test_margins_bad_input(spector):
    X, y = spector["X"], spector["y"]
    res = hs.fit(logit_ll, {"beta": np.zeros(4)}, {"X": X, "y": y})
    predict = MODELS["logit"][1]
    with pytest.raises(SpecificationError, match="kind"):
        res.margins(predict, {"GPA": ("X", 0)}, kind="median")
    with pytest.raises(SpecificationError, match="does not point"):
        res.margins(predict, {"GPA": ("X", 9)})
    with pytest.raises(SpecificationError, match="does not point"):
        res.margins(predict, ["Z"])
    with pytest.raises(SpecificationError, match="wrong shape"):
        res.margins(lambda p, d: jnp.sum(d["X"] @ p["beta"]), {"GPA": ("X", 0)})
    with pytest.raises(SpecificationError, match="prediction function"):
        res.margins(None, {"GPA": ("X", 0)})
    with pytest.raises(SpecificationError, match="variables"):
        res.margins(predict)


def test_margins_see_the_current_value_of_a_captured_array():
    """Stale-kernel class (issue 11): a prediction function capturing an array that changes between
    calls must give the new effects (closed form: d(scale * b * x)/dx = scale * b)."""
    import jax.numpy as jnp

    d = {"x": np.array([0.0, 1.0, 2.0, 3.0]), "y": np.array([0.1, 1.2, 1.9, 3.2])}
    res = hs.fit(lambda p, d: -0.5 * (d["y"] - p["b"] * d["x"]) ** 2, {"b": 0.0}, d)
    scale = np.array([1.0])

    def predict(p, d):
        return jnp.asarray(scale)[0] * p["b"] * d["x"]

    first = float(res.margins(predict, ["x"]).loc["x", "coef"])
    scale[0] = 2.5
    second = float(res.margins(predict, ["x"]).loc["x", "coef"])
    np.testing.assert_allclose([first, second], [res.params["b"], 2.5 * res.params["b"]], rtol=1e-12)


# ----------------------------------------------------------------------------- issue 13: Stata margins, factors

def _cpunish() -> pd.DataFrame:
    """statsmodels' cpunish data prepared as its test_margins.py does (log of VC100k96, every column
    divided by its rounded maximum, executions - 1) for the stored Stata results."""
    from statsmodels.datasets.cpunish import load_pandas

    data = load_pandas()
    exog = data.exog.copy()
    exog["VC100k96"] = np.log(exog["VC100k96"])
    exog = exog / np.round(exog.max(axis=0), 3)
    exog.columns = ["sincome", "sperpoverty", "sperblack", "LN_VC100k96", "south", "sdegree"]
    return exog.assign(sexecutions=np.asarray(data.endog) - 1)


def test_poisson_factor_margins_match_stata_cpunish():
    """Stata ``poisson sexecutions ... i.south ...`` then ``margins, dydx(*)``: statsmodels'
    stored results ``statsmodels/discrete/tests/results/results_count_margins.py``,
    ``results_poisson_margins_dummy.margins_table`` (rows sincome, ..., 1.south, sdegree; columns
    b, se). Stata stopped its Newton iterations early (statsmodels' own test uses 1e-5; here 3e-6)."""
    from statsmodels.discrete.tests.results.results_count_margins import results_poisson_margins_dummy as stata

    df = _cpunish()
    res = hs.poisson("sexecutions ~ sincome + sperpoverty + sperblack + LN_VC100k96 + C(south) + sdegree", df).fit()
    ours = res.margins()
    table = stata.margins_table
    rows = [0, 1, 2, 3, 5, 6]  # 0b.south is the (empty) base row
    assert list(ours.index) == ["sincome", "sperpoverty", "sperblack", "LN_VC100k96", "C(south)[T.1.0]", "sdegree"]
    np.testing.assert_allclose(ours["coef"], table[rows, 0], rtol=1e-5)  # statsmodels' own test: 1e-5
    np.testing.assert_allclose(ours["std_err"], table[rows, 1], rtol=1e-5)
    np.testing.assert_allclose(ours[["ci_lower", "ci_upper"]], table[rows, 4:6], rtol=1e-5)


@pytest.mark.parametrize("at,name", [("overall", "margeff_dydx_overall"), ("mean", "margeff_dydx_mean")])
def test_mnlogit_margins_match_stata_anes96(at, name):
    """Stata ``mlogit`` then ``margins, dydx(*) predict(outcome(#))`` (and ``atmeans``):
    statsmodels' ``statsmodels/discrete/tests/results/results_discrete.py``,
    ``Anes.mnlogit_basezero`` (``margeff_dydx_overall``/``_mean`` and ``_se``; Stata 11, checked
    against R nnet). One block per outcome, rows in the order of the formula."""
    from statsmodels.discrete.tests.results.results_discrete import Anes

    stata = Anes.mnlogit_basezero
    df = hs.datasets.load("anes96")
    res = hs.mnlogit("PID ~ logpopul + selfLR + age + educ + income", df).fit()
    ours = res.margins(at=at)
    assert ours.index.names == ["outcome", "variable"] and len(ours) == 35
    coef = ours["coef"].to_numpy().reshape(7, 5).T  # Stata's (variable, outcome)
    se = ours["std_err"].to_numpy().reshape(7, 5).T
    # Stata's mlogit stops early (effects differ by up to 2.5e-7): statsmodels checks these to 6 decimals
    np.testing.assert_allclose(coef, getattr(stata, name), rtol=0, atol=1e-6)
    np.testing.assert_allclose(se, getattr(stata, name + "_se"), rtol=0, atol=1e-6)
    # probabilities sum to one: the effects of each variable sum to zero over the outcomes
    np.testing.assert_allclose(coef.sum(axis=1), 0.0, atol=1e-12)


def test_mnlogit_dummy_margins_match_stata_anes96():
    """``margins, dydx(*)`` with ``i.vote``: ``Anes.mnlogit_basezero().margeff_dydx_dummy_overall``."""
    from statsmodels.discrete.tests.results.results_discrete import Anes

    stata = Anes.mnlogit_basezero
    df = hs.datasets.load("anes96")
    ours = hs.mnlogit("PID ~ logpopul + selfLR + age + educ + income + vote", df).fit().margins()
    coef = ours["coef"].to_numpy().reshape(7, 6).T
    se = ours["std_err"].to_numpy().reshape(7, 6).T
    np.testing.assert_allclose(coef, stata.margeff_dydx_dummy_overall, rtol=0, atol=1e-6)  # 6 decimals, as statsmodels
    np.testing.assert_allclose(se, stata.margeff_dydx_dummy_overall_se, rtol=0, atol=1e-6)


@pytest.mark.parametrize("at,suffix", [("overall", ""), ("mean", "mean")])
def test_logit_dummy_margins_match_stata_spector(at, suffix):
    """Stata ``logit grade gpa tuce i.psi`` + ``margins, dydx(*)`` (``atmeans``):
    ``results_discrete.py`` spector logit ``margeff_dummy_dydx`` / ``margeff_dummy_dydxmean`` (and _se)."""
    from statsmodels.discrete.tests.results.results_discrete import Spector

    stata = Spector.logit
    res = hs.logit("GRADE ~ GPA + TUCE + C(PSI)", hs.datasets.load("spector")).fit()
    ours = res.margins(at=at)
    np.testing.assert_allclose(ours["coef"], getattr(stata, f"margeff_dummy_dydx{suffix}"), rtol=1e-6)
    # the SEs are printed to 6 significant digits
    np.testing.assert_allclose(ours["std_err"], getattr(stata, f"margeff_dummy_dydx{suffix}_se"), rtol=5e-6)


def test_count_option_matches_statsmodels_live():
    """statsmodels ``get_margeff(dummy=True, count=True)`` (TUCE a count: (f(x+1) - f(x-1)) / 2)."""
    import statsmodels.formula.api as smf

    df = hs.datasets.load("spector")
    res = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit()
    sm_fit = smf.logit("GRADE ~ GPA + TUCE + PSI", df).fit(method="newton", tol=1e-14, disp=0)
    for at in ("overall", "mean"):
        ref = sm_fit.get_margeff(at=at, dummy=True, count=True)
        ours = res.margins(at=at, count=True)
        np.testing.assert_allclose(ours["coef"], ref.margeff, rtol=RTOL)
        np.testing.assert_allclose(ours["std_err"], ref.margeff_se, rtol=RTOL)
    np.testing.assert_allclose(res.margins().loc["PSI", "coef"], 0.35751515254729, rtol=1e-7)  # Stata; the 0.358


def test_factor_contrasts_predictive_margins_and_exposure_closed_form():
    """Closed forms on a Poisson fit with a three-level factor and an exposure column:
    discrete changes = differences of average predictions at each level (Stata ``margins grp``),
    pairwise contrasts = their pairwise differences, ``predict="mean"`` includes the exposure."""
    df = hs.datasets.load("randhie")
    df = df.assign(grp=pd.qcut(df["lpi"], 3, labels=["lo", "mid", "hi"]).astype(str), years=np.exp(df["lpi"] / 10))
    res = hs.poisson("mdvis ~ lncoins + C(grp) + idp", df, exposure="years").fit()
    levels = ["hi", "lo", "mid"]  # formulaic sorts the levels; 'hi' is the base
    pm = res.margins(predictive=True, at={"grp": levels}, predict="rate")
    p = res.params
    X = np.column_stack([np.ones(len(df)), df["lncoins"], np.zeros(len(df)), np.zeros(len(df)), df["idp"]])
    names = ["Intercept", "lncoins", "C(grp)[T.lo]", "C(grp)[T.mid]", "idp"]
    beta = p[names].to_numpy()
    means = []
    for j in range(len(levels)):
        Xl = X.copy()
        if j:
            Xl[:, 1 + j] = 1.0
        means.append(np.mean(np.exp(Xl @ beta)))
    np.testing.assert_allclose(pm["coef"], means, rtol=1e-12)
    me = res.margins(predict="rate")
    np.testing.assert_allclose(me.loc[["C(grp)[T.lo]", "C(grp)[T.mid]"], "coef"], [means[1] - means[0],
                                                                                     means[2] - means[0]], rtol=1e-10)
    pw = res.margins(predict="rate", contrast="pairwise", variables=["grp"])
    assert list(pw.index) == ["C(grp)[lo vs hi]", "C(grp)[mid vs hi]", "C(grp)[mid vs lo]"]
    np.testing.assert_allclose(pw["coef"], [means[1] - means[0], means[2] - means[0], means[2] - means[1]], rtol=1e-10)
    with_exposure = res.margins(predict="mean", variables=["lncoins"])
    mu = np.exp(np.column_stack([X[:, :2], (df["grp"] == "lo"), (df["grp"] == "mid"), X[:, 4]]) @ beta) * df["years"]
    np.testing.assert_allclose(with_exposure["coef"], [np.mean(mu) * p["lncoins"]], rtol=1e-9)


def test_ordered_margins_per_category_sum_to_zero_and_at_values():
    """Ordered logit: one block per category (probabilities sum to one, so effects sum to zero);
    ``at={"age": [30, 60]}`` gives one block per value (Stata ``at(age=(30 60))``)."""
    df = hs.datasets.load("anes96")
    res = hs.ordered_logit("PID ~ logpopul + age", df).fit()
    me = res.margins()
    assert me.index.names == ["outcome", "variable"] and len(me) == 14
    np.testing.assert_allclose(me["coef"].to_numpy().reshape(7, 2).sum(axis=0), 0.0, atol=1e-12)
    at = res.margins(at={"age": [30, 60]}, variables=["logpopul"])
    assert at.index.names == ["outcome", "at", "variable"] and len(at) == 14
    probs = res.predict(df.assign(age=30))
    np.testing.assert_allclose(res.margins(predictive=True, at={"age": 30})["coef"], probs.mean().to_numpy(), rtol=1e-12)
