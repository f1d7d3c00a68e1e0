"""Bordered Hessian, Lagrange multipliers and constrained classification.

Reference answers: textbook problems with closed-form solutions:
- extrema of xy on x + y = 10: maximum 25 at (5, 5), lambda = 5 (any calculus text);
- extrema of x + y on the unit circle: maximum sqrt(2) at (1, 1)/sqrt(2), minimum -sqrt(2) at
  -(1, 1)/sqrt(2), lambda = +-1/sqrt(2) for L = f - lambda g;
- Stewart, Calculus, section 14.8 example 5: x + 2y + 3z on the intersection of x - y + z = 1 and
  x^2 + y^2 = 1: maximum 3 + sqrt(29) at (-2/sqrt(29), 5/sqrt(29), 1 + 7/sqrt(29)), minimum
  3 - sqrt(29) at (2/sqrt(29), -5/sqrt(29), 1 - 7/sqrt(29)).
The seed ("Hessian matrix", bordered Hessian section) states the minor rule only for one
constraint and borders the Hessian of f; here the Hessian of the Lagrangian is used, and the signs
are (-1)^m for a minimum and alternating from (-1)^(m+1) for a maximum.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs
from hessstats.errors import SpecificationError

R2, R29 = np.sqrt(2.0), np.sqrt(29.0)
xy = lambda v: v[0] * v[1]  # noqa: E731
line = lambda v: v[0] + v[1] - 10  # noqa: E731
plus = lambda v: v[0] + v[1]  # noqa: E731
circle = lambda v: v[0] ** 2 + v[1] ** 2 - 1  # noqa: E731
stewart_f = lambda v: v[0] + 2 * v[1] + 3 * v[2]  # noqa: E731
stewart_g = [lambda v: v[0] - v[1] + v[2] - 1, lambda v: v[0] ** 2 + v[1] ** 2 - 1]
STEWART_MAX = np.array([-2 / R29, 5 / R29, 1 + 7 / R29])
STEWART_MIN = np.array([2 / R29, -5 / R29, 1 - 7 / R29])


def test_xy_on_a_line():
    bh = hs.bordered_hessian(xy, line, [5.0, 5.0])
    np.testing.assert_allclose(np.asarray(bh), [[0, 1, 1], [1, 0, 1], [1, 1, 0]], atol=1e-15)
    np.testing.assert_allclose(bh.multipliers, [5.0], rtol=1e-14)
    assert bh.lagrange_residual < 1e-14 and (bh.m, bh.n) == (1, 2)
    c = hs.classify_constrained(xy, line, [5.0, 5.0])
    assert (c.kind, c.minors_kind, c.reduced_kind) == ("local maximum",) * 3
    assert list(c.minors) == [3] and c.minors[3] == pytest.approx(2.0, rel=1e-14)  # det > 0: max
    np.testing.assert_allclose(c.reduced_eigenvalues, [-1.0], rtol=1e-14)          # Z = (1,-1)/r2
    s = hs.solve_lagrange(xy, [line], [3.0, 8.0])
    assert s.converged and s.value == pytest.approx(25.0, rel=1e-14)
    np.testing.assert_allclose(s.x, [5.0, 5.0], rtol=1e-14)
    np.testing.assert_allclose(s.multipliers, [5.0], rtol=1e-14)


@pytest.mark.parametrize("sign, kind", [(1, "local maximum"), (-1, "local minimum")])
def test_sum_on_the_unit_circle(sign, kind):
    x = sign * np.array([1.0, 1.0]) / R2
    bh = hs.bordered_hessian(plus, circle, x)
    lam = sign / R2                                   # grad f = lambda grad g: (1,1) = 2 lam x
    np.testing.assert_allclose(bh.multipliers, [lam], rtol=1e-14)
    expected = [[0, sign * R2, sign * R2], [sign * R2, -2 * lam, 0], [sign * R2, 0, -2 * lam]]
    np.testing.assert_allclose(bh.matrix, expected, rtol=1e-14, atol=1e-15)
    c = hs.classify_constrained(plus, circle, x)
    assert (c.kind, c.minors_kind, c.reduced_kind) == (kind, kind, kind)
    assert c.minors[3] == pytest.approx(sign * 4 * R2, rel=1e-13)   # det of the matrix above
    s = hs.solve_lagrange(plus, circle, sign * np.array([0.5, 0.9]))
    assert s.converged and s.value == pytest.approx(sign * R2, rel=1e-14)
    np.testing.assert_allclose(s.x, x, rtol=1e-14)


def test_given_multipliers_and_list_of_constraints_match():
    x = np.array([1.0, 1.0]) / R2
    a = hs.bordered_hessian(plus, circle, x)
    b = hs.bordered_hessian(plus, [circle], x, multipliers=[1 / R2])
    np.testing.assert_allclose(a.matrix, b.matrix, rtol=1e-14)
    # other multipliers change H_L = -2 lambda I, not the border
    c = hs.bordered_hessian(plus, circle, x, multipliers=[2.0])
    np.testing.assert_allclose(c.hessian_lagrangian, -4 * np.eye(2), rtol=1e-14)
    np.testing.assert_allclose(c.jacobian, [[R2, R2]], rtol=1e-14)


@pytest.mark.parametrize("x0, x_star, value, kind, sign", [
    ([-0.3, 0.9, 2.0], STEWART_MAX, 3 + R29, "local maximum", -1),   # (-1)^(m+1), m = 2
    ([0.3, -0.9, 0.0], STEWART_MIN, 3 - R29, "local minimum", 1),    # (-1)^m
])
def test_stewart_two_constraints_three_variables(x0, x_star, value, kind, sign):
    s = hs.solve_lagrange(stewart_f, stewart_g, x0)
    assert s.converged and s.iterations < 20
    np.testing.assert_allclose(s.x, x_star, rtol=1e-13)
    assert s.value == pytest.approx(value, rel=1e-14)
    np.testing.assert_allclose(s.multipliers[0], 3.0, rtol=1e-13)     # from the z equation
    c = hs.classify_constrained(stewart_f, stewart_g, s.x)
    assert c.bordered.matrix.shape == (5, 5) and list(c.minors) == [5]
    assert np.sign(c.minors[5]) == sign
    assert (c.kind, c.minors_kind, c.reduced_kind) == (kind, kind, kind)


def test_constrained_saddle_agrees():
    # x^2 + y^2 - z^2 on x + y + z = 0: reduced Hessian has eigenvalues of both signs
    c = hs.classify_constrained(lambda v: v[0] ** 2 + v[1] ** 2 - v[2] ** 2,
                                lambda v: v[0] + v[1] + v[2], [0.0, 0.0, 0.0])
    assert (c.kind, c.minors_kind, c.reduced_kind) == ("saddle point",) * 3
    assert c.minors[3] == pytest.approx(-4.0, rel=1e-14)   # det [[0,1,1],[1,2,0],[1,0,2]]
    assert c.minors[4] > 0                                 # breaks both sign patterns
    assert c.reduced_eigenvalues[0] < 0 < c.reduced_eigenvalues[1]


def test_constraint_on_the_last_variable_is_a_strict_minimum():
    # min of x^2 + y^2 + z^2 on z = 0 at the origin is a strict minimum (reduced Hessian 2 I).
    # In the given order J = (0, 0, 1) makes the order-3 leading minor det [[0,0,0],[0,2,0],
    # [0,0,2]] = 0 (the classical rule needs a nonsingular leading block of J); with z first
    # (column-pivoted QR of J) the minors are det [[0,1,0],[1,2,0],[0,0,2]] = -2 and the full
    # det = -4, both of sign (-1)^m = -1: a minimum, as the reduced Hessian says.
    c = hs.classify_constrained(lambda v: v[0] ** 2 + v[1] ** 2 + v[2] ** 2, lambda v: v[2],
                                [0.0, 0.0, 0.0])
    assert c.variable_order == (2, 0, 1)
    assert c.minors[3] == pytest.approx(-2.0, rel=1e-14) and c.minors[4] == pytest.approx(-4.0, rel=1e-14)
    assert (c.minors_kind, c.reduced_kind, c.kind) == ("local minimum",) * 3
    np.testing.assert_allclose(c.reduced_eigenvalues, [2.0, 2.0], rtol=1e-14)


def test_not_critical_and_dependent_constraints():
    assert hs.classify_constrained(xy, line, [4.0, 6.0]).kind == "not a critical point"   # on g
    assert hs.classify_constrained(xy, line, [5.0, 6.0]).kind == "not a critical point"   # off g
    c = hs.classify_constrained(lambda v: v[0] ** 2 + v[1] ** 2 + v[2] ** 2,
                                [lambda v: v[0] + v[1] + v[2] - 3, lambda v: 2 * (v[0] + v[1] + v[2]) - 6],
                                [1.0, 1.0, 1.0])
    assert c.kind == "degenerate" and "linearly dependent" in c.note


def test_solve_lagrange_reports_failure():
    s = hs.solve_lagrange(plus, lambda v: v[0] ** 2 + v[1] ** 2 + 1, [0.5, 0.5], max_iter=30)
    assert not s.converged and s.residual > 1e-3       # x^2 + y^2 = -1 has no real solution


def test_bad_inputs():
    with pytest.raises(SpecificationError, match="between 1 and n - 1"):
        hs.bordered_hessian(xy, [line, circle], [1.0, 1.0])
    with pytest.raises(SpecificationError, match="multipliers"):
        hs.bordered_hessian(xy, line, [5.0, 5.0], multipliers=[1.0, 2.0])
    with pytest.raises(SpecificationError, match="callable"):
        hs.bordered_hessian(xy, "x + y", [5.0, 5.0])
    with pytest.raises(SpecificationError, match="flat vector"):
        hs.classify_constrained(xy, line, [[5.0, 5.0]])
    with pytest.raises(dataclasses.FrozenInstanceError):
        hs.bordered_hessian(xy, line, [5.0, 5.0]).m = 2


def test_float64_vector_constraint():
    # a vector-valued constraint function, points with 1e-9 structure that float32 would lose
    f = lambda v: jnp.sum((v - jnp.array([1.0, 2.0, 3.0]) * 1e-9) ** 2)  # noqa: E731
    s = hs.solve_lagrange(f, lambda v: jnp.array([v[0] + v[1] + v[2]]), [0.0, 0.0, 0.0])
    # projection of 1e-9 (1, 2, 3) onto x + y + z = 0: 1e-9 (-1, 0, 1)
    assert s.converged
    np.testing.assert_allclose(s.x, [-1e-9, 0.0, 1e-9], rtol=1e-12, atol=1e-22)
    np.testing.assert_allclose(s.multipliers, [-4e-9], rtol=1e-12)   # grad f = 2(x - c) = lam


# ----------------------------------------------------------------------------- issue 11 (trust)

@pytest.mark.parametrize("k", [0, 1, 2])
def test_strict_minimum_whatever_the_variable_order(k):
    # closed form: x^2 + y^2 + z^2 on (variable k) = 1 has the strict minimum e_k (reduced Hessian
    # 2 I); x^2 + y^2 + z^2 - 2 x_{k+1}^2 on the same plane has a saddle there. Before: "degenerate"
    # unless the constrained variable came first.
    x = np.zeros(3)
    x[k] = 1.0
    c = hs.classify_constrained(lambda v: jnp.sum(v ** 2), lambda v: v[k] - 1.0, x)
    assert (c.kind, c.minors_kind, c.reduced_kind) == ("local minimum",) * 3
    assert c.variable_order[0] == k
    s = hs.classify_constrained(lambda v: jnp.sum(v ** 2) - 2 * v[(k + 1) % 3] ** 2, lambda v: v[k] - 1.0, x)
    assert (s.kind, s.minors_kind, s.reduced_kind) == ("saddle point",) * 3


def test_two_constraints_in_any_order():
    # closed form: sum x_i^2 on x_a = 1, x_b = 2 (4 variables): strict minimum at x_a = 1, x_b = 2
    for a, b in [(0, 1), (2, 3), (3, 0), (1, 3)]:
        x = np.zeros(4)
        x[a], x[b] = 1.0, 2.0
        c = hs.classify_constrained(lambda v: jnp.sum(v ** 2), [lambda v, a=a: v[a] - 1.0,
                                                                lambda v, b=b: v[b] - 2.0], x)
        assert (c.kind, c.minors_kind) == ("local minimum", "local minimum"), (a, b)


def test_permuted_stewart_example():
    # Stewart 14.8 example 5 with the variables reordered: same verdicts
    for perm in [(2, 0, 1), (1, 2, 0), (2, 1, 0)]:
        p = np.array(perm)
        inv = np.argsort(p)
        f = lambda v, inv=inv: stewart_f(v[inv])  # noqa: E731
        g = [lambda v, c=c, inv=inv: c(v[inv]) for c in stewart_g]
        assert hs.classify_constrained(f, g, STEWART_MAX[p]).kind == "local maximum"
        assert hs.classify_constrained(f, g, STEWART_MIN[p]).kind == "local minimum"


def test_converged_means_what_classify_constrained_says():
    # x^4 + y^4 on x = y: Newton converges only linearly to the degenerate minimum 0. Before, the
    # solver stopped at x = 4.7e-6 and called that converged while classify_constrained said
    # "not a critical point". Now one test decides both.
    f4, diag = (lambda v: v[0] ** 4 + v[1] ** 4), (lambda v: v[0] - v[1])
    for x0, max_iter in [([1.0, 0.5], 100), ([2.0, -1.0], 100), ([1.0, 0.5], 5), ([1.0, 0.5], 20)]:
        s = hs.solve_lagrange(f4, diag, x0, max_iter=max_iter)
        c = hs.classify_constrained(f4, diag, s.x)
        assert s.converged == (c.kind != "not a critical point"), (x0, max_iter, s.note, c.note)
    s = hs.solve_lagrange(f4, diag, [1.0, 0.5])
    assert s.converged and np.abs(s.x).max() < 1e-6
    assert not hs.solve_lagrange(f4, diag, [1.0, 0.5], max_iter=5).converged
    # and on the textbook problems, from several starts
    for f, g, x0 in [(xy, line, [3.0, 8.0]), (plus, circle, [0.5, 0.9]), (plus, circle, [-0.2, -0.9]),
                     (stewart_f, stewart_g, [0.3, -0.9, 0.0])]:
        s = hs.solve_lagrange(f, g, x0)
        assert s.converged and hs.classify_constrained(f, g, s.x).kind != "not a critical point"


def test_constrained_gradient_test_is_relative():
    # closed form: x^1000000 + y^2 on y = 0 at (1, 0): reduced gradient 1e6, curvature 1e12, but the
    # constrained critical point is (0, 0), at distance 1
    c = hs.classify_constrained(lambda v: v[0] ** 1000000 + v[1] ** 2, lambda v: v[1], [1.0, 0.0])
    assert c.kind == "not a critical point" and c.newton_distance > 0.1
    big = hs.classify_constrained(lambda v: 1e12 * (v[0] - 1e6) ** 2 + v[1] ** 2, lambda v: v[1] - 5e5,
                                  [1e6, 5e5])
    assert big.kind == "local minimum"


def test_vector_valued_objective_is_refused():
    with pytest.raises(SpecificationError, match="expected a scalar function"):
        hs.classify_constrained(lambda v: v * 2.0, line, [5.0, 5.0])
    with pytest.raises(SpecificationError, match="output shape"):
        hs.solve_lagrange(lambda v: v * 2.0, line, [5.0, 5.0])
