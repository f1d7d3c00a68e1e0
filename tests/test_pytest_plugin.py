"""The pytest plugin (issue 6): ``estimates_snapshot`` and ``--hessstats-update``, run through pytester.

The inner test fits the normal-mean model, whose MLE is closed form: mu_hat = mean(y),
se(mu_hat) = sqrt(mean((y - mean)^2) / n). Tests pass ``-p hessstats.pytest_plugin`` so they work
from a source tree; one test also installs a fake ``pytest11`` entry point to check that loading
the plugin both ways does not fail on double registration.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "hessstats.pytest_plugin")
ROOT = Path(__file__).resolve().parent.parent

INNER = """
import jax.numpy as jnp
import numpy as np
import hessstats as hs

Y = np.array({y})

def loglike(p, y):
    return -0.5 * ((y - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])

def fit():
    return hs.fit(loglike, {{"mu": 0.0, "sigma": 1.0}}, data=Y)

def test_normal(estimates_snapshot):
    estimates_snapshot(fit())

def test_named(estimates_snapshot):
    res = fit()
    estimates_snapshot(res, name="custom")
    estimates_snapshot(res)
    estimates_snapshot(res)
"""


def write_inner(pytester, y):
    pytester.makepyfile(test_mod=INNER.format(y=list(y)))


@pytest.fixture
def inner(pytester):
    write_inner(pytester, [1.0, 2.0, 4.0, 7.0])
    return pytester


def test_missing_snapshot_fails_with_the_command(inner):
    result = inner.runpytest(*PLUGIN, "-k", "test_normal")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*__snapshots__/test_mod/test_normal.json does not exist*",
                                 "*Create it with:*",
                                 "*python -m pytest test_mod.py::test_normal --hessstats-update -p hessstats.pytest_plugin"])
    assert not (inner.path / "__snapshots__").exists()  # never written silently


def test_update_writes_then_compare_passes(inner):
    inner.runpytest(*PLUGIN, "--hessstats-update").assert_outcomes(passed=2)
    snaps = inner.path / "__snapshots__" / "test_mod"
    assert sorted(p.name for p in snaps.iterdir()) == ["custom.json", "test_named-1.json", "test_named.json",
                                                      "test_normal.json"]
    record = json.loads((snaps / "test_normal.json").read_text())
    y = np.array([1.0, 2.0, 4.0, 7.0])
    coef = {p["name"]: p["coef"] for p in record["parameters"]}
    se = {p["name"]: p["std_err"] for p in record["parameters"]}
    np.testing.assert_allclose(coef["mu"], y.mean(), rtol=1e-10)  # closed-form MLE
    np.testing.assert_allclose(se["mu"], np.sqrt(y.var() / len(y)), rtol=1e-8)
    inner.runpytest(*PLUGIN).assert_outcomes(passed=2)


def test_drift_fails_with_table_and_update_refreshes(inner):
    inner.runpytest(*PLUGIN, "--hessstats-update").assert_outcomes(passed=2)
    path = inner.path / "__snapshots__" / "test_mod" / "test_normal.json"
    before = path.read_text()
    write_inner(inner, [1.0, 2.0, 4.0, 7.5])  # one data value changed
    result = inner.runpytest(*PLUGIN, "-k", "test_normal")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*estimates differ from snapshot*", "*parameter*quantity*expected*actual*",
                                 "*mu*coef*3.5*3.625*", "*refresh the snapshot with:*"])
    result = inner.runpytest(*PLUGIN, "-k", "test_normal", "--hessstats-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*hessstats: wrote 1 estimate snapshot*", "refreshed: *test_normal.json"])
    assert path.read_text() != before
    inner.runpytest(*PLUGIN, "-k", "test_normal").assert_outcomes(passed=1)


def test_update_leaves_matching_snapshots_untouched(inner):
    inner.runpytest(*PLUGIN, "--hessstats-update").assert_outcomes(passed=2)
    path = inner.path / "__snapshots__" / "test_mod" / "test_normal.json"
    os.utime(path, (0, 0))
    result = inner.runpytest(*PLUGIN, "--hessstats-update")
    result.assert_outcomes(passed=2)
    assert path.stat().st_mtime == 0 and "wrote" not in result.stdout.str()


def test_corrupt_snapshot_fails_with_hint(inner):
    inner.runpytest(*PLUGIN, "--hessstats-update", "-k", "test_normal").assert_outcomes(passed=1)
    path = inner.path / "__snapshots__" / "test_mod" / "test_normal.json"
    path.write_text("{not json")
    result = inner.runpytest(*PLUGIN, "-k", "test_normal")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*corrupt snapshot file*", "*Regenerate it with:*"])


def test_double_registration_through_entry_point(pytester, monkeypatch):
    """A fake installed distribution declares the pytest11 entry point; ``-p`` loads it too."""
    write_inner(pytester, [1.0, 2.0, 4.0, 7.0])
    site = pytester.mkdir("fake_site")
    dist = site / "hessstats_fake-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hessstats-fake\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[pytest11]\nhessstats = hessstats.pytest_plugin\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(site)]))
    both = pytester.runpytest_subprocess(*PLUGIN, "--hessstats-update", "-k", "test_normal")
    both.assert_outcomes(passed=1)
    assert "already registered" not in both.stderr.str()
    only_entry_point = pytester.runpytest_subprocess("-k", "test_normal")  # loaded by the entry point alone
    only_entry_point.assert_outcomes(passed=1)


FAILING_AFTER = """
import jax.numpy as jnp
import numpy as np
import pytest
import hessstats as hs

Y = np.array({y})

def fit():
    return hs.fit(lambda p, y: -0.5 * (y - p["mu"]) ** 2, {{"mu": 0.0}}, data=Y)

def test_fails_after(estimates_snapshot):
    estimates_snapshot(fit())
    assert False, "the test fails after the snapshot call"

def test_raises_after(estimates_snapshot):
    estimates_snapshot(fit())
    raise RuntimeError("boom")

@pytest.mark.xfail(reason="expected failure", strict=True)
def test_xfail(estimates_snapshot):
    estimates_snapshot(fit())
    assert False

def test_passes(estimates_snapshot):
    estimates_snapshot(fit())
"""


def test_update_never_writes_for_a_failing_test(pytester):
    """Issue 11: --hessstats-update wrote the snapshot of a test that then failed. The closed-form MLE of
    the normal mean (mean(y)) shows which values are stored."""
    pytester.makepyfile(test_mod=FAILING_AFTER.format(y=[1.0, 2.0, 6.0]))
    result = pytester.runpytest(*PLUGIN, "--hessstats-update")
    result.assert_outcomes(passed=1, failed=2, xfailed=1)
    snaps = pytester.path / "__snapshots__" / "test_mod"
    assert sorted(p.name for p in snaps.iterdir()) == ["test_passes.json"]  # only the passing test wrote
    stored = json.loads((snaps / "test_passes.json").read_text())["parameters"][0]["coef"]
    np.testing.assert_allclose(stored, 3.0, rtol=1e-10)
    # an existing snapshot that drifted is not refreshed by a failing test either
    (snaps / "test_fails_after.json").write_text((snaps / "test_passes.json").read_text())
    pytester.makepyfile(test_mod=FAILING_AFTER.format(y=[1.0, 2.0, 9.0]))  # mean 4: drifted
    before = (snaps / "test_fails_after.json").read_text()
    result = pytester.runpytest(*PLUGIN, "--hessstats-update", "-k", "fails_after or passes")
    result.assert_outcomes(passed=1, failed=1)
    assert (snaps / "test_fails_after.json").read_text() == before
    refreshed = json.loads((snaps / "test_passes.json").read_text())["parameters"][0]["coef"]
    np.testing.assert_allclose(refreshed, 4.0, rtol=1e-10)
    result.stdout.fnmatch_lines(["*hessstats: wrote 1 estimate snapshot*", "refreshed: *test_passes.json"])


def test_update_write_error_is_reported_not_silent(pytester):
    """A snapshot that cannot be written (its path is a directory) errors the test at teardown."""
    pytester.makepyfile(test_mod=FAILING_AFTER.format(y=[1.0, 2.0, 6.0]))
    (pytester.path / "__snapshots__" / "test_mod" / "test_passes.json").mkdir(parents=True)
    result = pytester.runpytest(*PLUGIN, "--hessstats-update", "-k", "passes")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*cannot write*test_passes.json*"])
