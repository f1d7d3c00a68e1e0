"""The float64 policy (hessstats._config): scoped x64 for every public entry point, never the
caller's global flag; float64 copies of inputs.

Reference: JAX's documented dtype rules (float32 by default, float64 under ``jax.enable_x64``) and
numpy's copy semantics. Covered elsewhere (test_model): a fresh process that never enabled x64 gets
statsmodels-grade results, and ``hs.fit`` leaves the global flag alone.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessstats._config import as_float64, float64, x64


@float64
def make_ones(n: int):
    """Docstring kept."""
    return jnp.ones(n)


def test_float64_computes_in_float64_even_when_the_caller_has_x64_off():
    with jax.enable_x64(False):
        assert jnp.ones(1).dtype == jnp.float32
        assert make_ones(2).dtype == jnp.float64
        assert jnp.ones(1).dtype == jnp.float32  # the caller's setting is back


def test_float64_keeps_the_function_identity():
    assert make_ones.__name__ == "make_ones" and make_ones.__doc__ == "Docstring kept."
    assert make_ones.__wrapped__(1) is not None


def test_the_caller_setting_is_restored_after_an_exception():
    @float64
    def boom():
        raise RuntimeError("inside")

    with jax.enable_x64(False):
        with pytest.raises(RuntimeError, match="inside"):
            boom()
        assert jnp.ones(1).dtype == jnp.float32


def test_x64_context_and_nesting():
    with jax.enable_x64(False):
        with x64():
            assert jnp.zeros(1).dtype == jnp.float64
            assert make_ones(1).dtype == jnp.float64  # nested scopes compose
            assert jnp.zeros(1).dtype == jnp.float64
        assert jnp.zeros(1).dtype == jnp.float32


@pytest.mark.parametrize("value", [[1, 2, 3], np.array([1, 2, 3], dtype=np.int32), np.array([True, False, True]),
                                   np.array([1.0, 2.0, 3.0], dtype=np.float32)],
                         ids=["list", "int32", "bool", "float32"])
def test_as_float64_is_a_float64_copy(value):
    out = as_float64(value)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.asarray(value, dtype=np.float64))
    source = np.array([1.0, 2.0])
    copy = as_float64(source)
    copy[0] = 99.0
    np.testing.assert_array_equal(source, [1.0, 2.0])  # the input is untouched
