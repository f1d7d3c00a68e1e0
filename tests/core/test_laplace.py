"""The Laplace core (hessstats.core.laplace): inner mode, implicit derivatives, exact outer Hessian.

References: closed-form Gaussian marginal likelihoods (the Laplace approximation is exact for a joint
density quadratic in the random effects), central finite differences (numdifftools), and the
dense and block-diagonal structures against each other.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numdifftools as nd
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from hessstats._config import x64
from hessstats.core.laplace import (
    LOG_2PI,
    Laplace,
    Structure,
    at_mode,
    block_check,
    block_cho_solve,
    block_cholesky,
    inner_report,
    marginal,
    mode,
    mode_jacobian,
    prediction_variance,
)

G, M = 6, 4


def _gaussian_data():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(G), M)
    x = rng.normal(size=G * M)
    y = 1.0 + 0.5 * x + rng.normal(size=G)[g] * 0.8 + rng.normal(size=G * M)
    return {"y": y, "x": x, "g": g}


def _gaussian_joint(theta, u, d):
    """y_ij = a + b x_ij + sd_u u_i + e_ij, u_i ~ N(0, 1), e ~ N(0, sigma^2): theta = (a, b, log sd_u, log sigma)."""
    sigma = jnp.exp(theta[3])
    eta = theta[0] + theta[1] * d["x"] + jnp.exp(theta[2]) * u[d["g"]]
    obs = -0.5 * ((d["y"] - eta) / sigma) ** 2 - jnp.log(sigma) - 0.5 * LOG_2PI
    return jnp.sum(obs) - 0.5 * jnp.sum(u ** 2) - 0.5 * u.size * LOG_2PI


def _closed_form(theta, d):
    """log N(y; a + b x, sd_u^2 Z Z' + sigma^2 I): the exact marginal likelihood."""
    z = (d["g"][:, None] == jnp.arange(G)[None, :]).astype(jnp.float64)
    cov = jnp.exp(2 * theta[2]) * z @ z.T + jnp.exp(2 * theta[3]) * jnp.eye(G * M)
    r = d["y"] - theta[0] - theta[1] * d["x"]
    sign, logdet = jnp.linalg.slogdet(cov)
    return -0.5 * (r @ jnp.linalg.solve(cov, r) + logdet + G * M * LOG_2PI)


THETA = np.array([0.8, 0.4, -0.3, 0.1])


@pytest.mark.parametrize("structure", [Structure.DENSE, Structure.GROUPS])
def test_gaussian_laplace_is_exact_value_gradient_hessian(structure):
    """Reference: the closed-form Gaussian marginal likelihood (multivariate normal; scipy and its
    own exact JAX Hessian). Laplace is exact here, so value, gradient and the Hessian through the
    implicit mode agree to rounding (1e-9 relative)."""
    d = _gaussian_data()
    with x64():
        data = {"y": jnp.asarray(d["y"]), "x": jnp.asarray(d["x"]), "g": jnp.asarray(d["g"])}
        lap = Laplace(_gaussian_joint, G, structure, 1)
        f = lambda t: marginal(lap, t, data, jnp.zeros(G))  # noqa: E731
        exact = lambda t: _closed_form(t, data)  # noqa: E731
        t = jnp.asarray(THETA)
        # each under jax.jit: one compiled program per quantity (eager evaluation compiles every
        # primitive of the Newton solve and its derivatives one by one: about 2.5x the time)
        value, ref = float(jax.jit(f)(t)), float(jax.jit(exact)(t))
        grad, grad_ref = np.asarray(jax.jit(jax.grad(f))(t)), np.asarray(jax.jit(jax.grad(exact))(t))
        hess, hess_ref = np.asarray(jax.jit(jax.hessian(f))(t)), np.asarray(jax.jit(jax.hessian(exact))(t))
    z = (d["g"][:, None] == np.arange(G)[None, :]).astype(float)
    scipy_ref = multivariate_normal(THETA[0] + THETA[1] * d["x"],
                                    np.exp(2 * THETA[2]) * z @ z.T + np.exp(2 * THETA[3]) * np.eye(G * M)).logpdf(d["y"])
    np.testing.assert_allclose(value, scipy_ref, rtol=1e-12)
    np.testing.assert_allclose(value, ref, rtol=1e-12)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(hess, hess_ref, rtol=1e-9, atol=1e-9)


def _logit_data():
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(G), 10)
    x = rng.normal(size=g.size)
    eta = -0.3 + 0.8 * x + rng.normal(size=G)[g]
    y = (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(float)
    return {"y": y, "x": x, "g": g}


def _logit_joint(theta, u, d):
    """Random-intercept logit, u spherical with a (2 x 2 per group) random slope: u has shape (G, 2)."""
    uu = u.reshape(G, 2)
    eta = theta[0] + theta[1] * d["x"] + jnp.exp(theta[2]) * uu[d["g"], 0] + jnp.exp(theta[3]) * d["x"] * uu[d["g"], 1]
    return jnp.sum(d["y"] * eta - jnp.logaddexp(0.0, eta)) - 0.5 * jnp.sum(u ** 2)


def test_logit_hessian_matches_finite_differences_and_structures_agree():
    """Reference: central finite differences of the marginal (numdifftools, tight tier 1e-6) for the
    exact Hessian; the dense and block-diagonal (G blocks of 2 x 2) structures agree to 1e-10."""
    d = _logit_data()
    with x64():
        data = {k: jnp.asarray(v) for k, v in d.items()}
        t = jnp.asarray([-0.2, 0.7, -0.1, -0.5])
        out = {}
        for structure in (Structure.DENSE, Structure.GROUPS):
            lap = Laplace(_logit_joint, 2 * G, structure, 2)
            f = jax.jit(lambda v, lap=lap: marginal(lap, v, data, jnp.zeros(2 * G)))
            out[structure] = (float(f(t)), np.asarray(jax.jit(jax.hessian(lambda v, lap=lap: marginal(
                lap, v, data, jnp.zeros(2 * G))))(t)), f)
        assert block_check(Laplace(_logit_joint, 2 * G, Structure.GROUPS, 2), t, data, jnp.zeros(2 * G))
    (v_dense, h_dense, f), (v_groups, h_groups, _) = out[Structure.DENSE], out[Structure.GROUPS]
    np.testing.assert_allclose(v_groups, v_dense, rtol=1e-12)
    np.testing.assert_allclose(h_groups, h_dense, rtol=1e-10, atol=1e-12)
    with x64():
        fd = nd.Hessian(lambda v: float(f(jnp.asarray(v))))(np.asarray(t))
    np.testing.assert_allclose(h_dense, fd, rtol=1e-6, atol=1e-7)


def test_mode_derivative_is_the_implicit_function_theorem():
    """Reference: finite differences of the inner mode itself (Newton re-solved at theta +/- h), and
    the Newton certificate (gradient ~ 0, -H_uu positive definite)."""
    d = _logit_data()
    with x64():
        data = {k: jnp.asarray(v) for k, v in d.items()}
        lap = Laplace(_logit_joint, 2 * G, Structure.GROUPS, 2)
        t = jnp.asarray([-0.2, 0.7, -0.1, -0.5])
        jac = np.asarray(mode_jacobian(lap, t, data, jnp.zeros(2 * G)))
        solve = jax.jit(lambda v: mode(lap, v, data, jnp.zeros(2 * G)))
        h = 1e-5
        fd = np.column_stack([(np.asarray(solve(t + h * e)) - np.asarray(solve(t - h * e))) / (2 * h)
                              for e in np.eye(4)])
        report = inner_report(lap, t, data, jnp.ones(2 * G))  # a cold start elsewhere converges too
        again = np.asarray(solve(t))
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)
    assert float(report["grad_norm"]) < 1e-10
    assert float(report["min_eigenvalue"]) > 0.5  # -H_uu >= I (the N(0, I) prior) plus the data
    np.testing.assert_allclose(np.asarray(report["mode"]), again, atol=1e-10)


def test_block_check_detects_coupled_groups():
    """Reference: a joint density with a cross term u_0 u_1 is not block-diagonal by rows (math)."""
    with x64():
        lap = Laplace(lambda t, u, d: -jnp.sum(u ** 2) - t * u[0] * u[1], q=3, structure=Structure.GROUPS)
        assert not block_check(lap, 1.0, None, jnp.zeros(3))
        assert block_check(lap, 0.0, None, jnp.zeros(3))  # no coupling at t = 0: why callers also check elsewhere


def test_prediction_variance_adds_the_delta_term():
    """Reference: TMB's generalised delta method, diag(H^-1) + diag(J V J') computed by hand."""
    jac = np.array([[1.0, 2.0], [0.0, 1.0]])
    cov = np.array([[0.5, 0.1], [0.1, 0.2]])
    expected = np.array([0.3, 0.4]) + np.diag(jac @ cov @ jac.T)
    np.testing.assert_allclose(prediction_variance(np.array([0.3, 0.4]), jac, cov), expected, rtol=1e-14)


def test_groups_structure_needs_whole_blocks():
    """Reference: the layout contract q = G * block (a 5-vector cannot be split into blocks of 2)."""
    with pytest.raises(ValueError, match="multiple"):
        Laplace(lambda t, u, d: -jnp.sum(u ** 2), q=5, structure=Structure.GROUPS, block=2)


@pytest.mark.parametrize("b", [1, 2, 3, 5])
def test_unrolled_block_cholesky_and_solve_match_lapack(b):
    """numpy.linalg.cholesky / solve (LAPACK) on random SPD blocks: the elementwise factorisation of
    small group blocks (used instead of batched LAPACK calls) agrees to rounding, and a block that is not
    positive definite gives NaN (as jnp.linalg.cholesky), so the inner Newton falls back to a gradient step."""
    rng = np.random.default_rng(b)
    a = rng.normal(size=(7, b, b))
    spd = a @ np.swapaxes(a, 1, 2) + b * np.eye(b)
    rhs = rng.normal(size=(7, b))
    with x64():
        low = np.asarray(block_cholesky(jnp.asarray(spd)))
        sol = np.asarray(block_cho_solve(jnp.asarray(low), jnp.asarray(rhs)))
        bad = np.asarray(block_cholesky(jnp.asarray(-spd[:1])))
    np.testing.assert_allclose(low, np.linalg.cholesky(spd), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sol, np.linalg.solve(spd, rhs[:, :, None])[:, :, 0], rtol=1e-10)
    assert np.isnan(bad[0, 0, 0])


def test_marginal_at_a_given_mode_has_the_same_exact_derivatives():
    """``at_mode`` (the compiled outer Hessian without the Newton loop, given the converged mode) against
    ``mode`` (Newton inside): value, gradient and Hessian of the logit Laplace marginal agree to 1e-10,
    and both against numdifftools central differences of the value (finite-difference tier, 1e-6)."""
    lap = Laplace(_logit_joint, 2 * G, Structure.GROUPS, 2)
    with x64():
        d = {k: jnp.asarray(v) for k, v in _logit_data().items()}
        theta = jnp.asarray([-0.2, 0.7, -0.1, -0.5])
        u_hat = jax.jit(mode, static_argnums=0)(lap, theta, d, jnp.zeros(2 * G))

        def inner(t):
            return marginal(lap, t, d, jnp.zeros(2 * G))

        def given(t):
            return marginal(lap, t, d, u_hat, solved=True)

        # everything compiled, as the package runs it (an eager Newton while_loop is slow, and once crashed XLA)
        values, grads = [], []
        for f in (inner, given):
            value, grad = jax.jit(jax.value_and_grad(f))(theta)
            values.append(float(value))
            grads.append(np.asarray(grad))
        hessians = [np.asarray(jax.jit(jax.jacrev(jax.grad(f)))(theta)) for f in (inner, given)]
        jac = np.asarray(jax.jit(jax.jacfwd(lambda t: at_mode(lap, t, d, u_hat)))(theta))
        jac_ref = np.asarray(jax.jit(jax.jacfwd(lambda t: mode(lap, t, d, jnp.zeros(2 * G))))(theta))
    assert abs(values[0] - values[1]) <= 1e-12 * abs(values[0])
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hessians[1], hessians[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jac, jac_ref, rtol=1e-10, atol=1e-12)
    with x64():
        value = jax.jit(lambda t: marginal(lap, t, d, jnp.zeros(2 * G)))
        fd = nd.Hessian(lambda t: float(value(jnp.asarray(t))))(np.asarray(theta))
    np.testing.assert_allclose(hessians[1], fd, rtol=1e-6, atol=1e-7)
