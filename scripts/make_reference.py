"""Regenerate the bundled datasets and the statsmodels reference outputs in ``data/``.

    python scripts/make_reference.py              # data/reference/*.json from statsmodels
    python scripts/make_reference.py --datasets   # also re-export data/*.csv from statsmodels

Each JSON file holds, for one case of :data:`hessstats.crosscheck.cases.CASES`: the model,
dataset, formula and options; the reference's description and tolerance; statsmodels' parameters,
standard errors per covariance type, covariance matrix, log-likelihood and nobs; the statsmodels
version and the date. ``poisson_ships.json`` also stores Stata's published results for
``poisson accident yr_con op_75_79, exposure(service)`` (nonrobust and ``vce(cluster ship)``),
copied from statsmodels' test suite (``discrete/tests/results/results_count_robust_cluster.py``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATSMODELS_DATASETS = ("spector", "randhie", "star98", "scotland", "longley", "anes96", "fair", "heart")

STATA_SHIPS = {
    "source": "Stata 'poisson accident yr_con op_75_79, exposure(service)' as stored in statsmodels "
              "discrete/tests/results/results_count_robust_cluster.py (N=34, 5 clusters)",
    "names": ["Intercept", "yr_con", "op_75_79"],
    "params": [-6.974712802772, 0.30633819450439, 0.35592229608495],
    "bse": {"nonrobust": [0.13252425018256, 0.05790831365493, 0.12151759298719],
            "cluster": [0.0968656626603, 0.03817694295902, 0.09213163536669]},
    "llf": -91.28727940081573,
}


def export_datasets(out: Path) -> None:
    """Write the statsmodels datasets (and MASS ships from statsmodels' test data) as CSV."""
    import statsmodels
    import statsmodels.api as sm

    for name in STATSMODELS_DATASETS:
        getattr(sm.datasets, name).load_pandas().data.to_csv(out / f"{name}.csv", index=False)
    ships = Path(statsmodels.__file__).parent / "discrete" / "tests" / "results" / "ships.csv"
    shutil.copyfile(ships, out / "ships.csv")


def _listify(series) -> dict:
    return {str(k): (None if not np.isfinite(v) else float(v)) for k, v in series.items()}


def make_references(out: Path) -> list[Path]:
    """Fit every case with statsmodels and write ``out/<model>_<dataset>.json``."""
    import statsmodels

    import hessstats as hs
    from hessstats.crosscheck.cases import CASES

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for case in CASES:
        df = hs.datasets.load(case.dataset)
        names = hs.from_formula(case.model, case.formula, df, **case.options).names
        ref = case.statsmodels(df, names, case.formula)
        record = {
            "model": case.model, "dataset": case.dataset, "formula": case.formula, "options": case.options,
            "covs": case.covs, "reference": case.reference, "rtol": case.rtol,
            "names": list(names), "params": _listify(ref["params"]),
            "bse": {label: _listify(s) for label, s in ref["bse"].items()},
            "cov": np.asarray(ref["cov"], dtype=float).tolist(), "llf": ref["llf"], "nobs": ref["nobs"],
            "statsmodels_version": statsmodels.__version__, "date": datetime.date.today().isoformat(),
        }
        if case.key == "poisson_ships":
            record["stata"] = STATA_SHIPS
        path = out / f"{case.key}.json"
        path.write_text(json.dumps(record, indent=1) + "\n")
        written.append(path)
        print(f"wrote {path.relative_to(ROOT)}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", action="store_true", help="re-export data/*.csv from statsmodels first")
    args = parser.parse_args(argv)
    if args.datasets:
        export_datasets(ROOT / "data")
    make_references(ROOT / "data" / "reference")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
