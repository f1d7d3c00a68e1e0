"""Shared fixtures: the bundled datasets the core tests use (see data/README.md for provenance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="session")
def spector() -> dict:
    """Spector & Mazzeo (1980) PSI data, as shipped by statsmodels: X = [GPA, TUCE, PSI, const]."""
    df = pd.read_csv(DATA / "spector.csv")
    X = np.column_stack([df[["GPA", "TUCE", "PSI"]].to_numpy(), np.ones(len(df))])
    return {"X": X, "y": df["GRADE"].to_numpy(), "names": ["GPA", "TUCE", "PSI", "const"]}


@pytest.fixture(scope="session")
def randhie() -> dict:
    """RAND Health Insurance Experiment data, as shipped by statsmodels: Poisson for mdvis."""
    df = pd.read_csv(DATA / "randhie.csv")
    cols = ["lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"]
    X = np.column_stack([df[cols].to_numpy(), np.ones(len(df))])
    return {"X": X, "y": df["mdvis"].to_numpy(dtype=float), "names": cols + ["const"]}


def pytest_report_header(config) -> list[str]:
    """Say which hessstats the suite tests: the source tree (editable install, development) or an
    installed copy (`.ci/run`, what a user installs). A stale installed copy while editing the
    source is the classic way to test old code; the README's development command is editable."""
    import hessstats

    where = Path(hessstats.__file__).resolve().parent
    source = Path(__file__).resolve().parent.parent / "hessstats"
    kind = "source tree" if where == source else "installed copy"
    return [f"hessstats {hessstats.__version__} imported from {where} ({kind})"]


@pytest.fixture(autouse=True)
def _no_persistent_compilation_cache():
    """No test may leave JAX's process-wide persistent compilation cache on for the tests after it
    (a doctest once did; a later read of an entry written by a killed process crashed the session)."""
    yield
    import jax

    assert not jax.config.jax_compilation_cache_dir, "a test turned the persistent compilation cache on"


@pytest.fixture(autouse=True, scope="module")
def _drop_compiled_kernels_between_modules():
    """Free the XLA executables each test module compiled (``jax.clear_caches()``): one process runs
    the whole suite, and without this the thousands of executables it accumulates made XLA's CPU
    compiler crash (segmentation fault) late in the session on this 2-core CI machine."""
    yield
    import gc

    import jax

    jax.clear_caches()
    gc.collect()


@pytest.fixture(autouse=True)
def _one_call_fits_start_counting_afresh():
    """The one-call fit (hessstats.core.fused) starts once the host iteration has spent about one
    compile's time on a kernel shape in the process; each test starts the count afresh, so which path
    a test's fits take (and what they compile) does not depend on the tests before it on the worker."""
    from hessstats.core import fused

    fused._SPENT.clear()
    yield
