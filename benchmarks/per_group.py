"""Per-group fits: 100 logit fits on groups of 96 distinct sizes (50-500 rows), against statsmodels.

Run ``python benchmarks/per_group.py [--before PATH] [--rounds 3]``. Threads pinned (``BENCH_THREADS``,
default 1; see ``_common.py``).

Each variant runs in its own fresh subprocess (so hessstats' first compiles are included, as a user's
loop pays them): build ``logit_model(y_g, X_g)`` and ``fit()`` + ``.bse`` for each of the 100 groups,
then the same 100 fits again (``second pass``: every kernel already compiled). statsmodels:
``Logit(y_g, X_g).fit(method="newton", disp=0).bse``. The number of XLA compilations is counted from
JAX's compile log (``jax_log_compiles``) over the whole first pass. Variants run in interleaved rounds;
the table gives medians and the ratio to statsmodels' median in the same run.

``--before PATH`` adds the hessstats at ``PATH`` (an export of the commit before a change).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (sets thread environment variables before numpy loads)

GROUPS, K = 100, 4


def groups():
    """100 (y, X) groups with 96 distinct row counts between 50 and 500 (fixed seed)."""
    import numpy as np

    rng = np.random.default_rng(0)
    sizes = list(rng.choice(np.arange(50, 501), size=96, replace=False)) + [50, 120, 250, 500]
    out = []
    for n in sizes:
        X = np.column_stack([rng.normal(size=(int(n), K - 1)), np.ones(int(n))])
        y = (X @ np.linspace(-0.5, 0.5, K) + rng.logistic(size=int(n)) > 0).astype(float)
        out.append((y, X))
    return out


class _Count(logging.Handler):
    def __init__(self):
        super().__init__()
        self.count = 0

    def emit(self, record):
        if record.getMessage().startswith("Compiling"):
            self.count += 1


def run_case(name: str) -> dict:
    """Seconds of the first and second pass over all groups, and the compilations of the first."""
    import warnings

    warnings.simplefilter("ignore")
    data = groups()
    counter = _Count()
    if name.startswith("hs"):
        import jax

        from hessstats.models.binary import logit_model

        jax.config.update("jax_log_compiles", True)
        logging.getLogger("jax").addHandler(counter)  # child loggers propagate here: each compile counted once

        def fit(y, X):
            return logit_model(y, X).fit().bse
    else:
        import statsmodels.api as sm

        def fit(y, X):
            return sm.Logit(y, X).fit(method="newton", disp=0).bse
    start = time.perf_counter()
    for y, X in data:
        fit(y, X)
    first = time.perf_counter() - start
    compiles = counter.count
    start = time.perf_counter()
    for y, X in data:
        fit(y, X)
    second = time.perf_counter() - start
    return {"first": first, "second": second, "compiles": compiles}


def run(name: str, before: str | None) -> dict:
    return _common.case_in_subprocess(__file__, name, before=before)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="path of a hessstats checkout/export to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--case")
    parser.add_argument("--repo")
    args = parser.parse_args(argv)
    _common.use_repo(args.repo)
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    print(_common.environment())
    names = ["sm", "hs"] + (["hs_before"] if args.before else [])
    results: dict[str, list[dict]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            results[name].append(run(name, args.before))
    labels = {"sm": "statsmodels Logit", "hs": "hessstats logit", "hs_before": "hessstats logit, before"}
    print(f"\n{GROUPS} per-group logit fits + SEs (k={K}, 96 distinct n in 50..500); {args.rounds} rounds, medians")
    print(f"{'case':<26}{'first pass s':>13}{'ratio':>8}{'second pass s':>15}{'ratio':>8}{'compiles':>10}")
    print("-" * 80)
    ref1 = statistics.median(r["first"] for r in results["sm"])
    ref2 = statistics.median(r["second"] for r in results["sm"])
    for name in names:
        first = statistics.median(r["first"] for r in results[name])
        second = statistics.median(r["second"] for r in results[name])
        compiles = statistics.median(r["compiles"] for r in results[name])
        print(f"{labels[name]:<26}{first:>13.3f}{first / ref1:>7.1f}x{second:>15.3f}{second / ref2:>7.1f}x"
              f"{compiles:>10.0f}")
    print("first pass: fresh process, compiles included; second pass: the same 100 fits again; "
          "ratios: medians / statsmodels' medians, same run")


if __name__ == "__main__":
    main()
