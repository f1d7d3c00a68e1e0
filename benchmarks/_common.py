"""Shared benchmark plumbing: pinned threads, the environment line, copy-free BLAS, data, peak memory.

Import this module **before** numpy/jax/scipy (it sets the thread environment variables that the
BLAS and XLA read when they load). ``BENCH_THREADS`` (default 1) sets the thread count of every
library: OpenBLAS/MKL/OpenMP through the usual environment variables and threadpoolctl, XLA's CPU
backend through ``XLA_FLAGS``. Every benchmark prints :func:`environment` so its numbers say how
many threads they used.

``--before PATH`` in the scripts runs the same case with the hessstats found at ``PATH`` (e.g. an
export of the commit before a change: ``git archive <commit> hessstats data | tar -x -C PATH``), in
its own subprocess, so before/after numbers come from the same run on the same machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

THREADS = int(os.environ.get("BENCH_THREADS", "1"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = str(THREADS)
if THREADS == 1 and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                               "intra_op_parallelism_threads=1").strip()

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def use_repo(path: str | None) -> None:
    """Import hessstats from ``path`` (a checkout or export), else from this repository."""
    sys.path.insert(0, os.path.abspath(path) if path else ROOT)


def pin_threads() -> str:
    """Limit every BLAS/OpenMP pool seen by threadpoolctl to :data:`THREADS`; a description."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return f"{THREADS} thread(s) by environment variables (threadpoolctl not installed)"
    threadpool_limits(THREADS)
    pools = sorted({f"{p['internal_api']}:{p['num_threads']}" for p in threadpool_info()})
    return f"{THREADS} thread(s); pools {', '.join(pools)}; XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"


def environment() -> str:
    """One line: versions, CPUs, load, threads."""
    import numpy as np
    import scipy

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"python {sys.version.split()[0]}, numpy {np.__version__}, scipy {scipy.__version__}, "
            f"{os.cpu_count()} CPUs, load average {load:.1f}; {pin_threads()}")


def peak_gb() -> float:
    """Peak resident memory of this process so far (Linux ``ru_maxrss``, KiB), in GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def simulate(n: int, k: int, seed: int = 0, block: int = 100_000):
    """A logit design (``k - 1`` normal columns and a constant, C order) filled in row blocks, so the
    peak memory of making it is the design itself; true beta in [-0.5, 0.5]."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = np.empty((n, k))
    X[:, -1] = 1.0
    beta = np.linspace(-0.5, 0.5, k)
    y = np.empty(n)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        X[lo:hi, :-1] = rng.normal(size=(hi - lo, k - 1))
        y[lo:hi] = (X[lo:hi] @ beta + rng.logistic(size=hi - lo) > 0)
    return X, y


def syrk(A):
    """``A' A`` by BLAS dsyrk **without copying** ``A``: scipy's wrapper copies an argument that
    is not Fortran-ordered, so a Fortran ``A`` is passed as itself with ``trans=1`` and a C-ordered
    one as its transpose (a Fortran view) with ``trans=0``. (``dsyrk(1.0, A.T, trans=0)`` on a
    Fortran ``A`` copies the whole matrix on every call: about 2x the time at n=1e6, k=50.)"""
    import scipy.linalg.blas as blas

    if A.flags.f_contiguous:
        return blas.dsyrk(1.0, A, trans=1)
    return blas.dsyrk(1.0, A.T, trans=0)


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


def case_in_subprocess(script: str, name: str, *options: object, before: str | None = None) -> object:
    """Run ``script --case name *options`` in a fresh interpreter (a ``*_before`` case with ``--repo
    before``) and return the JSON its last output line holds."""
    cmd = [sys.executable, os.path.abspath(script), "--case", name, *map(str, options)]
    if name.endswith("_before"):
        cmd += ["--repo", before]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_result(code: str) -> dict:
    """Run ``python -c code`` and return the JSON of its ``RESULT {...}`` line (its stderr on failure)."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    line = next((s for s in proc.stdout.splitlines() if s.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(line[len("RESULT "):])
