"""``assert_estimates_close`` / ``compare_estimates`` (issue 6): tolerance rule, NaN, name matching.

Reference values: numpy's closeness rule ``|a - e| <= atol + rtol*|e|`` (``numpy.isclose``, checked
side by side at the boundary with exactly representable binary fractions), and statsmodels 0.15
``smf.logit`` / ``sm.Logit`` on the spector data (analytic Newton; 1e-8 relative per DESIGN.md).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from hessstats import datasets, formula
from hessstats.errors import SpecificationError
from hessstats.testing import assert_estimates_close, compare_estimates, save_snapshot

SPEC = "GRADE ~ GPA + TUCE + PSI"


def frame(coef, std_err=None, names=("a",)):
    se = [1.0] * len(coef) if std_err is None else std_err
    return pd.DataFrame({"coef": coef, "std_err": se}, index=list(names))


@pytest.fixture(scope="module")
def spector():
    return datasets.load("spector")


@pytest.fixture(scope="module")
def logit_res(spector):
    return formula.from_formula("logit", SPEC, spector).fit()


@pytest.fixture(scope="module")
def sm_logit(spector):
    return smf.logit(SPEC, spector).fit(disp=0)


@pytest.mark.parametrize("expected, rtol, atol, edge", [
    (2.0, 0.125, 0.25, 2.5),   # allowed 0.25 + 0.125*2 = 0.5, all exact in binary
    (2.0, 0.125, 0.25, 1.5),
    (2.0, 0.25, 0.0, 2.5),     # rtol only
    (-4.0, 0.0, 0.5, -3.5),    # atol only, negative expected
])
def test_tolerance_boundary_is_inclusive(expected, rtol, atol, edge):
    beyond = np.nextafter(edge, edge + (edge - expected))  # one ulp further from expected
    for actual, ok in ((edge, True), (beyond, False)):
        assert bool(np.isclose(actual, expected, rtol=rtol, atol=atol)) is ok  # numpy's rule agrees
        table = compare_estimates(frame([actual]), frame([expected]), rtol=rtol, atol=atol, columns=["coef"])
        assert table["status"].tolist() == (["ok"] if ok else ["drift"])
    with pytest.raises(AssertionError):
        assert_estimates_close(frame([beyond]), frame([expected]), rtol=rtol, atol=atol)
    assert_estimates_close(frame([edge]), frame([expected]), rtol=rtol, atol=atol)


def test_rule_is_relative_to_expected_not_symmetric():
    # |1.1 - 1.0| = 0.1 <= 0.1*|1.0| but not <= 0.09*|1.0|; swapping roles changes the scale
    assert_estimates_close(frame([1.1]), frame([1.0]), rtol=0.1 + 1e-12, columns=["coef"])
    with pytest.raises(AssertionError):
        assert_estimates_close(frame([1.0]), frame([1.1]), rtol=0.0909, columns=["coef"])


@pytest.mark.parametrize("actual, expected, ok", [
    (np.nan, np.nan, True), (1.0, np.nan, False), (np.nan, 1.0, False),
    (np.inf, np.inf, True), (-np.inf, np.inf, False), (1e300, np.inf, False),
])
def test_nan_equals_nan_only_where_both_are_nan(actual, expected, ok):
    table = compare_estimates(frame([actual]), frame([expected]), rtol=0.5, atol=1.0, columns=["coef"])
    assert bool((table["status"] == "ok").all()) is ok


def test_per_column_tolerances(logit_res):
    # same point estimates, SEs 0.1% larger: a loose std_err tolerance passes, a tight one names the SEs
    robust = logit_res.summary_frame().assign(std_err=lambda f: f.std_err * 1.001)
    assert_estimates_close(robust, logit_res, rtol={"coef": 1e-12, "std_err": 0.5})
    with pytest.raises(AssertionError) as info:
        assert_estimates_close(robust, logit_res, rtol={"coef": 1e-12, "std_err": 1e-6})
    drifted = compare_estimates(robust, logit_res, rtol={"coef": 1e-12, "std_err": 1e-6})
    assert set(drifted.loc[drifted.status == "drift", "quantity"]) == {"std_err"}
    assert "std_err" in str(info.value) and "coef " not in str(info.value).split("\n", 3)[-1]
    with pytest.raises(SpecificationError, match="not compared"):
        assert_estimates_close(robust, logit_res, rtol={"stderr": 1e-6})


def test_failure_message_is_a_drift_table(logit_res):
    expected = logit_res.summary_frame().copy()
    expected.loc["GPA", "coef"] *= 1 + 1e-4
    with pytest.raises(AssertionError) as info:
        assert_estimates_close(logit_res, expected, rtol=1e-6)
    text = str(info.value)
    lines = text.splitlines()
    assert lines[0].startswith("estimates differ from DataFrame: 1 of 8 values beyond tolerance")
    header = lines[2].split()
    assert header[:4] == ["parameter", "quantity", "expected", "actual"] and "tolerance" in header
    assert lines[3].split()[:2] == ["GPA", "coef"] and len(lines) == 4
    assert f"{expected.loc['GPA', 'coef']:.12g}" in lines[3]


def test_missing_and_extra_parameters_are_reported(logit_res):
    expected = logit_res.summary_frame().rename(index={"TUCE": "tuce"})
    table = compare_estimates(logit_res, expected)
    assert table.set_index("parameter").loc[["tuce", "TUCE"], "status"].tolist() == ["missing", "extra"]
    with pytest.raises(AssertionError, match=r"1 parameter\(s\) missing, 1 parameter\(s\) extra"):
        assert_estimates_close(logit_res, expected)


def test_against_statsmodels_series_matches_by_name(logit_res, sm_logit):
    """statsmodels 0.15 smf.logit: params/bse are Series named like ours (Intercept, GPA, ...)."""
    assert_estimates_close(logit_res, sm_logit, rtol=1e-8)
    table = compare_estimates(logit_res, sm_logit, rtol=1e-8)
    assert not table.attrs["positional"] and set(table.quantity) == {"coef", "std_err", "llf", "nobs"}
    shuffled = type("R", (), {"params": sm_logit.params.iloc[::-1], "bse": sm_logit.bse.iloc[::-1]})()
    assert_estimates_close(logit_res, shuffled, rtol=1e-8)  # order does not matter with names


def test_against_statsmodels_arrays_matches_by_position(logit_res, spector):
    """statsmodels 0.15 sm.Logit on numpy arrays: unnamed, compared by position (and said so)."""
    X = np.column_stack([np.ones(len(spector)), spector[["GPA", "TUCE", "PSI"]].to_numpy()])
    sm_arr = sm.Logit(spector["GRADE"].to_numpy(), X).fit(disp=0)
    assert isinstance(sm_arr.params, np.ndarray)
    assert_estimates_close(logit_res, sm_arr, rtol=1e-8)
    reordered = type("R", (), {"params": sm_arr.params[::-1], "bse": sm_arr.bse})()
    with pytest.raises(AssertionError, match="matched by position"):
        assert_estimates_close(logit_res, reordered, rtol=1e-8)


def test_against_statsmodels_summary2_frame(logit_res, sm_logit):
    """statsmodels' summary2().tables[1] columns (Coef., Std.Err., ...) are understood."""
    table = compare_estimates(logit_res, sm_logit.summary2().tables[1], rtol=1e-8)
    assert (table.status == "ok").all() and set(table.quantity) == {"coef", "std_err"}


def test_columns_selection_and_errors(logit_res):
    shifted = logit_res.summary_frame().assign(std_err=lambda f: f.std_err * 2)
    assert_estimates_close(logit_res, shifted, columns=["coef"])  # SEs not compared
    assert_estimates_close(logit_res, logit_res, rtol=0, columns=["cov", "z", "p_value", "ci_lower"])
    with pytest.raises(SpecificationError, match="cannot compare column"):
        assert_estimates_close(logit_res, shifted, columns=["llf"])  # a DataFrame has no llf
    with pytest.raises(SpecificationError, match="cannot compare estimates"):
        assert_estimates_close(logit_res, [1.0, 2.0])
    with pytest.raises(SpecificationError, match="invalid rtol"):
        assert_estimates_close(logit_res, logit_res, rtol=-1.0)


def test_nobs_is_compared_exactly(logit_res, spector):
    fewer = formula.from_formula("logit", SPEC, spector.iloc[:-1]).fit()
    table = compare_estimates(fewer, logit_res, rtol=0.5, atol=1.0)
    assert table.set_index("quantity").loc["nobs", "status"] == "drift"


def test_a_change_of_convergence_is_drift_even_with_equal_numbers(tmp_path):
    """Reference: the results' own ``converged`` flags. The same estimates, one side no longer a
    certified maximum: the comparison fails on ``converged`` (exactly, whatever rtol says), also
    against a snapshot file; statsmodels results (no flag) are compared as before."""
    res = formula.logit("GRADE ~ GPA + TUCE + PSI", datasets.load("spector")).fit()
    stopped = dataclasses.replace(res, converged=False)
    table = compare_estimates(stopped, res, rtol=1.0)
    row = table[table["quantity"] == "converged"]
    assert row["status"].tolist() == ["drift"] and row[["expected", "actual"]].to_numpy().astype(bool).tolist() == [[True, False]]
    assert (table[table["quantity"] != "converged"]["status"] == "ok").all()
    path = save_snapshot(res, tmp_path / "s.json")
    with pytest.raises(AssertionError, match="converged"):
        assert_estimates_close(stopped, path, rtol={"coef": 1.0})
    assert_estimates_close(res, path)
    sm_res = smf.logit("GRADE ~ GPA + TUCE + PSI", datasets.load("spector")).fit(disp=0)
    assert "converged" not in compare_estimates(res, sm_res, rtol=1e-6)["quantity"].tolist()
