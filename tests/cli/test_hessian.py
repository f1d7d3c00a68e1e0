"""``hessstats hessian`` subcommand, driven through its own argparse parser (``add_parser`` and
``run``). Reference values: the "Hessian matrix" seed page (first worked example: H(1, 0) =
[[12, -4], [-4, 8]], eigenvalues 10 -+ sqrt(20), gradient (9, -9)), Mathwords (minimum at
(2, -1)) and Stewart 14.7 example 3 (x^4 + y^4 - 4xy + 1)."""

from __future__ import annotations

import argparse

import pytest

from hessstats.cli import hessian as cli_hessian

SEED = "y**4 + x**3 + 3*x**2 + 4*y**2 - 4*x*y - 5*y + 8"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hessstats")
    cli_hessian.add_parser(p.add_subparsers(dest="command"))
    return p


def call(capsys, *argv: str) -> tuple[int, str, str]:
    args = parser().parse_args(["hessian", *argv])
    assert args.func is cli_hessian.run
    rc = cli_hessian.run(args)
    out, err = capsys.readouterr()
    return rc, out, err


def test_seed_example(capsys):
    rc, out, err = call(capsys, SEED, "--at", "x=1,y=0")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"f(x, y) = {SEED}"
    assert "x 12 -4" in out and "y -4  8" in out                    # the seed's Hessian
    assert "eigenvalues: [5.52786, 14.4721]" in out                 # 10 -+ sqrt(20)
    assert "gradient:    [9, -9]" in out
    assert lines[-1].startswith("classification: not a critical point")


def test_local_minimum_and_variable_order(capsys):
    rc, out, _ = call(capsys, "x**2 + x*y + y**2 - 3*x", "--at", "x=2,y=-1")
    assert rc == 0 and "classification: local minimum" in out and "eigenvalues: [1, 3]" in out
    rc, out2, _ = call(capsys, "x**2 + x*y + y**2 - 3*x", "--at=2,-1")    # sorted: x, y
    assert rc == 0 and out2 == out
    rc, out3, _ = call(capsys, "x**2 + x*y + y**2 - 3*x", "--at", "y=-1,x=2")
    assert rc == 0 and "at (y, x) = (-1, 2)" in out3 and "gradient:    [0, 0]" in out3


def test_constant_values_and_degenerate(capsys):
    rc, out, _ = call(capsys, "exp(-x)*sin(y*z)", "--at", "x=0,y=1,z=pi")
    assert rc == 0 and "3.14159" in out
    rc, out, _ = call(capsys, "x**4 + y**4", "--at", "x=0,y=0")
    assert rc == 0 and "classification: degenerate" in out


def test_find(capsys):
    rc, out, _ = call(capsys, "x**4 + y**4 - 4*x*y + 1", "--find=-2:2")
    assert rc == 0
    assert out.count("local minimum") == 2 and out.count("saddle point") == 1
    assert "3 critical point(s) from 25 Newton starts" in out
    assert out.splitlines()[-1].startswith("search not exhaustive: 25 starts, 25 converged")
    rc, out, _ = call(capsys, "x**3 - 3*x + y**2", "--find", "x=-3:3,y=-2:2")
    assert rc == 0 and "x in [-3, 3], y in [-2, 2]" in out and "2 critical point(s)" in out


@pytest.mark.parametrize("argv, needle", [
    (["x + __import__('os')", "--at", "x=1"], "^^^^^^^^^^"),
    (["x.__class__", "--at", "x=1"], "attribute access"),
    (["foo(x)", "--at", "x=1"], "'foo' is not an allowed function (column 1)"),
    (["x**2 +", "--at", "x=1"], "unexpected end"),
    (["x + y", "--at", "x=1"], "variable 'y' has no value"),
    (["x + y", "--at=1"], "1 value(s) for 2 variable(s)"),
    (["x + y", "--at", "x=1,x=2"], "twice"),
    (["x + y", "--at", "x=1,2"], "mixes named"),
    (["x", "--at", "x=__import__"], "not allowed"),
    (["x * e", "--at", "x=1,e=2"], "invalid variable names"),       # e is the constant
    (["log(x)", "--at", "x=-1"], "not finite"),
    (["x**2", "--find", "x=1"], "low:high"),
])
def test_errors_exit_2_without_traceback(capsys, argv, needle):
    rc, out, err = call(capsys, *argv)
    assert rc == 2 and out == ""
    assert err.startswith("hessstats hessian: error:") and needle in err
    assert "Traceback" not in err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["hessian", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--at x=1,y=0" in out and "examples:" in out and "--find" in out
    with pytest.raises(SystemExit) as info:      # --at or --find is required
        parser().parse_args(["hessian", "x**2"])
    assert info.value.code == 2


def test_kinks_and_incomplete_searches_are_reported(capsys):
    # closed form: abs(x) + y**2 has a kink at 0 (one-sided derivatives -1 and 1); x**1000000 at 1
    # has gradient 1e6 and its only critical point at 0; x + y has no critical point at all
    rc, out, _ = call(capsys, "abs(x) + y**2", "--at", "x=0,y=0")
    assert rc == 0 and "classification: not twice differentiable here" in out
    rc, out, _ = call(capsys, "x**1000000", "--at", "x=1")
    assert rc == 0 and "classification: not a critical point" in out and "Newton steps" in out
    rc, out, _ = call(capsys, "x + y", "--find=-1:1")
    assert rc == 0 and "no critical points found from 25 starts" in out
    assert "search not exhaustive" in out and "25 did not converge" in out
