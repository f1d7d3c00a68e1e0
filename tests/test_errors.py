"""One tree of errors and warnings (hessstats.errors): every error says what was expected, what
arrived and how to fix it; warnings point at the caller's line, not at hessstats internals.

References: the tree and the three-part message as documented in the module docstring of
``hessstats.errors``; Python's ``warnings`` records (filename and line of the user's call).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from catalogue import BY_NAME

import hessstats as hs
from hessstats import errors

LOGIT = BY_NAME["logit_spector"]


def test_every_exception_and_warning_class_of_the_package_is_in_the_tree():
    """No module defines its own exception or warning class: all live in hessstats.errors, under
    HessstatsError or HessstatsWarning."""
    found = {}
    for _, name, _ in pkgutil.walk_packages(hs.__path__, prefix="hessstats."):
        if name.startswith("hessstats._data") or name == "hessstats.__main__":
            continue
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, (BaseException, Warning)) and obj.__module__.startswith("hessstats"):
                found[obj.__qualname__] = obj
    assert {cls.__module__ for cls in found.values()} == {"hessstats.errors"}
    for cls in found.values():
        assert issubclass(cls, (errors.HessstatsError, errors.HessstatsWarning)), cls
    assert len(found) >= 13


@pytest.mark.parametrize("cls", [errors.DataError, errors.SpecificationError, errors.CovarianceError,
                                 errors.ExpressionError, errors.SnapshotError, errors.PerfectSeparationError,
                                 errors.CollinearityError])
def test_input_errors_are_value_errors(cls):
    """Users may catch ValueError, or HessstatsError for every hessstats error."""
    assert issubclass(cls, ValueError) and issubclass(cls, errors.HessstatsError)


def _bad_calls():
    res = LOGIT.model().fit()
    return {
        "data-nan": (errors.DataError, lambda: hs.fit(LOGIT.loglike, LOGIT.start, {**LOGIT.data, "y": LOGIT.data["y"] * np.nan})),
        "unknown-dataset": (errors.DataError, lambda: hs.datasets.load("nope")),
        "not-callable": (errors.SpecificationError, lambda: hs.Model("loglike", LOGIT.start, LOGIT.data)),
        "unknown-keyword": (errors.SpecificationError, lambda: hs.fit(LOGIT.loglike, LOGIT.start, LOGIT.data, cov="HC0")),
        "unknown-cov": (errors.CovarianceError, lambda: res.with_cov("HC9")),
        "expression": (errors.ExpressionError, lambda: hs.parse_expression("__import__('os')")),
        "snapshot": (errors.SnapshotError, lambda: hs.testing.load_snapshot(Path("no") / "such.json")),
        "collinear": (errors.CollinearityError, lambda: hs.models.logit_model(LOGIT.data["y"], np.c_[LOGIT.data["X"], LOGIT.data["X"][:, :1]])),
    }


@pytest.mark.parametrize("key", list(_bad_calls()))
def test_public_errors_carry_expected_got_and_fix(key):
    """The documented message format: a problem line, then 'expected:', 'got:', 'fix:' lines."""
    cls, call = _bad_calls()[key]
    with pytest.raises(cls) as info:
        call()
    lines = str(info.value).splitlines()
    assert lines[0].strip()
    for label in ("  expected: ", "  got:      ", "  fix:      "):
        assert any(line.startswith(label) and line[len(label):].strip() for line in lines), (label, lines)


def test_message_layout():
    assert errors.message("p", expected="e", got="g", fix="f") == "p\n  expected: e\n  got:      g\n  fix:      f"


def test_warnings_point_at_the_callers_line():
    """A ConvergenceWarning from deep inside hs.fit is attributed to the line of this test that called it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1
        LOGIT.model().fit(method="newton", maxiter=1)
    ours = [w for w in caught if issubclass(w.category, errors.ConvergenceWarning)]
    assert ours, [str(w.message) for w in caught]
    assert Path(ours[0].filename).resolve() == Path(__file__).resolve()
    assert ours[0].lineno == line


def test_hessstats_warnings_are_errors_in_this_suite():
    """pyproject's pytest filterwarnings makes every HessstatsWarning an error unless a test expects it."""
    with pytest.raises(errors.PrecisionWarning):
        errors.warn("float32 somewhere", errors.PrecisionWarning)
    with pytest.warns(errors.SeparationWarning, match="expected here"):
        errors.warn("expected here", errors.SeparationWarning)
