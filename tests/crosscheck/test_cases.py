"""The validation cases (hessstats.crosscheck.cases): which model runs on which dataset, how
statsmodels fits the same, at which tolerance tier.

References: the stored files ``data/reference/*.json`` written by ``scripts/make_reference.py``
(they must describe the cases exactly as defined, or ``hessstats validate`` compares against stale
numbers), the registry of built-in models ``hessstats.formula.MODELS``, the tier rules of the
cases' module docstring, and numpy closed forms of the ML normal regression for the OLS reference.
Covered elsewhere (crosscheck/test_validation): every case passes; live references agree.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.stats

import hessstats as hs
from hessstats.crosscheck.cases import ANALYTIC, CASES, LONGLEY, NUMERIC
from hessstats.crosscheck.validation import load_reference
from hessstats.formula import MODELS


def test_every_built_in_model_has_a_case_and_keys_are_unique():
    assert {c.model for c in CASES} == set(MODELS)
    assert len({c.key for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_stored_reference_describes_the_case_as_defined(case):
    """The JSON's model, dataset, formula, options, covariance list, description and tolerance
    are the case's own; it holds standard errors for every covariance label the case fits."""
    stored = load_reference(case)
    assert (stored["model"], stored["dataset"], stored["formula"]) == (case.model, case.dataset, case.formula)
    assert stored["options"] == case.options and stored["covs"] == case.covs
    assert stored["reference"] == case.reference
    np.testing.assert_allclose(stored["rtol"], case.rtol, rtol=0)
    assert set(case.covs) <= set(stored["bse"])
    assert set(stored["names"]) == set(stored["params"]) and len(stored["cov"]) == len(stored["names"])


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_dataset_and_formula_columns_exist(case):
    frame = hs.datasets.load(case.dataset)
    used = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", case.formula)) - {"C"}
    for option in case.options.values():
        if isinstance(option, str) and option in frame.columns:
            used.add(option)
    assert used <= set(frame.columns), used - set(frame.columns)
    for cov in case.covs.values():
        if isinstance(cov.get("groups"), str):
            assert cov["groups"] in frame.columns


def test_tolerance_tiers():
    """1e-8 for analytic references; 1e-5 exactly where statsmodels differentiates numerically
    (OrderedModel, ZeroInflatedPoisson's score, GenericLikelihoodModel, the truncated and hurdle count
    models, the zero-inflated models with numdifftools derivatives of statsmodels' loglike, biprobit and
    Heckman by GenericLikelihoodModel); 1e-6 for Longley."""
    tiers = {c.key: c.rtol for c in CASES}
    assert set(tiers.values()) <= {ANALYTIC, NUMERIC, LONGLEY}
    assert ANALYTIC == 1e-8 and NUMERIC == 1e-5 and LONGLEY == 1e-6
    numeric = {"ordered_logit_anes96", "ordered_probit_anes96", "zip_randhie", "tobit_fair", "weibull_heart",
               "truncated_poisson_star98", "truncated_negbin_star98", "hurdle_poisson_randhie", "hurdle_negbin_randhie",
               "zip_biochemists", "zinb_biochemists", "biprobit_fair", "heckman_psid1976"}
    assert {k for k, v in tiers.items() if v == NUMERIC} == numeric
    assert {k for k, v in tiers.items() if v == LONGLEY} == {"ols_longley"}


def test_the_ols_reference_is_the_ml_normal_regression():
    """The ``ols_fair`` reference (statsmodels OLS rescaled) against numpy closed forms:
    beta = lstsq, sigma^2 = SSR/n, V(beta) = sigma^2 (X'X)^-1, se(sigma) = sigma/sqrt(2n),
    HC0(beta) = (X'X)^-1 X' diag(e^2) X (X'X)^-1, llf = sum log phi(e; sigma)."""
    case = next(c for c in CASES if c.key == "ols_fair")
    frame = hs.datasets.load(case.dataset)
    regressors = case.formula.split("~")[1].split("+")
    X = np.column_stack([np.ones(len(frame)), frame[[r.strip() for r in regressors]].to_numpy()])
    y = frame[case.formula.split("~")[0].strip()].to_numpy(dtype=float)
    n = len(y)
    names = ("Intercept", *[r.strip() for r in regressors], "sigma")
    ref = case.statsmodels(frame, names, case.formula)
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    e = y - X @ beta
    s = np.sqrt(e @ e / n)
    inv = np.linalg.inv(X.T @ X)
    np.testing.assert_allclose(ref["params"].to_numpy(), np.r_[beta, s], rtol=1e-10)
    np.testing.assert_allclose(ref["bse"]["nonrobust"].to_numpy(), np.r_[np.sqrt(np.diag(inv)) * s, s / np.sqrt(2 * n)],
                               rtol=1e-10)
    hc0 = np.sqrt(np.diag(inv @ (X * e[:, None] ** 2).T @ X @ inv))
    np.testing.assert_allclose(ref["bse"]["HC0"].to_numpy()[:-1], hc0, rtol=1e-10)
    assert np.isnan(ref["bse"]["HC0"].iloc[-1])  # sigma's HC0 has no OLS counterpart
    np.testing.assert_allclose(ref["llf"], np.sum(scipy.stats.norm.logpdf(e, scale=s)), rtol=1e-12)
