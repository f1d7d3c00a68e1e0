"""One benchmark command: hessstats vs statsmodels (analytic and generic), numdifftools and BLAS.

Run ``python benchmarks/run_all.py [--quick] [--many]``. Each case runs in its own subprocess so
its peak memory (``ru_maxrss`` of the child: XLA buffers included, unlike tracemalloc) is its own.
Times are the best of ``--repeat`` steady-state runs (hessstats: after the first, compiling call).

Cases on a simulated logit (``bench_fit.simulate``): hs.fit (generic AD Hessian),
hs.IndexModel (``X' diag(w) X``), statsmodels ``Logit.fit`` (construction excluded),
``GenericLikelihoodModel`` (numerical derivatives; n*k <= 5e6 only), numdifftools ``Hessian`` of
the numpy log-likelihood at the optimum (one Hessian; n*k <= 2e6 only), and the BLAS limit
(``dsyrk``). ``--many``: k = 2,000, n = 1e5: one Hessian by the index model, by blocked directions,
and CG standard errors of 3 parameters without the k x k matrix.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import _common  # noqa: E402, F401  (pins threads, BENCH_THREADS, before numpy/jax load in the cases)


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def case(name: str, n: int, k: int, repeat: int) -> dict:
    """Run one case in this process; returns seconds and notes."""
    import numpy as np
    from bench_fit import best_of, logit_loglike, logit_obs, simulate, timed

    X, y = simulate(n, k)
    data, start = {"X": X, "y": y}, {"beta": np.zeros(k)}
    out: dict = {}
    if name in ("hs_generic", "hs_index"):
        import hessstats as hs

        def build():
            if name == "hs_generic":
                return hs.Model(logit_loglike, start, data)
            return hs.IndexModel(logit_obs, start, data, design={"beta": "X"})

        model, out["build"] = timed(build)  # like statsmodels' model construction, timed apart
        first, out["first"] = timed(model.fit)
        out["compile"] = first.compile_stats["compile_seconds"]  # measured by hessstats itself
        out["seconds"] = best_of(lambda: model.fit().bse, repeat)
    elif name == "sm_logit":
        import statsmodels.api as sm

        model, out["build"] = timed(lambda: sm.Logit(y, X))
        out["seconds"] = best_of(lambda: model.fit(disp=0, method="newton").bse, repeat)
    elif name == "sm_generic":
        from bench_fit import bench_generic

        import hessstats as hs

        res = hs.fit(logit_loglike, start, data)
        out["seconds"] = bench_generic(X, y, res)["glm_fit"]
    elif name == "numdifftools":
        import numdifftools as nd

        import hessstats as hs

        res = hs.fit(logit_loglike, start, data)

        def loglike(b):
            eta = X @ b
            return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

        hess, out["seconds"] = timed(lambda: nd.Hessian(loglike)(res.theta))
        out["note"] = f"one Hessian; max rel diff vs hs {np.max(np.abs(hess - res.hessian_array)) / np.max(np.abs(res.hessian_array)):.1e}"
    elif name == "blas":
        import scipy.linalg.blas as blas

        p = 1.0 / (1.0 + np.exp(-(X @ np.linspace(-0.5, 0.5, k))))
        A = np.asfortranarray(X * np.sqrt(p * (1 - p))[:, None])
        out["seconds"] = best_of(lambda: blas.dsyrk(1.0, A, trans=1), repeat)  # Fortran A as itself: no copy
        out["note"] = "one Hessian: dsyrk(sqrt(w) X), no copy"
    elif name.startswith("many_"):
        import hessstats as hs

        theta = np.linspace(-0.5, 0.5, k) * 0.1
        if name == "many_index":
            model = hs.IndexModel(logit_obs, start, data, design={"beta": "X"})
            model.evaluate(theta)
            out["seconds"] = best_of(lambda: model.evaluate(theta), 1)
            out["note"] = "one Hessian, X' diag(w) X"
        elif name == "many_blocked":
            model = hs.Model(logit_loglike, start, data)
            _, out["seconds"] = timed(lambda: hs.hessian_blocked(model, theta, block_size=250))
            out["note"] = "one Hessian, 8 blocks of 250 directions (incl. compile)"
        else:
            model = hs.Model(logit_loglike, start, data)
            se, out["seconds"] = timed(lambda: hs.selected_se(model, theta, list(model.names[:3]), rtol=1e-8))
            out["note"] = "CG SEs of 3 parameters at a non-optimum point (incl. compile)"
    out["peak_gb"] = _peak_gb()
    return out


def run_case(name: str, n: int, k: int, repeat: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--case", name, "--n", str(n), "--k", str(k),
           "--repeat", str(repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


LABELS = {
    "hs_generic": "hs Model.fit, generic AD Hessian (build excl.)",
    "hs_index": "hs IndexModel.fit, X' diag(w) X (build excl.)",
    "sm_logit": "statsmodels Logit.fit newton (build excluded)",
    "sm_generic": "statsmodels GenericLikelihoodModel fit + SEs",
    "numdifftools": "numdifftools.Hessian (one Hessian)",
    "blas": "BLAS limit dsyrk (one Hessian)",
    "many_index": "k=2000: hs index model, one Hessian",
    "many_blocked": "k=2000: hs blocked directions, one Hessian",
    "many_cg": "k=2000: hs.selected_se by CG, 3 SEs",
}


def table(n: int, k: int, results: dict[str, dict], reference: str) -> str:
    ref = results.get(reference, {}).get("seconds")
    lines = [f"\nlogit n={n:,} k={k}   (ratio = seconds / {LABELS[reference].split(' (')[0]})",
             f"{'case':<50}{'seconds':>9}{'ratio':>9}{'peak RSS':>10}  notes",
             "-" * 100]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{LABELS[name]:<50}{'failed':>9}{'':>9}{'':>10}  {r['error'][:80]}")
            continue
        ratio = f"{r['seconds'] / ref:>8.2f}x" if ref else ""
        notes = [f"compile {r['compile']:.2f} s" if "compile" in r else "",
                 f"build {r['build']:.2f} s" if "build" in r else "", r.get("note", "")]
        lines.append(f"{LABELS[name]:<50}{r['seconds']:>9.3f}{ratio:>9}{r['peak_gb']:>8.2f}GB  "
                     + "; ".join(x for x in notes if x))
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only n=1e5, k=20")
    parser.add_argument("--many", action="store_true", help="add the k=2,000, n=1e5 cases")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case")
    parser.add_argument("--n", type=int)
    parser.add_argument("--k", type=int)
    args = parser.parse_args(argv)
    if args.case:
        warnings.simplefilter("ignore")
        print(json.dumps(case(args.case, args.n, args.k, args.repeat)))
        return
    import jax

    print(f"jax {jax.__version__} ({jax.default_backend()}); {_common.environment()}; "
          "every case in its own subprocess")
    sizes = [(100_000, 20)] if args.quick else [(100_000, 20), (1_000_000, 50)]
    for n, k in sizes:
        names = ["blas", "sm_logit", "hs_generic", "hs_index"]
        if n * k <= 5_000_000:
            names.append("sm_generic")
        if n * k <= 2_000_000:
            names.append("numdifftools")
        results = {name: run_case(name, n, k, args.repeat) for name in names}
        order = ["sm_logit", "hs_generic", "hs_index", "sm_generic", "numdifftools", "blas"]
        print(table(n, k, {name: results[name] for name in order if name in results}, "sm_logit"))
    if args.many:
        n, k = 100_000, 2_000
        results = {name: run_case(name, n, k, 1) for name in ["many_index", "many_blocked", "many_cg"]}
        print(table(n, k, results, "many_index"))


if __name__ == "__main__":
    main()
