"""``validate()``: fit every built-in model on its bundled dataset and compare with statsmodels.

The stored references (``data/reference/*.json``, written by ``scripts/make_reference.py``) make
this work without statsmodels; with ``live=True`` (default: when statsmodels is importable) each
case is also refitted with statsmodels now. One row per (case, covariance type, reference).
"""

from __future__ import annotations

import importlib.util
import json
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from hessstats import datasets
from hessstats._config import float64
from hessstats.crosscheck.cases import CASES, Case
from hessstats.crosscheck.compare import relative_difference
from hessstats.formula import from_formula

COLUMNS = ["model", "dataset", "cov_type", "reference", "max_rel_params", "max_rel_se", "rtol", "passed", "seconds"]
STATA_RTOL = 1e-6
"""Stata's published ships results: its ``nrtolerance`` stops Newton earlier than ours."""


def load_reference(case: Case) -> dict[str, Any]:
    """The stored statsmodels reference of ``case`` (``data/reference/<model>_<dataset>.json``).

    Example
    -------
    >>> case = next(c for c in CASES if c.model == "logit")
    >>> ref = load_reference(case)
    >>> sorted(ref)[:3]
    ['bse', 'cov', 'covs']
    """
    return json.loads((datasets.data_dir() / "reference" / f"{case.key}.json").read_text())


def _fit_kwargs(options: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    kwargs = dict(options)
    if isinstance(kwargs.get("groups"), str):
        kwargs["groups"] = pd.factorize(frame[kwargs["groups"]])[0]
    return kwargs


def _row(case: Case, cov: str, source: str, params: pd.Series, bse: pd.Series, ref_params: dict, ref_bse: dict,
         rtol: float, seconds: float) -> dict[str, Any]:
    names = list(params.index)
    rp = np.array([np.nan if ref_params[n] is None else ref_params[n] for n in names], dtype=float)
    rb = np.array([np.nan if ref_bse.get(n) is None else ref_bse[n] for n in names], dtype=float)
    keep = np.isfinite(rb)  # e.g. HC0 of the OLS sigma has no statsmodels counterpart
    dp = float(np.max(relative_difference(params.to_numpy(), rp)))
    ds = float(np.max(relative_difference(bse.to_numpy()[keep], rb[keep])))
    return {"model": case.model, "dataset": case.dataset, "cov_type": cov, "reference": source,
            "max_rel_params": dp, "max_rel_se": ds, "rtol": rtol, "passed": bool(dp <= rtol and ds <= rtol),
            "seconds": seconds}


@float64
def run_case(case: Case, live: bool = False) -> list[dict[str, Any]]:
    """Fit one case under each of its covariance types; rows against the stored (and live) references.

    Example
    -------
    >>> case = next(c for c in CASES if c.model == "logit")
    >>> rows = run_case(case)
    >>> [(r["cov_type"], r["reference"], bool(r["passed"])) for r in rows]
    [('nonrobust', 'stored', True), ('HC0', 'stored', True)]
    """
    df = datasets.load(case.dataset)
    frame = df.dropna() if case.options.get("missing") == "drop" else df
    start = time.perf_counter()
    model = from_formula(case.model, case.formula, df, **case.options)
    fits: dict[str, Any] = {}
    for cov, kw in case.covs.items():  # one fit; the other covariance types from it (FitResult.with_cov)
        kwargs = _fit_kwargs(kw, frame)
        base = next(iter(fits.values()), None)
        if base is None or kwargs.get("cov_type") is None:
            fits[cov] = model.fit(**kwargs)
        else:
            fits[cov] = base.with_cov(kwargs.pop("cov_type"), **kwargs)
    seconds = time.perf_counter() - start
    stored = load_reference(case)
    rows = []
    for cov, res in fits.items():
        rows.append(_row(case, cov, "stored", res.params, res.bse, stored["params"], stored["bse"][cov],
                         case.rtol, seconds))
    if "stata" in stored:
        stata = stored["stata"]
        for cov, label in (("nonrobust", "nonrobust"), ("cluster_statsmodels", "cluster")):
            res = fits[cov] if cov == "nonrobust" else fits["nonrobust"].with_cov(
                "cluster", **_fit_kwargs({"groups": "ship"}, frame))
            rows.append(_row(case, "cluster" if label == "cluster" else cov, "Stata (published)", res.params, res.bse,
                             dict(zip(stata["names"], stata["params"])), dict(zip(stata["names"], stata["bse"][label])),
                             STATA_RTOL, seconds))
    if live:
        with warnings.catch_warnings():  # statsmodels' own convergence/df notes are not ours to report
            warnings.simplefilter("ignore")
            ref = case.statsmodels(df, model.names, case.formula)
        for cov, res in fits.items():
            rows.append(_row(case, cov, "live statsmodels", res.params, res.bse, ref["params"].to_dict(),
                             ref["bse"][cov].to_dict(), case.rtol, seconds))
    return rows


def statsmodels_available() -> bool:
    """Whether statsmodels can be imported (for live comparisons).

    Example
    -------
    >>> isinstance(statsmodels_available(), bool)
    True
    """
    return importlib.util.find_spec("statsmodels") is not None


def validate(live: bool | None = None, models: list[str] | None = None) -> pd.DataFrame:
    """Run every validation case; one row per (case, cov_type, reference) with the max relative differences.

    ``live=None`` compares with live statsmodels too when it is installed. ``models`` restricts
    the cases to those model names.

    Example
    -------
    >>> table = validate(live=False, models=["logit"])
    >>> table[["model", "dataset", "cov_type", "passed"]].to_string(index=False)
    'model dataset  cov_type  passed\\nlogit spector nonrobust    True\\nlogit spector       HC0    True'
    """
    live = statsmodels_available() if live is None else live
    cases = [c for c in CASES if models is None or c.model in models]
    rows = [row for case in cases for row in run_case(case, live=live)]
    return pd.DataFrame(rows, columns=COLUMNS)
