"""``hessstats hessian``: Hessian, eigenvalues and classification of an expression at a point, or
the critical points of an expression in a box. Expressions go through the safe parser
:mod:`hessstats.core.expression` (never ``eval``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hessstats.core.expression import parse_expression
from hessstats.errors import ExpressionError, HessstatsError, message
from hessstats.toolkit.critical import classify_critical_point, find_critical_points

EPILOG = """\
examples:
  hessstats hessian "y**4 + x**3 + 3*x**2 + 4*y**2 - 4*x*y - 5*y + 8" --at x=1,y=0
  hessstats hessian "x**2 + x*y + y**2 - 3*x" --at x=2,y=-1
  hessstats hessian "exp(-x)*sin(y*z)" --at x=0,y=1,z=pi
  hessstats hessian "x**4 + y**4 - 4*x*y + 1" --find=-2:2
  hessstats hessian "x**3 - 3*x + y**2" --find x=-3:3,y=-2:2

Variables are ordered as given in --at/--find; a bare list of values (--at=1,0) or a single range
(--find=-2:2) applies to the variables in sorted order. Values may be constant expressions (pi/2).
Allowed: numbers, variables, + - * / ** (not ^), parentheses, pi, e and the functions
exp log ln log10 log2 log1p expm1 sqrt cbrt abs sin cos tan arcsin arccos arctan sinh cosh tanh
arcsinh arccosh arctanh erf sigmoid gammaln arctan2 hypot.
Classification: eigenvalue zero when |lam| <= tol * max|lam|; critical point when
||gradient|| <= gtol * max|lam| * (1 + ||x||) and Newton steps from x settle within
gtol * (1 + ||x||); "not twice differentiable here" where finite differences of the exact gradient show
a kink (abs, at 0). --find reports how many starts converged: a multistart search is never
exhaustive. Exit status: 0 ok, 2 bad expression or point.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``hessian`` subcommand (``run`` is also set as the ``func`` default).

    Example
    -------
    >>> parser = argparse.ArgumentParser(prog="hessstats")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["hessian", "x**2", "--at", "x=1"]).at
    'x=1'
    """
    p = subparsers.add_parser(
        "hessian", help="Hessian, eigenvalues and critical-point classification of an expression",
        description="Exact (JAX, float64) Hessian of a formula in variables such as x, y, z: at a "
                    "point (--at) with eigenvalues and classification, or all critical points "
                    "found by Newton's method in a box (--find).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("expression", help='the function, e.g. "x**2 + x*y + y**2 - 3*x"')
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--at", metavar="x=1,y=0", help="the point: name=value pairs (or values "
                       "for the variables in sorted order)")
    where.add_argument("--find", metavar="x=-3:3,y=-3:3", help="search a box for critical "
                       "points: name=low:high pairs, or one low:high for every variable")
    p.add_argument("--tol", type=float, default=1e-8, help="relative zero tolerance for "
                   "eigenvalues (default 1e-8)")
    p.add_argument("--gtol", type=float, default=1e-6, help="relative tolerance of the gradient "
                   "test (default 1e-6)")
    p.add_argument("--digits", type=int, default=6, help="significant digits shown (default 6)")
    p.set_defaults(func=run)


def _pairs(spec: str, option: str) -> list[tuple[str | None, str]]:
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise ExpressionError(message(f"{option} is empty", expected=f"{option} x=1,y=0",
                                      got=repr(spec), fix=f"give values in {option}"))
    out = [(k.strip(), v.strip()) if "=" in item else (None, item)
           for item in items for k, _, v in [item.partition("=")]]
    if len({k is None for k, _ in out}) > 1:
        raise ExpressionError(message(f"{option} mixes named and unnamed values", expected=
                                      "all name=value or all plain values", got=spec,
                                      fix="name every value"))
    names = [k for k, _ in out if k is not None]
    if len(set(names)) != len(names):
        raise ExpressionError(message(f"{option} names a variable twice", expected="each "
                                      "variable once", got=spec, fix="remove the duplicate"))
    return out


def _number(text: str, what: str) -> float:
    try:
        return float(parse_expression(text, [])([]))
    except ExpressionError as exc:
        raise ExpressionError(f"in {what}: {exc}") from None


def _variables(expression: str, pairs, option: str) -> tuple[list[str], list[str]]:
    names = [k for k, _ in pairs if k is not None]
    if names:
        return names, [v for _, v in pairs]
    variables = list(parse_expression(expression).variables)
    values = [v for _, v in pairs]
    if option == "--find" and len(values) == 1:
        values = values * len(variables)
    if len(values) != len(variables):
        raise ExpressionError(message(
            f"{option} has {len(values)} value(s) for {len(variables)} variable(s)",
            expected=f"values for {variables} (sorted order), or name=value pairs",
            got=", ".join(values), fix=f"e.g. {option} " + ",".join(f"{v}=0" for v in variables)))
    return variables, values


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}g}" if x != 0 else "0"


def _show_point(ex, names, point, args) -> None:
    d = args.digits
    cp = classify_critical_point(ex, np.asarray(point), tol=args.tol, gtol=args.gtol)
    fmt = lambda v: _fmt(float(v), d)  # noqa: E731
    print(f"f({', '.join(names)}) = {ex.text}")
    print(f"at ({', '.join(names)}) = ({', '.join(map(fmt, point))})")
    print(f"value:       {fmt(cp.value)}")
    print(f"gradient:    [{', '.join(map(fmt, cp.gradient))}]  (norm {fmt(cp.gradient_norm)})")
    print("Hessian:")
    print(pd.DataFrame(cp.hessian, index=names, columns=names).to_string(float_format=fmt))
    print(f"eigenvalues: [{', '.join(map(fmt, cp.eigenvalues))}]")
    if cp.kind in ("not a critical point", "not twice differentiable here"):
        why = cp.note
    else:
        why = f"|eigenvalue| <= {fmt(cp.eig_tol)} counts as zero"
    print(f"classification: {cp.kind}  ({why})")


def _show_search(ex, names, box, args) -> None:
    df = find_critical_points(ex, box=box, names=names, tol=args.tol, gtol=args.gtol)
    print(f"f({', '.join(names)}) = {ex.text}")
    print("box: " + ", ".join(f"{n} in [{_fmt(lo, args.digits)}, {_fmt(hi, args.digits)}]"
                              for n, (lo, hi) in zip(names, box)))
    if df.empty:
        print(f"no critical points found from {df.attrs['starts']} starts")
        print(df.search.summary())
        return
    df = df.assign(eigenvalues=[", ".join(_fmt(v, args.digits) for v in e) for e in df["eigenvalues"]])
    print(df.drop(columns=["gradient_norm"]).to_string(
        index=False, float_format=lambda v: _fmt(float(v), args.digits)))
    print(f"{len(df)} critical point(s) from {df.attrs['starts']} Newton starts")
    print(df.search.summary())


def run(args: argparse.Namespace) -> int:
    """Run the ``hessian`` subcommand: 0 on success, 2 (message on stderr) on a bad expression,
    point or box.

    Example
    -------
    >>> parser = argparse.ArgumentParser(prog="hessstats")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> run(parser.parse_args(["hessian", "x**2 + x*y + y**2 - 3*x", "--at", "x=2,y=-1"]))
    ... # doctest: +ELLIPSIS
    f(x, y) = x**2 + x*y + y**2 - 3*x
    ...
    classification: local minimum  (|eigenvalue| <= 3e-08 counts as zero)
    0
    """
    try:
        option = "--at" if args.at is not None else "--find"
        pairs = _pairs(args.at if args.at is not None else args.find, option)
        names, values = _variables(args.expression, pairs, option)
        ex = parse_expression(args.expression, names)
        if args.at is not None:
            _show_point(ex, names, [_number(v, f"--at {n}") for n, v in zip(names, values)], args)
        else:
            box = []
            for n, v in zip(names, values):
                lo, sep, hi = v.partition(":")
                if not sep:
                    raise ExpressionError(message(f"--find range for {n!r} is not low:high",
                                                  expected="e.g. x=-3:3", got=v, fix="write low:high"))
                box.append((_number(lo, f"--find {n}"), _number(hi, f"--find {n}")))
            _show_search(ex, names, box, args)
    except HessstatsError as exc:
        print(f"hessstats hessian: error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m hessstats.cli.hessian EXPR --at ...``) for this subcommand.

    Example
    -------
    >>> main(["x**2 + x*y + y**2 - 3*x", "--at", "x=2,y=-1"])
    f(x, y) = x**2 + x*y + y**2 - 3*x
    at (x, y) = (2, -1)
    value:       -3
    gradient:    [0, 0]  (norm 0)
    Hessian:
       x  y
    x  2  1
    y  1  2
    eigenvalues: [1, 3]
    classification: local minimum  (|eigenvalue| <= 3e-08 counts as zero)
    0
    """
    parser = argparse.ArgumentParser(prog="hessstats")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["hessian", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    raise SystemExit(main())
