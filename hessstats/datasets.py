"""Bundled real datasets (CSV) with provenance in ``data/README.md``.

Installed, they live in the package ``hessstats._data``; in a source checkout, in the top-level
``data/`` directory.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pandas as pd

from hessstats.errors import DataError, message


def _directory() -> Path:
    try:  # installed: the package hessstats._data (a namespace package: data/ has no __init__.py)
        spec = importlib.util.find_spec("hessstats._data")
    except ModuleNotFoundError:
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if any(Path(location).glob("*.csv")):
            return Path(location)
    return Path(__file__).resolve().parent.parent / "data"


def data_dir() -> Path:
    """The directory holding the bundled CSV files (and ``reference/`` JSON files).

    Example
    -------
    >>> (data_dir() / "spector.csv").exists()
    True
    """
    return _directory()


def list() -> list[str]:  # noqa: A001 - the public name asked for is hs.datasets.list()
    """Names of the bundled datasets, sorted.

    Example
    -------
    >>> "spector" in list()
    True
    """
    return sorted(p.stem for p in _directory().glob("*.csv"))


@cache
def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(_directory() / f"{name}.csv")


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a new DataFrame (a fresh copy on every call).

    Example
    -------
    >>> df = load("spector")
    >>> df.shape, df.columns.tolist()
    ((32, 4), ['GPA', 'TUCE', 'PSI', 'GRADE'])
    """
    names = list()
    if name not in names:
        raise DataError(message(f"unknown dataset {name!r}", expected=f"one of {names}", got=repr(name),
                                fix="call hs.datasets.list() for the bundled datasets"))
    return _read(name).copy(deep=True)
