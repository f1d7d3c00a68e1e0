"""Core benchmark: ``hs.fit`` against statsmodels on a simulated logit, with the BLAS limit.

Run ``python benchmarks/bench_fit.py [--quick]``. All numbers come from this one run on this
machine; ratios compare cases measured in the same run. Cases:

- ``hs.fit`` generic: AD Hessian kernel (``jax.jacrev(jax.grad)``) (first call = compile + fit; then steady state);
- ``hs.IndexModel``: the same logit written in ``eta = X @ beta``, Hessian as ``X' diag(w) X``;
- statsmodels ``Logit.fit(method="newton")`` (analytic derivatives; building the model is timed
  separately and excluded from the fit time);
- statsmodels ``GenericLikelihoodModel`` with the same log-likelihood in numpy (BFGS with
  finite-difference gradients, then its default finite-difference Hessian for the SEs);
  skipped at n = 1e6, k = 50 (it would take many minutes);
- the built-in ``logit_model(y, X)`` (``hs.logit``'s array interface, on the index Hessian):
  construction and fit + SEs timed separately and together, against statsmodels ``Logit`` and
  glum ``GeneralizedLinearRegressor(family="binomial", alpha=0)`` + ``std_errors`` (a second peer;
  ``pip install hessstats[bench]``);
- BLAS limit: ``scipy.linalg.blas.dsyrk`` of ``sqrt(w) X`` formed beforehand in Fortran order and
  passed **without a copy** (``dsyrk(1.0, A, trans=1)``; the earlier ``dsyrk(1.0, A.T, trans=0)``
  copied the whole matrix per call and is shown for reference), the least work any exact Hessian
  of this model can do; and the Hessian evaluation of each method.

Threads are pinned (``BENCH_THREADS``, default 1, see ``_common.py``) and printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402, I001  (pins threads before numpy/jax load)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg.blas as blas  # noqa: E402

import hessstats as hs  # noqa: E402
from hessstats.core import compilation as diff  # noqa: E402

SIZES = [(100_000, 20), (1_000_000, 50)]
QUICK_SIZES = [(100_000, 20)]
GENERIC_MAX_CELLS = 5_000_000
"""GenericLikelihoodModel is run only when n * k is at most this (1e6 x 50 takes many minutes)."""


def simulate(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A logit design with a constant and ``k - 1`` normal covariates, true beta in [-0.5, 0.5]."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=(n, k - 1)), np.ones(n)])
    beta = np.linspace(-0.5, 0.5, k)
    y = (X @ beta + rng.logistic(size=n) > 0).astype(np.float64)
    return X, y


def logit_loglike(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


def logit_obs(eta, params, d):
    return d["y"] * eta["beta"] - jnp.logaddexp(0.0, eta["beta"])


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def bench_hessstats(X, y, repeat: int) -> dict:
    """First and steady ``hs.fit`` (generic and index model), with trace counts and kernel times."""
    k = X.shape[1]
    data, start = {"X": X, "y": y}, {"beta": np.zeros(k)}
    out = {}
    before = diff.trace_count()
    res, out["hs_first"] = timed(lambda: hs.fit(logit_loglike, start, data).bse)
    out["hs_traces_first"] = diff.trace_count() - before
    before = diff.trace_count()
    out["hs_fit"] = best_of(lambda: hs.fit(logit_loglike, start, data).bse, repeat)
    out["hs_traces_steady"] = diff.trace_count() - before
    res = hs.fit(logit_loglike, start, data)
    out["hs_iterations"] = res.iterations
    built = hs.Model(logit_loglike, start, data)
    out["hs_build"] = best_of(lambda: hs.Model(logit_loglike, start, data), 1)
    out["hs_model_fit"] = best_of(lambda: built.fit().bse, repeat)
    out["hs_compile_call"] = hs.compile_stats()["value_grad_hess"]["seconds"]

    before = diff.trace_count()
    _, out["ix_first"] = timed(lambda: hs.IndexModel(logit_obs, start, data, design={"beta": "X"}).fit().bse)
    out["ix_traces_first"] = diff.trace_count() - before
    before = diff.trace_count()
    out["ix_fit"] = best_of(lambda: hs.IndexModel(logit_obs, start, data, design={"beta": "X"}).fit().bse, repeat)
    out["ix_traces_steady"] = diff.trace_count() - before
    index_model = hs.IndexModel(logit_obs, start, data, design={"beta": "X"})
    out["ix_model_fit"] = best_of(lambda: index_model.fit().bse, repeat)
    out["ix_compile_call"] = hs.compile_stats()["index_value_grad_hess"]["seconds"]
    generic_model = hs.Model(logit_loglike, start, data)
    theta = res.theta
    out["hess_generic"] = best_of(lambda: generic_model.evaluate(theta), repeat)
    out["hess_index"] = best_of(lambda: index_model.evaluate(theta), repeat)
    h_generic, h_index = generic_model.evaluate(theta)[2], index_model.evaluate(theta)[2]
    out["index_vs_generic_maxrel"] = float(np.max(np.abs(h_index - h_generic)) / np.max(np.abs(h_generic)))
    out["res"] = res
    return out


def bench_blas(X, theta, repeat: int) -> dict:
    """dsyrk of sqrt(w) X (Fortran order, no copy): the BLAS limit for X' diag(w) X."""
    p = 1.0 / (1.0 + np.exp(-(X @ theta)))
    s = np.sqrt(p * (1 - p))
    A = np.asfortranarray(X * s[:, None])
    syrk = best_of(lambda: _common.syrk(A), repeat)  # dsyrk(1.0, A, trans=1): A is Fortran, no copy
    copying = best_of(lambda: blas.dsyrk(1.0, A.T, trans=0), repeat)  # A.T is C-ordered: the wrapper copies it
    form_syrk = best_of(lambda: _common.syrk(np.asfortranarray(X * s[:, None])), repeat)
    return {"syrk": syrk, "syrk_copying": copying, "form_syrk": form_syrk}


def bench_builtin(X, y, repeat: int) -> dict:
    """The built-in logit (array interface): construction, fit + SEs, and their sum; the one Hessian."""
    from hessstats.models.binary import logit_model

    out = {}
    model, out["bi_build"] = timed(lambda: logit_model(y, X))
    _, out["bi_first"] = timed(lambda: model.fit().bse)
    out["bi_fit"] = best_of(lambda: model.fit().bse, repeat)
    res = model.fit()
    out["bi_hessian"] = best_of(lambda: model.evaluate(res.theta), repeat)
    out["bi_index"] = model.index is not None
    return out


def bench_glum(X, y, res, repeat: int) -> dict:
    """glum (a second peer): unpenalised binomial GLM (IRLS), then its non-robust standard errors."""
    try:
        from glum import GeneralizedLinearRegressor
    except ImportError:
        return {}

    def fit():
        model = GeneralizedLinearRegressor(family="binomial", alpha=0, fit_intercept=False, gradient_tol=1e-10)
        model.fit(X, y)
        return model, model.std_errors(X=X, y=y, robust=False)

    (model, se), first = timed(fit)
    seconds = min(first, best_of(fit, repeat - 1)) if repeat > 1 else first
    return {"glum_fit": seconds,
            "glum_maxrel_params": float(np.max(np.abs(model.coef_ - res.theta) / np.abs(res.theta))),
            "glum_maxrel_bse": float(np.max(np.abs(se - res.bse.to_numpy()) / res.bse.to_numpy()))}


def bench_statsmodels(X, y, res, repeat: int) -> dict:
    import statsmodels.api as sm

    out = {}
    model, out["sm_build"] = timed(lambda: sm.Logit(y, X))
    out["sm_fit"] = best_of(lambda: model.fit(disp=0, method="newton").bse, repeat)
    sm_res = model.fit(disp=0, method="newton", tol=1e-12)
    out["sm_maxrel_params"] = float(np.max(np.abs(sm_res.params - res.theta) / np.abs(sm_res.params)))
    out["sm_maxrel_bse"] = float(np.max(np.abs(sm_res.bse - res.bse.to_numpy()) / sm_res.bse))
    out["sm_hessian"] = best_of(lambda: model.hessian(res.theta), repeat)
    return out


def bench_generic(X, y, res) -> dict:
    """statsmodels GenericLikelihoodModel, same likelihood in numpy, its default numerical derivatives."""
    from statsmodels.base.model import GenericLikelihoodModel

    class NumpyLogit(GenericLikelihoodModel):
        def loglikeobs(self, params):
            eta = self.exog @ params
            return self.endog * eta - np.logaddexp(0.0, eta)

    model = NumpyLogit(y, X)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(start_params=np.zeros(X.shape[1]), method="bfgs", maxiter=1000, disp=0)
        bse = fitted.bse
    elapsed = time.perf_counter() - start
    hess_time = best_of(lambda: model.hessian(fitted.params), 1)
    return {"glm_fit": elapsed, "glm_hessian": hess_time,
            "glm_maxrel_bse": float(np.max(np.abs(bse - res.bse.to_numpy()) / res.bse.to_numpy()))}


def run(sizes, repeat: int = 3, generic: bool = True) -> list[dict]:
    rows = []
    for n, k in sizes:
        X, y = simulate(n, k)
        row = {"n": n, "k": k}
        row.update(bench_hessstats(X, y, repeat))
        row.update(bench_blas(X, row["res"].theta, repeat))
        row.update(bench_statsmodels(X, y, row["res"], repeat))
        row.update(bench_builtin(X, y, repeat))
        row.update(bench_glum(X, y, row["res"], repeat))
        if generic and n * k <= GENERIC_MAX_CELLS:
            row.update(bench_generic(X, y, row["res"]))
        rows.append(row)
        del X, y
    return rows


def fmt_table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        syrk = r["syrk"]
        lines.append(f"\n## logit n={r['n']:,} k={r['k']}  (seconds, best of repeats; ratio = time / reference)")
        lines.append(f"{'case':<58}{'seconds':>10}{'ratio':>10}")

        def line(name, t, ref=None, ref_name=""):
            ratio = f"{t / ref:>9.2f}x" if ref else ""
            lines.append(f"{name:<58}{t:>10.3f}{ratio:>10} {ref_name}")

        lines.append("-- fit + standard errors (vs statsmodels Logit.fit)")
        line("statsmodels Logit(...) construction (excluded)", r["sm_build"])
        line("statsmodels Logit.fit(method='newton') + bse", r["sm_fit"], r["sm_fit"], "sm")
        line("hs.fit generic AD Hessian, steady (incl. Model build)", r["hs_fit"], r["sm_fit"], "sm")
        line("hs.IndexModel(...).fit(), steady (incl. Model build)", r["ix_fit"], r["sm_fit"], "sm")
        line("hs Model(...) construction (copy + validate data)", r["hs_build"])
        line("hs generic model.fit() (build excluded, as sm)", r["hs_model_fit"], r["sm_fit"], "sm")
        line("hs index model.fit() (build excluded, as sm)", r["ix_model_fit"], r["sm_fit"], "sm")
        if "glm_fit" in r:
            line("statsmodels GenericLikelihoodModel fit + bse (numerical)", r["glm_fit"], r["hs_fit"], "hs generic")
            lines.append(f"{'':<58}{'':>10}{r['glm_fit'] / r['hs_fit']:>9.1f}x faster: hs generic vs GLM-generic")
        else:
            lines.append("statsmodels GenericLikelihoodModel: skipped at this size (2k^2 evaluations per Hessian)")
        sm_total = r["sm_build"] + r["sm_fit"]
        lines.append("-- built-in logit (array interface): construction and fit reported apart and together")
        line("statsmodels Logit(y, X) construction", r["sm_build"])
        line("statsmodels construction + fit + bse", sm_total, sm_total, "sm")
        line(f"hs logit_model(y, X) construction (index Hessian: {r['bi_index']})", r["bi_build"])
        line("hs built-in model.fit() + bse (steady)", r["bi_fit"], r["sm_fit"], "sm fit")
        line("hs built-in first fit (compiles)", r["bi_first"], r["sm_fit"], "sm fit")
        line("hs built-in construction + first fit + bse", r["bi_build"] + r["bi_first"], sm_total, "sm")
        if "glum_fit" in r:
            line("glum GeneralizedLinearRegressor fit + std_errors", r["glum_fit"], r["sm_fit"], "sm fit")
            lines.append(f"{'':<4}glum vs hs: params max rel {r['glum_maxrel_params']:.1e}, bse {r['glum_maxrel_bse']:.1e}")
        else:
            lines.append("glum: not installed (pip install hessstats[bench])")
        lines.append("-- compile (first fit minus steady fit; traces = kernels compiled)")
        line(f"hs.fit generic first call ({r['hs_traces_first']} traces; steady {r['hs_traces_steady']})",
             r["hs_first"] - r["hs_fit"])
        line(f"hs.IndexModel first call ({r['ix_traces_first']} traces; steady {r['ix_traces_steady']})",
             r["ix_first"] - r["ix_fit"])
        line("compiling kernel call, generic (hs.compile_stats: compile + 1 run)", r["hs_compile_call"])
        line("compiling kernel call, index (hs.compile_stats: compile + 1 run)", r["ix_compile_call"])
        lines.append("-- one Hessian evaluation (vs BLAS limit dsyrk)")
        line("BLAS limit: dsyrk(sqrt(w) X), formed beforehand, no copy", syrk, syrk, "syrk")
        line("dsyrk(1.0, A.T, trans=0) on Fortran A (copies A)", r["syrk_copying"], syrk, "syrk")
        line("numpy: form sqrt(w) X then dsyrk", r["form_syrk"], syrk, "syrk")
        line("hs built-in logit: value+grad+Hessian (index path)", r["bi_hessian"], syrk, "syrk")
        line("statsmodels Logit.hessian (analytic)", r["sm_hessian"], syrk, "syrk")
        line("hs index model: value+grad+Hessian X'diag(w)X", r["hess_index"], syrk, "syrk")
        line("hs generic: value+grad+AD Hessian (jacrev of grad)", r["hess_generic"], syrk, "syrk")
        if "glm_hessian" in r:
            line("GenericLikelihoodModel.hessian (finite differences)", r["glm_hessian"], syrk, "syrk")
        lines.append("-- accuracy")
        lines.append(f"index vs generic Hessian max rel diff {r['index_vs_generic_maxrel']:.1e}; "
                     f"vs statsmodels Logit: params {r['sm_maxrel_params']:.1e}, bse {r['sm_maxrel_bse']:.1e}"
                     + (f"; GLM-generic bse {r['glm_maxrel_bse']:.1e}" if "glm_maxrel_bse" in r else ""))
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only n=1e5, k=20")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-generic", action="store_true", help="skip GenericLikelihoodModel")
    args = parser.parse_args(argv)
    import jax

    print(f"hessstats {hs.__version__}, jax {jax.__version__} ({jax.default_backend()}); {_common.environment()}")
    rows = run(QUICK_SIZES if args.quick else SIZES, args.repeat, generic=not args.no_generic)
    print(fmt_table(rows))


if __name__ == "__main__":
    main()
