"""Bundled datasets (issue 4). Reference: statsmodels 0.15 ``statsmodels.datasets`` (the source of
the CSV files, see data/README.md) and statsmodels' test file ``discrete/tests/results/ships.csv``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels
import statsmodels.api as sm

import hessstats as hs
from hessstats.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
FROM_STATSMODELS = ["spector", "randhie", "star98", "scotland", "longley", "anes96", "fair", "heart"]


def test_list_has_every_bundled_dataset():
    assert set(FROM_STATSMODELS + ["ships"]) <= set(hs.datasets.list())


@pytest.mark.parametrize("name", FROM_STATSMODELS)
def test_equal_to_statsmodels_source(name):
    ours = hs.datasets.load(name)
    theirs = getattr(sm.datasets, name).load_pandas().data
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_array_equal(ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float))


def test_ships_is_statsmodels_test_copy():
    path = Path(statsmodels.__file__).parent / "discrete" / "tests" / "results" / "ships.csv"
    pd.testing.assert_frame_equal(hs.datasets.load("ships"), pd.read_csv(path))


def test_load_returns_a_fresh_copy():
    first = hs.datasets.load("spector")
    first.loc[0, "GPA"] = -1.0
    assert hs.datasets.load("spector").loc[0, "GPA"] == 2.66


def test_unknown_name_lists_valid_names():
    with pytest.raises(DataError, match=r"unknown dataset 'spectr'[\s\S]*'spector'"):
        hs.datasets.load("spectr")


def test_every_dataset_has_provenance_in_readme():
    readme = (hs.datasets.data_dir() / "README.md").read_text()
    for name in hs.datasets.list():
        assert f"| `{name}` |" in readme


def test_packaging_maps_data_to_hessstats_data():
    """pyproject ships data/ as the package hessstats._data with every CSV, README and reference."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"]["hessstats._data"] == "data"
    assert "hessstats._data" in config["packages"] and "hessstats.models" in config["packages"]
    shipped = set()  # hessstats._data and its folders (hessstats._data.nist: data/nist), each with its patterns
    for package, patterns in config["package-data"].items():
        if package.startswith("hessstats._data"):
            assert package in config["packages"]
            folder = ROOT.joinpath("data", *package.split(".")[2:])
            shipped |= {p for pattern in patterns for p in folder.glob(pattern)}
    assert shipped == {p for p in (ROOT / "data").rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_loads_from_an_installed_layout(tmp_path):
    """The layout a non-editable install creates (hessstats/ with data/ copied to hessstats/_data),
    imported from outside the repository. (`pip install . --target DIR` builds exactly this.)"""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "hessstats", site / "hessstats", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data", site / "hessstats" / "_data")
    code = ("import hessstats as hs; d = hs.datasets.data_dir(); "
            "print(d.name, d.parent.name, len(hs.datasets.load('heart')), len(list(d.glob('reference/*.json'))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(site)}).stdout.split()
    assert out[:3] == ["_data", "hessstats", "69"] and int(out[3]) >= 13
