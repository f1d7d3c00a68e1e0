"""``validate()`` and the ``hessstats validate`` subcommand (issue 4).

References: the stored statsmodels 0.15 outputs in data/reference/*.json (scripts/make_reference.py)
and live statsmodels fits of the same cases.
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

import hessstats as hs
from hessstats.cli import validate as cli_validate
from hessstats.crosscheck import validation
from hessstats.crosscheck.cases import CASES


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hessstats")
    cli_validate.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args._run(args)


def test_every_case_passes_against_stored_references():
    table = hs.validate(live=False)
    assert list(table.columns) == validation.COLUMNS
    assert {(c.model, c.dataset) for c in CASES} == set(zip(table["model"], table["dataset"]))
    assert table["passed"].all(), table[~table["passed"]].to_string()
    analytic = table[table["rtol"] == 1e-8]
    assert len(analytic) >= 10 and analytic["max_rel_se"].max() < 1e-8


def test_live_statsmodels_rows():
    table = hs.validate(live=True, models=["probit"])
    assert set(table["reference"]) == {"stored", "live statsmodels"} and table["passed"].all()


def test_stored_reference_is_what_statsmodels_gives_now():
    """The script's JSON equals a live statsmodels refit (so it can be regenerated)."""
    case = next(c for c in CASES if c.key == "poisson_ships")
    stored = validation.load_reference(case)
    df = hs.datasets.load(case.dataset)
    live = case.statsmodels(df, tuple(stored["names"]), case.formula)
    np.testing.assert_allclose([stored["params"][n] for n in stored["names"]], live["params"], rtol=1e-12)
    np.testing.assert_allclose(stored["cov"], live["cov"], rtol=1e-10)
    assert stored["statsmodels_version"] and stored["date"] and stored["nobs"] == 34
    assert "Stata" in stored["stata"]["source"]


def test_cli_prints_table_and_returns_zero(capsys):
    assert _run(["validate", "--no-live", "--model", "logit"]) == 0
    out = capsys.readouterr().out
    assert "logit spector" in out and "PASS" in out and "2 of 2 comparisons passed" in out


def test_cli_fails_on_a_wrong_reference(capsys, monkeypatch):
    real = validation.load_reference

    def perturbed(case):
        ref = real(case)
        ref["bse"]["nonrobust"] = {k: v * (1 + 1e-6) for k, v in ref["bse"]["nonrobust"].items()}
        return ref

    monkeypatch.setattr(validation, "load_reference", perturbed)
    assert _run(["validate", "--no-live", "--model", "logit"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 FAILED" in out


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_full_covariance_llf_and_nobs_match_stored_reference(case):
    """Beyond params and SEs: every covariance entry relative to se_i * se_j, the log-likelihood, nobs."""
    ref = validation.load_reference(case)
    res = hs.from_formula(case.model, case.formula, hs.datasets.load(case.dataset), **case.options).fit()
    se = res.bse.to_numpy()
    assert list(res.names) == ref["names"] and res.nobs == ref["nobs"]
    assert np.max(np.abs(res.cov_array - np.array(ref["cov"])) / np.outer(se, se)) < case.rtol
    np.testing.assert_allclose(res.llf, ref["llf"], rtol=1e-9)


def test_live_references_built_from_scipy_stats():
    """gamma, tobit and weibull references are computed live from scipy.stats log-likelihoods
    (statsmodels has no such models): the live path must run and agree."""
    table = hs.validate(live=True, models=["gamma", "tobit", "weibull"])
    assert "live statsmodels" in set(table["reference"]) and table["passed"].all()
