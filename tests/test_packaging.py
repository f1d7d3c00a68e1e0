"""Packaging and the layer rule: every subpackage ships, every module imports from the installed
copy, and the import-linter contracts (layers, no sibling cycles) hold and can fail.

Reference: ``pyproject.toml`` ([tool.setuptools], [tool.importlinter]) and the source tree itself.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import hessstats as hs

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "hessstats"


def _source_modules() -> list[str]:
    out = []
    for path in sorted(SOURCE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append(".".join(parts))
    return out


def test_every_subpackage_is_listed_for_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in SOURCE.rglob("__init__.py")}
    data = {"hessstats._data", "hessstats._data.nist", "hessstats._data.reference"}  # data/ and its folders
    assert on_disk | data == listed
    assert {p.name for p in (ROOT / "data").iterdir() if p.is_dir()} == {"nist", "reference"}


@pytest.mark.parametrize("module", _source_modules())
def test_every_source_module_imports_from_the_installed_package(module):
    """Under .ci/run the installed (non-editable) copy is imported: a module missing from the wheel fails."""
    assert importlib.import_module(module).__name__ == module


def test_typed_marker_ships():
    assert resources.files("hessstats").joinpath("py.typed").is_file()


def test_public_face_is_sorted_and_hides_implementation_modules():
    assert hs.__all__ == sorted(hs.__all__)
    assert all(hasattr(hs, name) for name in hs.__all__)
    old_flat_modules = ["diff", "_scale", "chunked", "clusters", "matrix_free", "cache", "data", "distributed",
                        "sharding", "constraints", "constrained", "critical", "convexity", "taylor", "expr",
                        "snapshot", "bridge", "validation", "validation_cases", "index", "optimize", "covariance",
                        "params", "cli_fit", "cli_hessian", "cli_validate", "profile"]
    assert [name for name in old_flat_modules if name in vars(hs)] == []


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")
    assert exe, "import-linter is a test dependency (pip install '.[test]')"
    return subprocess.run([exe, "--config", str(cwd / "pyproject.toml"), "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(pythonpath)}, timeout=300)


def _copy_tree(tmp_path: Path) -> Path:
    shutil.copytree(SOURCE, tmp_path / "hessstats", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_import_layers_and_no_cycles(tmp_path):
    """The contracts in pyproject.toml hold for the source tree (checked on a copy, so the installed
    package cannot stand in for it)."""
    out = _lint_imports(_copy_tree(tmp_path), tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout


@pytest.mark.parametrize("module, line", [
    ("core/engine.py", "from hessstats.model import Model  # a lower layer importing a higher one"),
    ("rows/source.py", "def _late():\n    from hessstats.core import engine  # deferred imports count too\n"),
])
def test_an_added_upward_import_breaks_the_contract(tmp_path, module, line):
    tree = _copy_tree(tmp_path)
    path = tree / "hessstats" / module
    path.write_text(path.read_text() + "\n" + line + "\n")
    out = _lint_imports(tree, tmp_path)
    assert out.returncode != 0 and "BROKEN" in out.stdout, out.stdout


def test_ruff_passes():
    exe = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
    assert exe, "ruff is a test dependency (pip install '.[test]')"
    out = subprocess.run([exe, "check", "hessstats", "tests", "examples", "benchmarks", "scripts"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_import_leaves_the_heavy_scipy_submodules_for_first_use():
    """`import hessstats` (a cold script's fixed cost) loads neither scipy.stats, scipy.optimize nor
    scipy.sparse: they load when a code path first uses them (scipy's lazy submodules, which the
    package's modules reach as ``scipy.stats...`` after ``import scipy``)."""
    code = ("import sys, numpy as np, hessstats\n"
            "heavy = [m for m in ('scipy.stats', 'scipy.optimize', 'scipy.sparse') if m in sys.modules]\n"
            "print(heavy)\n"
            "import scipy\n"
            "print(round(float(scipy.stats.norm.cdf(0.0)), 3))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["[]", "0.5"], out.stdout + out.stderr
