"""Data preparation: one finiteness scan per array, and float64 copies of the caller's data.

Reference: the layout issue ("one finite/missing check per array"); closed-form expectations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats._config import x64
from hessstats.errors import DataError
from hessstats.models.design import design, outcome
from hessstats.rows.prepare import FiniteArray, prepare_data


def test_builtin_design_arrays_are_marked_checked_and_not_rescanned(monkeypatch):
    X, _ = design(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 5.0]}))
    y = outcome([1.0, 0.0, 1.0], 3)
    assert isinstance(X, FiniteArray) and isinstance(y, FiniteArray)
    calls = []
    real = np.isfinite
    monkeypatch.setattr(np, "isfinite", lambda a, *k: calls.append(np.shape(a)) or real(a, *k))
    with x64():
        out = prepare_data({"X": X, "y": y, "w": np.ones(3)})
    assert calls == [(3,)]  # only the unchecked leaf "w" is scanned
    assert str(out["X"].dtype) == "float64"


def test_unchecked_arrays_are_still_refused_when_not_finite():
    with x64(), pytest.raises(DataError, match="non-finite"):
        prepare_data({"y": np.array([1.0, np.nan])})


def test_design_reports_missing_cells_by_column():
    with pytest.raises(DataError, match="non-finite counts by column"):
        design(pd.DataFrame({"a": [1.0, None, 3.0], "b": [0.0, 1.0, 5.0]}))


def test_prepare_data_copies_the_callers_array():
    y = np.array([1.0, 2.0])
    with x64():
        out = prepare_data({"y": y})
    y[0] = 99.0
    assert float(out["y"][0]) == pytest.approx(1.0)


def test_the_finite_mark_cannot_go_stale():
    """A checked design stays trustworthy: arithmetic on it yields plain (rescanned) arrays and in-place
    writes are refused, so a NaN can never reach a model under the 'already checked' mark."""
    X, _ = design(pd.DataFrame({"a": [1.0, 2.0, 3.0]}))
    with pytest.raises(ValueError, match="read-only"):
        X[0, 0] = np.nan
    bad = X * np.inf
    assert not isinstance(bad, FiniteArray)
    with x64(), pytest.raises(DataError, match="non-finite"):
        prepare_data({"X": bad})


def test_the_models_copy_is_the_only_copy():
    """The private host copy is 64-byte aligned, so JAX's CPU device_put adopts it (the device
    buffer is that memory: one copy of the data, not two at the peak; benchmarks/blocked_memory.py
    measured 3.38 -> 1.84 GB above the design for build + first blocked Hessian at n=1e5, k=2000),
    and the caller's array is never shared (writes to it after the build do not reach the model)."""
    import jax

    from hessstats.rows.prepare import _host_copy

    x = np.arange(1000.0)
    copy = _host_copy(x)
    if jax.default_backend() == "cpu":
        with jax.enable_x64(True):
            device = jax.device_put(copy)
        assert device.unsafe_buffer_pointer() == copy.ctypes.data
    m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, x)
    x[:] = 0.0
    np.testing.assert_allclose(float(m.fit().params["mu"]), 499.5, rtol=1e-12)  # mean of 0..999


def test_a_built_in_design_is_adopted_not_copied_again():
    """design() makes the one private copy of the user's X (an OwnedArray); prepare_data adopts it
    (same memory on the CPU), so a built-in model holds one copy of the design, not two
    (benchmarks/construction.py, logit 1e6 x 50: build peak 0.88 -> 0.49 GB above the 0.40 GB design).
    The user's array is never shared and writes to it do not reach the model."""
    import jax

    from hessstats.rows.prepare import OwnedArray

    X = np.random.default_rng(0).normal(size=(50, 3))
    owned, _ = design(X)
    assert isinstance(owned, OwnedArray) and not np.shares_memory(owned, X) and not owned.flags.writeable
    with x64():
        prepared = prepare_data({"X": owned})
    if jax.default_backend() == "cpu":
        assert prepared["X"].unsafe_buffer_pointer() == owned.ctypes.data
    X[:] = np.nan
    assert np.all(np.isfinite(np.asarray(prepared["X"])))
