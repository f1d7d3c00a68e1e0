"""Model construction: build time and peak memory of a logit at n rows, k columns, against statsmodels.

Run ``python benchmarks/construction.py [--n 1000000] [--k 50] [--before PATH] [--formula]``.
Every case runs in its own subprocess (peak RSS is the child's ``ru_maxrss``), threads pinned
(``BENCH_THREADS``, default 1; see ``_common.py``). Cases:

- ``hs``: ``hessstats.models.binary.logit_model(y, X)`` (the array interface of ``hs.logit``:
  design copy, finiteness, rank, separation screen, model), then ``fit()`` + standard errors;
- ``hs_before``: the same with the hessstats at ``--before`` (e.g. the commit before a change);
- ``sm``: statsmodels ``sm.Logit(y, X)`` construction, then ``fit(method="newton")`` + ``bse``;
- the first build in a process includes tracing the log-likelihood (JAX); ``build again`` is a
  second build of the same model in the same process;
- ``--formula`` adds ``hs.logit(formula, df)`` and ``smf.logit(formula, df)`` (formula parsing
  and the design built from a DataFrame), build only.

Peak memory is reported as the growth over the process's peak after the data were made (the
design itself, filled in row blocks), in GB and in multiples of the design's size ``8 n k``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (sets thread environment variables before numpy loads)

LABELS = {
    "hs": "hessstats logit_model(y, X)",
    "hs_before": "hessstats logit_model(y, X), before",
    "sm": "statsmodels sm.Logit(y, X)",
    "hs_formula": "hessstats hs.logit(formula, df)",
    "hs_formula_before": "hessstats hs.logit(formula, df), before",
    "sm_formula": "statsmodels smf.logit(formula, df)",
}


def case(name: str, n: int, k: int, repeat: int) -> dict:
    """One case in this process: build seconds, fit seconds, peak memory growth."""
    warnings.simplefilter("ignore")

    X, y = _common.simulate(n, k)
    df = None
    if "formula" in name:
        import pandas as pd

        df = pd.DataFrame(X[:, :-1], columns=[f"x{j}" for j in range(k - 1)])
        df["y"] = y
        del X
        X = None
    formula = "y ~ " + " + ".join(f"x{j}" for j in range(k - 1))
    out: dict = {"design_gb": 8 * n * k / 1e9}
    if name.startswith("hs"):
        import jax.numpy as jnp

        import hessstats as hs
        from hessstats.models.binary import logit_model

        jnp.zeros(1).block_until_ready()  # JAX's backend up before the baseline
        out["hs_file"] = hs.__file__
        build = (lambda: hs.logit(formula, df)) if df is not None else (lambda: logit_model(y, X))
    else:
        import statsmodels.api as sm
        import statsmodels.formula.api as smf

        build = (lambda: smf.logit(formula, df)) if df is not None else (lambda: sm.Logit(y, X))
    base = _common.peak_gb()
    model, out["build"] = _common.timed(build)  # first build: includes tracing the log-likelihood
    out["build_peak_gb"] = _common.peak_gb() - base
    if df is None:
        if name.startswith("hs"):
            fit = lambda: model.fit().bse  # noqa: E731
        else:
            fit = lambda: model.fit(disp=0, method="newton").bse  # noqa: E731
        _, out["first_fit"] = _common.timed(fit)
        out["fit"] = min(out["first_fit"], _common.best_of(fit, repeat - 1)) if repeat > 1 else out["first_fit"]
        out["peak_gb"] = _common.peak_gb() - base
    if repeat > 1:  # after the peaks: a second model may coexist with the first one's cached data
        del model
        _, out["build_again"] = _common.timed(build)
    return out


def run_case(name: str, n: int, k: int, repeat: int, before: str | None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--case", name, "--n", str(n), "--k", str(k),
           "--repeat", str(repeat)]
    if name.endswith("_before"):
        cmd += ["--repo", before]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(n: int, k: int, results: dict) -> str:
    ref = results.get("sm", {})
    lines = [f"\nlogit n={n:,} k={k}: design {8 * n * k / 1e9:.2f} GB (ratios: / statsmodels sm.Logit, same run)",
             f"{'case':<42}{'build s':>9}{'ratio':>8}{'again s':>9}{'fit+SE s':>10}{'total s':>9}{'ratio':>8}"
             f"{'build peak':>12}{'build+fit peak':>16}",
             "-" * 123]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{LABELS[name]:<42}failed: {r['error'][:70]}")
            continue
        total = r["build"] + r.get("fit", 0.0)
        ref_total = ref.get("build", 0.0) + ref.get("fit", 0.0) if ref and "error" not in ref else None
        build_ratio = f"{r['build'] / ref['build']:>7.2f}x" if ref and "error" not in ref and "formula" not in name else ""
        if "formula" in name and "sm_formula" in results and "error" not in results["sm_formula"]:
            build_ratio = f"{r['build'] / results['sm_formula']['build']:>7.2f}x"
        fit = f"{r['fit']:>10.3f}" if "fit" in r else f"{'':>10}"
        tot = f"{total:>9.3f}" if "fit" in r else f"{'':>9}"
        tot_ratio = f"{total / ref_total:>7.2f}x" if "fit" in r and ref_total else ""
        peak = f"{r['peak_gb']:>8.2f} GB {r['peak_gb'] / r['design_gb']:.1f}x" if "peak_gb" in r else ""
        again = f"{r['build_again']:>9.3f}" if "build_again" in r else f"{'':>9}"
        lines.append(f"{LABELS[name]:<42}{r['build']:>9.3f}{build_ratio:>8}{again}{fit}{tot}{tot_ratio:>8}"
                     f"{r['build_peak_gb']:>7.2f} GB {r['build_peak_gb'] / r['design_gb']:.1f}x{peak:>18}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--before", help="path of a hessstats checkout/export to compare with")
    parser.add_argument("--formula", action="store_true", help="add the formula interfaces (build only)")
    parser.add_argument("--case")
    parser.add_argument("--repo")
    args = parser.parse_args(argv)
    _common.use_repo(args.repo)
    if args.case:
        print(json.dumps(case(args.case, args.n, args.k, args.repeat)))
        return
    print(_common.environment())
    names = ["sm", "hs"] + (["hs_before"] if args.before else [])
    if args.formula:
        names += ["sm_formula", "hs_formula"] + (["hs_formula_before"] if args.before else [])
    results = {name: run_case(name, args.n, args.k, args.repeat, args.before) for name in names}
    print(table(args.n, args.k, results))


if __name__ == "__main__":
    main()
