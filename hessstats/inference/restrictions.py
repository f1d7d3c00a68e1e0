"""Restrictions on the parameters: linear constraints written as text over parameter names
(``"GPA = PSI, TUCE = 0"``, for Wald tests), and the log-likelihood with some parameters held
fixed (for restricted fits, LR tests and profiles).

Each constraint is ``lhs = rhs`` where both sides are linear in the parameters: sums of numbers,
names and ``number * name`` (or ``name / number``). Names are matched literally (longest first),
so names such as ``beta[0]`` or ``x:z`` work. Parsing uses Python's ``ast`` on the rewritten text;
nothing is evaluated.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hessstats.core.expression import code_names
from hessstats.core.params import ParamSpec
from hessstats.errors import SpecificationError, message


def parse_constraints(text: str | Sequence[str], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(R, q)`` such that the constraints read ``R @ theta = q``.

    Example
    -------
    >>> R, q = parse_constraints("a = 2*b, c = 1", ["a", "b", "c"])
    >>> R.tolist(), q.tolist()
    ([[1.0, -2.0, 0.0], [0.0, 0.0, 1.0]], [0.0, 1.0])
    """
    texts = [text] if isinstance(text, str) else list(text)
    rows, rhs = [], []
    for item in texts:
        coded = code_names(item, names, lambda i: f" __p{i}__ ")
        for part in coded.split(","):
            if not part.strip():
                continue
            sides = part.split("=")
            if len(sides) != 2 or "==" in part:
                raise _error(item, "each constraint needs exactly one '='")
            (lv, lc), (rv, rc) = (_affine(side, item, len(names), names) for side in sides)
            rows.append(lv - rv)
            rhs.append(rc - lc)
    if not rows:
        raise _error(str(text), "no constraints found")
    return np.array(rows), np.array(rhs)


def _error(text: str, problem: str) -> SpecificationError:
    return SpecificationError(message(
        f"cannot read the constraint {text!r}: {problem}",
        expected="linear constraints over parameter names, e.g. 'GPA = PSI, TUCE = 0' or '2*a - b = 1'",
        got=repr(text), fix="use parameter names exactly as in res.params.index, numbers, + - * /"))


def _affine(side: str, text: str, k: int, names: Sequence[str]) -> tuple[np.ndarray, float]:
    try:
        tree = ast.parse(side.strip(), mode="eval")
    except SyntaxError:  # shown with the names written back for the coded ones
        shown = re.sub(r" ?__p(\d+)__ ?", lambda m: str(names[int(m.group(1))]), side.strip())
        raise _error(text, f"{shown!r} is not an expression") from None
    return _walk(tree.body, text, k)


def _walk(node: ast.AST, text: str, k: int) -> tuple[np.ndarray, float]:
    zero = np.zeros(k)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return zero, float(node.value)
    if isinstance(node, ast.Name):
        match = re.fullmatch(r"__p(\d+)__", node.id)
        if not match:
            raise _error(text, f"unknown name {node.id!r}")
        vec = zero.copy()
        vec[int(match.group(1))] = 1.0
        return vec, 0.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v, c = _walk(node.operand, text, k)
        return (-v, -c) if isinstance(node.op, ast.USub) else (v, c)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        (lv, lc), (rv, rc) = _walk(node.left, text, k), _walk(node.right, text, k)
        if isinstance(node.op, ast.Add):
            return lv + rv, lc + rc
        if isinstance(node.op, ast.Sub):
            return lv - rv, lc - rc
        if isinstance(node.op, ast.Mult) and not (lv.any() and rv.any()):
            return lv * rc + rv * lc, lc * rc
        if isinstance(node.op, ast.Div) and not rv.any() and rc != 0:
            return lv / rc, lc / rc
        raise _error(text, "the constraint is not linear (products of parameters or division by a parameter)")
    raise _error(text, f"unsupported syntax {type(node).__name__}")


@dataclass(frozen=True)
class FixedLoglike:
    """``loglike`` of the free parameters, the others fixed by ``data["base"]`` (hashable: kernels
    are cached on (this, spec), i.e. on the user's log-likelihood and parameter structure).

    Example
    -------
    >>> import jax.numpy as jnp
    >>> spec = ParamSpec.from_start({"a": 0.0, "b": 0.0})
    >>> ll = FixedLoglike(lambda p, d: -(d - p["a"]) ** 2 - p["b"] ** 2, spec)
    >>> data = {"data": jnp.array([1.0]), "base": jnp.array([0.0, 2.0]), "free": jnp.array([0])}
    >>> ll(jnp.array([3.0]), data).tolist()  # a = 3 free, b = 2 fixed: -(1 - 3)^2 - 2^2
    [-8.0]
    """

    loglike: Callable
    spec: ParamSpec

    def __call__(self, free: Any, data: Any) -> Any:
        theta = data["base"].at[data["free"]].set(free)
        return self.loglike(self.spec.unravel(theta), data["data"])
