"""Convexity checks of functions that are not twice differentiable, and the tangent-plane test.

Reference: closed-form mathematics. A differentiable f is convex on a convex set iff
f(y) >= f(x) + g(x)'(y - x) for all x, y in it (concave: <=); kinks make the Hessian at the
samples misleading (|x| has Hessian 0 wherever it exists but is convex and not affine;
min(x^2, 1) has a positive semidefinite Hessian wherever it exists but is not convex).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs


@pytest.mark.parametrize("f, box, kind", [
    (lambda v: jnp.minimum(v[0] ** 2, 1.0), [(-2.0, 2.0)], "neither"),
    (lambda v: jnp.minimum(v[0] ** 2 + v[1] ** 2, 1.0), [(-1.5, 1.5)] * 2, "neither"),
    (lambda v: jnp.abs(v[0]) + jnp.abs(v[1]), [(-1.0, 1.0)] * 2, "convex"),
    (lambda v: jax.nn.relu(v[0]), [(-1.0, 1.0)], "convex"),
    (lambda v: -jnp.abs(v[0] - 0.3), [(-1.0, 1.0)], "concave"),
    (lambda v: v[0] * jnp.abs(v[0]), [(-1.0, 1.0)], "neither"),
    (lambda v: jnp.maximum(v[0], v[1]), [(-1.0, 1.0)] * 2, "convex"),
])
def test_kinks_are_not_called_affine_or_convex(f, box, kind):
    r = hs.check_convexity(f, box=box)
    assert r.kind == kind, r.note
    assert r.proven == (kind == "neither")


def test_tangent_plane_counterexample_is_a_proof():
    # min(x^2, 1) on [-2, 2]: the Hessian is 2 or 0 at every sample (PSD), yet f is not convex;
    # the reported pair (x, y) has f(y) < f(x) + f'(x)(y - x), checked independently here
    f = lambda v: jnp.minimum(v[0] ** 2, 1.0)  # noqa: E731
    r = hs.check_convexity(f, box=[(-2.0, 2.0)])
    assert not r.convex and r.not_convex_at is None and r.not_convex_pair is not None
    x, y = r.not_convex_pair
    fx, fy, gx = float(f(x)), float(f(y)), float(hs.gradient(f, x)[0])
    assert fy < fx + gx * (y[0] - x[0]) - 1e-6
    assert "tangent plane" in r.note


def test_kink_at_a_sample_is_reported():
    # the centre of the box is a sample: |x| + |y| has its kink there
    r = hs.check_convexity(lambda v: jnp.abs(v[0]) + jnp.abs(v[1]), box=[(-1.0, 1.0)] * 2)
    np.testing.assert_allclose(r.not_twice_differentiable_at, [0.0, 0.0], atol=1e-15)
    assert r.not_concave_pair is not None and "not twice differentiable" in r.note
    only = hs.check_convexity(lambda v: v[0] * jnp.abs(v[0]), points=[[0.0]])
    assert only.kind == "not twice differentiable here" and not only.convex and not only.concave


@pytest.mark.parametrize("f, kind", [
    (lambda v: v[0] ** 2 + v[1] ** 2, "strictly convex"),
    (lambda v: jax.nn.logsumexp(v), "convex"),
    (lambda v: v[0] ** 4 + v[1] ** 4, "convex"),
    (lambda v: 2 * v[0] - 3 * v[1] + 1, "affine"),
    (lambda v: -jnp.abs(v[0]) ** 3 - v[1] ** 2, "concave"),
])
def test_smooth_verdicts_unchanged_and_no_kinks(f, kind):
    r = hs.check_convexity(f, box=[(-1.0, 1.0)] * 2)
    assert r.kind == kind and r.not_twice_differentiable_at is None
    assert r.not_convex_pair is None or not r.convex
