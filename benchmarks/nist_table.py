"""NIST StRD nonlinear regression: hessstats against scipy.optimize.least_squares, from the
certified starts.

Run ``python benchmarks/nist_table.py [--tight] [NAME ...]``. For each of the 27 problems and both
certified starts, one row per start, one column per optimiser:

- ``hs plain``: ``hs.fit`` of the normal likelihood (``b``, ``log_sigma``; ``log_sigma`` started at
  its maximum given ``b``), observed information only;
- ``hs scoring``: the same with ``expected_information=`` (``J'J / sigma^2``, ``2n``): Fisher-scoring
  (Gauss-Newton) steps where the observed information is indefinite;
- ``trf`` and ``lm``: ``scipy.optimize.least_squares(method=...)`` with the exact Jacobian (jax),
  default tolerances (``--tight``: ``ftol = xtol = gtol = 1e-15`` as an extra pair of columns).

A cell is ``OK`` when the parameters are within 1e-6 and the standard errors within 1e-4 of NIST's
certified values (relative; Lanczos1's SEs within 1e-2, its RSS being rounding noise), ``ok-p``
when only the parameters are, else ``--``; then ``*`` if hessstats reported converged=True,
and the iterations (hessstats: trial points evaluated) or function evaluations (scipy).
Standard errors are NIST's Gauss-Newton ones, ``sqrt(diag((J'J)^-1) RSS / (n - p))``, computed
from the exact Jacobian at each optimiser's solution.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "core"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import nist_models as nm  # noqa: E402
import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402

import hessstats as hs  # noqa: E402
from hessstats._config import x64  # noqa: E402

PARAM_RTOL, SE_RTOL, SE_RTOL_LANCZOS1 = 1e-6, 1e-4, 1e-2


def grade(problem: nm.Problem, b: np.ndarray) -> str:
    """``OK`` (parameters and SEs certified), ``ok-p`` (parameters only) or ``--``."""
    b = np.asarray(b, dtype=np.float64)
    if not np.all(np.isfinite(b)) or np.max(np.abs(b / problem.certified - 1)) > PARAM_RTOL:
        return "--"
    se = nm.gauss_newton_se(problem, b)
    tol = SE_RTOL_LANCZOS1 if problem.name == "Lanczos1" else SE_RTOL
    return "OK" if np.max(np.abs(se / problem.certified_sd - 1)) <= tol else "ok-p"


def run_hessstats(problem: nm.Problem, which: int, scoring: bool) -> tuple[str, bool, int]:
    options = {"expected_information": nm.ExpectedInformation(problem)} if scoring else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = hs.fit(nm.NormalLoglike(problem.name), nm.start(problem, which), nm.data(problem), **options)
    except Exception as exc:  # reported in the table: the point of the catalogue
        return f"raised {type(exc).__name__}", False, 0
    return grade(problem, res.params.to_numpy()[: problem.p]), bool(res.converged), res.iterations


def run_scipy(problem: nm.Problem, which: int, method: str, tight: bool) -> tuple[str, int]:
    f = nm.MODELS[problem.name]
    with x64():
        x = jnp.asarray(problem.x, dtype=jnp.float64)
        y = jnp.asarray(problem.response, dtype=jnp.float64)
        residual = jax.jit(lambda b: y - f(b, x))
        jacobian = jax.jit(jax.jacfwd(lambda b: -f(b, x)))
        tolerances = {"ftol": 1e-15, "xtol": 1e-15, "gtol": 1e-15} if tight else {}
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                out = scipy.optimize.least_squares(
                    lambda b: np.asarray(residual(jnp.asarray(b))), problem.starts[which - 1],
                    jac=lambda b: np.asarray(jacobian(jnp.asarray(b))), method=method, **tolerances)
        except Exception as exc:
            return f"raised {type(exc).__name__}", 0
    return grade(problem, out.x), int(out.nfev)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="problems (default: all 27)")
    parser.add_argument("--tight", action="store_true", help="also scipy with ftol = xtol = gtol = 1e-15")
    args = parser.parse_args()
    names = args.names or list(nm.NAMES)
    columns = ["hs plain", "hs scoring", "trf", "lm"] + (["trf tight", "lm tight"] if args.tight else [])
    ok = dict.fromkeys(columns, 0)
    print(f"{'problem':10s} {'start':>5s}  " + "  ".join(f"{c:>12s}" for c in columns))
    started = time.perf_counter()
    for name in names:
        problem = nm.load(name)
        for which in (1, 2):
            cells = []
            for column in columns:
                if column.startswith("hs"):
                    verdict, converged, count = run_hessstats(problem, which, column == "hs scoring")
                    cell = f"{verdict}{'*' if converged else ' '} {count:3d}"
                else:
                    verdict, count = run_scipy(problem, which, column.split()[0], column.endswith("tight"))
                    cell = f"{verdict}  {count:3d}"
                ok[column] += verdict == "OK"
                cells.append(f"{cell:>12s}")
            print(f"{name:10s} {which:5d}  " + "  ".join(cells), flush=True)
    total = 2 * len(names)
    print(f"\n{'certified':16s} " + "  ".join(f"{f'{ok[c]}/{total}':>12s}" for c in columns))
    print(f"({time.perf_counter() - started:.0f} s; '*': hessstats reported converged=True; "
          "counts: hessstats trial points, scipy function evaluations)")


if __name__ == "__main__":
    main()
