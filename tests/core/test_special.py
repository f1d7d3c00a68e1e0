"""softplus / expit: values and derivatives (orders 1-4) exact to rounding in both tails and at 0;
log_ndtr: derivatives exact to rounding in the lower tail.

Reference: closed-form mathematics. With ``s = exp(-|x|)`` (the one rounded input, taken from
``math.exp``; no point below -708, where ``s`` would be subnormal and XLA's CPU code flushes it to 0), ``p = expit(x)`` and ``q = expit(-x)`` are ``1/(1+s)`` and ``s/(1+s)`` (which is which
by the sign of ``x``), and the derivatives of ``softplus`` are ``p``, ``w = p q``, ``w (q - p)`` and
``w ((q - p)^2 - 2 w)``; these are evaluated in exact rational arithmetic (``fractions``).
For ``log Phi``: the inverse Mills ratio ``lambda = phi / Phi`` and ``gap = x + lambda`` from Laplace's
continued fraction ``gap = 1/(t + 2/(t + 3/(t + ...)))``, ``t = -x``, run to 20,000 terms (converged:
its value no longer changes), or from ``scipy.special.erfcx`` where ``x > -3``; the derivatives are
``lambda``, ``-lambda gap`` and ``lambda gap^2 - lambda (1 - lambda gap)``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from hessstats.core import compilation
from hessstats.core.special import MILLS_SPLIT, expit, log_expit, log_ndtr, softplus
from hessstats.models.binary import logit_model, probit_model

POINTS = [-700.0, -40.0, -30.0, -20.0, -5.0, -0.3, 0.0, 0.3, 5.0, 20.0, 30.0, 35.0, 40.0, 700.0]


def _exact(x: float) -> list[Fraction]:
    """``[p, w, w', w'']``: softplus' derivatives of orders 1-4 at ``x``, exactly from ``s``."""
    s = Fraction(math.exp(-abs(x)))
    big, small = 1 / (1 + s), s / (1 + s)
    p, q = (big, small) if x >= 0 else (small, big)
    w = p * q
    return [p, w, w * (q - p), w * ((q - p) ** 2 - 2 * w)]


def _derivatives():
    out = [softplus]
    for _ in range(4):
        out.append(jax.grad(out[-1]))
    return out[1:]


@pytest.mark.parametrize("x", POINTS)
def test_derivatives_of_all_orders_are_exact_to_rounding(x):
    with jax.enable_x64(True):
        got = [float(d(x)) for d in _derivatives()]
    for order, (value, exact) in enumerate(zip(got, _exact(x)), start=1):
        if exact == 0:
            assert value == pytest.approx(0.0, abs=1e-300), order
        else:
            assert abs(Fraction(value) - exact) <= Fraction(1, 10**14) * abs(exact), (x, order, value, float(exact))


def test_closed_form_values_at_zero():
    """softplus(0) = log 2; its derivatives 1/2, 1/4, 0, -1/8 (the kink of |x| plays no part)."""
    with jax.enable_x64(True):
        got = [float(softplus(0.0))] + [float(d(0.0)) for d in _derivatives()]
    np.testing.assert_allclose(got, [math.log(2.0), 0.5, 0.25, 0.0, -0.125], rtol=1e-15, atol=1e-300)


def test_upper_tail_weight_where_logaddexp_cancels():
    """JAX's logaddexp rule gives the Hessian weight as p (1 - p): wrong in the upper tail (the
    defect this module exists for); softplus gives it exactly."""
    x = 30.0
    exact = float(_exact(x)[1])
    with jax.enable_x64(True):
        ours = float(jax.grad(jax.grad(softplus))(x))
        jaxs = float(jax.grad(jax.grad(lambda e: jnp.logaddexp(0.0, e)))(x))
    assert ours == pytest.approx(exact, rel=1e-14)
    assert abs(jaxs - exact) > 1e-3 * exact


def test_values_and_non_finite_inputs():
    xs = np.array([-800.0, -30.0, -1.0, 0.0, 1.0, 30.0, 800.0])
    with jax.enable_x64(True):
        np.testing.assert_allclose(np.asarray(softplus(xs)), np.logaddexp(0.0, xs), rtol=1e-15, atol=0)
        np.testing.assert_allclose(np.asarray(log_expit(xs)), -np.logaddexp(0.0, -xs), rtol=1e-15, atol=0)
        np.testing.assert_allclose(np.asarray(expit(xs)), scipy.special.expit(xs), rtol=1e-15, atol=0)
        bad = jnp.array([np.nan, np.inf, -np.inf])
        assert np.isnan(np.asarray(softplus(bad))[0]) and np.isnan(np.asarray(expit(bad))[0])
        assert np.isposinf(np.asarray(softplus(bad))[1])
        np.testing.assert_allclose(np.asarray(softplus(bad))[2], 0.0, atol=1e-300)
        np.testing.assert_allclose(np.asarray(expit(bad))[1:], [1.0, 0.0], rtol=1e-15, atol=1e-300)
        np.testing.assert_allclose(np.asarray(jax.vmap(jax.grad(jax.grad(softplus)))(bad))[1:], 0.0, atol=1e-300)


@pytest.mark.parametrize("interpret", [True, False], ids=["numpy plan", "compiled"])
def test_logit_hessian_in_the_upper_tail_is_exact(interpret, monkeypatch):
    """A logit whose linear predictors lie between 20 and 36: its Hessian -X' diag(w) X with the
    closed-form weights w = s / (1 + s)^2 (``s = exp(-|eta|)``), by the numpy plan and compiled."""
    monkeypatch.setattr(compilation, "INTERPRET", interpret)
    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(300), rng.uniform(0.0, 1.0, 300)])
    y = (rng.random(300) < 0.5).astype(float)
    theta = np.array([20.0, 16.0])
    _, _, hess = logit_model(y, X, separation=False).evaluate(theta)
    s = np.exp(-np.abs(X @ theta))
    w = s / (1 + s) ** 2
    np.testing.assert_allclose(hess, -(X * w[:, None]).T @ X, rtol=1e-13)


def _mills_reference(x: float) -> tuple[float, float]:
    """``(lambda, gap)`` at ``x`` (module docstring)."""
    if x > -3.0:
        lam = math.sqrt(2.0 / math.pi) / float(scipy.special.erfcx(-x / math.sqrt(2.0)))
        return lam, x + lam
    t, d = -x, -x
    for k in range(20_000, 0, -1):
        d = t + (k + 1) / d
    return t + 1.0 / d, 1.0 / d


@pytest.mark.parametrize("x", [-37.0, -30.0, -20.0, -15.0, -12.0, -8.0, -5.0, -1.0, 0.0, 2.0, 8.0])
def test_log_ndtr_derivatives_in_the_lower_tail(x):
    """Exact to rounding at and below MILLS_SPLIT (JAX's rule: 1.6e-6 off in the second derivative
    at -20); above it as JAX's (the direct ratio, whose ``x + lambda`` cancels: about 3e-12 at -15,
    and the third derivative, a difference of two nearly equal terms there, 3e-8 at -12)."""
    lam, gap = _mills_reference(x)
    exact = [lam, -lam * gap, lam * gap * gap - lam * (1.0 - lam * gap)]
    with jax.enable_x64(True):
        d1 = jax.grad(log_ndtr)
        d2 = jax.grad(d1)
        got = [float(d1(x)), float(d2(x)), float(jax.grad(d2)(x))]
        assert float(log_ndtr(x)) == pytest.approx(float(jax.scipy.special.log_ndtr(x)), rel=1e-15)
    tight = x <= MILLS_SPLIT
    np.testing.assert_allclose(got[:2], exact[:2], rtol=1e-14 if tight else 1e-11)
    np.testing.assert_allclose(got[2], exact[2], rtol=1e-10 if tight else 1e-7)


def test_probit_hessian_in_the_lower_tail_is_exact():
    """A probit whose successes sit at linear predictors between -35 and -16 (outliers of a
    steep fit): the Hessian -X' diag(w) X with w = lambda gap at each row's signed predictor."""
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(200), rng.uniform(0.0, 1.0, 200)])
    y = (rng.random(200) < 0.5).astype(float)
    theta = np.array([-16.0, -19.0])
    _, _, hess = probit_model(y, X, separation=False).evaluate(theta)
    q = np.where(y > 0, 1.0, -1.0) * (X @ theta)
    w = np.array([lam * gap for lam, gap in map(_mills_reference, q)])
    np.testing.assert_allclose(hess, -(X * w[:, None]).T @ X, rtol=1e-13)
