"""Small-n overhead: a logit with 1000 rows and 5 columns, fit + standard errors, against statsmodels.

Run ``python benchmarks/small_n.py [--before PATH] [--rounds 3] [--fits 200]``. Threads pinned
(``BENCH_THREADS``, default 1; see ``_common.py``).

- **loop**: in a subprocess per variant, the model is built once, then ``fits`` times ``fit()`` +
  ``.bse`` (hessstats ``model.fit().bse``, statsmodels ``Logit.fit(method="newton", disp=0).bse``)
  run back to back: their total seconds, the first fit's compiles included (what a loop of that
  many fits costs). hessstats fits a kernel shape by the host iteration until that has cost about
  one compile of the one-call kernel (``hessstats.core.fused.break_even``), so a loop of 200 small
  fits never compiles it.
- **steady**: in the same subprocess, after fitting for ``WARMUP_SECONDS`` in all (both libraries;
  hessstats has switched to the one-call kernel by then), ``fits`` fits timed one by one. Variants
  run in interleaved rounds; the table gives the best and the median over all fits.
- **cold script**: the wall time of ``python -c "<import; build from a formula; fit; print>"``
  (interpreter start, imports, tracing and compiling included), interleaved rounds, best and median.

``--before PATH`` adds the same cases with the hessstats at ``PATH`` (an export of the commit before
a change), so before/after ratios come from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (sets thread environment variables before numpy loads)

N, K = 1000, 5

DATA = f"""
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
X = np.column_stack([rng.normal(size=({N}, {K - 1})), np.ones({N})])
y = (X @ np.linspace(-0.5, 0.5, {K}) + rng.logistic(size={N}) > 0).astype(float)
df = pd.DataFrame(X[:, :-1], columns=[f"x{{j}}" for j in range({K - 1})]).assign(y=y)
formula = "y ~ " + " + ".join(f"x{{j}}" for j in range({K - 1}))
"""

COLD = {
    "hs": DATA + "import hessstats as hs\nres = hs.logit(formula, df).fit()\nprint(res.params.round(4).tolist(), res.bse.round(4).tolist())\n",
    "sm": DATA + "import statsmodels.formula.api as smf\nres = smf.logit(formula, df).fit(disp=0)\n"
                 "print(res.params.round(4).tolist(), res.bse.round(4).tolist())\n",
}


WARMUP_SECONDS = 2.0
"""Seconds of fitting before the steady-state fits are timed (past hessstats' switch to one call)."""


def warm(name: str, fits: int) -> dict:
    """``{"loop": seconds of the first fits fits, "steady": [seconds of each of fits fits after the
    warm-up]}``, in this process."""
    import warnings

    warnings.simplefilter("ignore")
    scope: dict = {}
    exec(DATA, scope)  # noqa: S102  (our own fixed data-generating code)
    X, y = scope["X"], scope["y"]
    if name.startswith("hs"):
        from hessstats.models.binary import logit_model

        model = logit_model(y, X)
        fit = lambda: model.fit().bse  # noqa: E731
    else:
        import statsmodels.api as sm

        model = sm.Logit(y, X)
        fit = lambda: model.fit(method="newton", disp=0).bse  # noqa: E731
    start = time.perf_counter()
    for _ in range(fits):
        fit()
    loop = time.perf_counter() - start
    while time.perf_counter() - start < WARMUP_SECONDS:
        fit()
    times = []
    for _ in range(fits):
        begin = time.perf_counter()
        fit()
        times.append(time.perf_counter() - begin)
    return {"loop": loop, "steady": times}


def cold(name: str, repo: str | None) -> float:
    """Wall seconds of one cold script (a fresh interpreter)."""
    code = COLD["hs" if name.startswith("hs") else "sm"]
    env = dict(os.environ, PYTHONPATH=os.path.abspath(repo) if repo else _common.ROOT)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env,
                   cwd=os.path.abspath(repo) if repo else _common.ROOT)
    return time.perf_counter() - start


def run_warm(name: str, fits: int, before: str | None) -> dict:
    return _common.case_in_subprocess(__file__, name, "--fits", fits, before=before)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="path of a hessstats checkout/export to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fits", type=int, default=200)
    parser.add_argument("--case")
    parser.add_argument("--repo")
    args = parser.parse_args(argv)
    _common.use_repo(args.repo)
    if args.case:
        print(json.dumps(warm(args.case, args.fits)))
        return
    print(_common.environment())
    names = ["sm", "hs"] + (["hs_before"] if args.before else [])
    loops: dict[str, list[float]] = {name: [] for name in names}
    warm_times: dict[str, list[float]] = {name: [] for name in names}
    cold_times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            out = run_warm(name, args.fits, args.before)
            loops[name].append(out["loop"])
            warm_times[name] += out["steady"]
            cold_times[name].append(cold(name, args.before if name.endswith("_before") else None))
    labels = {"sm": "statsmodels Logit", "hs": "hessstats logit", "hs_before": "hessstats logit, before"}
    print(f"\nlogit n={N} k={K}: fit + SEs ({args.rounds} rounds: a loop of {args.fits} fits from the build, "
          f"compiles included; {args.fits} steady fits after {WARMUP_SECONDS:g} s of fitting; a cold script)")
    print(f"{'case':<26}{'loop s':>8}{'ratio':>8}{'steady best ms':>16}{'median ms':>11}{'ratio':>8}"
          f"{'cold median s':>15}{'ratio':>8}")
    print("-" * 100)
    ref_l, ref_w, ref_c = (statistics.median(d["sm"]) for d in (loops, warm_times, cold_times))
    for name in names:
        lp, w, c = statistics.median(loops[name]), warm_times[name], statistics.median(cold_times[name])
        print(f"{labels[name]:<26}{lp:>8.3f}{lp / ref_l:>7.2f}x{1e3 * min(w):>16.2f}{1e3 * statistics.median(w):>11.2f}"
              f"{statistics.median(w) / ref_w:>7.2f}x{c:>15.2f}{c / ref_c:>7.2f}x")
    print("ratios: medians / statsmodels' medians, same run")


if __name__ == "__main__":
    main()
