"""Firth's penalised logit (issue 16).

References: R brglm2 1.x ``glm(HG ~ NV + PI + EH, family=binomial, method="brglmFit", type="AS_mean")``
on brglm2's ``endometrial`` data, frozen in ``data/reference/firth_endometrial.json`` by
``data/reference/firth_endometrial.R`` (estimates, SEs from the inverse Fisher information as
logistf/brglm2 report them, the penalised log-likelihood, profile penalised-likelihood intervals
computed in R by optim + uniroot); the published estimates of Heinze & Schemper (2002) as quoted in
issue 16; numdifftools finite differences of the penalised log-likelihood for the exact Hessian.
"""

from __future__ import annotations

import json

import jax
import numdifftools as nd
import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats.errors import DataError, SeparationWarning
from hessstats.models.firth import FirthParams, firth_fisher_loglike, firth_logit_model, firth_loglike

FORMULA = "HG ~ NV + PI + EH"


@pytest.fixture(scope="module")
def endometrial() -> pd.DataFrame:
    return hs.datasets.load("endometrial")


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((hs.datasets.data_dir() / "reference" / "firth_endometrial.json").read_text())


@pytest.fixture(scope="module")
def fisher_fit(endometrial):
    return hs.firth_logit(FORMULA, endometrial).fit()


def test_firth_endometrial_matches_brglm2(fisher_fit, reference):
    """R brglm2 AS_mean (frozen): estimates, SEs (inverse Fisher information) and l* to 1e-8."""
    assert list(fisher_fit.params.index) == ["Intercept", "NV", "PI", "EH"]
    np.testing.assert_allclose(fisher_fit.params, reference["params"], rtol=1e-8)
    np.testing.assert_allclose(fisher_fit.bse, reference["bse"], rtol=1e-8)
    np.testing.assert_allclose(fisher_fit.llf, reference["penalised_loglik"], rtol=1e-10)


def test_firth_endometrial_matches_published_digits(fisher_fit):
    """Heinze & Schemper (2002) as quoted in issue 16, to the 7 decimals printed (absolute 5e-7: the
    quoted intercept 3.7745594 differs from brglm2's 3.7745597 by 3e-7 in the last decimal)."""
    published = {"Intercept": (3.7745594, 1.4886916), "NV": (2.9292733, 1.5507637),
                 "PI": (-0.0347517, 0.0395781), "EH": (-2.6041638, 0.7760176)}
    for name, (coef, se) in published.items():
        np.testing.assert_allclose(fisher_fit.params[name], coef, rtol=0, atol=5e-7)
        np.testing.assert_allclose(fisher_fit.bse[name], se, rtol=0, atol=5e-7)


def test_firth_profile_intervals_match_r(fisher_fit, reference):
    """Profile penalised-likelihood 95% intervals (logistf's default) computed in R: to 1e-8."""
    ci = fisher_fit.profile_ci()
    np.testing.assert_allclose(ci["profile_lower"], reference["profile_lower"], rtol=1e-8)
    np.testing.assert_allclose(ci["profile_upper"], reference["profile_upper"], rtol=1e-8)
    # the published logistf intervals for NV (Heinze & Schemper 2002, Table): 0.609 to 7.855
    assert round(float(ci.loc["NV", "profile_lower"]), 3) == pytest.approx(0.610, abs=1e-3)
    assert round(float(ci.loc["NV", "profile_upper"]), 3) == pytest.approx(7.855, abs=1e-3)


def test_firth_penalised_hessian_matches_finite_differences(endometrial, reference):
    """information='penalised': same estimate; its Hessian is the exact Hessian of l*, checked against
    numdifftools on l* (independent numpy code); the SEs invert it and so differ from brglm2's."""
    res = hs.firth_logit(FORMULA, endometrial, information="penalised").fit()
    np.testing.assert_allclose(res.params, reference["params"], rtol=1e-8)
    X = np.column_stack([np.ones(len(endometrial)), endometrial[["NV", "PI", "EH"]].to_numpy(float)])
    y = endometrial["HG"].to_numpy(float)

    def penalised(b):
        eta = X @ b
        p = 1 / (1 + np.exp(-eta))
        return np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * np.linalg.slogdet((X * (p * (1 - p))[:, None]).T @ X)[1]

    numeric = nd.Hessian(penalised, step=1e-4)(res.params.to_numpy())
    np.testing.assert_allclose(res.hessian_array, numeric, rtol=1e-6, atol=1e-8 * np.abs(numeric).max())
    assert not np.allclose(res.bse, reference["bse"], rtol=1e-3)


def test_fisher_loglike_has_the_penalised_value_and_gradient():
    """The linearised penalty keeps l* and its gradient exactly (closed form: the same function with
    and without stop_gradient) while its Hessian is the logit's -X'WX."""
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(30), rng.normal(size=(30, 2))])
    data = {"X": X, "y": (rng.uniform(size=30) < 0.4).astype(float)}
    b = np.array([0.2, -0.5, 0.3])
    with jax.enable_x64(True):
        exact = lambda t: firth_loglike(FirthParams(t), data).sum()  # noqa: E731
        fisher = lambda t: firth_fisher_loglike(FirthParams(t), data).sum()  # noqa: E731
        np.testing.assert_allclose(fisher(b), exact(b), rtol=1e-14)
        np.testing.assert_allclose(jax.grad(fisher)(b), jax.grad(exact)(b), rtol=1e-12)
        p = 1 / (1 + np.exp(-X @ b))
        np.testing.assert_allclose(jax.hessian(fisher)(b), -(X * (p * (1 - p))[:, None]).T @ X, rtol=1e-12)


def test_firth_runs_under_separation(endometrial):
    """endometrial is quasi-separated by NV (the plain logit warns); complete separation too: Firth's
    estimates stay finite (pyproject turns any hessstats warning into an error, so none is raised)."""
    with pytest.warns(SeparationWarning):
        hs.logit(FORMULA, endometrial)
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    X = np.column_stack([np.ones(6), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    res = firth_logit_model(y, X, names=["const", "x"]).fit()
    assert res.converged and np.all(np.isfinite(res.bse))
    assert 0 < res.params["x"] < 10


def test_firth_rejects_non_binary_outcome():
    """Input check: outcomes other than 0/1 raise a DataError naming the fix."""
    with pytest.raises(DataError, match="0/1"):
        firth_logit_model(np.array([0.0, 2.0, 1.0]), np.ones((3, 1)))
