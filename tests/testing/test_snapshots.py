"""Snapshot files (issue 6): exact round trip, NaN encoding, fingerprint, bad files, atomic writes.

Reference values: the in-memory FitResult itself (a snapshot must reproduce it bit for bit:
floats are written with Python's shortest round-trip repr), statsmodels 0.15 ``smf.logit`` on the
spector data as an anchor that the snapshotted fit is the right one, and the JSON standard (no NaN
literal) for the encoding.
"""

from __future__ import annotations

import dataclasses
import json
import os

import jax
import numpy as np
import pytest
import statsmodels.formula.api as smf

from hessstats import datasets, formula
from hessstats.errors import SnapshotError
from hessstats.testing import assert_estimates_close
from hessstats.testing.snapshots import FORMAT_VERSION, data_fingerprint, load_snapshot, save_snapshot

SPEC = "GRADE ~ GPA + TUCE + PSI"


@pytest.fixture(scope="module")
def logit_res():
    return formula.from_formula("logit", SPEC, datasets.load("spector")).fit()


@pytest.fixture
def snap_path(tmp_path, logit_res):
    return save_snapshot(logit_res, tmp_path / "logit.json")


def test_round_trip_is_exact(logit_res, snap_path):
    snap = load_snapshot(snap_path)
    # anchor: the fit being snapshotted is statsmodels' Logit (analytic Newton) to 1e-8
    sm_res = smf.logit(SPEC, datasets.load("spector")).fit(disp=0)
    np.testing.assert_allclose(snap.params, sm_res.params.to_numpy(), rtol=1e-8)
    # the round trip itself: identical bits
    assert snap.names == logit_res.names
    np.testing.assert_array_equal(snap.params, logit_res.params.to_numpy())
    np.testing.assert_array_equal(snap.std_err, logit_res.bse.to_numpy())
    np.testing.assert_array_equal(snap.cov, logit_res.cov_array)
    assert snap.llf == logit_res.llf and snap.nobs == 32 and snap.cov_type == "nonrobust"
    assert_estimates_close(logit_res, snap_path, rtol=0, atol=0, columns=["coef", "std_err", "llf", "nobs", "cov"])


def test_records_description_fingerprint_and_versions(logit_res, snap_path):
    record = json.loads(snap_path.read_text())
    assert record["format"] == "hessstats-snapshot" and record["format_version"] == FORMAT_VERSION
    assert record["description"]["model"] == "logit" and record["description"]["formula"] == SPEC
    env = record["environment"]
    assert env["jax"] == jax.__version__ and env["numpy"] == np.__version__ and env["dtype"] == "float64"
    fp = record["data_fingerprint"]
    assert fp == data_fingerprint(logit_res.model.data)
    # the fingerprint is sha256 of the float64 bytes: one changed value changes it
    data = jax.tree_util.tree_map(np.array, logit_res.model.data)
    data["X"][0, 1] += 1e-12
    assert data_fingerprint(data)["sha256"] != fp["sha256"]
    assert [leaf["shape"] for leaf in fp["leaves"]] == [[32, 4], [32]]


def test_nan_round_trips_as_strict_json(tmp_path, logit_res):
    cov = logit_res.cov_array.copy()
    cov[1, :] = cov[:, 1] = np.nan  # an unidentified parameter: NaN row/column, NaN SE
    res = dataclasses.replace(logit_res, cov_array=cov)
    path = save_snapshot(res, tmp_path / "nan.json")

    def no_constants(token):
        raise AssertionError(f"non-standard JSON literal {token}")

    record = json.loads(path.read_text(), parse_constant=no_constants)  # strict JSON: no NaN literal
    assert record["parameters"][1]["std_err"] == "NaN"
    snap = load_snapshot(path)
    assert np.isnan(snap.std_err[1]) and np.isfinite(np.delete(snap.std_err, 1)).all()
    np.testing.assert_array_equal(np.isnan(snap.cov), np.isnan(cov))
    assert_estimates_close(res, path, rtol=0)  # NaN matches NaN where both are NaN
    with pytest.raises(AssertionError, match="GPA"):
        assert_estimates_close(logit_res, path, rtol=0)  # finite now, NaN before: a difference


def test_description_values_json_cannot_hold_become_repr(tmp_path, logit_res):
    path = save_snapshot(logit_res, tmp_path / "d.json",
                         description={"n": np.int64(3), "w": np.array([1.0, 2.0]), "x": float("inf")})
    desc = load_snapshot(path).description
    assert desc == {"n": 3, "w": repr(np.array([1.0, 2.0])), "x": "Infinity"}


def test_missing_file(tmp_path):
    with pytest.raises(SnapshotError, match="not found"):
        load_snapshot(tmp_path / "absent.json")


@pytest.mark.parametrize("edit, match", [
    (lambda text: text[: len(text) // 2], "(?s)corrupt snapshot.*invalid JSON"),
    (lambda text: "[1, 2]", "not a hessstats snapshot"),
    (lambda text: text.replace('"format": "hessstats-snapshot"', '"format": "other"'), "not a hessstats snapshot"),
    (lambda text: text.replace('"format_version": 1', '"format_version": 0'), "(?s)format_version 0.*regenerate"),
    (lambda text: text.replace('"format_version": 1', '"format_version": 99'), "(?s)format_version 99.*upgrade"),
    (lambda text: text.replace('"llf"', '"LLF"'), "(?s)corrupt snapshot.*missing field 'llf'"),
    (lambda text: text.replace('"coef": ', '"coef": "oops", "x": ', 1), "corrupt snapshot"),
])
def test_bad_files_raise_snapshot_error(snap_path, edit, match):
    snap_path.write_text(edit(snap_path.read_text()))
    with pytest.raises(SnapshotError, match=match):
        load_snapshot(snap_path)


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_atomic_write_leaves_old_file_intact(monkeypatch, snap_path, logit_res, failing):
    before = snap_path.read_bytes()
    changed = dataclasses.replace(logit_res, llf=logit_res.llf - 1.0)

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, failing, boom)  # fsync: temp file half done; replace: the final move
    with pytest.raises(SnapshotError, match="(?s)cannot write.*disk full [(]simulated[)]") as info:
        save_snapshot(changed, snap_path)
    assert isinstance(info.value.__cause__, OSError)  # the OS error stays available as the cause
    monkeypatch.undo()
    assert snap_path.read_bytes() == before
    assert os.listdir(snap_path.parent) == [snap_path.name]  # no temporary file left behind
    assert load_snapshot(snap_path).llf == logit_res.llf


def test_failed_first_write_creates_nothing(monkeypatch, tmp_path, logit_res):
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("simulated")))
    with pytest.raises(SnapshotError, match="simulated"):
        save_snapshot(logit_res, tmp_path / "sub" / "new.json")
    assert os.listdir(tmp_path / "sub") == []
