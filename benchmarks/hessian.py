"""One Hessian of each built-in index model: index path vs generic AD path vs the BLAS limit; and
fits of MNLogit / ordered logit / gamma / NB2 against statsmodels.

Run ``python benchmarks/hessian.py [--n 100000] [--k 20] [--repeat 3] [--fit] [--only-fit]``.
Threads pinned (``BENCH_THREADS``, default 1; see ``_common.py``). For the built-ins (logit,
probit, Poisson, NB2, OLS, gamma, Tobit, Weibull, ordered logit, MNLogit with 3 outcomes) built
with the array interfaces (``logit_model`` ...), at the start values plus a small perturbation:

- ``index``: ``model.evaluate(theta)`` (value, gradient and Hessian, the Hessian as ``X' diag(w) X``);
- ``generic``: the same model with ``index=None`` (``jax.hessian`` of the log-likelihood);
- ``syrk``: the copy-free ``dsyrk`` of a Fortran-ordered ``sqrt(w) X`` formed beforehand (the BLAS
  limit of one ``k x k`` Gram product; ``_common.syrk``; MNLogit with ``J`` outcomes needs
  ``J (J - 1) / 2`` of them, 3 here);
- ``statsmodels``: the analytic ``model.hessian(params)`` of the statsmodels twin, where it has one
  (``-`` otherwise: Tobit, Weibull, and ``OrderedModel``, whose Hessian is numerical).

Ratios are seconds / syrk seconds (same run). The last column is the largest relative difference
between the index and generic Hessians.

``--floor`` prints only the logit row in its parts (linear predictor, derivatives kernel, Gram
products) and the floor of any exact Newton Hessian measured in the same run: the copy-free syrk
plus one pass ``X @ theta`` (the weights depend on it, so it cannot overlap the Gram product on one
thread) plus the logistic weights in numpy.

``--fit`` adds the issue-17 row "MNLogit / ordered / gamma / NB2 at 1e5 x 20, fit": for each, the
hessstats model is built (timed), fitted once (compile + fit), then fitted again (steady state,
best of ``--repeat``; the fit includes the standard errors), the same with the generic Hessian
(``index=None``), against statsmodels in the same run: ``MNLogit.fit(method="newton")``,
``OrderedModel.fit(method="bfgs")`` (its default optimiser; numerical Hessian for the SEs),
``GLM(family=Gamma(log)).fit()`` (IRLS), ``NegativeBinomial.fit(method="newton")`` (nb2), each with
``.bse``. Ratio = hessstats / statsmodels (lower is better).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402, I001  (pins threads before numpy/jax load)

import numpy as np  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fit", action="store_true", help="also time the fits against statsmodels")
    parser.add_argument("--only-fit", action="store_true", help="only the fits")
    parser.add_argument("--floor", action="store_true", help="only the logit Hessian's parts and its floor")
    parser.add_argument("--repo")
    args = parser.parse_args(argv)
    _common.use_repo(args.repo)
    warnings.simplefilter("ignore")

    print(_common.environment())
    n, k = args.n, args.k
    data = simulate(n, k)
    if args.floor:
        floor(data, args.repeat)
        return
    if not args.only_fit:
        hessians(data, args.repeat)
    if args.fit or args.only_fit:
        fits(data, args.repeat)


def simulate(n: int, k: int) -> dict:
    """Designs and outcomes of every case (one seed)."""
    X, y = _common.simulate(n, k)
    rng = np.random.default_rng(1)
    eta = 0.1 * (X @ np.linspace(-0.5, 0.5, k))
    counts = rng.poisson(np.exp(eta) * rng.gamma(2.0, 0.5, size=n)).astype(float)  # NB2, alpha = 0.5
    u = np.column_stack([np.zeros(n), eta, 0.3 - eta]) + rng.gumbel(size=(n, 3))
    return {"X": X, "y": y, "counts": counts, "normal": eta + rng.normal(size=n),
            "gamma": rng.gamma(2.0, np.exp(eta) / 2.0), "time": np.exp(eta) * rng.weibull(1.5, size=n),
            "ordered": np.digitize(eta + rng.logistic(size=n), [-1.0, 0.0, 1.0]),
            "mnlogit": np.argmax(u, axis=1), "theta": 0.01 * rng.standard_normal(k)}


def hessians(d: dict, repeat: int) -> None:
    import statsmodels.api as sm
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    from hessstats.models.binary import logit_model, probit_model
    from hessstats.models.categorical import mnlogit_model, ordered_model
    from hessstats.models.continuous import gamma_model, normal_model, tobit_model
    from hessstats.models.count import negbin_model, poisson_model
    from hessstats.models.survival import weibull_model

    X, y, counts, theta = d["X"], d["y"], d["counts"], d["theta"]
    n, k = X.shape
    Xn = X[:, :-1]  # ordered: no constant
    cases = {
        "logit": (lambda: logit_model(y, X), sm.Logit(y, X), theta, lambda eta: np.exp(eta) / (1 + np.exp(eta)) ** 2),
        "probit": (lambda: probit_model(y, X), sm.Probit(y, X), theta, None),
        "poisson": (lambda: poisson_model(counts, X), sm.Poisson(counts, X), theta, np.exp),
        "negbin": (lambda: negbin_model(counts, X), sm.NegativeBinomial(counts, X, loglike_method="nb2"),
                   np.r_[theta, 0.5], None),
        "ols": (lambda: normal_model(d["normal"], X), None, np.r_[theta, 1.0], None),
        "gamma": (lambda: gamma_model(d["gamma"], X), None, np.r_[theta, 0.5], None),
        "tobit": (lambda: tobit_model(np.maximum(d["normal"], 0.0), X, left=0.0), None, np.r_[theta, 1.0], None),
        "weibull": (lambda: weibull_model(d["time"], X), None, np.r_[theta, 1.5], None),
        "ordered": (lambda: ordered_model(d["ordered"], Xn), None, np.r_[theta[:-1], -1.0, 0.0, 0.0], None),
        "mnlogit": (lambda: mnlogit_model(d["mnlogit"], X), sm.MNLogit(d["mnlogit"], X), np.r_[theta, -theta], None),
    }
    del OrderedModel  # its Hessian is numerical: no analytic twin to time
    print(f"\none Hessian at n={n:,} k={k} (seconds, best of {repeat}; ratio = / copy-free dsyrk)")
    print(f"{'model':<10}{'syrk':>9}{'index':>9}{'ratio':>8}{'generic':>9}{'ratio':>8}{'statsm.':>9}{'ratio':>8}"
          f"{'index/generic':>15}{'max rel diff':>14}")
    print("-" * 99)
    for name, (build, twin, th, weight) in cases.items():
        design = Xn if name == "ordered" else X
        row(name, build(), twin, th, weight, design, repeat)


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
    if twin is not None:
        th_sm = th.reshape(2, -1).T.ravel() if name == "mnlogit" else th  # statsmodels: (k, J-1) column order
        t_sm = _common.best_of(lambda: twin.hessian(th_sm), repeat)
        sm_cols = f"{t_sm:>9.3f}{t_sm / t_syrk:>7.2f}x"
    else:
        sm_cols = f"{'-':>9}{'-':>8}"
    print(f"{name:<10}{t_syrk:>9.3f}{t_index:>9.3f}{t_index / t_syrk:>7.2f}x{t_generic:>9.3f}{t_generic / t_syrk:>7.2f}x"
          f"{sm_cols}{t_index / t_generic:>14.2f}x{diff:>14.1e}")


def floor(d: dict, repeat: int) -> None:
    """The logit index Hessian (``model.evaluate``) in its parts, against the floor of any exact
    Newton Hessian on this machine: one pass over ``X`` for the linear predictor (no weight is known
    before it), the logistic weights, and the copy-free syrk of ``sqrt(w) X`` formed beforehand."""
    import scipy.special

    from hessstats._config import x64
    from hessstats.core import linalg
    from hessstats.core.compilation import call_kernel
    from hessstats.models import index
    from hessstats.models.binary import logit_model

    X, y, th = d["X"], d["y"], d["theta"]
    n, k = X.shape
    model = logit_model(y, X)
    model.evaluate(th)
    hess = model.index
    data, weights = (model.padding.data, model.padding.weights) if model.padding is not None else (model.data, None)
    xs, rows_b, _ = index._layout(data, hess.loglike, model.spec)
    host = np.asarray(xs[0])
    t_eval = _common.best_of(lambda: model.evaluate(th), repeat)
    t_eta = _common.best_of(lambda: index._host_eta([host], rows_b, th), repeat)
    eta = index._host_eta([host], rows_b, th)
    with x64():  # as the engine calls it
        t_deriv = _common.best_of(lambda: call_kernel("index_derivatives", index.derivatives_at, th, eta, data, hess.loglike,
                                                      model.spec, weights, hess.consts), repeat)
    w = scipy.special.expit(eta[:n, 0]) * scipy.special.expit(-eta[:n, 0])
    t_w = _common.best_of(lambda: scipy.special.expit(eta[:n, 0]) * scipy.special.expit(-eta[:n, 0]), repeat)
    g = np.random.default_rng(2).normal(size=(n, 1))
    t_products = _common.best_of(lambda: linalg.gram_products([(X, w, X, True)], [(X, g)]), repeat)
    A = np.asfortranarray(X * np.sqrt(w)[:, None])
    t_syrk = _common.best_of(lambda: _common.syrk(A), repeat)
    t_pass = _common.best_of(lambda: X @ th, repeat)
    bound = t_syrk + t_pass + t_w
    print(f"\nlogit Hessian at n={n:,} k={k} (seconds, best of {repeat}; ratios to the copy-free syrk)")
    print(f"  model.evaluate {t_eval:.4f} ({t_eval / t_syrk:.2f}x): linear predictor {t_eta:.4f}, derivatives kernel "
          f"{t_deriv:.4f}, Gram and X'g products {t_products:.4f} ({t_products / t_syrk:.2f}x)")
    print(f"  floor {bound:.4f} ({bound / t_syrk:.2f}x) = syrk {t_syrk:.4f} + one pass X @ theta {t_pass:.4f} "
          f"+ logistic weights {t_w:.4f}; model.evaluate / floor = {t_eval / bound:.2f}x")


def fits(d: dict, repeat: int) -> None:
    """The issue-17 row: MNLogit / ordered / gamma / NB2 fits against statsmodels, same run."""
    import statsmodels.api as sm
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    from hessstats.models.categorical import mnlogit_model, ordered_model
    from hessstats.models.continuous import gamma_model
    from hessstats.models.count import negbin_model

    X = d["X"]
    Xn = X[:, :-1]
    cases = {
        "mnlogit": (lambda: mnlogit_model(d["mnlogit"], X),
                    lambda: sm.MNLogit(d["mnlogit"], X).fit(method="newton", disp=0)),
        "ordered": (lambda: ordered_model(d["ordered"], Xn),
                    lambda: OrderedModel(d["ordered"], Xn, distr="logit").fit(method="bfgs", disp=0, maxiter=1000)),
        "gamma": (lambda: gamma_model(d["gamma"], X),
                  lambda: sm.GLM(d["gamma"], X, family=sm.families.Gamma(sm.families.links.Log())).fit()),
        "negbin": (lambda: negbin_model(d["counts"], X),
                   lambda: sm.NegativeBinomial(d["counts"], X, loglike_method="nb2").fit(method="newton", disp=0,
                                                                                      maxiter=100)),
    }
    n, k = X.shape
    print(f"\nfits at n={n:,} k={k} (seconds; steady = best of {repeat}; fits include the SEs; "
          "ratio = hessstats steady fit / statsmodels fit)")
    print(f"{'model':<10}{'build':>8}{'1st fit':>9}{'steady':>9}{'generic':>9}{'statsm.':>9}{'ratio':>8}"
          f"{'build+fit':>11}{'max |dparam|':>14}")
    print("-" * 87)
    for name, (build, twin) in cases.items():
        model, t_build = _common.timed(build)
        res, t_first = _common.timed(partial(_fit, model))
        t_steady = _common.best_of(partial(_fit, model), repeat)
        generic = model.replace(index=None)
        _fit(generic)
        t_generic = _common.best_of(partial(_fit, generic), max(1, repeat - 1))
        sm_res, _ = _common.timed(partial(_bse, twin))
        t_sm = _common.best_of(partial(_bse, twin), max(1, repeat - 1))
        params = np.asarray(sm_res.params).ravel(order="F") if name == "mnlogit" else np.asarray(sm_res.params)
        ours = np.asarray(res.params)
        dparam = float(np.max(np.abs(ours[:len(params)] - params[:len(ours)]))) if name != "gamma" else \
            float(np.max(np.abs(ours[:-1] - params)))
        print(f"{name:<10}{t_build:>8.2f}{t_first:>9.2f}{t_steady:>9.3f}{t_generic:>9.3f}{t_sm:>9.3f}"
              f"{t_steady / t_sm:>7.2f}x{(t_build + t_steady) / t_sm:>10.2f}x{dparam:>14.1e}")


def _fit(model):
    res = model.fit()
    np.asarray(res.bse)
    return res


def _bse(fit):
    res = fit()
    np.asarray(res.bse)
    return res


if __name__ == "__main__":
    main()
