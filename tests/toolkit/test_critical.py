"""Critical points, the second derivative test, the critical-point search and convexity.

Reference values: the seeds' worked examples (named per test: "Hessian matrix" exercises page,
Mathwords "Hessian Matrix", Educative "What is a Hessian matrix?"), closed-form mathematics, and
Stewart, Calculus, section 14.7 (``x^4 + y^4 - 4xy + 1``).
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs
from hessstats.core.compilation import TRACES
from hessstats.errors import SpecificationError
from hessstats.toolkit import _machinery as machinery
from hessstats.toolkit import critical

PI = np.pi


def seed_poly(v):  # "Hessian matrix" page, first worked example
    x, y = v[0], v[1]
    return y**4 + x**3 + 3 * x**2 + 4 * y**2 - 4 * x * y - 5 * y + 8


def seed_4var(v):  # "Hessian matrix" page, problem 4
    x, y, z, w = v[0], v[1], v[2], v[3]
    return 2 * x**3 * y**4 * z * w**2 - 2 * y**3 * w**4 + 3 * x**2 * z**2


def mathwords(v):  # Mathwords worked example
    return v[0] ** 2 + v[0] * v[1] + v[1] ** 2 - 3 * v[0]


def educative(v):  # Educative: f(x, y) = 3x^3 - 6y^2 + 3
    return 3 * v[0] ** 3 - 6 * v[1] ** 2 + 3


def stewart(v):  # Stewart 14.7 example 3: minima at (1,1), (-1,-1), saddle at (0,0)
    return v[0] ** 4 + v[1] ** 4 - 4 * v[0] * v[1] + 1


SEED_HESSIANS = [  # "Hessian matrix" page: the example and problems 1-4
    (seed_poly, [1.0, 0.0], [[12, -4], [-4, 8]]),
    (lambda v: v[0] ** 2 * v[1] + v[1] ** 2 * v[0], [1.0, 1.0], [[2, 4], [4, 2]]),
    (lambda v: jnp.exp(v[1] * jnp.log(v[0])), [1.0, 1.0], [[0, 1], [1, 0]]),
    (lambda v: jnp.exp(-v[0]) * jnp.sin(v[1] * v[2]), [0.0, 1.0, PI],
     [[0, PI, 1], [PI, 0, -1], [1, -1, 0]]),
    (seed_4var, [2.0, -1.0, 1.0, -1.0],
     [[30, -96, 48, -48], [-96, 204, -64, 152], [48, -64, 24, -32], [-48, 152, -32, 56]]),
]


@pytest.mark.parametrize("f, x, expected", SEED_HESSIANS)
def test_seed_hessians(f, x, expected):
    cp = hs.classify_critical_point(f, x)
    np.testing.assert_allclose(cp.hessian, expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(cp.eigenvalues, np.linalg.eigvalsh(np.array(expected, float)),
                               rtol=1e-12, atol=1e-12)
    assert cp.hessian.dtype == np.float64


def test_seed_points_are_not_critical():
    # The seed examples evaluate Hessians at arbitrary points: the gradient is not zero there
    # (the seeds' "common mistake"); e.g. grad of the first example at (1, 0) is (9, -9).
    cp = hs.classify_critical_point(seed_poly, [1.0, 0.0])
    assert cp.kind == "not a critical point" and not cp.is_critical
    np.testing.assert_allclose(cp.gradient, [9.0, -9.0], rtol=1e-14)
    assert cp.gradient_norm == pytest.approx(np.hypot(9, 9), rel=1e-14)


def test_mathwords_local_minimum():
    # Mathwords: (2, -1) is a local minimum, H = [[2, 1], [1, 2]], D = 3, f_xx = 2.
    cp = hs.classify_critical_point(mathwords, [2.0, -1.0])
    assert cp.kind == "local minimum"
    np.testing.assert_allclose(cp.hessian, [[2, 1], [1, 2]], rtol=1e-14)
    np.testing.assert_allclose(cp.eigenvalues, [1.0, 3.0], rtol=1e-14)
    assert cp.value == pytest.approx(-3.0, rel=1e-14)
    t = hs.second_derivative_test(mathwords, [2.0, -1.0])
    np.testing.assert_allclose([t.D, t.fxx, t.fyy, t.fxy], [3.0, 2.0, 2.0, 1.0], rtol=1e-14)
    assert t.kind == "local minimum"


def test_educative_examples():
    # Educative's hessian of 3x^3 - 6y^2 + 3: [[18x, 0], [0, -12]]. Its TestCriticalPoint calls
    # (1.2, 3.4) a saddle and (-1, 1) a maximum, but neither is a critical point (gradient
    # (9x^2, -12y) is not zero). The only critical point, (0, 0), has eigenvalues -12 and 0:
    # the test is inconclusive there (and in fact it is not an extremum: 3x^3 changes sign).
    for point, h in [([1.2, 3.4], [[21.6, 0], [0, -12]]), ([-1.0, 1.0], [[-18, 0], [0, -12]])]:
        cp = hs.classify_critical_point(educative, point)
        np.testing.assert_allclose(cp.hessian, h, rtol=1e-14)
        assert cp.kind == "not a critical point"
    cp = hs.classify_critical_point(educative, [0.0, 0.0])
    assert cp.kind == "degenerate"
    np.testing.assert_allclose(cp.eigenvalues, [-12.0, 0.0], atol=1e-14)
    assert hs.second_derivative_test(educative, [0.0, 0.0]).kind == "degenerate"


@pytest.mark.parametrize("f, n, kind", [
    (lambda v: v[0] ** 4 + v[1] ** 4, 2, "degenerate"),       # PSD Hessian (zero) but a minimum
    (lambda v: -(v[0] ** 4) - v[1] ** 4, 2, "degenerate"),    # a maximum, NSD Hessian
    (lambda v: v[0] ** 3, 1, "degenerate"),                   # not an extremum at all
    (lambda v: v[0] ** 3 + v[1] ** 2, 2, "degenerate"),       # eigenvalues 0 and 2
    (lambda v: v[0] ** 3 - 3 * v[0] * v[1] ** 2, 2, "degenerate"),  # monkey saddle, H = 0
    (lambda v: v[0] ** 2 - v[1] ** 2 + v[2] ** 4, 3, "saddle point"),  # +, -, 0: still a saddle
    (lambda v: v[0] ** 2 - v[1] ** 2, 2, "saddle point"),
    (lambda v: jnp.cos(v[0]) + jnp.cos(v[1]), 2, "local maximum"),
    (lambda v: jnp.sum(v**2), 4, "local minimum"),
])
def test_kinds_at_origin(f, n, kind):
    assert hs.classify_critical_point(f, np.zeros(n)).kind == kind


def test_tolerances_are_relative_and_reported():
    f = lambda v: v[0] ** 2 - 1e-3 * v[1] ** 2  # noqa: E731
    for c in (1e-12, 1.0, 1e12):   # f and c*f get the same verdict
        cp = hs.classify_critical_point(lambda v, c=c: c * f(v), [0.0, 0.0])
        assert cp.kind == "saddle point"
        assert cp.scale == pytest.approx(2 * c, rel=1e-14)
        assert cp.eig_tol == pytest.approx(1e-8 * 2 * c, rel=1e-14)
    # eigenvalue -2e-3 relative to 2 is 1e-3: zero only for tol >= 1e-3
    assert hs.classify_critical_point(f, [0.0, 0.0], tol=1e-2).kind == "degenerate"
    cp = hs.classify_critical_point(mathwords, [2.0 + 1e-9, -1.0])   # off by 1e-9
    assert cp.kind == "local minimum"
    assert cp.grad_tol == pytest.approx(1e-6 * 3.0 * (1 + np.hypot(2.0 + 1e-9, 1.0)), rel=1e-12)
    assert hs.classify_critical_point(mathwords, [2.0 + 1e-9, -1.0], gtol=1e-12).kind == (
        "not a critical point")


def test_float64_even_when_user_config_is_float32():
    # eigenvalues 2 +- 2(1 - 1e-7) = 2e-7 and 4 - 2e-7; float32 rounds 1 - 1e-7 to 0.99999988,
    # which would give 2.4e-7 (20% off).
    f = lambda v: v[0] ** 2 + v[1] ** 2 - 2 * (1 - 1e-7) * v[0] * v[1]  # noqa: E731
    with jax.enable_x64(False):
        cp = hs.classify_critical_point(f, [0.0, 0.0])
    assert cp.eigenvalues.dtype == np.float64
    np.testing.assert_allclose(cp.eigenvalues, [2e-7, 4 - 2e-7], rtol=1e-9)
    assert cp.kind == "local minimum"


def test_pytree_input():
    f = lambda p: (p["a"] - 1.0) ** 2 + jnp.sum((p["b"] + 2.0) ** 2) - p["a"] * p["b"][0]  # noqa
    cp = hs.classify_critical_point(f, {"a": 0.0, "b": jnp.array([-2.0, -2.0])})  # grad = 0
    np.testing.assert_allclose(cp.hessian, [[2, -1, 0], [-1, 2, 0], [0, 0, 2]], rtol=1e-14)
    assert cp.kind == "local minimum"
    t = hs.second_derivative_test(lambda p: p["x"] ** 2 - p["y"] ** 2, {"x": 0.0, "y": 0.0})
    assert t.D == pytest.approx(-4.0, rel=1e-14) and t.kind == "saddle point"


def test_bad_inputs():
    with pytest.raises(SpecificationError, match="scalar"):
        hs.classify_critical_point(lambda v: v * 2, [1.0, 2.0])
    with pytest.raises(SpecificationError, match="not finite"):
        hs.classify_critical_point(lambda v: jnp.log(v[0]), [-1.0])
    with pytest.raises(SpecificationError, match="two variables"):
        hs.second_derivative_test(lambda v: v[0] ** 2 + v[1] ** 2 + v[2] ** 2, [0.0, 0.0, 0.0])
    cp = hs.classify_critical_point(mathwords, [2.0, -1.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        cp.kind = "local maximum"


def test_second_derivative_test_agrees_with_eigenvalues():
    # every quadratic form a x^2 + b xy + c y^2, a, c in {-1, 0, 1}, b in {-2, 0, 1}, at the
    # origin (all four verdicts, D = 0 with H != 0 included): closed form D = 4ac - b^2; plus
    # non-quadratic functions at points critical or not
    for a, b, c in itertools.product((-1, 0, 1), (-2, 0, 1), (-1, 0, 1)):
        f = lambda v, a=a, b=b, c=c: a * v[0] ** 2 + b * v[0] * v[1] + c * v[1] ** 2  # noqa
        t, cp = hs.second_derivative_test(f, [0.0, 0.0]), hs.classify_critical_point(f, [0.0, 0.0])
        D = 4 * a * c - b * b
        expected = ("degenerate" if D == 0 else "saddle point" if D < 0
                    else "local minimum" if a > 0 else "local maximum")
        assert t.D == pytest.approx(D, abs=1e-14) and t.kind == cp.kind == expected, (a, b, c)
    others = [(stewart, [1.0, 1.0]), (stewart, [0.0, 0.0]), (stewart, [0.5, 0.2]),
              (lambda v: jnp.sin(v[0]) * jnp.sin(v[1]), [PI / 2, -PI / 2]),
              (lambda v: jnp.sin(v[0]) * jnp.sin(v[1]), [0.0, 0.0]),
              (lambda v: -jnp.exp(-(v[0] ** 2) - 3 * v[1] ** 2), [0.0, 0.0]),
              (lambda v: jnp.log1p(v[0] ** 2) - jnp.cosh(v[1]), [0.0, 0.0]),
              (lambda v: v[0] ** 4 - v[1] ** 2, [0.0, 0.0]), (educative, [1.2, 3.4]),
              (lambda v: (v[0] - v[1]) ** 2, [1.0, 1.0])]
    kinds = []
    for f, x in others:
        t, cp = hs.second_derivative_test(f, x), hs.classify_critical_point(f, x)
        assert t.kind == cp.kind
        kinds.append(t.kind)
    assert kinds == ["local minimum", "saddle point", "not a critical point", "local minimum",
                     "saddle point", "local minimum", "saddle point", "degenerate",
                     "not a critical point", "degenerate"]


def test_find_critical_points_stewart_and_seeds():
    df = hs.find_critical_points(stewart, box=[(-2, 2), (-2, 2)], names=["x", "y"])
    assert list(df.columns) == ["x", "y", "value", "kind", "eigenvalues", "gradient_norm", "hits"]
    np.testing.assert_allclose(df[["x", "y"]].to_numpy(), [[-1, -1], [0, 0], [1, 1]], atol=1e-12)
    assert df["kind"].tolist() == ["local minimum", "saddle point", "local minimum"]
    np.testing.assert_allclose(df["value"], [-1, 1, -1], atol=1e-12)
    np.testing.assert_allclose(df["eigenvalues"][1], [-4, 4], atol=1e-12)   # [[0,-4],[-4,0]]
    np.testing.assert_allclose(df["eigenvalues"][0], [8, 16], atol=1e-10)   # [[12,-4],[-4,12]]
    assert df["hits"].sum() <= df.attrs["starts"] == 25
    m = hs.find_critical_points(mathwords, box=[(-5, 5), (-5, 5)])   # Mathwords: one minimum
    assert len(m) == 1 and m["kind"][0] == "local minimum"
    np.testing.assert_allclose(m[["x0", "x1"]].to_numpy()[0], [2, -1], atol=1e-12)
    e = hs.find_critical_points(educative, box=[(-2, 2), (-2, 2)])   # Educative: only (0, 0)
    assert len(e) == 1 and e["kind"][0] == "degenerate"
    np.testing.assert_allclose(e[["x0", "x1"]].to_numpy()[0], [0, 0], atol=1e-8)


def test_find_degenerate_from_off_grid_starts():
    # Newton converges only linearly to degenerate points; they must still come out "degenerate"
    df = hs.find_critical_points(lambda v: v[0] ** 3, starts=[[1.3], [-0.7], [2.9]])
    assert len(df) == 1 and df["kind"][0] == "degenerate" and df["hits"][0] == 3
    assert abs(df["x0"][0]) < 1e-8
    df = hs.find_critical_points(lambda v: v[0] ** 4 + v[1] ** 4, starts=[[0.7, -1.1], [1.9, 0.3]])
    assert df["kind"].tolist() == ["degenerate"] and np.abs(df[["x0", "x1"]].to_numpy()).max() < 1e-8


def test_find_compiles_once_per_function_and_is_seeded():
    f = lambda v: jnp.sin(v[0]) * jnp.sin(v[1]) + 0.1 * v[0]  # noqa: E731
    before = TRACES["toolkit_derivs"]
    a = hs.find_critical_points(f, box=[(-3, 3), (-3, 3)], starts=40, seed=3)
    assert TRACES["toolkit_derivs"] == before + 1          # many starts, many iterations
    b = hs.find_critical_points(f, box=[(-3, 3), (-3, 3)], starts=40, seed=3)
    assert TRACES["toolkit_derivs"] == before + 1          # reused for the same f
    assert a.drop(columns="eigenvalues").equals(b.drop(columns="eigenvalues"))
    assert set(a["kind"]) <= {"saddle point", "local minimum", "local maximum"} and len(a) >= 3
    for row in a.itertuples():   # every reported point is a critical point of f
        g = hs.gradient(f, [row.x0, row.x1])
        assert np.linalg.norm(g) < 1e-10 and -3 <= row.x0 <= 3 and -3 <= row.x1 <= 3


def test_find_bad_inputs():
    with pytest.raises(SpecificationError, match="nowhere"):
        hs.find_critical_points(stewart)
    with pytest.raises(SpecificationError, match="nowhere"):
        hs.find_critical_points(stewart, starts=10)      # random starts need a box
    with pytest.raises(SpecificationError, match="low, high"):
        hs.find_critical_points(stewart, box=[(2, -2), (-2, 2)])
    with pytest.raises(SpecificationError, match="wrong shape"):
        hs.find_critical_points(stewart, box=[(-2, 2), (-2, 2)], starts=[[0.0, 1.0, 2.0]])
    assert hs.find_critical_points(lambda v: v[0] + v[1], box=[(-1, 1), (-1, 1)]).empty
    # log is undefined for x <= 0: those starts are dropped, not fatal; no box: keep what converges
    df = hs.find_critical_points(lambda v: v[0] * jnp.log(v[0]), starts=[[-1.0], [0.2], [2.0]])
    assert len(df) == 1 and df["kind"][0] == "local minimum"
    assert df["x0"][0] == pytest.approx(np.exp(-1), rel=1e-14)       # d/dx x ln x = ln x + 1


BOX = [(-1.0, 1.0), (-1.0, 1.0)]


@pytest.mark.parametrize("f, kind", [
    (lambda v: v[0] ** 2 + v[1] ** 2, "strictly convex"),
    (lambda v: -(v[0] ** 2) - v[0] * v[1] - v[1] ** 2, "strictly concave"),
    (lambda v: 2 * v[0] - 3 * v[1] + 1, "affine"),
    (lambda v: jax.nn.logsumexp(v), "convex"),             # Hessian singular along (1, 1)
    (lambda v: v[0] ** 4 + v[1] ** 4, "convex"),           # zero Hessian at the centre
    (lambda v: -jnp.abs(v[0]) ** 3 - v[1] ** 2, "concave"),
    (lambda v: v[0] ** 3 + v[1] ** 2, "neither"),
    (lambda v: (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2, "neither"),   # Rosenbrock
])
def test_convexity_kinds(f, kind):
    r = hs.check_convexity(f, box=BOX)
    assert r.kind == kind
    assert r.proven == (kind == "neither")
    assert r.convex == (kind in ("affine", "convex", "strictly convex"))
    assert r.concave == (kind in ("affine", "concave", "strictly concave"))
    assert r.n_points == 257
    assert ("proof" if kind == "neither" else "evidence only") in r.note


def test_convexity_counterexample_is_a_proof():
    f = lambda v: v[0] ** 3 + v[1] ** 2   # H = diag(6x, 2): not convex where x < 0  # noqa: E731
    r = hs.check_convexity(f, box=BOX, seed=1)
    x = r.counterexample
    assert x is not None and x[0] < 0
    np.testing.assert_allclose(r.not_convex_eigenvalues, sorted([6 * x[0], 2.0]), rtol=1e-12)
    assert np.linalg.eigvalsh(hs.hessian(f, x))[0] < 0    # independently confirmed
    assert r.min_eigenvalue == pytest.approx(6 * x[0], rel=1e-12)
    on_right = hs.check_convexity(f, box=[(0.1, 1.0), (-1.0, 1.0)])
    assert on_right.kind == "strictly convex" and on_right.counterexample is None
    pts = hs.check_convexity(f, points=[[0.5, 0.0], [-0.5, 0.0]])
    assert pts.kind == "neither" and pts.n_points == 2
    np.testing.assert_allclose(pts.counterexample, [-0.5, 0.0])
    with pytest.raises(SpecificationError, match="nowhere"):
        hs.check_convexity(f)


# ----------------------------------------------------------------------------- issue 11 (trust)

def test_vector_valued_f_is_a_specification_error_everywhere():
    # closed-form: a Hessian is defined for f: R^n -> R only; a vector output must be refused with
    # the shape it had and how to fix it, not turned into a 3-d "Hessian" or a JAX TypeError
    vec = lambda v: v * 2.0  # noqa: E731
    calls = [lambda: hs.classify_critical_point(vec, [1.0, 2.0]),
             lambda: hs.second_derivative_test(vec, [1.0, 2.0]),
             lambda: hs.taylor2(vec, [1.0, 2.0]),
             lambda: hs.find_critical_points(vec, box=[(-1, 1), (-1, 1)]),
             lambda: hs.check_convexity(vec, box=[(-1, 1), (-1, 1)])]
    for call in calls:
        with pytest.raises(SpecificationError, match="expected a scalar function") as info:
            call()
        assert "output shape (2,)" in str(info.value) and "jnp.sum" in str(info.value)
    for g, got in [(lambda v: v[:1] ** 2, "output shape (1,)"), (lambda v: (v[0], v[1]), "2 part(s)"),
                   (lambda v: {"a": v[0]}, "1 part(s)")]:
        for call in (lambda: hs.classify_critical_point(g, [1.0, 2.0]),
                     lambda: hs.find_critical_points(g, starts=[[1.0, 2.0]])):
            with pytest.raises(SpecificationError, match="expected a scalar function") as info:
                call()
            assert got in str(info.value)


KINKED = [   # f, point: f is not twice differentiable at the point (closed form)
    (lambda v: v[0] * jnp.abs(v[0]), [0.0]),                  # f'' = 2 sign(x) jumps (C^1)
    (lambda v: jnp.minimum(v[0] ** 2, 1.0), [1.0]),            # f' jumps from 2 to 0
    (lambda v: jnp.minimum(v[0] ** 2, 1.0), [-1.0]),
    (lambda v: jax.nn.relu(v[0]), [0.0]),                      # f' jumps from 0 to 1
    (lambda v: jnp.abs(v[0]), [0.0]),
    (lambda v: jnp.abs(v[0]) + jnp.abs(v[1]), [0.0, 0.0]),
    (lambda v: v[0] ** 2 + jnp.abs(v[1]), [0.0, 0.0]),
    (lambda v: v[0] * jnp.abs(v[0]) + v[1] ** 2, [0.0, 0.0]),   # JAX's Hessian at 0: diag(2, 2)
    (lambda v: jnp.abs(v[0] - v[1]) + v[0] ** 2 + v[1] ** 2, [0.0, 0.0]),   # kink along x = y
    (lambda v: jnp.maximum(v[0], v[1]) - 0.5 * (v[0] + v[1]), [1.0, 1.0]),
]


@pytest.mark.parametrize("f, x", KINKED)
def test_kinks_are_not_classified(f, x):
    # closed form: at each point the one-sided derivatives differ, so the second-order test does
    # not apply; before, e.g. x|x| at 0 was a "local minimum" (JAX returns f'' = 2 there)
    cp = hs.classify_critical_point(f, x)
    assert cp.kind == "not twice differentiable here"
    assert cp.smoothness is not critical.Smoothness.SMOOTH
    assert "not twice differentiable" in cp.note or "not differentiable" in cp.note
    if len(x) == 2:
        assert hs.second_derivative_test(f, x).kind == "not twice differentiable here"


def test_kink_with_gradients_away_from_zero_is_not_critical():
    # |x| + 5x at 0: one-sided derivatives 4 and 6, both positive: not a critical point in any
    # sense; |x - y| + x^2 + y^2 on the kink line at (0.5, 0.5): the one-sided gradients
    # (1, 1) +- (1, -1) have the segment between them at distance sqrt(2) from 0
    cp = hs.classify_critical_point(lambda v: jnp.abs(v[0]) + 5 * v[0], [0.0])
    assert cp.kind == "not a critical point" and cp.smoothness is critical.Smoothness.GRADIENT_JUMP
    assert not cp.is_critical and "do not surround 0" in cp.note
    cp = hs.classify_critical_point(lambda v: jnp.abs(v[0] - v[1]) + v[0] ** 2 + v[1] ** 2, [0.5, 0.5])
    assert cp.kind == "not a critical point" and "distance 1.41" in cp.note
    # ... while |x| + x/2 at 0 (one-sided derivatives -1/2 and 3/2) is a kinked minimum
    assert hs.classify_critical_point(lambda v: jnp.abs(v[0]) + 0.5 * v[0], [0.0]).kind == (
        "not twice differentiable here")


def test_c1_kink_away_from_critical_is_not_critical():
    # x|x| at 1 is smooth (f = x^2 there) and not critical; min(x^2, 1) at 2 is flat: degenerate
    assert hs.classify_critical_point(lambda v: v[0] * jnp.abs(v[0]), [1.0]).kind == "not a critical point"
    cp = hs.classify_critical_point(lambda v: jnp.minimum(v[0] ** 2, 1.0), [2.0])
    assert cp.kind == "degenerate" and cp.smoothness is critical.Smoothness.SMOOTH


@pytest.mark.parametrize("f, x, kind", [
    (lambda v: -jnp.abs(v[0]) ** 3 - v[1] ** 2, [0.0, 0.0], "degenerate"),   # C^2 (f''' jumps)
    (lambda v: jax.nn.softplus(10 * v[0]) + v[1] ** 2 - 10 * v[0] / 2, [0.0, 0.0], "local minimum"),
    (lambda v: jnp.exp(v[0]) - v[0] + jnp.cosh(3 * v[1]), [0.0, 0.0], "local minimum"),
    (lambda v: jnp.sin(40 * v[0]) * jnp.sin(40 * v[1]), [0.0, 0.0], "saddle point"),
    (lambda v: (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2, [1.0, 1.0], "local minimum"),
    (lambda v: jax.nn.logsumexp(jnp.array([v[0], -v[0], v[1], -v[1]])), [0.0, 0.0], "local minimum"),
    (lambda v: 1e8 * ((v[0] - 300.0) ** 2 - (v[1] + 200.0) ** 4), [300.0, -200.0], "degenerate"),
])
def test_smooth_functions_keep_their_verdicts(f, x, kind):
    # closed form: smooth functions (large curvature, large coordinates, C^2 only) are never
    # flagged as kinked; the verdicts are those of the eigenvalue test
    cp = hs.classify_critical_point(f, x)
    assert cp.smoothness is critical.Smoothness.SMOOTH and cp.kind == kind


def test_kink_check_is_cheap():
    # the check costs 8n gradients (2 steps x 2 signs x (n eigenvectors + n axes)) per point
    n, rows = 7, []
    X = np.zeros((1, n))

    def grads(Y):
        rows.append(len(Y))
        return 2.0 * Y

    scan = machinery.kink_scan(grads, X, np.zeros((1, n)), 2.0 * np.eye(n)[None])
    assert sum(rows) == 8 * n and scan.smoothness == [critical.Smoothness.SMOOTH]


def test_gradient_test_is_relative_to_scale_both_ways():
    # closed form: x^1000000 at 1 has gradient 1e6 and curvature ~1e12 (Newton step 1e-6), but its
    # only critical point is 0, at distance 1: not critical (before: "local minimum")
    for f, x in [(lambda v: v[0] ** 1000000, [1.0]), (lambda v: jnp.exp(1e6 * v[0]), [0.0]),
                 (lambda v: v[0] ** 1000000 + v[1] ** 2, [1.0, 0.0]),
                 (lambda v: 1e-6 * v[0] ** 2 + v[1] ** 1000000, [0.0, 1.0])]:
        cp = hs.classify_critical_point(f, x)
        assert cp.kind == "not a critical point" and cp.newton_distance > 0.1, cp.note
        if len(x) == 2:
            assert hs.second_derivative_test(f, x).kind == "not a critical point"
    # true critical points with large values, curvature and coordinates are still accepted
    big = lambda v: 1e12 * (v[0] - 1e6) ** 2 + 1e15 + 1e6 * (v[1] + 3e5) ** 2  # noqa: E731
    assert hs.classify_critical_point(big, [1e6, -3e5]).kind == "local minimum"
    assert hs.classify_critical_point(big, [1e6 * (1 + 1e-12), -3e5]).kind == "local minimum"
    rosen = lambda v: 1e10 * ((1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2)  # noqa: E731
    cp = hs.classify_critical_point(rosen, [1.0 + 1e-9, 1.0 + 2e-9])
    assert cp.kind == "local minimum" and cp.newton_distance < 1e-8
    # ... and a point off by more than gtol (1 + ||x||) is not
    assert hs.classify_critical_point(big, [1e6 * (1 + 1e-4), -3e5]).kind == "not a critical point"


def test_rosenbrock_from_the_textbook_start():
    # Rosenbrock's only critical point is the minimum (1, 1) (Hessian [[802, -400], [-400, 200]]);
    # Newton on grad f = 0 from (-1.2, 1) stalls where H is singular (before: an empty result)
    rosen = lambda v: (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2  # noqa: E731
    df = hs.find_critical_points(rosen, starts=[[-1.2, 1.0]])
    assert len(df) == 1 and df["kind"][0] == "local minimum"
    np.testing.assert_allclose(df[["x0", "x1"]].to_numpy()[0], [1.0, 1.0], rtol=1e-12)
    assert df.search.converged == 1 and df.search.fallback == 1 and not df.search.exhaustive


def test_search_reports_it_is_not_exhaustive():
    # closed form: x0 log x0 + x1^2 is undefined for x0 <= 0 (failed starts); a linear f has no
    # critical point (no start converges); the report's counts add up to the starts
    f = lambda v: v[0] * jnp.log(v[0]) + v[1] ** 2  # noqa: E731
    df = hs.find_critical_points(f, starts=[[-1.0, 0.0], [0.2, 1.0], [2.0, -1.0]])
    r = df.search
    assert (r.starts, r.converged, r.failed, r.not_converged, r.distinct) == (3, 2, 1, 0, 1)
    assert r.converged + r.failed + r.not_converged + r.outside_box + r.kinks == r.starts
    text = repr(df)
    assert text.splitlines()[-1] == r.summary() and "search not exhaustive" in text
    assert "1 failed" in text and df.attrs["search"] is r and df.summary() == r.summary()
    assert (df.attrs["failed"], df.attrs["not_converged"], df.attrs["exhaustive"]) == (1, 0, False)
    lin = hs.find_critical_points(lambda v: v[0] + v[1], box=[(-1, 1), (-1, 1)])
    assert lin.empty and lin.search.converged == 0 and lin.search.not_converged == 25
    assert "25 did not converge" in repr(lin)


def test_default_search_finds_all_points_in_five_dimensions():
    # sum(x^4/4 - x^2/2) has 3^5 = 243 critical points in [-2, 2]^5 (coordinates -1, 0, 1): 32
    # minima, the maximum at 0 and 210 saddles; before: 152 points, the maximum missing
    f = lambda v: jnp.sum(v ** 4 / 4 - v ** 2 / 2)  # noqa: E731
    df = hs.find_critical_points(f, box=[(-2, 2)] * 5)
    assert len(df) == 243
    assert df["kind"].value_counts().to_dict() == {"saddle point": 210, "local minimum": 32,
                                                   "local maximum": 1}
    np.testing.assert_allclose(np.abs(df[[f"x{i}" for i in range(5)]].to_numpy()) % 1, 0, atol=1e-9)


def test_default_starts_scale_with_dimension():
    # more starts in more dimensions, until one round of Newton steps would cost O(k n^3) > 2^31
    assert [critical.default_starts(n) for n in (2, 5, 10, 300, 2000)] == [512, 1280, 2560, 79, 64]
    assert len(critical._starts(np.array([(-1.0, 1.0)] * 6), None, 5, 0)) == 5 ** 6   # the grid
    assert len(critical._starts(np.array([(-1.0, 1.0)] * 7), None, 5, 0)) == 1792   # 5^7 > 16384


def test_memory_is_bounded_by_batches():
    # n = 2000 with the default 256 MB budget: one start's Hessians at a time (64 n^2 bytes each),
    # not 256 x 32 MB; n = 150 with 4 MB: every compiled call sees at most 2 Hessians, whatever
    # the number of starts, and the search still finds the minimum
    assert machinery.batch_rows(2000, 64, machinery.BATCH_BYTES)[0] == 1
    n, budget = 150, 2 ** 22
    c, cg = machinery.batch_rows(n, 79, budget)
    assert c == 2 and c * 64 * n * n <= budget and cg * 64 * n <= budget
    shapes: list[tuple] = []
    orig_d, orig_g = machinery.batched_derivatives, machinery.batched_gradients

    def derivs(X, consts, f):
        shapes.append(("derivs", X.shape))
        return orig_d(X, consts, f=f)

    def grads(X, consts, f):
        shapes.append(("grads", X.shape))
        return orig_g(X, consts, f=f)

    center = jnp.linspace(-0.5, 0.5, n)
    f = lambda v: 0.5 * jnp.sum((v - center) ** 2) + 0.25 * jnp.sum(v[1:] * v[:-1])  # noqa: E731
    mp = pytest.MonkeyPatch()
    mp.setattr(machinery, "batched_derivatives", derivs)
    mp.setattr(machinery, "batched_gradients", grads)
    try:
        df = hs.find_critical_points(f, box=[(-1, 1)] * n, starts=9, max_batch_bytes=budget)
    finally:
        mp.undo()
    assert df.search.starts == 9 and df.search.batch == 2
    assert len(df) == 1 and df["kind"][0] == "local minimum"
    assert {s for k, s in shapes if k == "derivs"} == {(2, n)}
    assert max(s[0] for k, s in shapes if k == "grads") <= cg
    A = np.eye(n) + 0.25 * (np.eye(n, k=1) + np.eye(n, k=-1))      # H; x* solves A x = center
    np.testing.assert_allclose(df[[f"x{i}" for i in range(n)]].to_numpy()[0],
                               np.linalg.solve(A, np.asarray(center)), atol=1e-10)


def test_find_flags_kinked_points():
    # x|x| + y^2: Newton lands exactly on x = 0, where JAX's Hessian diag(2, 2) would say
    # "local minimum" (x|x| is odd: 0 is not an extremum)
    df = hs.find_critical_points(lambda v: v[0] * jnp.abs(v[0]) + v[1] ** 2, box=[(-1, 1), (-1, 1)])
    assert len(df) == 1 and df["kind"][0] == "not twice differentiable here"
    # |x| + y^2: no start converges (the gradient is +-1 in x); the fallback minimisation stops at
    # the kink (0, 0), whose one-sided gradients -1 and 1 surround 0: reported, not classified
    df = hs.find_critical_points(lambda v: jnp.abs(v[0]) + v[1] ** 2, box=[(-1, 1), (-1, 1)])
    assert df["kind"].tolist() == ["not twice differentiable here"]
    np.testing.assert_allclose(df[["x0", "x1"]].to_numpy()[0], [0.0, 0.0], atol=1e-8)
    assert df.search.kinks == df["hits"][0] > 0 and "ended at a kink" in repr(df)


def test_find_sees_the_current_value_of_a_captured_array():
    """Stale-kernel class (issue 11): f capturing an array that changes between calls must not be
    served from the first call's compiled kernel. Closed form: the minimum of (x - c)^2 is at c."""
    c = np.array([1.0])
    f = lambda v: (v[0] - c[0]) ** 2  # noqa: E731
    first = hs.find_critical_points(f, starts=[[0.0]])
    c[0] = 5.0
    second = hs.find_critical_points(f, starts=[[0.0]])
    np.testing.assert_allclose([first["x0"][0], second["x0"][0]], [1.0, 5.0], rtol=1e-10)
    check = hs.check_convexity(f, points=[[4.0], [5.0], [6.0]])
    assert check.kind in ("convex", "strictly convex")
