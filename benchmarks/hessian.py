"""One Hessian of each built-in single-index model: index path vs generic AD path vs the BLAS limit.

Run ``python benchmarks/hessian.py [--n 100000] [--k 20] [--repeat 3]``. Threads pinned
(``BENCH_THREADS``, default 1; see ``_common.py``). For logit, probit, Poisson and NB2 built with
the array interfaces (``logit_model`` ...), at the start values plus a small perturbation:

- ``index``: ``model.evaluate(theta)`` (value, gradient and Hessian, the Hessian as ``X' diag(w) X``);
- ``generic``: the same model with ``index=None`` (``jax.hessian`` of the log-likelihood);
- ``syrk``: the copy-free ``dsyrk`` of a Fortran-ordered ``sqrt(w) X`` formed beforehand (the BLAS
  limit; ``_common.syrk``);
- ``statsmodels``: the analytic ``model.hessian(params)`` of the statsmodels twin.

Ratios are seconds / syrk seconds (same run). The last column is the largest relative difference
between the index and generic Hessians.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402, I001  (pins threads before numpy/jax load)

import numpy as np  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--repo")
    args = parser.parse_args(argv)
    _common.use_repo(args.repo)
    warnings.simplefilter("ignore")
    import statsmodels.api as sm

    from hessstats.models.binary import logit_model, probit_model
    from hessstats.models.count import negbin_model, poisson_model

    print(_common.environment())
    n, k = args.n, args.k
    X, y = _common.simulate(n, k)
    rng = np.random.default_rng(1)
    counts = rng.poisson(np.exp(0.1 * (X @ np.linspace(-0.5, 0.5, k)))).astype(float)
    theta = 0.01 * rng.standard_normal(k)
    cases = {
        "logit": (lambda: logit_model(y, X), sm.Logit(y, X), theta, lambda eta: np.exp(eta) / (1 + np.exp(eta)) ** 2),
        "probit": (lambda: probit_model(y, X), sm.Probit(y, X), theta, None),
        "poisson": (lambda: poisson_model(counts, X), sm.Poisson(counts, X), theta, np.exp),
        "negbin": (lambda: negbin_model(counts, X), sm.NegativeBinomial(counts, X, loglike_method="nb2"),
                   np.r_[theta, 0.5], None),
    }
    print(f"\none Hessian at n={n:,} k={k} (seconds, best of {args.repeat}; ratio = / copy-free dsyrk)")
    print(f"{'model':<10}{'syrk':>9}{'index':>9}{'ratio':>8}{'generic':>9}{'ratio':>8}{'statsm.':>9}{'ratio':>8}"
          f"{'index/generic':>15}{'max rel diff':>14}")
    print("-" * 99)
    for name, (build, twin, th, weight) in cases.items():
        row(name, build(), twin, th, weight, X, args.repeat)


def row(name, model, twin, th, weight, X, repeat: int) -> None:
    """Time one model's Hessian by each path and print a table row."""
    n, k = X.shape
    generic = model.replace(index=None)
    model.evaluate(th)
    generic.evaluate(th)
    t_index = _common.best_of(lambda: model.evaluate(th), repeat)
    t_generic = _common.best_of(lambda: generic.evaluate(th), repeat)
    h_index, h_generic = model.evaluate(th)[2], generic.evaluate(th)[2]
    diff = float(np.max(np.abs(h_index - h_generic)) / np.max(np.abs(h_generic)))
    w = weight(X @ th[:k]) if weight is not None else np.full(n, 0.25)
    A = np.asfortranarray(X * np.sqrt(w)[:, None])
    t_syrk = _common.best_of(lambda: _common.syrk(A), repeat)
    t_sm = _common.best_of(lambda: twin.hessian(th), repeat)
    print(f"{name:<10}{t_syrk:>9.3f}{t_index:>9.3f}{t_index / t_syrk:>7.2f}x{t_generic:>9.3f}{t_generic / t_syrk:>7.2f}x"
          f"{t_sm:>9.3f}{t_sm / t_syrk:>7.2f}x{t_index / t_generic:>14.2f}x{diff:>14.1e}")

if __name__ == "__main__":
    main()
