"""Compile once per model shape: no retrace per iteration or per repeated fit; visible compile stats;
an opt-in persistent compilation cache that a second process reuses.

References: the kernel trace counters in ``hessstats.core.compilation.TRACES`` (incremented only while JAX
traces) and the files JAX's persistent cache writes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import hessstats as hs
from hessstats.core import compilation as diff

ROOT = Path(__file__).resolve().parents[2]


def poisson(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.exp(eta)


def simulate(n, k, seed):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=(n, k - 1)) * 0.3, np.ones(n)])
    return {"X": X, "y": rng.poisson(np.exp(X @ np.linspace(0.2, 0.5, k))).astype(float)}


def test_one_trace_for_all_iterations_and_none_for_a_repeat():
    data = simulate(517, 3, 0)
    first = hs.fit(poisson, {"beta": np.zeros(3)}, data)
    assert first.iterations >= 3
    assert first.compile_stats["traces"] <= 1  # one compile (0 if an earlier test used this shape)
    again = hs.fit(poisson, {"beta": np.zeros(3)}, simulate(517, 3, 1))  # new data, same shapes
    assert again.compile_stats == {"traces": 0, "compile_seconds": 0.0}
    assert again.iterations >= 3


def test_new_shape_compiles_once_and_is_logged(caplog):
    data = simulate(333, 2, 2)
    before = diff.trace_count("value_grad_hess")
    with caplog.at_level(logging.DEBUG, logger="hessstats"):
        res = hs.fit(poisson, {"beta": np.zeros(2)}, data)
    assert diff.trace_count("value_grad_hess") - before == 1
    assert res.compile_stats["traces"] == 1 and res.compile_stats["compile_seconds"] > 0
    assert any("compiled value_grad_hess" in r.getMessage() for r in caplog.records)
    stats = hs.compile_stats()
    assert stats["value_grad_hess"]["traces"] >= 1


def test_persistent_cache_is_reused_by_a_new_process(tmp_path):
    """Process 1 fills the cache; process 2 (same shapes) finds every kernel there: no new entries."""
    script = (
        "import sys, numpy as np, jax.numpy as jnp, hessstats as hs\n"
        "hs.enable_compilation_cache(sys.argv[1])\n"
        "rng = np.random.default_rng(0); X = np.column_stack([rng.normal(size=(211, 2)), np.ones(211)])\n"
        "y = (X @ [1.0, -1.0, 0.2] + rng.logistic(size=211) > 0).astype(float)\n"
        "def ll(p, d):\n"
        "    e = d['X'] @ p['b']\n"
        "    return d['y'] * e - jnp.logaddexp(0.0, e)\n"
        "print(hs.fit(ll, {'b': np.zeros(3)}, {'X': X, 'y': y}).bse.round(10).tolist())\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cache = tmp_path / "jax-cache"
    first = subprocess.run([sys.executable, "-c", script, str(cache)], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    entries = sorted(p.name for p in cache.iterdir())
    assert entries, "the first process wrote no cache entries"
    second = subprocess.run([sys.executable, "-c", script, str(cache)], env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-2000:]
    assert sorted(p.name for p in cache.iterdir()) == entries  # all hits, nothing recompiled
    assert second.stdout == first.stdout

