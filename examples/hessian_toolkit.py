"""The Hessian toolkit on the seeds' worked examples: exact float64 Hessians, the second-order test
(gradient first), critical points, convexity, the Taylor model and the bordered Hessian.

Run: python examples/hessian_toolkit.py   (asserts its own results)
"""

import jax.numpy as jnp
import numpy as np

import hessstats as hs


def seed(v):  # "Hessian matrix" seed page: H(1, 0) = [[12, -4], [-4, 8]]
    x, y = v[0], v[1]
    return y**4 + x**3 + 3 * x**2 + 4 * y**2 - 4 * x * y - 5 * y + 8


cp = hs.classify_critical_point(seed, [1.0, 0.0])
print("Hessian at (1, 0):", cp.hessian.tolist(), "->", cp.kind, f"(gradient {cp.gradient.tolist()})")
assert np.allclose(cp.hessian, [[12.0, -4.0], [-4.0, 8.0]], rtol=1e-14) and cp.kind == "not a critical point"

mathwords = lambda v: v[0] ** 2 + v[0] * v[1] + v[1] ** 2 - 3 * v[0]  # noqa: E731  Mathwords
t = hs.second_derivative_test(mathwords, [2.0, -1.0])
print(f"x^2 + xy + y^2 - 3x at (2, -1): D = {t.D}, f_xx = {t.fxx}: {t.kind}")
assert abs(t.D - 3.0) < 1e-12 and t.kind == "local minimum"

for name, f in [("x^4 + y^4", lambda v: v[0] ** 4 + v[1] ** 4), ("x^3 + y^2", lambda v: v[0] ** 3 + v[1] ** 2)]:
    kind = hs.classify_critical_point(f, [0.0, 0.0]).kind   # PSD Hessian proves nothing
    print(f"{name} at 0: {kind}")
    assert kind == "degenerate"

stewart = lambda v: v[0] ** 4 + v[1] ** 4 - 4 * v[0] * v[1] + 1  # noqa: E731
df = hs.find_critical_points(stewart, box=[(-2, 2), (-2, 2)], names=["x", "y"])
print(df.drop(columns="gradient_norm").round(9).to_string(index=False))
assert df["kind"].tolist() == ["local minimum", "saddle point", "local minimum"]

conv = hs.check_convexity(lambda v: v[0] ** 3 + v[1] ** 2, box=[(-1, 1), (-1, 1)])
print(f"x^3 + y^2 on [-1, 1]^2: {conv.kind}; {conv.note}")
assert conv.kind == "neither" and conv.proven

T = hs.taylor2(lambda v: jnp.exp(v[0]) * jnp.cos(v[1]), [0.0, 0.0])
e = T.error([0.1, 0.2])
print(f"Taylor model of exp(x)cos(y) at (0.1, 0.2): actual {e.actual:.6f}, model {e.model:.6f}, "
      f"abs error {e.abs_error:.2e}")
assert abs(e.model - 1.085) < 1e-12 and e.abs_error < 2e-3

s = hs.solve_lagrange(lambda v: v[0] * v[1], lambda v: v[0] + v[1] - 10, [2.0, 7.0])
c = hs.classify_constrained(lambda v: v[0] * v[1], lambda v: v[0] + v[1] - 10, s.x)
print(f"xy on x + y = 10: x = {s.x.round(12).tolist()}, value {s.value:.12g}, lambda "
      f"{s.multipliers.round(12).tolist()}, minors {c.minors}: {c.kind}")
print("bordered Hessian:", c.bordered.matrix.tolist())
assert np.allclose(s.x, 5.0) and c.kind == "local maximum"

ex = hs.parse_expression("exp(-x)*sin(y*z)")
print("exp(-x) sin(yz) at (0, 1, pi):", (hs.hessian(ex, [0.0, 1.0, np.pi]).round(12) + 0.0).tolist())
