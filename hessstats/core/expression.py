"""A safe parser for typed expressions: command-line functions such as ``"y**4 + x**3 - 4*x*y"``
(:func:`parse_expression`) and functions of a fit's parameters written with their names, such as
``"GPA / PSI"`` or ``"exp(C(g)[T.b])"`` (:func:`parse_over_names`, what ``res.delta("...")`` reads).

The text is parsed with :mod:`ast` and checked against a whitelist: numbers, variable names,
``+ - * / **``, unary ``-``/``+``, parentheses, the functions in :data:`FUNCTIONS` and the constants
``pi`` and ``e``. The checked tree is turned into nested closures over :mod:`jax.numpy` (nothing is
ever passed to ``eval``/``exec``/``compile``), so the result is differentiable by JAX. Anything
else raises :class:`~hessstats.errors.ExpressionError` with a caret under the offending token.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import jax.scipy.special as jsp

from hessstats._config import float64
from hessstats.errors import ExpressionError, message

FUNCTIONS: dict[str, tuple[Callable, int]] = {
    name: (fn, 1) for name, fn in {
        "exp": jnp.exp, "log": jnp.log, "ln": jnp.log, "log10": jnp.log10, "log2": jnp.log2,
        "log1p": jnp.log1p, "expm1": jnp.expm1, "sqrt": jnp.sqrt, "cbrt": jnp.cbrt, "abs": jnp.abs,
        "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "arcsin": jnp.arcsin, "arccos": jnp.arccos,
        "arctan": jnp.arctan, "asin": jnp.arcsin, "acos": jnp.arccos, "atan": jnp.arctan,
        "sinh": jnp.sinh, "cosh": jnp.cosh, "tanh": jnp.tanh, "arcsinh": jnp.arcsinh,
        "arccosh": jnp.arccosh, "arctanh": jnp.arctanh, "erf": jsp.erf, "sigmoid": jsp.expit,
        "gammaln": jsp.gammaln,
    }.items()
} | {"arctan2": (jnp.arctan2, 2), "atan2": (jnp.arctan2, 2), "hypot": (jnp.hypot, 2)}
"""Allowed functions: name -> (jax.numpy function, number of arguments)."""

CONSTANTS = {"pi": math.pi, "e": math.e}
_BINOPS = {ast.Add: jnp.add, ast.Sub: jnp.subtract, ast.Mult: jnp.multiply,
           ast.Div: jnp.divide, ast.Pow: jnp.power}
_UNARY = {ast.USub: jnp.negative, ast.UAdd: lambda a: a}
MAX_LENGTH = 2000
MAX_NODES = 500


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed expression: call it with a vector of values in ``variables`` order.

    Example
    -------
    >>> ex = parse_expression("x * y + 1")
    >>> ex.variables, round(ex([2.0, 3.0]).item(), 12)
    (('x', 'y'), 7.0)
    """

    text: str
    variables: tuple[str, ...]
    _fn: Callable[[dict], jnp.ndarray]

    @float64
    def __call__(self, v) -> jnp.ndarray:
        """Value at ``v`` (a sequence or array of ``len(variables)`` numbers)."""
        return self._fn({name: v[i] for i, name in enumerate(self.variables)})


def _fail(text: str, problem: str, col: int, end: int, *, expected: str, got: str,
          fix: str) -> ExpressionError:
    caret = " " * col + "^" * max(1, end - col)
    return ExpressionError(message(f"{problem} (column {col + 1})", expected=expected, got=got,
                                   fix=fix) + f"\n    {text}\n    {caret}")


def _names(tree: ast.AST) -> list[str]:
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and id(n) not in called and n.id not in CONSTANTS | FUNCTIONS:
            out.append(n.id)
    return sorted(set(out))


@float64
def parse_expression(text: str, variables: Sequence[str] | None = None) -> Expression:
    """Parse ``text`` into a jax.numpy callable of a vector; ``variables`` fixes their order
    (default: sorted). Every name in ``text`` must be among ``variables`` when they are given.

    Example
    -------
    >>> ex = parse_expression("x**2 * y + exp(y * ln(x))", ["x", "y"])
    >>> ex.variables, round(float(ex([2.0, 3.0])), 12)
    (('x', 'y'), 20.0)
    >>> parse_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    hessstats.errors.ExpressionError: '__import__' is not an allowed function (column 1)
      expected: one of abs, acos, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, asin, atan, atan2, cbrt, cos, cosh, erf, exp, expm1, gammaln, hypot, ln, log, log10, log1p, log2, sigmoid, sin, sinh, sqrt, tan, tanh
      got:      __import__
      fix:      use an allowed function name
        __import__('os')
        ^^^^^^^^^^
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(message("empty expression", expected="an expression such as "
                                      "'x**2 + y**2'", got=repr(text), fix="give an expression"))
    text = text.strip()
    if len(text) > MAX_LENGTH or "\n" in text:
        raise ExpressionError(message("expression too long or on several lines",
                                      expected=f"one line of at most {MAX_LENGTH} characters",
                                      got=f"{len(text)} characters", fix="shorten the expression"))
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 0) - 1
        col = len(text) if col < 0 or exc.lineno != 1 else min(col, len(text))
        end = (exc.end_offset or 0) - 1 if exc.end_lineno == 1 else 0
        problem = "unexpected end of expression" if col >= len(text) else f"syntax error: {exc.msg}"
        raise _fail(text, problem, col, max(end, col + 1), expected="an arithmetic expression",
                    got=text[col:col + 10] or "end of text",
                    fix="check parentheses and operators (powers are written **)") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ExpressionError(message("expression too complex", expected=f"at most {MAX_NODES} "
                                      "syntax nodes", got=text[:60], fix="simplify it"))
    fn = _build(tree.body, text)
    found = _names(tree)
    order = tuple(found) if variables is None else tuple(variables)
    bad = [v for v in order if not isinstance(v, str) or not v.isidentifier() or v.startswith("_")
           or keyword.iskeyword(v) or v in CONSTANTS or v in FUNCTIONS]
    if bad or len(set(order)) != len(order):
        raise ExpressionError(message(
            "invalid variable names", expected="distinct identifiers, not starting with '_', not "
            "a constant (pi, e) or function name", got=repr(list(order)),
            fix="rename the variables (e.g. x, y, z, x1, beta)"))
    missing = [name for name in found if name not in order]
    if missing:
        node = next(n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == missing[0])
        raise _fail(text, f"variable {missing[0]!r} has no value", node.col_offset,
                    node.end_col_offset, expected=f"variables among {list(order)}",
                    got=", ".join(missing), fix=f"give a value for {missing[0]!r} (e.g. --at "
                    f"{','.join(f'{v}=0' for v in (*order, *missing))})")
    return Expression(text, order, fn)


def _build(node: ast.AST, text: str) -> Callable[[dict], jnp.ndarray]:
    col, end = getattr(node, "col_offset", 0), getattr(node, "end_col_offset", len(text))
    snippet = text[col:end]
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        try:
            value = float(node.value)
            if not math.isfinite(value):
                raise OverflowError
        except OverflowError:
            raise _fail(text, "number too large", col, end, expected="a float64 number",
                        got=snippet[:20], fix="use a smaller number") from None
        return lambda env: jnp.asarray(value, dtype=jnp.float64)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            value = CONSTANTS[node.id]
            return lambda env: jnp.asarray(value, dtype=jnp.float64)
        if node.id in FUNCTIONS:
            raise _fail(text, f"function {node.id!r} used without arguments", col, end,
                        expected=f"{node.id}(...)", got=node.id, fix=f"write {node.id}(x)")
        if node.id.startswith("_"):
            raise _fail(text, f"name {node.id!r} is not allowed", col, end,
                        expected="variable names not starting with '_'", got=node.id,
                        fix="rename the variable")
        name = node.id
        return lambda env: env[name]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op, left, right = _BINOPS[type(node.op)], _build(node.left, text), _build(node.right, text)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        op, operand = _UNARY[type(node.op)], _build(node.operand, text)
        return lambda env: op(operand(env))
    if isinstance(node, ast.Call):
        fname = node.func.id if isinstance(node.func, ast.Name) else None
        if fname not in FUNCTIONS:
            fc, fe = node.func.col_offset, node.func.end_col_offset
            raise _fail(text, f"{text[fc:fe]!r} is not an allowed function", fc, fe,
                        expected="one of " + ", ".join(sorted(FUNCTIONS)), got=text[fc:fe],
                        fix="use an allowed function name")
        fn, arity = FUNCTIONS[fname]
        if node.keywords or len(node.args) != arity or any(isinstance(a, ast.Starred) for a in node.args):
            raise _fail(text, f"{fname} takes {arity} positional argument(s)", col, end,
                        expected=f"{fname}({', '.join('xy'[:arity])})", got=snippet,
                        fix=f"call {fname} with {arity} argument(s)")
        args = [_build(a, text) for a in node.args]
        return lambda env: fn(*(a(env) for a in args))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        return _reject(text, node, "'^' is not a power", "x**2", "write powers as ** (x**2)")
    if isinstance(node, ast.BinOp):
        symbol = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
                  ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&"}.get(type(node.op), "?")
        return _reject(text, node, f"operator {symbol!r} is not allowed", "+ - * / **",
                       "use + - * / ** only")
    kind = {ast.Attribute: "attribute access", ast.Subscript: "indexing",
            ast.Compare: "comparison", ast.Lambda: "lambda", ast.Constant: "this constant"}.get(
        type(node), f"{type(node).__name__} syntax")
    return _reject(text, node, f"{kind} is not allowed", "numbers, variables, + - * / **, "
                   "parentheses and allowed functions", "remove it")


def _reject(text: str, node: ast.AST, problem: str, expected: str, fix: str):
    col, end = node.col_offset, node.end_col_offset
    if isinstance(node, ast.BinOp):  # point at the operator, not the whole expression
        col = node.left.end_col_offset + (len(text[node.left.end_col_offset:node.right.col_offset])
                                          - len(text[node.left.end_col_offset:node.right.col_offset].lstrip()))
        end = col + 1
    elif isinstance(node, ast.Attribute):
        col = node.value.end_col_offset
    raise _fail(text, problem, col, end, expected=expected, got=text[col:end], fix=fix)


@dataclass(frozen=True, eq=False)
class NamedExpression:
    """An expression over named entries of a flat vector (:func:`parse_over_names`): call it with
    the whole vector.

    Example
    -------
    >>> import numpy as np
    >>> ex = parse_over_names("GPA / PSI", ["Intercept", "GPA", "PSI"])
    >>> ex.positions, round(float(ex(np.array([9.0, 3.0, 2.0]))), 12)
    ((1, 2), 1.5)
    """

    text: str
    positions: tuple[int, ...]
    expression: Expression

    def __call__(self, theta: Any) -> jnp.ndarray:
        """Value at the flat vector ``theta`` (a JAX function of it)."""
        return self.expression([theta[i] for i in self.positions])


def code_names(text: str, names: Sequence[str], code: Callable[[int], str]) -> str:
    """``text`` with each parameter name replaced by ``code(its position in names)``, in one pass:
    names matched literally, longest first, not inside a longer word or name, not before ``(``.
    What both text grammars over parameter names read first (:func:`parse_over_names`, and the
    linear constraints of :func:`~hessstats.inference.restrictions.parse_constraints`).

    Example
    -------
    >>> code_names("exp(C(g)[T.b]) * x + xy", ["x", "C(g)[T.b]", "xy"], lambda i: f"v{i}")
    'exp(v1) * v0 + v2'
    """
    names = [str(n) for n in names]
    if not names:
        return text
    order = sorted(range(len(names)), key=lambda i: -len(names[i]))
    pattern = re.compile("|".join(r"(?<![\w.\[\]])" + re.escape(names[i]) + r"(?![\w.\[\]])(?!\s*\()"
                                  for i in order))
    return pattern.sub(lambda match: code(names.index(match.group(0))), text)


def parse_over_names(text: str, names: Sequence[str]) -> NamedExpression:
    """Parse ``text``, an expression (the grammar of :func:`parse_expression`) whose variables are
    entries of a flat vector named ``names`` (a fit's parameter names, e.g. ``res.params.index``).

    Names are matched literally, longest first and in one pass, so names that are not Python
    identifiers work as written (``C(g)[T.b]``, ``beta[0]``, ``x:z``, ``Intercept``); a name is
    not matched where a function call (``exp(``) or a longer name contains it. Nothing is evaluated.

    Example
    -------
    >>> import numpy as np
    >>> names = ["Intercept", "x", "C(g)[T.b]"]
    >>> ex = parse_over_names("exp(C(g)[T.b]) * x", names)
    >>> ex.positions, round(float(ex(np.array([0.0, 2.0, 0.0]))), 12)
    ((1, 2), 2.0)
    >>> parse_over_names("x / z", names)
    Traceback (most recent call last):
    ...
    hessstats.errors.ExpressionError: unknown parameter name 'z' in 'x / z'
      expected: parameter names among ['Intercept', 'x', 'C(g)[T.b]'] (as in res.params.index)
      got:      z
      fix:      write the names exactly as res.params.index shows them
    """
    if not isinstance(text, str):
        raise ExpressionError(message("the expression is not a string", expected="text such as 'GPA / PSI'",
                                      got=type(text).__name__, fix="pass the expression as a str"))
    names = [str(n) for n in names]
    used: dict[int, str] = {}
    prefix = "p"
    while re.search(rf"(?<!\w){prefix}\d", text):  # placeholders that no word of the text can be
        prefix += "p"
    coded = code_names(text, names, lambda i: used.setdefault(i, f"{prefix}{len(used)}"))
    try:
        found = parse_expression(coded).variables
    except ExpressionError as exc:  # the problem as the parser states it, on the text the user wrote
        first = re.sub(r" \(column \d+\)$", "", str(exc).splitlines()[0])  # columns of the coded text
        raise ExpressionError(message(
            f"cannot read the expression {text!r}: {first}", expected="numbers, parameter names, + - * / **, "
            "parentheses and the functions " + ", ".join(sorted(FUNCTIONS)), got=text[:200],
            fix="write parameter names exactly as res.params.index shows them")) from None
    unknown = [v for v in found if v not in used.values()]
    if unknown:
        raise ExpressionError(message(
            f"unknown parameter name {unknown[0]!r} in {text!r}",
            expected=f"parameter names among {names[:30]}{' ...' if len(names) > 30 else ''} (as in res.params.index)",
            got=", ".join(unknown), fix="write the names exactly as res.params.index shows them"))
    if not used:
        raise ExpressionError(message(
            f"the expression {text!r} uses no parameter", expected="a function of the parameters, e.g. 'GPA / PSI'",
            got=text[:200], fix="name at least one parameter (as in res.params.index)"))
    positions = tuple(sorted(used))
    return NamedExpression(text, positions, parse_expression(coded, [used[i] for i in positions]))
