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
    ours = res.margins(predict, variables, kind=kind)
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
    ours = hs.margins(res, predict, ["GPA", "TUCE", "PSI"])
    np.testing.assert_allclose(ours["coef"], sm_me.margeff, rtol=RTOL)
    np.testing.assert_allclose(ours["std_err"], sm_me.margeff_se, rtol=RTOL)


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
