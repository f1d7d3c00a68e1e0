"""The restricted formula grammar (issue 11): what formulaic would run as Python is refused.

Reference: formulaic 1.2's behaviour, checked live here -- every formula the grammar accepts
builds the same design matrix through ``formulaic.model_matrix`` as it always did (the grammar
only refuses, never rewrites), and the refused payloads are ones formulaic demonstrably
evaluates as Python (a marker file appears when formulaic is given them directly).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from formulaic import model_matrix

from hessstats.errors import SnapshotError, SpecificationError
from hessstats.models.grammar import MAX_DEPTH, MAX_LENGTH, check_formula, tokenize

COLUMNS = ["y", "x", "z", "g", "a b", "x(1)"]
FRAME = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.5], "x": [1.0, 2.0, 3.0, 4.0, 5.0, 7.0],
                      "z": [2.0, 1.0, 2.0, 3.0, 4.0, 1.0], "g": list("aabbcc"), "a b": [1.0, 0.0, 1.0, 0.0, 1.0, 1.0],
                      "x(1)": [0.5, 0.1, 0.3, 0.9, 0.2, 0.4]})

ACCEPTED = [
    "y ~ x", "y ~ x + z - 1", "y ~ 0 + x", "y ~ -1 + x", "y ~ x + -1", "y ~ + x", "y ~ 1", "y~x+C(g)",
    "y ~ x:z", "y ~ x*z", "y ~ x/z", "y ~ (x + z)**2",
    "y ~ C(g)", "y ~ C(g, Treatment())", "y ~ C(g, Helmert)", "y ~ C(g, Treatment('b'))", "y ~ C(g, Treatment(reference='b'))",
    'y ~ C(g, Treatment(reference="b"))', "y ~ C(g, Sum)", "y ~ C(g, levels=['c', 'b', 'a'])", "y ~ C(`g`)",
    "y ~ I(x**2) + I(-x) + I(x / z - 3.5e-1)", "y ~ {x + 1}", "y ~ I(np.log(x) * 2)",
    "y ~ np.log(x) + log(x) + center(x) + scale(x) + standardize(x)", "y ~ np.sqrt(x) + np.exp(z) + log10(x)",
    "y ~ np.log(x + 1)", "y ~ poly(x, 2)", "y ~ scale(x, ddof=1)", "np.log(y) ~ x",
    "y ~ `a b`", "y ~ Q('a b')", 'y ~ Q("a b")', "y ~ `x(1)`", "y ~ np.log(`x(1)`)",
]

# each payload is Python that formulaic would evaluate (or an unsupported construct)
REFUSED = [
    ("y ~ I(__import__('os').system('id'))", "not allowed: '__import__'"),
    ("y ~ __import__('os')", "not allowed: '__import__'"),
    ("y ~ x + print(1)", "calls a function that is not allowed: 'print'"),
    ("y ~ eval('1')", "not allowed: 'eval'"),
    ("y ~ getattr(x, 'real')", "not allowed: 'getattr'"),
    ("y ~ I(print(1))", "not allowed: 'print'"),
    ("y ~ x.real", "attribute access"),
    ("y ~ I(x.__class__)", "attribute access"),
    ("y ~ np.linalg.inv(x)", "attribute access"),
    ("y ~ np.load(x)", "attribute access"),
    ("y ~ x[0]", "unexpected '['"),
    ("y ~ (lambda: 1)()", "not allowed: 'lambda'"),
    ("y ~ [v for v in x]", "unexpected '['"),
    ("y ~ {v for v in x}", "got 'for'"),
    ("y ~ Q(f'{x}')", "character that is not allowed"),
    ("y ~ f'x'", "unexpected"),
    ("y ~ 'abc'", "unexpected"),
    ('y ~ Q("a) + print(1) + Q(b")', "character that is not allowed"),  # formulaic splits inside the string
    ("y ~ C(g, levels=[print(1)])", "expected a literal"),
    ("y ~ C(g, Treatment(reference=x))", "expected a literal"),
    ("y ~ C(g, contr.treatment('b'))", "unexpected 'contr'"),
    ("y ~ scale(x, foo=1)", "keyword 'foo' is not allowed"),
    ("y ~ np.log(x, 2)", "takes one argument"),
    ("y ~ __builtins__", "not allowed: '__builtins__'"),
    ("y ~ True", "not allowed: 'True'"),
    ("y ~ x if x else z", "unexpected 'if'"),
    ("y ~ x; import os", "character that is not allowed: ';'"),
    ("y ~ x %in% z", "character that is not allowed: '%'"),
    ("y ~ x | z", "character that is not allowed: '|'"),
    ("y ~ x @ z", "character that is not allowed: '@'"),
    ("y ~ x\\", "character that is not allowed"),
    ("y ~ .", "unexpected '.'"),
    ("y ~ 2", "the number 2 cannot be a term"),
    ("y ~ x**x", "whole number"),
    ("y ~ x ~ z", "more than one '~'"),
    ("x", "no outcome"),
    ("~ x", "no outcome"),
    ("y ~", "unexpected 'end'"),
    ("y ~ (x", "expected ')'"),
    ("y ~ np.", "attribute access"),
    ("y ~ x" + " + x" * 3000, "too long"),
    ("y ~ " + "(" * (MAX_DEPTH + 5) + "x" + ")" * (MAX_DEPTH + 5), "nested too deeply"),
]


@pytest.mark.parametrize("formula", ACCEPTED)
def test_accepted_formulas_build_in_formulaic(formula):
    """Everything accepted is ordinary formulaic syntax: formulaic builds it unchanged on the frame."""
    used = check_formula(formula, COLUMNS)
    assert used.variables <= set(COLUMNS) and used.outcome == ("y",)
    assert model_matrix(formula, FRAME).rhs.shape[0] == len(FRAME)


@pytest.mark.parametrize("formula, needle", REFUSED)
def test_refused_with_a_typed_error(formula, needle):
    with pytest.raises(SpecificationError, match=None) as info:
        check_formula(formula, COLUMNS)
    assert needle in str(info.value)


def test_payload_runs_in_formulaic_but_not_through_the_grammar(tmp_path):
    """The threat is real: formulaic itself evaluates the term (a marker file appears); the grammar refuses it
    before anything is evaluated (no marker)."""
    marker = tmp_path / "ran"
    formula = f"y ~ x + I(__import__('pathlib').Path({str(marker)!r}).touch() or x)"
    with pytest.raises(SpecificationError):
        check_formula(formula, COLUMNS)
    assert not marker.exists()
    try:
        model_matrix(formula, FRAME)
    except Exception:
        pass
    assert marker.exists()


def test_error_class_and_origin_are_the_callers():
    with pytest.raises(SnapshotError, match="the formula in snap.json calls a function that is not allowed"):
        check_formula("y ~ print(x)", error=SnapshotError, origin="formula in snap.json")
    with pytest.raises(SpecificationError, match="must be a string"):
        check_formula(["y ~ x"])


def test_columns_must_exist_and_the_caret_points_at_the_name():
    with pytest.raises(SpecificationError) as info:
        check_formula("y ~ x + GPA", COLUMNS)
    text = str(info.value)
    assert "unknown column 'GPA'" in text
    assert text.splitlines()[-1] == " " * 4 + " " * len("y ~ x + ") + "^^^"
    with pytest.raises(SpecificationError, match="unknown column 'nope'"):
        check_formula("y ~ Q('nope')", COLUMNS)
    with pytest.raises(SpecificationError, match="unknown column 'a  b'"):
        check_formula("y ~ `a  b`", COLUMNS)


def test_unicode_names_that_python_would_normalise_are_refused():
    """Python NFKC-normalises identifiers (PEP 3131): a fullwidth or ligature name would evaluate as another name."""
    for formula in ("y ~ ｅｖａｌ", "y ~ ﬁle"):
        with pytest.raises(SpecificationError):
            check_formula(formula)
    assert check_formula("y ~ größe").variables == {"y", "größe"}  # an ordinary NFKC-stable identifier


def test_one_sided_and_variables():
    v = check_formula("~ idp + C(g)", outcome=False)
    assert v.outcome == () and v.variables == {"idp", "g"} and v.categorical == {"g"}
    assert check_formula("idp", outcome=False).variables == {"idp"}
    v = check_formula("y ~ C(g) + g", COLUMNS)
    assert v.categorical == frozenset()  # g is also used as a number


def test_tokens_and_limits():
    assert [t.kind for t in tokenize("`a b` + Q('c')")] == ["backtick", "op", "name", "op", "string", "op", "end"]
    assert MAX_LENGTH >= 1000 and np.isfinite(MAX_DEPTH)


def test_random_formulas_never_call_anything(monkeypatch):
    """Differential fuzz against formulaic (seeded): formulas assembled from valid terms and hostile
    fragments joined by formula operators, then mutated by one inserted/deleted character; whatever
    the grammar accepts, formulaic evaluates without ever calling ``print`` (spied)."""
    import builtins

    calls = []
    monkeypatch.setattr(builtins, "print", lambda *a, **k: calls.append(a))
    terms = ["x", "z", "np.log(x)", "I(x**2)", "I(-x / z)", "C(g)", "C(g, Treatment('a'))", "Q('a b')", "`a b`",
             "{x + 1}", "(x + z)", "center(z)", "1", "0", "print(x)", "x.real", "I(print(1))", "Q('a) + print(1) + (b')",
             "`x(1)`", "np.sqrt(`x(1)`)", "C(`g`, levels=['a', 'b', 'c'])"]
    ops = [" + ", " - ", ":", " * ", " / "]
    noise = list("()[]{}'\"`.,=_ %|\\~") + ["print(", "np.", "I(", "Q("]
    rng = np.random.default_rng(11)
    accepted = 0
    for _ in range(1500):
        parts = rng.choice(terms, size=rng.integers(1, 4))
        formula = "y ~ " + "".join(p + str(rng.choice(ops)) for p in parts[:-1]) + parts[-1]
        if rng.random() < 0.6:
            at = int(rng.integers(4, len(formula) + 1))
            formula = (formula[:at] + str(rng.choice(noise)) + formula[at:]) if rng.random() < 0.7 else formula[:at - 1] + formula[at:]
        try:
            check_formula(formula, COLUMNS)
        except SpecificationError:
            continue
        accepted += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model_matrix(formula, FRAME)
        except Exception:
            pass
    assert accepted > 300 and calls == []
