"""Many parameters: blocked Hessian columns and conjugate-gradient standard errors.

Reference: the full ``jax.hessian`` of the same likelihood (forward-over-reverse AD) and its
inverse (``np.linalg.inv``), and statsmodels 0.15 ``Logit`` (analytic) standard errors at 1e-8.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.errors import ConvergenceWarning, SpecificationError


def logit(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


@pytest.fixture(scope="module")
def wide():
    """k = 300 logit with n = 3,000 rows."""
    rng = np.random.default_rng(5)
    n, k = 3_000, 300
    X = np.column_stack([rng.normal(size=(n, k - 1)) / np.sqrt(k), np.ones(n)])
    y = (X @ rng.normal(size=k) + rng.logistic(size=n) > 0).astype(float)
    return X, y


def test_blocked_hessian_equals_full_hessian(wide):
    X, y = wide
    model = hs.Model(logit, {"beta": np.zeros(X.shape[1])}, {"X": X, "y": y}, chunk_size=1_000)
    theta = np.random.default_rng(0).normal(size=X.shape[1]) * 0.1
    full = hs.Model(logit, {"beta": np.zeros(X.shape[1])}, {"X": X, "y": y}).evaluate(theta)[2]
    blocked = hs.hessian_blocked(model, theta, block_size=64)  # 300 = 4 x 64 + 44: last block padded
    np.testing.assert_allclose(blocked, full, rtol=1e-12, atol=1e-12 * np.max(np.abs(full)))


def test_selected_se_equals_full_inverse_and_statsmodels(wide):
    X, y = wide
    res = hs.fit(logit, {"beta": np.zeros(X.shape[1])}, {"X": X, "y": y})
    pick = [res.names[0], res.names[150], res.names[-1]]
    se = hs.selected_se(res.model, res.theta, pick, rtol=1e-12)
    np.testing.assert_allclose(se.to_numpy(), res.bse[pick].to_numpy(), rtol=1e-8)
    ref = sm.Logit(y, X).fit(disp=0, method="newton", tol=1e-12, maxiter=50)
    np.testing.assert_allclose(se.to_numpy(), ref.bse[[0, 150, X.shape[1] - 1]], rtol=1e-8)


def test_selected_se_errors():
    y = np.array([1.0, 2.0, 4.0])
    model = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y)
    with pytest.raises(SpecificationError, match="unknown parameter"):
        hs.selected_se(model, [2.0], ["sigma"])
    convex = hs.Model(lambda p, d: 0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y)  # a minimum, not a maximum
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        assert np.isnan(hs.selected_se(convex, [2.0], ["mu"]).iloc[0])


def test_many_parameters_switch_to_blocked_directions():
    """k = 600 > AUTO_BLOCK_K: Model.evaluate builds the Hessian in direction blocks; equal to the
    one-shot jax.hessian kernel (reference) at 1e-12, with the value and gradient unchanged."""
    from hessstats._config import x64
    from hessstats.core import derivatives
    from hessstats.core import engine as _scale
    from hessstats.core.compilation import trace_count

    rng = np.random.default_rng(9)
    n, k = 800, 600
    X = rng.normal(size=(n, k)) / np.sqrt(k)
    y = (rng.random(n) < 0.5).astype(float)
    model = hs.Model(logit, {"beta": np.zeros(k)}, {"X": X, "y": y})
    assert k > _scale.AUTO_BLOCK_K
    theta = rng.normal(size=k) * 0.1
    before = trace_count("hessian_columns")
    value, grad, hess = model.evaluate(theta)
    assert trace_count("hessian_columns") - before <= 1  # 5 blocks of 128, one compiled shape
    with x64():
        ref = [np.asarray(a) for a in derivatives.value_grad_hess(np.asarray(theta), model.data, model.loglike, model.spec)]
    np.testing.assert_allclose(value, ref[0], rtol=1e-13)
    np.testing.assert_allclose(grad, ref[1], rtol=1e-12, atol=1e-13 * np.max(np.abs(ref[1])))
    np.testing.assert_allclose(hess, ref[2], rtol=1e-12, atol=1e-12 * np.max(np.abs(ref[2])))


def test_in_place_symmetrisation_equals_formula():
    """The row-block, in-place symmetrisation of the blocked Hessian gives (H + H') / 2 (closed
    form) bit for bit, for sizes below, at and above its 256-row block."""
    from hessstats.core.hvp import _symmetrise

    for k in (1, 7, 256, 600):
        h = np.random.default_rng(k).normal(size=(k, k))
        expected = (h + h.T) / 2.0
        np.testing.assert_array_equal(_symmetrise(h.copy()), expected)


def test_blocked_hessian_in_memory_equals_engine_columns(wide):
    """hs.hessian_blocked (in memory, blocks of 128 with the last padded) equals the engine's
    direction-block Hessian (columns_in_blocks, blocks of 64) and the one-shot kernel (reference) at
    1e-12, and is exactly symmetric."""
    from hessstats._config import x64
    from hessstats.core import derivatives
    from hessstats.core.hvp import columns_in_blocks

    X, y = wide
    model = hs.Model(logit, {"beta": np.zeros(X.shape[1])}, {"X": X, "y": y})
    theta = np.random.default_rng(1).normal(size=X.shape[1]) * 0.1
    blocked = hs.hessian_blocked(model, theta, block_size=128)
    engine = columns_in_blocks(theta, model.data, None, model.program, model.spec, 64, consts=model.consts)
    with x64():
        ref = np.asarray(derivatives.value_grad_hess(np.asarray(theta), model.data, model.loglike, model.spec)[2])
    np.testing.assert_array_equal(blocked, blocked.T)
    np.testing.assert_allclose(blocked, ref, rtol=1e-12, atol=1e-12 * np.max(np.abs(ref)))
    np.testing.assert_allclose(engine, ref, rtol=1e-12, atol=1e-12 * np.max(np.abs(ref)))
