"""Bootstrap timing: ``cov_type="bootstrap"`` with B = 999 on a logit with n = 10,000 rows and k = 10
parameters (intercept + 9 regressors), all replicates refitted by vectorised Newton (issue 12 item 4).

Run from the repository root: ``python benchmarks/bootstrap.py [--reps 999] [--n 10000] [--k 10]``.
Prints the time of the first call (compile + run) and of a second call with another seed (run only:
the kernel is compiled once per model shape and batch size), wall and process CPU seconds (on a shared
machine the CPU seconds divided by the cores are the better estimate of an idle machine's wall time),
the batch size, the Newton steps taken
and the failed replicates, and compares the bootstrap SEs with the HC0 sandwich.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

import hessstats as hs
from hessstats.core import bootstrap as boot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=999)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch", type=int, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(12)
    x = rng.normal(size=(args.n, args.k - 1))
    beta = np.linspace(-0.5, 0.5, args.k - 1)
    y = (0.3 + x @ beta + rng.logistic(size=args.n) > 0).astype(float)
    df = pd.DataFrame(x, columns=[f"x{j}" for j in range(1, args.k)]).assign(y=y)
    model = hs.logit("y ~ " + " + ".join(df.columns[:-1]), df)
    start = time.perf_counter()
    res = model.fit()
    fit_s = time.perf_counter() - start
    options = {"reps": args.reps, "seed": 0} | ({"batch": args.batch} if args.batch else {})
    timings, cpu = [], []
    for seed in (0, 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = res.with_cov("bootstrap", cov_options=options | {"seed": seed})
        timings.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    start, start_cpu = time.perf_counter(), time.process_time()
    res.with_cov("bootstrap", cov_options=options | {"kind": "score"})
    score_s, score_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    reps = out.bootstrap_replicates
    batch = boot.batch_size(reps.settings, args.n, args.k)
    ratio = (out.bse / res.with_cov("HC0").bse).to_numpy()
    print(f"logit n={args.n} k={args.k}, B={args.reps}, batch={batch} replicates per vectorised call, "
          f"{os.cpu_count()} CPU(s)")
    print(f"  fit (full sample):            {fit_s:7.2f} s")
    print(f"  bootstrap, first call:        {timings[0]:7.2f} s wall, {cpu[0]:6.2f} s CPU  (compile + run)")
    print(f"  bootstrap, second seed:       {timings[1]:7.2f} s wall, {cpu[1]:6.2f} s CPU  (compiled kernel reused)")
    print(f"  score bootstrap (no refit):   {score_s:7.2f} s wall, {score_cpu:6.2f} s CPU")
    print(f"  load average (1 min):         {os.getloadavg()[0]:7.2f}  (other processes share the cores: wall time grows with it)")
    print(f"  Newton steps per replicate:   median {np.median(reps.iterations):.0f}, max {reps.iterations.max()}")
    print(f"  failed replicates:            {reps.n_failed}")
    print(f"  bootstrap SE / HC0 SE:        min {ratio.min():.3f}, max {ratio.max():.3f} "
          f"(Monte Carlo sd of an SE ratio at B={args.reps}: about {1 / np.sqrt(2 * (args.reps - 1)):.3f})")


if __name__ == "__main__":
    main()
