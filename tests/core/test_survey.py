"""Survey designs (``cov_type="survey"``, :mod:`hessstats.core.survey`) against R ``survey::svyglm``.

Reference: ``data/reference/survey_nhanes.json``, written by ``Rscript data/reference/survey_nhanes.R``
(R 4.2.2, survey 4.1.1; provenance in the file) on ``data/nhanes2.csv`` (NHANES II, samplics 0.6.1).
``svyglm(family=quasibinomial)`` point estimates are the weighted logit; its ``vcov`` is the
Taylor-linearised sandwich, which the tests match to 1e-7 relative (R's IRLS stops at
``epsilon=1e-8``, so its bread is evaluated at the previous iterate: measured differences 6e-10..1.1e-8).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.stats

import hessstats as hs
from hessstats.core.survey import LonelyPSU, resolve_design, survey_meat
from hessstats.errors import CovarianceError, DataError

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = {case["name"]: case for case in json.loads((ROOT / "data/reference/survey_nhanes.json").read_text())["cases"]}


def logit(p, d):
    eta = d["X"] @ p["b"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


@pytest.fixture(scope="module")
def nhanes() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data/nhanes2.csv").dropna(subset=["diabetes"]).reset_index(drop=True)


def design_of(d: pd.DataFrame, **extra) -> dict:
    return {"strata": d["stratid"].to_numpy(), "psu": d["psuid"].to_numpy(), "nest": True, **extra}


def model_of(d: pd.DataFrame, weights, columns=("race2", "race3", "diabetes"), **options) -> hs.Model:
    cols = {"race2": d["race"] == 2, "race3": d["race"] == 3, "diabetes": d["diabetes"]}
    X = np.column_stack([np.ones(len(d))] + [np.asarray(cols[c], dtype=float) for c in columns])
    return hs.Model(logit, {"b": np.zeros(X.shape[1])}, {"X": X, "y": d["highbp"].to_numpy(float)},
                    names={"b": ["(Intercept)", *columns]}, weights=weights, weight_type="probability", **options)


def check(res: hs.FitResult, case: dict) -> None:
    names = case["names"]
    np.testing.assert_allclose(res.params[names].to_numpy(), [case["coef"][n] for n in names], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.bse[names].to_numpy(), [case["se"][n] for n in names], rtol=1e-7)
    assert res.df_design == case["degf"]


def test_svyglm_nhanes_main(nhanes):
    """The issue's target: R svyglm(highbp ~ factor(race) + diabetes, svydesign(id=~psuid, strata=~stratid,
    weights=~finalwgt, nest=TRUE), quasibinomial): coefficients and SEs (R file), design df 62 - 31 = 31."""
    res = model_of(nhanes, nhanes["finalwgt"]).fit(design=design_of(nhanes))
    assert res.cov_type == "survey"
    check(res, REFERENCE["main"])
    assert abs(res.params["diabetes"] - 1.0000404187) < 1e-9 and abs(res.bse["diabetes"] - 0.1125453904) < 1e-8
    frame = res.summary_frame()  # t-based with the design df (Stata svy)
    t = frame["t"].to_numpy()  # the third column is named t under t inference
    np.testing.assert_allclose(frame["p_value"], 2 * scipy.stats.t.sf(np.abs(t), 31), rtol=1e-10)
    q = scipy.stats.t.ppf(0.975, 31)
    np.testing.assert_allclose(frame["ci_upper"], frame["coef"] + q * frame["std_err"], rtol=1e-12)
    assert re.search(r"Design df: +31\n", str(res)) and "probability (pweight)" in str(res)


def test_svyglm_fpc_count_and_fraction(nhanes):
    """R svydesign(fpc=~fpc_psu) with 20 population PSUs per stratum (R file), given as the count and as
    the sampling fraction 2/20 (R treats fpc <= 1 as a fraction): the same covariance."""
    res = model_of(nhanes, nhanes["finalwgt"]).fit(design=design_of(nhanes, fpc=np.full(len(nhanes), 20.0)))
    check(res, REFERENCE["fpc"])
    by_fraction = res.with_cov("survey", design=design_of(nhanes, fpc=np.full(len(nhanes), 0.1)))
    np.testing.assert_allclose(by_fraction.cov_array, res.cov_array, rtol=1e-12)


@pytest.mark.parametrize("rule", ["remove", "adjust", "certainty", "average"])
def test_lonely_psu_rules(nhanes, rule):
    """options(survey.lonely.psu=rule) in R (R file: PSU 2 of strata 1 and 2 dropped); 'fail' is an error."""
    d = nhanes[~(nhanes["stratid"].isin([1, 2]) & (nhanes["psuid"] == 2))].reset_index(drop=True)
    model = model_of(d, d["finalwgt"])
    res = model.fit(design=design_of(d), cov_options={"lonely_psu": rule})
    check(res, REFERENCE[f"lonely_{rule}"])
    with pytest.raises(CovarianceError, match="single PSU"):
        res.with_cov("survey", design=design_of(d))


def test_subpopulation_zero_weights(nhanes):
    """R subset(design, race != 3) (a domain: rows kept with zero weight, their PSUs still count) equals
    zero weights for race 3 (R file)."""
    weights = nhanes["finalwgt"].where(nhanes["race"] != 3, 0.0)
    res = model_of(nhanes, weights, columns=("race2", "diabetes")).fit(design=design_of(nhanes))
    check(res, REFERENCE["subset"])


def test_chunked_survey_equals_in_memory(nhanes):
    """Chunked (row blocks of 1000, scores concatenated) and sharded fits give the in-memory survey
    covariance (closed form: the same sums in another order)."""
    whole = model_of(nhanes, nhanes["finalwgt"]).fit(design=design_of(nhanes))
    for options in ({"chunk_size": 1000}, {"shard": True}):
        other = model_of(nhanes, nhanes["finalwgt"], **options).fit(design=design_of(nhanes))
        np.testing.assert_allclose(other.params, whole.params, rtol=1e-10)
        np.testing.assert_allclose(other.cov_array, whole.cov_array, rtol=1e-9)


def test_survey_meat_closed_form():
    """Closed form: strata {0: PSU totals 1, 3}, {1: PSU totals -2, -2}: 2/1 ((1-2)^2 + (3-2)^2) + 0 = 4;
    with fpc fraction 1/2 in stratum 0: (1 - 1/2) 4 = 2; nest=False with a PSU label in two strata fails."""
    d = resolve_design({"strata": [0, 0, 1, 1], "psu": [0, 1, 2, 3]}, None, None, 4)
    scores = np.array([[1.0], [3.0], [-2.0], [-2.0]])
    assert survey_meat(scores, d)[0, 0] == pytest.approx(4.0, rel=1e-14)
    half = resolve_design({"strata": [0, 0, 1, 1], "psu": [0, 1, 2, 3], "fpc": [4, 4, 2, 2]}, None, None, 4)
    assert half.fraction.tolist() == [0.5, 1.0]
    assert survey_meat(scores, half)[0, 0] == pytest.approx(2.0, rel=1e-14)
    with pytest.raises(DataError, match="not nested"):
        resolve_design({"strata": [0, 0, 1, 1], "psu": [0, 1, 0, 1]}, None, None, 4)
    nested = resolve_design({"strata": [0, 0, 1, 1], "psu": [0, 1, 0, 1], "nest": True}, None, None, 4)
    assert nested.n_psu == 4 and nested.df == 2
    lonely = resolve_design({"strata": [0, 0, 1], "psu": [0, 1, 2]}, None, None, 3)
    s = np.array([[1.0], [3.0], [-4.0]])
    assert survey_meat(s, lonely, LonelyPSU.REMOVE)[0, 0] == pytest.approx(4.0)
    assert survey_meat(s, lonely, LonelyPSU.AVERAGE)[0, 0] == pytest.approx(8.0)  # 4 * 2 strata / 1
    assert survey_meat(s, lonely, LonelyPSU.ADJUST)[0, 0] == pytest.approx(4.0 + 16.0)  # grand mean 0


def test_design_errors(nhanes):
    """Typed errors (closed-form rules): a non-survey cov_type with a design, a design on frequency weights,
    wrong lengths, unknown keys."""
    model = model_of(nhanes, nhanes["finalwgt"])
    res = model.fit()
    assert res.cov_type == "robust"
    with pytest.raises(CovarianceError, match="cov_type='survey'"):
        model.fit(cov_type="robust", design=design_of(nhanes))
    with pytest.raises(DataError, match="wrong shape"):
        res.with_cov("survey", design={"psu": np.arange(5)})
    with pytest.raises(CovarianceError, match="unknown survey design keys"):
        res.with_cov("survey", design={"cluster": np.arange(len(nhanes))})
    fw = hs.Model(logit, {"b": np.zeros(1)}, {"X": np.ones((4, 1)), "y": np.array([0.0, 1.0, 1.0, 0.0])},
                  weights=[1, 2, 1, 1], weight_type="frequency")
    with pytest.raises(CovarianceError, match="probability weights"):
        fw.fit(design={"psu": [0, 1, 2, 3]})
