"""Restrictions (hessstats.inference.restrictions): linear constraints written over parameter
names, read without evaluating anything, and log-likelihoods with parameters held fixed.

References: the Wald statistic ``(Rb - q)' (R V R')^-1 (Rb - q)`` computed in numpy from
``res.cov_params()`` with ``R``, ``q`` written out by hand; closed-form maximisers of quadratic
log-likelihoods for fixed parameters. Covered elsewhere (inference/test_hypothesis): statsmodels
parity of string constraints on plain names, unknown names, products, a missing '=', dependent rows.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs
from hessstats.errors import SpecificationError
from hessstats.inference.restrictions import parse_constraints

NAMES = ["x", "x2", "beta[1]", "beta[10]", "x:z", "outer.a"]


def wald(res, R, q):
    R, q = np.atleast_2d(R), np.atleast_1d(q)
    d = R @ res.params.to_numpy() - q
    return float(d @ np.linalg.solve(R @ res.cov_params().to_numpy() @ R.T, d))


@pytest.fixture(scope="module")
def formula_fit():
    """Formula names with brackets, dots and parentheses: Intercept, GPA, C(PSI)[T.1.0], np.log(TUCE)."""
    return hs.logit("GRADE ~ GPA + C(PSI) + np.log(TUCE)", hs.datasets.load("spector")).fit()


def test_formula_names_are_matched_literally(formula_fit):
    """``C(PSI)[T.1.0] = 2*np.log(TUCE), GPA = 1``: the same statistic as the hand-written R, q."""
    res = formula_fit
    assert res.names == ("Intercept", "GPA", "C(PSI)[T.1.0]", "np.log(TUCE)")
    out = res.wald_test("C(PSI)[T.1.0] = 2*np.log(TUCE), GPA = 1")
    R = np.array([[0.0, 0.0, 1.0, -2.0], [0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(out.statistic, wald(res, R, [0.0, 1.0]), rtol=1e-10)
    assert out.df == 2


@pytest.mark.parametrize("text, row, rhs", [
    ("x2 = 2*x", [-2, 1, 0, 0, 0, 0], 0),                       # x is a prefix of x2
    ("beta[1] = beta[10]", [0, 0, 1, -1, 0, 0], 0),             # beta[1] is a prefix of beta[10]
    ("x:z + outer.a = 1", [0, 0, 0, 0, 1, 1], 1),
    ("2*x - x2/4 = 1", [2, -0.25, 0, 0, 0, 0], 1),
    ("-(x - x2) = 3", [-1, 1, 0, 0, 0, 0], 3),
    ("x + x = x2", [2, -1, 0, 0, 0, 0], 0),
    ("3 = x", [-1, 0, 0, 0, 0, 0], -3),
    ("0.5*(x + x2) = 1", [0.5, 0.5, 0, 0, 0, 0], 1),
    ("1e-3*x = 2,", [0.001, 0, 0, 0, 0, 0], 2),                 # a trailing comma is ignored
])
def test_linear_forms_read_as_R_and_q(text, row, rhs):
    """Each side is an affine form; R theta = q with R = lhs - rhs coefficients (by hand)."""
    R, q = parse_constraints(text, NAMES)
    np.testing.assert_allclose(R, [row], rtol=0, atol=1e-15)
    np.testing.assert_allclose(q, [rhs], rtol=0, atol=1e-15)


def test_a_list_of_constraints_equals_one_comma_separated_string():
    R1, q1 = parse_constraints(["x = 1", "x2 = 0"], NAMES)
    R2, q2 = parse_constraints("x = 1, x2 = 0", NAMES)
    np.testing.assert_array_equal(R1, R2)
    np.testing.assert_array_equal(q1, q2)


@pytest.mark.parametrize("text, pattern", [
    ("x ** 2 = 0", "unsupported syntax"),
    ("x / x2 = 1", "not linear"),
    ("x / 0 = 1", "cannot read"),
    ("__import__('os').system('exit 3') = 0", "unsupported syntax Call"),
    ("x(1) = 0", "unsupported syntax Call"),
    ("True = x", "unsupported syntax"),
    ("", "no constraints found"),
    ("x = x2 = 1", "exactly one '='"),
    ("x == x2", "exactly one '='"),
    ("x = 1; x2 = 3", "exactly one '='"),
    ("x2x = 1", "unknown name 'x2x'"),
], ids=["power", "division-by-parameter", "division-by-zero", "call-import", "call", "bool", "empty",
        "two-equals", "double-equals", "semicolon", "unknown"])
def test_anything_but_a_linear_form_is_refused_and_never_evaluated(text, pattern):
    """Typed errors; a call (e.g. __import__) is rejected by the syntax walk, never run."""
    with pytest.raises(SpecificationError, match=pattern):
        parse_constraints(text, NAMES)


def quadratic(p, d):
    """-(1/2)[(a - 1)^2 + (b - 2)^2 + (a - b)^2]: with b fixed, the maximiser is a = (1 + b) / 2."""
    return -0.5 * ((p["a"] - 1.0) ** 2 + (p["b"] - 2.0) ** 2 + (p["a"] - p["b"]) ** 2) + 0.0 * jnp.sum(d)


def test_fixed_parameters_give_the_closed_form_and_reuse_kernels():
    """Model.fix holds b at a value (closed form a = (1 + b)/2, se(a) = 1/sqrt(2)); a second value
    reuses the compiled kernels (FitResult.compile_stats: 0 traces)."""
    model = hs.Model(quadratic, {"a": 0.0, "b": 0.0}, np.zeros(3), nobs=3)
    first = model.fix({"b": 0.0}).fit()
    second = model.fix({"b": 3.0}).fit()
    np.testing.assert_allclose(first.params["a"], 0.5, rtol=1e-12)
    np.testing.assert_allclose(second.params["a"], 2.0, rtol=1e-12)
    np.testing.assert_allclose(second.bse["a"], 1 / np.sqrt(2), rtol=1e-12)
    assert second.names == ("a",) and "{'b': 3.0} fixed" in second.model.description["model"]
    assert first.compile_stats["traces"] >= 1 and second.compile_stats["traces"] == 0


def test_fixing_nothing_or_everything_is_refused():
    model = hs.Model(quadratic, {"a": 0.0, "b": 0.0}, np.zeros(3), nobs=3)
    with pytest.raises(SpecificationError, match="leave at least one parameter free"):
        model.fix({})
    with pytest.raises(SpecificationError, match="leave at least one parameter free"):
        model.fix({"a": 1.0, "b": 1.0})
