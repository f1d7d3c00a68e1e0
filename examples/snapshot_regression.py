"""Regression-testing estimates: snapshot a fit, refit, compare, and see what a data change does.

Run: python examples/snapshot_regression.py   (a few seconds; asserts its own results)

Reference: statsmodels' Logit on the same spector data (analytic Newton) for the fit itself.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import statsmodels.formula.api as smf

import hessstats as hs

SPEC = "GRADE ~ GPA + TUCE + PSI"
df = hs.datasets.load("spector")
res = hs.logit(SPEC, df).fit()

with tempfile.TemporaryDirectory() as tmp:
    # 1. save a snapshot (atomic JSON: estimates, SEs, covariance, llf, nobs, data fingerprint, versions)
    path = hs.testing.save_snapshot(res, Path(tmp) / "logit.json")
    print(f"saved {path.name}: {len(res.names)} parameters, llf={res.llf:.10g}")

    # 2. a refit matches the snapshot to the last bit, and statsmodels to 1e-8
    hs.testing.assert_estimates_close(hs.logit(SPEC, df).fit(), path, rtol=0)
    hs.testing.assert_estimates_close(res, smf.logit(SPEC, df).fit(disp=0), rtol=1e-8)
    print("refit == snapshot (rtol=0); matches statsmodels Logit (rtol=1e-8)")

    # 3. a data refresh that changes one value: the drift table says what moved, and by how much
    changed = df.copy()
    changed.loc[0, "GPA"] += 0.1
    try:
        hs.testing.assert_estimates_close(hs.logit(SPEC, changed).fit(), path, rtol={"coef": 1e-6, "std_err": 1e-6})
    except AssertionError as drift:
        print(drift)
    else:
        raise SystemExit("the data change was not detected")

    # 4. per-quantity tolerances: accept SE noise up to 1%, still pin the coefficients
    table = hs.testing.compare_estimates(res, path, rtol={"coef": 1e-10, "std_err": 1e-2})
    assert (table["status"] == "ok").all()
    print(f"compare_estimates: {len(table)} values within per-quantity tolerances")
