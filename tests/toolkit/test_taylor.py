"""The second-order Taylor model. Reference: the "Hessian matrix" seed page, section "Taylor
polynomial": T(x) = f(a) + (x - a)' grad f(a) + (x - a)' H_f(a) (x - a) / 2, with its first worked
example f = y^4 + x^3 + 3x^2 + 4y^2 - 4xy - 5y + 8 at (1, 0): f = 12, grad = (9, -9),
H = [[12, -4], [-4, 8]]; and closed-form expansions."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs
from hessstats.errors import SpecificationError


def seed_poly(v):
    x, y = v[0], v[1]
    return y**4 + x**3 + 3 * x**2 + 4 * y**2 - 4 * x * y - 5 * y + 8


def test_seed_example_model():
    T = hs.taylor2(seed_poly, [1.0, 0.0])
    assert T.value == pytest.approx(12.0, rel=1e-15)
    np.testing.assert_allclose(T.gradient, [9.0, -9.0], rtol=1e-14)
    np.testing.assert_allclose(T.hessian, [[12, -4], [-4, 8]], rtol=1e-14)
    # by hand: d = (0.1, 0.1): 12 + 0.9 - 0.9 + (0.12 - 0.08 + 0.08) / 2 = 12.06
    assert T([1.1, 0.1]) == pytest.approx(12.06, rel=1e-14)
    e = T.error([1.1, 0.1])
    # actual: f(1.1, 0.1) = 1e-4 + 1.331 + 3.63 + 0.04 - 0.44 - 0.5 + 8 = 12.0611
    assert e.actual == pytest.approx(12.0611, rel=1e-13)
    assert e.model == pytest.approx(12.06, rel=1e-14)
    assert e.abs_error == pytest.approx(0.0011, rel=1e-9)      # = dx^3 + dy^4 = 1e-3 + 1e-4
    assert e.rel_error == pytest.approx(0.0011 / 12.0611, rel=1e-9)
    np.testing.assert_allclose(e.x, (1.1, 0.1), rtol=1e-15)


def test_closed_form_expansion():
    # exp(x) cos(y) at 0: 1 + x + (x^2 - y^2) / 2
    T = hs.taylor2(lambda v: jnp.exp(v[0]) * jnp.cos(v[1]), [0.0, 0.0])
    for x, y in [(0.1, 0.2), (-0.3, 0.05), (0.0, 0.0)]:
        assert T([x, y]) == pytest.approx(1 + x + (x * x - y * y) / 2, rel=1e-15, abs=1e-15)


def test_quadratic_is_exact_and_error_is_cubic():
    q = lambda v: 3 * v[0] ** 2 - 2 * v[0] * v[1] + v[1] ** 2 + 4 * v[0] - 7  # noqa: E731
    T = hs.taylor2(q, [0.5, -1.0])
    for p in ([3.0, 2.0], [-10.0, 4.0]):
        assert T.error(p).abs_error <= 1e-12 * abs(T.error(p).actual)
    # generic f: the error is O(h^3), so halving h divides it by about 8
    f = lambda v: jnp.sin(v[0]) * jnp.exp(v[1])  # noqa: E731
    T = hs.taylor2(f, [0.3, 0.2])
    errs = [T.error([0.3 + h, 0.2 - h]).abs_error for h in (1e-1, 5e-2, 2.5e-2)]
    ratios = [errs[0] / errs[1], errs[1] / errs[2]]
    assert all(7.0 < r < 9.0 for r in ratios), ratios


def test_pytree_and_flat_points():
    f = lambda p: p["a"] ** 2 * p["b"][0] + jnp.sin(p["b"][1])  # noqa: E731
    a = {"a": 1.0, "b": jnp.array([2.0, 0.0])}
    T = hs.taylor2(f, a)
    np.testing.assert_allclose(T.gradient, [4.0, 1.0, 1.0], rtol=1e-14)      # (2ab0, a^2, cos b1)
    np.testing.assert_allclose(T.hessian, [[4, 2, 0], [2, 0, 0], [0, 0, 0]], atol=1e-15)
    tree_pt = {"a": 1.1, "b": np.array([2.0, 0.1])}
    assert T(tree_pt) == pytest.approx(T([1.1, 2.0, 0.1]), rel=1e-15)
    assert T(tree_pt) == pytest.approx(2 + 0.4 + 0.1 + 0.5 * 4 * 0.01, rel=1e-14)


def test_relative_error_when_actual_is_zero_and_float64():
    with jax.enable_x64(False):     # results are float64 whatever the user's JAX config
        T = hs.taylor2(lambda v: v[0] ** 3, [1.0])   # model 1 + 3d + 3d^2
        e = T.error([0.0])
    np.testing.assert_allclose([e.actual, e.model, e.abs_error], [0.0, 1.0, 1.0], rtol=1e-15, atol=1e-15)
    assert math.isinf(e.rel_error)
    e = T.error([2.0])     # actual 8, model 1 + 3 + 3 = 7
    np.testing.assert_allclose([e.actual, e.model, e.abs_error, e.rel_error], [8.0, 7.0, 1.0, 0.125],
                               rtol=1e-14)
    g = hs.taylor2(lambda v: v[0] ** 3 + 1e-9 * v[0], [1.0]).gradient[0]
    assert g == pytest.approx(3.000000001, rel=1e-15)   # float32 would give 3.0
    z = hs.taylor2(lambda v: v[0] ** 2 - 1, [1.0]).error([-1.0])   # exact model, both 0
    np.testing.assert_allclose([z.actual, z.model, z.abs_error, z.rel_error], 0.0, atol=1e-15)


def test_bad_inputs():
    T = hs.taylor2(seed_poly, [1.0, 0.0])
    with pytest.raises(SpecificationError, match="does not match"):
        T([1.0, 2.0, 3.0])
    with pytest.raises(SpecificationError, match="not finite"):
        hs.taylor2(lambda v: jnp.log(v[0]), [-1.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        T.value = 3.0
