"""User-written logit through ``hs.fit``: detected index Hessian against the generic AD Hessian.

Run ``python benchmarks/autoindex.py [--sizes 100000x20 1000000x50] [--rounds 3] [--no-statsmodels]``.
Threads pinned (``BENCH_THREADS``, default 1; see ``_common.py``). Each size runs in its own
subprocess (peak memory per case). The same function ``logit(p, d)`` (``eta = d["X"] @ p["beta"]``)
is fitted

- **generic**: ``hs.Model(logit, start, data)`` (never detects) then ``.fit().bse``;
- **detected**: ``hs.Model`` + :func:`hessstats.models.autoindex.detect_index` (what ``hs.fit`` does),
  then ``.fit().bse``;
- **statsmodels**: ``sm.Logit(y, X).fit(method="newton")`` (construction and fit), as the peer.

``build`` is the model construction (tracing, validation; for detected also the detection and its
checks), ``first fit`` includes compiling the kernels, ``warm fit`` is the best of ``rounds`` later
``fit().bse`` calls (variants interleaved). The ratio column is warm fit / statsmodels.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (sets thread environment variables before numpy loads)

CHILD = r"""
import json, sys, time
sys.path.insert(0, {here!r}); import _common; _common.use_repo(None)
import numpy as np, jax.numpy as jnp, hessstats as hs
from hessstats.models.autoindex import detect_index
n, k, rounds, peer = {n}, {k}, {rounds}, {peer}
X, y = _common.simulate(n, k)
data = {{"X": X, "y": y}}

def logit(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)

out = {{}}
models = {{}}
for name in ("generic", "detected"):
    t = time.perf_counter()
    m = hs.Model(logit, {{"beta": np.zeros(k)}}, data)
    if name == "detected":
        m = detect_index(m, logit)
        assert m.index is not None, "not detected"
    build = time.perf_counter() - t
    t = time.perf_counter(); res = m.fit(); res.bse; first = time.perf_counter() - t
    models[name] = (m, res)
    out[name] = {{"build": build, "first": first, "warm": []}}
for _ in range(rounds):
    for name, (m, _) in models.items():
        t = time.perf_counter(); m.fit().bse; out[name]["warm"].append(time.perf_counter() - t)
    if peer:
        import statsmodels.api as sm
        t = time.perf_counter(); sm.Logit(y, X).fit(method="newton", disp=0).bse
        out.setdefault("statsmodels", {{"build": 0.0, "first": 0.0, "warm": []}})["warm"].append(time.perf_counter() - t)
gen, det = models["generic"][1], models["detected"][1]
out["max_rel_diff_bse"] = float(np.max(np.abs(det.bse.to_numpy() / gen.bse.to_numpy() - 1)))
out["peak_gb"] = _common.peak_gb()
print("RESULT " + json.dumps(out))
"""


def run(n: int, k: int, rounds: int, peer: bool) -> dict:
    code = CHILD.format(here=_common.HERE, n=n, k=k, rounds=rounds, peer=peer)
    return _common.child_result(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100000x20", "1000000x50"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-statsmodels", action="store_true")
    args = parser.parse_args()
    print(_common.environment())
    print(f"{'case':<12} {'variant':<12} {'build s':>8} {'first fit s':>12} {'warm fit s':>11} {'vs sm':>7}")
    for size in args.sizes:
        n, k = (int(v) for v in size.split("x"))
        out = run(n, k, args.rounds, not args.no_statsmodels)
        peer = min(out["statsmodels"]["warm"]) if "statsmodels" in out else float("nan")
        for name in ("generic", "detected", "statsmodels"):
            if name not in out:
                continue
            row = out[name]
            warm = min(row["warm"])
            print(f"{size:<12} {name:<12} {row['build']:8.3f} {row['first']:12.3f} {warm:11.3f} {warm / peer:7.2f}")
        print(f"{size:<12} detected/generic warm fit: {min(out['detected']['warm']) / min(out['generic']['warm']):.2f}x; "
              f"max |bse ratio - 1| {out['max_rel_diff_bse']:.1e}; peak {out['peak_gb']:.2f} GB")


if __name__ == "__main__":
    main()
