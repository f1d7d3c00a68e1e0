"""Docs as users read them: every public function has a docstring with an example, and the
examples in docstrings run (doctest)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import hessstats as hs

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(hs.__path__, prefix="hessstats.")
    if not name.startswith("hessstats._data") and name != "hessstats.__main__"
)


def _public_callables():
    for name in getattr(hs, "__all__", None) or [n for n in dir(hs) if not n.startswith("_")]:
        obj = getattr(hs, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield name, obj


@pytest.mark.parametrize("name, obj", list(_public_callables()), ids=[n for n, _ in _public_callables()])
def test_public_api_has_docstring_with_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"hs.{name} has no docstring"
    assert "Example" in doc or ">>>" in doc, f"hs.{name}'s docstring has no example"


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {module_name}"


def _module_level_public_objects():
    """Public functions and classes defined in each public module (the names users can import),
    except pytest hook functions (``pytest_*``), which pytest calls and users do not."""
    for module_name in MODULES:
        if any(part.startswith("_") for part in module_name.split(".")[1:]):
            continue
        module = importlib.import_module(module_name)
        for attr, obj in vars(module).items():
            if attr.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != module_name or attr.startswith("pytest_"):
                continue
            yield f"{module_name}.{attr}", obj


def test_every_module_level_public_object_has_example():
    """The brief: "every public function has a docstring with an example" -- not only hs.* exports."""
    objects = dict(_module_level_public_objects())
    assert len(objects) > 100  # the scan sees the whole package (not an empty walk)
    missing = sorted(name for name, obj in objects.items()
                     if "Example" not in (inspect.getdoc(obj) or "") and ">>>" not in (inspect.getdoc(obj) or ""))
    assert not missing, f"{len(missing)} public function(s)/class(es) without an example: {', '.join(missing)}"
