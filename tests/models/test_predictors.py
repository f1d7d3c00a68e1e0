"""What the built-in formula models predict and report on the natural scale (issue 13).

References: R 4.2.2 ``survival::survreg`` (Weibull; left-censored Gaussian = Tobit) and
``MASS::polr`` (ordered logit), frozen in ``data/reference/natural_scale.csv`` by
``data/reference/natural_scale.R``. survreg's Hessian is analytic (1e-6 here, its convergence);
polr's comes from optim's finite differences (SEs to 2e-4). The ordered cut points' SEs are also
checked exactly by invariance: refitting the likelihood parametrised by the cut points themselves
gives the same standard errors (the delta method is exact for a reparametrisation at the MLE).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats.inference.prediction import Which
from hessstats.models.predictors import natural_scale, quantities

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference" / "natural_scale.csv"


@pytest.fixture(scope="module")
def r_reference() -> pd.DataFrame:
    return pd.read_csv(REFERENCE, comment="#").set_index(["model", "term"])


def test_weibull_scale_matches_survreg(r_reference):
    res = hs.weibull("survival ~ age", hs.datasets.load("heart"), event="censors").fit()
    ref = r_reference.loc["weibull"]
    table = res.transformed()
    np.testing.assert_allclose(table.loc["log_scale", ["coef", "std_err"]], ref.loc["Log(scale)"], rtol=1e-6)
    np.testing.assert_allclose(res.params[["Intercept", "age"]], ref.loc[["(Intercept)", "age"], "value"], rtol=1e-6)
    np.testing.assert_allclose(table.loc["scale", "coef"], 1 / res.params["shape"], rtol=1e-12)


def test_tobit_log_sigma_matches_survreg(r_reference):
    res = hs.tobit("affairs ~ rate_marriage + age", hs.datasets.load("fair"), left=0).fit()
    ref = r_reference.loc["tobit"]
    np.testing.assert_allclose(res.transformed().loc["log_sigma", ["coef", "std_err"]], ref.loc["Log(scale)"], rtol=1e-6)
    np.testing.assert_allclose(res.bse[["Intercept", "rate_marriage", "age"]],
                               ref.loc[["(Intercept)", "rate_marriage", "age"], "std_err"], rtol=1e-6)
    np.testing.assert_allclose(res.transformed().loc["sigma2", "coef"], res.params["sigma"] ** 2, rtol=1e-12)


def test_ordered_cut_points_match_polr_and_reparametrisation(r_reference):
    df = hs.datasets.load("anes96")
    res = hs.ordered_logit("PID ~ logpopul + age", df).fit()
    ref = r_reference.loc["ordered_logit"]
    cuts = res.transformed()
    assert list(cuts.index) == ["0|1", "1|2", "2|3", "3|4", "4|5", "5|6"]
    np.testing.assert_allclose(cuts["coef"], ref.loc[list(cuts.index), "value"], rtol=1e-6)
    np.testing.assert_allclose(cuts["std_err"], ref.loc[list(cuts.index), "std_err"], rtol=2e-4)
    # exact: the same likelihood written in the cut points, at the MLE
    X, y = df[["logpopul", "age"]].to_numpy(), df["PID"].to_numpy().astype(int)

    def loglike(p, d):
        upper = jax.nn.sigmoid(jnp.concatenate([p["cut"], jnp.array([40.0])])[d["y"]] - d["X"] @ p["beta"])
        lower = jax.nn.sigmoid(jnp.concatenate([jnp.array([-40.0]), p["cut"]])[d["y"]] - d["X"] @ p["beta"])
        return jnp.log(upper - lower)

    start = {"beta": res.params[["logpopul", "age"]].to_numpy(), "cut": cuts["coef"].to_numpy()}
    direct = hs.fit(loglike, start, {"X": X, "y": hs.index_array(y)}, maxiter=0)
    np.testing.assert_allclose(direct.bse.to_numpy()[2:], cuts["std_err"], rtol=1e-7)


def test_negbin_ln_alpha_and_quantity_tables():
    res = hs.negbin("mdvis ~ lncoins", hs.datasets.load("randhie")).fit()
    row = res.transformed().loc["ln_alpha"]
    np.testing.assert_allclose([row["coef"], row["std_err"]],
                               [np.log(res.params["alpha"]), res.bse["alpha"] / res.params["alpha"]], rtol=1e-10)
    assert natural_scale("logit", res.model) == {}
    table, default = quantities("zip", res.model, None)
    assert default is Which.MEAN and Which.PROB_ZERO in table
