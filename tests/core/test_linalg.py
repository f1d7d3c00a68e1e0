"""The information's one factorisation: shared by the Newton step, the decrement and the covariance.

References: closed-form linear algebra (a diagonal information matrix) and the layout issue's
requirement that a fit factorises the information at its optimum once.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs
from hessstats.core import linalg
from hessstats.core.linalg import equilibrated_eigh, invert_information


def test_solve_and_decrement_closed_form():
    """info = diag(4, 1): info^+ g = (g1/4, g2); decrement g' info^+ g = g1^2/4 + g2^2."""
    eigen = equilibrated_eigh(np.diag([4.0, 1.0]))
    np.testing.assert_allclose(eigen.solve(np.array([2.0, 3.0])), [0.5, 3.0], rtol=1e-14)
    assert eigen.decrement(np.array([2.0, 3.0])) == pytest.approx(1.0 + 9.0, rel=1e-14)
    assert not eigen.indefinite()
    assert equilibrated_eigh(np.diag([1.0, -1.0])).indefinite()


def test_precomputed_decomposition_gives_the_same_inverse():
    info = np.array([[4.0, 1.0], [1.0, 3.0]])
    direct = invert_information(-info, ("a", "b"))
    reused = invert_information(-info, ("a", "b"), eigen=equilibrated_eigh(info))
    np.testing.assert_allclose(reused.cov, direct.cov, rtol=1e-15)
    np.testing.assert_allclose(direct.cov, np.linalg.inv(info), rtol=1e-13)  # closed form


def test_a_fit_factorises_the_information_at_its_optimum_once(monkeypatch):
    """Count eigen-decompositions of the optimum's information during a whole fit (optimiser,
    certificate, covariance): exactly one."""
    y = np.array([0.5, 1.5, 2.0, 4.0, 3.5])
    seen: list[np.ndarray] = []
    original = linalg.equilibrated_eigh

    def counting(info):
        seen.append(np.array(info))
        return original(info)

    monkeypatch.setattr(linalg, "equilibrated_eigh", counting)
    import hessstats.core.optimize as optimize

    monkeypatch.setattr(optimize, "equilibrated_eigh", counting)
    res = hs.fit(lambda p, d: -0.5 * ((d - p["mu"]) / p["s"]) ** 2 - jnp.log(p["s"]), {"mu": 0.0, "s": 1.0}, y)
    at_optimum = [m for m in seen if np.array_equal(m, -res.hessian_array)]
    assert res.converged and len(at_optimum) == 1


def test_gram_without_copies_matches_numpy_for_both_layouts():
    """``gram`` (BLAS dsyrk) equals numpy's X.T @ X (reference: numpy matmul) for C-, Fortran- and
    non-contiguous inputs."""
    from hessstats.core.linalg import gram

    X = np.random.default_rng(0).normal(size=(500, 7))
    expected = X.T @ X
    for arr in (X, np.asfortranarray(X), X[::2]):
        ref = arr.T @ arr if arr is not X else expected
        np.testing.assert_allclose(gram(arr), ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gram(arr), gram(arr).T, rtol=0, atol=0)


def test_least_squares_by_normal_equations_and_its_fallback():
    """Start values: the normal equations where the equilibrated Gram matrix is well conditioned,
    numpy's lstsq otherwise. Reference: numpy.linalg.lstsq (SVD), and z built exactly from the
    coefficients (closed form)."""
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(500), rng.normal(size=(500, 3)) * [1.0, 1e3, 1e-3]])
    beta = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(linalg.least_squares(X, X @ beta), beta, rtol=1e-10)
    z = rng.normal(size=500)
    np.testing.assert_allclose(linalg.least_squares(X, z), np.linalg.lstsq(X, z, rcond=None)[0], rtol=1e-10)
    near = np.column_stack([X, X[:, 1] + 1e-7 * rng.normal(size=500)])  # pivot about 1e-14: lstsq decides
    np.testing.assert_array_equal(linalg.least_squares(near, z), np.linalg.lstsq(near, z, rcond=None)[0])
    wide = rng.normal(size=(3, 5))  # more columns than rows: lstsq's minimum-norm solution
    np.testing.assert_array_equal(linalg.least_squares(wide, z[:3]), np.linalg.lstsq(wide, z[:3], rcond=None)[0])


def test_gram_products_match_numpy():
    """Blocked BLAS products (rows past one block, weights of both signs) against numpy's."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(9000, 5))  # 9,000 rows: several blocks of GRAM_BLOCK_BYTES
    w, v = rng.uniform(0.1, 2.0, 9000), rng.normal(size=(9000, 2))
    (positive, negative, mixed), (xv,) = linalg.gram_products(
        [(X, w, X, True), (X, -w, X, True), (X, w - 1.0, X, True)], [(X, v)])
    np.testing.assert_allclose(positive, (X * w[:, None]).T @ X, rtol=1e-12)
    np.testing.assert_allclose(negative, -(X * w[:, None]).T @ X, rtol=1e-12)
    np.testing.assert_allclose(mixed, (X * (w - 1.0)[:, None]).T @ X, rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(xv, X.T @ v, rtol=1e-12)
    np.testing.assert_allclose(linalg.weighted_gram(X, w), positive, rtol=1e-15)
