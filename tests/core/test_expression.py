"""The safe expression parser. Hessian reference values: the "Hessian matrix" seed page (its worked
example and problems 2 and 3)."""

from __future__ import annotations

import math
import os

import jax
import numpy as np
import pytest

import hessstats as hs
from hessstats.core.expression import FUNCTIONS, parse_expression
from hessstats.errors import ExpressionError


@pytest.mark.parametrize("text, at, expected", [
    ("y**4 + x**3 + 3*x**2 + 4*y**2 - 4*x*y - 5*y + 8", [1.0, 0.0], [[12, -4], [-4, 8]]),
    ("exp(y*ln(x))", [1.0, 1.0], [[0, 1], [1, 0]]),
    ("exp(-x)*sin(y*z)", [0.0, 1.0, math.pi], [[0, math.pi, 1], [math.pi, 0, -1], [1, -1, 0]]),
])
def test_seed_hessians_through_the_parser(text, at, expected):
    ex = parse_expression(text)
    assert ex.variables == tuple(sorted(ex.variables))
    np.testing.assert_allclose(hs.hessian(ex, at), expected, rtol=1e-13, atol=1e-13)


def test_values_order_constants_and_functions():
    ex = parse_expression("  a / b - -c ** 2 + pi * e  ", ["c", "b", "a"])
    assert ex.variables == ("c", "b", "a") and ex.text == "a / b - -c ** 2 + pi * e"
    assert float(ex([3.0, 2.0, 1.0])) == pytest.approx(0.5 + 9 + math.pi * math.e, rel=1e-15)
    assert parse_expression("x + y").variables == ("x", "y")
    assert parse_expression("zeta*alpha").variables == ("alpha", "zeta")   # sorted by default
    ex = parse_expression("arctan2(y, x) + hypot(x, y) + sqrt(x) + tanh(0) + log10(100)")
    assert float(ex([4.0, 3.0])) == pytest.approx(math.atan2(3, 4) + 5 + 2 + 0 + 2, rel=1e-15)
    assert float(parse_expression("+x")([2.5])) == pytest.approx(2.5, rel=1e-15)
    assert parse_expression("2**0.5")([]).dtype == np.float64


def test_float64_regardless_of_user_config():
    with jax.enable_x64(False):
        ex = parse_expression("x + 1e-10")
        value = ex([1.0])
    assert value.dtype == np.float64 and float(value) - 1.0 == pytest.approx(1e-10, rel=1e-6)


def test_every_allowed_function_matches_its_reference():
    import scipy.special as sp
    ref = {"exp": math.exp, "log": math.log, "ln": math.log, "log10": math.log10,
           "log2": math.log2, "log1p": math.log1p, "expm1": math.expm1, "sqrt": math.sqrt,
           "cbrt": np.cbrt, "abs": abs, "sin": math.sin, "cos": math.cos, "tan": math.tan,
           "arcsin": math.asin, "arccos": math.acos, "arctan": math.atan, "asin": math.asin,
           "acos": math.acos, "atan": math.atan, "sinh": math.sinh, "cosh": math.cosh,
           "tanh": math.tanh, "arcsinh": math.asinh, "arccosh": math.acosh,
           "arctanh": math.atanh, "erf": math.erf, "sigmoid": sp.expit, "gammaln": math.lgamma,
           "arctan2": math.atan2, "atan2": math.atan2, "hypot": math.hypot}
    assert set(ref) == set(FUNCTIONS)
    for name, (_, arity) in FUNCTIONS.items():
        args = [1.5 if name == "arccosh" else 0.5, 0.25][:arity]
        got = float(parse_expression(f"{name}({', '.join(map(str, args))})")([]))
        assert got == pytest.approx(ref[name](*args), rel=1e-14), name


def _caret(err: ExpressionError) -> tuple[int, int, str]:
    *_, echo, caret = str(err).splitlines()
    start = caret.index("^")
    return start - 4, len(caret.rstrip()) - 4, echo[4:]


@pytest.mark.parametrize("text, token, problem", [
    ("__import__('os')", "__import__", "not an allowed function"),
    ("x.__class__", ".__class__", "attribute access"),
    ("x + foo(x)", "foo", "not an allowed function"),
    ("x**2 +", "", "unexpected end"),
    ("x +* y", "*", "syntax error"),
    ("x^2 + y", "^", "not a power"),
    ("x // 2", "//"[:1], "operator '//'"),
    ("x if x else 1", "x if x else 1", "IfExp"),
    ("x[0]", "x[0]", "indexing"),
    ("'a' + x", "'a'", "constant"),
    ("True * x", "True", "constant"),
    ("exp(x, x)", "exp(x, x)", "takes 1"),
    ("sin(x=1)", "sin(x=1)", "takes 1"),
    ("exp + 1", "exp", "without arguments"),
    ("_secret + 1", "_secret", "not allowed"),
    ("x < 1", "x < 1", "comparison"),
    ("1e999 * x", "1e999", "too large"),
    ("(lambda: 1)()", "lambda: 1", "lambda"),
])
def test_bad_expressions_point_at_the_token(text, token, problem):
    with pytest.raises(ExpressionError, match=problem) as info:
        parse_expression(text)
    start, end, echo = _caret(info.value)
    assert echo == text
    assert f"(column {start + 1})" in str(info.value).splitlines()[0]
    if token:
        assert text[start:start + len(token)] == token
    else:
        assert start == len(text)
    assert "expected:" in str(info.value) and "fix:" in str(info.value)


def test_nothing_is_executed(tmp_path):
    target = tmp_path / "pwned"
    for text in [f"__import__('os').system('touch {target}')",
                 f"open('{target}', 'w')", "().__class__.__bases__[0].__subclasses__()",
                 "eval('1')", "exec('x = 1')", "x.real"]:
        with pytest.raises(ExpressionError):
            parse_expression(text)
    assert not os.path.exists(target)


def test_missing_variables_and_limits():
    with pytest.raises(ExpressionError, match="'z' has no value") as info:
        parse_expression("x + y*z", ["x", "y"])
    assert _caret(info.value)[0] == 6
    with pytest.raises(ExpressionError, match="empty"):
        parse_expression("   ")
    with pytest.raises(ExpressionError, match="too long"):
        parse_expression("x + " * 1000 + "x")
    with pytest.raises(ExpressionError, match="too complex"):
        parse_expression("+".join(["x"] * 400))
    for names in (["x", "e"], ["x", "exp"], ["x", "_y"], ["x", "x"], ["x", "1a"], ["x", "lambda"]):
        with pytest.raises(ExpressionError, match="invalid variable names"):
            parse_expression("x + 1", names)
    # extra variables are allowed: f does not depend on them (zero Hessian rows)
    np.testing.assert_allclose(hs.hessian(parse_expression("x**2", ["x", "w"]), [1.0, 5.0]),
                               [[2, 0], [0, 0]], rtol=1e-15, atol=1e-15)
