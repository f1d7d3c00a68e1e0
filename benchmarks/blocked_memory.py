"""Memory of the generic (blocked) Hessian at many parameters: a logit-like user likelihood.

Run ``python benchmarks/blocked_memory.py [--n 100000] [--k 2000] [--block 128] [--what hessian_blocked evaluate]``.
Threads pinned (``BENCH_THREADS``, default 1; see ``_common.py``). Each measurement runs in its own
subprocess: it simulates the design (``n x k``, float64), builds ``hs.Model(logit, ...)`` (the
generic path: no index detection), then resets the process's peak-RSS mark (Linux
``/proc/self/clear_refs``) and computes

- ``hessian_blocked``: ``hs.hessian_blocked(model, theta, block_size)`` (Hessian columns in blocks
  of directions, :mod:`hessstats.core.hvp`);
- ``evaluate``: ``model.evaluate(theta)`` (``k > AUTO_BLOCK_K``: value, gradient and the Hessian in
  direction blocks, what every Newton step of a fit does).

It prints the peak resident memory above the process's RSS with the user's numpy design: from
building the model (which copies the data once, asynchronously) through the first call, and of a
second call alone, in GB and in copies of the design. Measured (1 thread, n=1e5, k=2000, design
1.60 GB, this machine under load): build + first ``hessian_blocked`` 3.27 GB above the design (the
model's copy 1.60 + 1.67: ``jnp.array(copy=True)`` in ``rows/prepare.py`` stages a second host copy
that lives until the cyclic GC runs), 1.87 GB with ``jax.device_put(..., may_alias=False)`` there
(the model's copy + 0.27; but that call alone is no fix: on small arrays a later write to the
caller's array intermittently reaches the copy); a warm call +0.11-0.16 GB (0.07-0.10 copies).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (sets thread environment variables before numpy loads)

CHILD = r"""
import json, sys, time
sys.path.insert(0, {here!r}); import _common; _common.use_repo({repo!r})
import numpy as np, jax.numpy as jnp, hessstats as hs

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024 / 1e9

def logit(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)

n, k, block, what = {n}, {k}, {block}, {what!r}
def reset():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    return status("VmRSS")

def call(theta):
    return model.evaluate(theta)[2] if what == "evaluate" else hs.hessian_blocked(model, theta, block_size=block)

X, y = _common.simulate(n, k)
out = dict(design=X.nbytes / 1e9)
out["data"] = reset()
model = hs.Model(logit, {{"beta": np.zeros(k)}}, {{"X": X, "y": y}})
theta = np.linspace(-0.5, 0.5, k) / np.sqrt(k)
call(np.zeros(k))  # compiles; the model's copy of the data is made asynchronously, so build and first call together
out["first"] = status("VmHWM") - out["data"]
before = reset()
t = time.perf_counter()
hess = call(theta)
out["seconds"] = time.perf_counter() - t
out["warm"] = status("VmHWM") - before
out["before"] = before
p = 1 / (1 + np.exp(-(X @ theta)))
ref = -(X * (p * (1 - p))[:, None]).T @ X
err = float(np.max(np.abs(hess - ref)) / np.max(np.abs(ref)))
out["err"] = err
print("RESULT " + json.dumps(out))
"""


def run(n: int, k: int, block: int, what: str, repo: str | None) -> dict:
    code = CHILD.format(here=_common.HERE, repo=repo, n=n, k=k, block=block, what=what)
    return _common.child_result(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=2000)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--what", nargs="+", default=["hessian_blocked", "evaluate"])
    parser.add_argument("--before", default=None, help="path of another hessstats (an export) to run the same cases")
    args = parser.parse_args()
    print(_common.environment())
    print(f"n={args.n}, k={args.k}, block={args.block}: design {args.n * args.k * 8 / 1e9:.2f} GB")
    print("GB above the RSS with the numpy design: 'build+first' = peak from hs.Model (its own copy of the data, "
          "one design) through the first call (compiles); 'warm' = peak of the second call above the RSS before it; "
          "copies of the design in brackets")
    print(f"{'variant':<8} {'call':<16} {'build+first':>13} {'warm':>13} {'warm s':>7} {'rel err':>8}")
    for label, repo in (("before", args.before), ("this", None)):
        if label == "before" and not repo:
            continue
        for what in args.what:
            r = run(args.n, args.k, args.block, what, repo)
            cells = " ".join(f"{r[key]:6.2f} ({r[key] / r['design']:4.2f})" for key in ("first", "warm"))
            print(f"{label:<8} {what:<16} {cells} {r['seconds']:7.2f} {r['err']:8.1e}")


if __name__ == "__main__":
    main()
