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
import pytest

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
    # a new shape is traced once: its first evaluations run with numpy (logged), compiles come later
    assert any(r.getMessage().startswith(("compiled value_grad_hess", "traced (numpy) value_grad_hess"))
               for r in caplog.records)
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



# ---------------------------------------------------------------- trusted built-ins: trace cache (issue 17)

SCALE = 1.0
OFFSETS = np.zeros(3)


def scaled_loglike(p, d):
    """A user function reading a module global that the test changes between builds."""
    return -0.5 * SCALE * (d - p["mu"]) ** 2


@diff.trusted
def _captures_global_array(theta, data):
    """Registered as trusted but captures a global array: its traces must never be cached."""
    return data * theta[0] + OFFSETS


def test_only_registered_functions_are_trusted():
    """Trust is explicit (the registry), never inferred: a user's function, lambda or closure is not
    trusted, a closure cannot be registered, and a WithOptions holding a non-trusted function or an
    array is not trusted either."""
    from hessstats.models.binary import logit_loglike
    from hessstats.models.count import InflationLink, zinb_loglike
    from hessstats.models.design import WithOptions

    assert diff.is_trusted(logit_loglike) and diff.is_trusted(zinb_loglike)
    assert not diff.is_trusted(scaled_loglike) and not diff.is_trusted(lambda p, d: d)
    assert diff.is_trusted(WithOptions(zinb_loglike, (InflationLink.PROBIT,)))
    assert not diff.is_trusted(WithOptions(scaled_loglike, (InflationLink.PROBIT,)))
    assert not diff.is_trusted(WithOptions(zinb_loglike, (np.ones(2),)))
    scale = 2.0

    def closure(p, d):
        return scale * d

    with pytest.raises(TypeError, match="closure"):
        diff.trusted(closure)


def test_user_function_with_changed_global_is_traced_again():
    """Closed form: a user's function that reads a global is traced for every model (no trace cache),
    so a model built after the global changed uses the new value: loglike_obs = -0.5 * SCALE * (y - mu)^2."""
    global SCALE
    y = np.array([1.0, 2.0, 4.0])
    try:
        SCALE = 1.0
        first = hs.Model(scaled_loglike, {"mu": 0.0}, y)
        SCALE = 3.0
        second = hs.Model(scaled_loglike, {"mu": 0.0}, y + 0.0)
        np.testing.assert_allclose(first.loglike_obs(np.zeros(1)), -0.5 * y ** 2, rtol=1e-14)
        np.testing.assert_allclose(second.loglike_obs(np.zeros(1)), -1.5 * y ** 2, rtol=1e-14)
        np.testing.assert_allclose(second.fit().params["mu"], y.mean(), rtol=1e-10)
    finally:
        SCALE = 1.0


def test_trusted_function_capturing_an_array_is_not_cached():
    """Closed form ``data * theta + OFFSETS``: even a registered function is traced again when its trace
    captured constants (they could change), so a changed global array is seen by the next trace."""
    global OFFSETS
    from hessstats._config import x64

    try:
        with x64():
            OFFSETS = np.zeros(3)
            closed, _ = diff.cached_trace(_captures_global_array, _captures_global_array, np.ones(1), np.ones(3))
            OFFSETS = np.full(3, 5.0)
            again, _ = diff.cached_trace(_captures_global_array, _captures_global_array, np.ones(1), np.ones(3))
        assert closed is not again
        np.testing.assert_allclose(np.asarray(again.consts[0]), np.full(3, 5.0))
        assert diff.cached_program(_captures_global_array, _captures_global_array, np.ones(1), np.ones(3)) is None
    finally:
        OFFSETS = np.zeros(3)


def test_trusted_cache_keys_on_spec_shapes_and_dtypes():
    """The cache key is the function, the parameter structure and the argument signature: the same key
    gives the same Program object; another k, another row count, or another dtype gives another."""
    from hessstats._config import x64
    from hessstats.core.derivatives import FlatLoglike
    from hessstats.core.params import ParamSpec
    from hessstats.models.binary import BinaryParams, logit_loglike

    def program(k, n, dtype=np.float64):
        spec = ParamSpec.from_start(BinaryParams(np.zeros(k)))
        data = {"X": np.ones((n, k), dtype=dtype), "y": np.ones(n)}
        with x64():
            return diff.cached_program(FlatLoglike(logit_loglike, spec), logit_loglike, np.zeros(k), data)[0]

    base = program(3, 40)
    assert program(3, 40) is base
    assert program(4, 40) is not base and program(3, 41) is not base
    assert program(3, 40, np.int64) is not base
    assert program(3, 40, np.int64).text != base.text  # a genuinely different trace


def test_second_build_of_a_builtin_neither_traces_nor_compiles():
    """Trace counters: building and fitting a built-in logit again on new data of another n in the same
    row bucket (150 and 170 rows: bucket 256) traces nothing and compiles no kernel; the model shares
    the first one's program."""
    from hessstats.core import fused
    from hessstats.models.binary import logit_model

    def data(n, seed):
        rng = np.random.default_rng(seed)
        X = np.column_stack([rng.normal(size=(n, 2)), np.ones(n)])
        return (X @ [0.5, -0.5, 0.2] + rng.logistic(size=n) > 0).astype(float), X

    first = logit_model(*data(150, 0))
    first.fit().bse  # noqa: B018  (the host kernels compiled)
    fused.charge(first, None, 1e9)  # as after many host fits: the next fit compiles the one-call kernel
    first.fit().bse  # noqa: B018
    kernels, misses = diff.trace_count(), diff.TRACE_CACHE_STATS["misses"]
    second = logit_model(*data(170, 1))
    res = second.fit()
    res.bse  # noqa: B018
    assert diff.trace_count() == kernels and diff.TRACE_CACHE_STATS["misses"] == misses
    assert second.program is first.program and res.compile_stats["traces"] == 0


def test_options_bound_by_value_share_kernels():
    """A GLM with a bound family and link (WithOptions, equal by value) built twice: equal and equally
    hashed log-likelihoods, one program, and no new trace for the second fit."""
    from hessstats.models.glm import glm_model

    rng = np.random.default_rng(3)

    def data(n):
        X = np.column_stack([np.ones(n), rng.normal(size=n)])
        return rng.poisson(np.exp(0.3 + 0.2 * X[:, 1])).astype(float), X

    a = glm_model(*data(300), family="poisson", link="log")
    a.fit()
    before = diff.trace_count()
    b = glm_model(*data(290), family="poisson", link="log")
    assert a.loglike == b.loglike and hash(a.loglike) == hash(b.loglike) and a.loglike is not b.loglike
    assert b.program is a.program
    b.fit()
    assert diff.trace_count() == before
