"""Snapshot files from untrusted sources (issue 11): crafted files get a SnapshotError, writes keep
normal permissions and fail with typed errors leaving no temporary file.

References: RFC 8259 (JSON has no NaN/Infinity literals and no limit that protects a recursive
parser), the snapshot format documented in :mod:`hessstats.testing.snapshots`, and POSIX
``open(2)``/``umask(2)`` for the mode a plain ``open(path, "w")`` gives (0o666 & ~umask, or the
existing file's mode).
"""

from __future__ import annotations

import errno
import json
import os
import stat

import numpy as np
import pytest

from hessstats.errors import SnapshotError
from hessstats.testing import snapshots
from hessstats.testing.snapshots import load_snapshot, save_snapshot, write_atomic


@pytest.fixture(scope="module")
def record():
    import hessstats as hs

    res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 2.0, 4.0]))
    return snapshots.snapshot_record(res)


def _edit(record, **changes):
    out = json.loads(json.dumps(record))
    for key, value in changes.items():
        out[key] = value
    return json.dumps(out)


CRAFTED = {
    "top-level array": lambda r: "[1, 2, 3]",
    "top-level string": lambda r: '"hessstats-snapshot"',
    "deep nesting": lambda r: "[" * 100_000 + "]" * 100_000,
    "deep nesting in a field": lambda r: _edit(r).replace('"environment": {', '"environment": {"x": ' + "[" * 100_000 + "]" * 100_000 + ",", 1),
    "huge integer": lambda r: _edit(r).replace('"nobs": 3', '"nobs": 1' + "0" * 5000),
    "number overflowing a float": lambda r: _edit(r).replace('"llf": ', '"llf": 1e400, "x": '),
    "bare NaN token": lambda r: _edit(r).replace('"llf": ', '"llf": NaN, "x": '),
    "bare Infinity nobs": lambda r: _edit(r).replace('"nobs": 3', '"nobs": Infinity'),
    "nobs as string": lambda r: _edit(r, nobs="NaN"),
    "nobs fractional": lambda r: _edit(r, nobs=2.5),
    "nobs negative": lambda r: _edit(r, nobs=-1),
    "nobs boolean": lambda r: _edit(r, nobs=True),
    "missing parameters": lambda r: json.dumps({k: v for k, v in r.items() if k != "parameters"}),
    "parameters null": lambda r: _edit(r, parameters=None),
    "parameter not an object": lambda r: _edit(r, parameters=[1]),
    "parameter name a number": lambda r: _edit(r, parameters=[{"name": 1, "coef": 1.0, "std_err": 0.1}]),
    "duplicate names": lambda r: _edit(r, parameters=r["parameters"] * 2, cov=[[1.0, 0.0], [0.0, 1.0]]),
    "negative std_err": lambda r: _edit(r, parameters=[{**r["parameters"][0], "std_err": -1.0}]),
    "NaN coef": lambda r: _edit(r, parameters=[{**r["parameters"][0], "coef": "NaN"}]),
    "NaN llf": lambda r: _edit(r, llf="NaN"),
    "no parameters": lambda r: _edit(r, parameters=[], cov=[]),
    "coef a list": lambda r: _edit(r, parameters=[{**r["parameters"][0], "coef": [1.0]}]),
    "cov wrong shape": lambda r: _edit(r, cov=[[1.0, 2.0]]),
    "cov row not a list": lambda r: _edit(r, cov=[1.0]),
    "cov_type a number": lambda r: _edit(r, cov_type=5),
    "converged a string": lambda r: _edit(r, converged="yes"),
    "description a list": lambda r: _edit(r, description=[["refit", 1]]),
    "environment null": lambda r: _edit(r, environment=None),
    "fingerprint bad sha": lambda r: _edit(r, data_fingerprint={"sha256": "x", "leaves": []}),
    "format_version boolean": lambda r: _edit(r, format_version=True),
    "format a list": lambda r: _edit(r, format=["hessstats-snapshot"]),
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_snapshots_raise_snapshot_error(tmp_path, record, name):
    path = tmp_path / "s.json"
    path.write_text(CRAFTED[name](record))
    with pytest.raises(SnapshotError):
        load_snapshot(path)


def test_the_unedited_record_loads(tmp_path, record):
    """Control for the crafted cases: the same record, unedited, loads (so each failure is the edit's)."""
    path = tmp_path / "s.json"
    path.write_text(_edit(record))
    np.testing.assert_allclose(load_snapshot(path).params, [7.0 / 3.0], rtol=1e-10)  # mean of 1, 2, 4


def test_non_utf8_directory_fifo_and_huge_files(tmp_path, monkeypatch, record):
    bad = tmp_path / "latin1.json"
    bad.write_bytes(_edit(record).replace("mu", "m\u00e9").encode("latin-1"))
    with pytest.raises(SnapshotError, match="not UTF-8"):
        load_snapshot(bad)
    with pytest.raises(SnapshotError, match="a directory"):
        load_snapshot(tmp_path)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opening it would block forever
    with pytest.raises(SnapshotError, match="not a regular file"):
        load_snapshot(fifo)
    big = tmp_path / "big.json"
    big.write_text(_edit(record))
    monkeypatch.setattr(snapshots, "MAX_SNAPSHOT_BYTES", 100)
    with pytest.raises(SnapshotError, match="bytes"):
        load_snapshot(big)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_files_get_the_umask_default_mode(tmp_path, umask_022):
    """mkstemp would give 0600; a plain open(path, "w") gives 0o666 & ~0o022 = 0o644."""
    path = write_atomic(tmp_path / "new.txt", "x")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    with open(tmp_path / "plain.txt", "w") as fh:
        fh.write("x")
    assert stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode) == 0o644


def test_replacing_keeps_the_existing_mode_and_symlink(tmp_path, umask_022):
    path = tmp_path / "shared.json"
    path.write_text("old")
    os.chmod(path, 0o664)
    write_atomic(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(os.stat(path).st_mode) == 0o664
    link = tmp_path / "link.json"
    link.symlink_to(path)
    write_atomic(link, "via link")
    assert link.is_symlink() and path.read_text() == "via link"


@pytest.mark.parametrize("case", ["directory", "parent is a file", "read-only (EROFS)", "disk full on write"])
def test_write_errors_are_typed_and_leave_nothing(tmp_path, monkeypatch, case):
    target = tmp_path / "out.json"
    if case == "directory":
        target.mkdir()
    elif case == "parent is a file":
        (tmp_path / "file").write_text("x")
        target = tmp_path / "file" / "out.json"
    elif case == "read-only (EROFS)":
        def refuse(*args, **kwargs):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(args[0]))
        monkeypatch.setattr(snapshots.os, "open", refuse)
    else:
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, fd, *args, **kwargs):
                self._fh = real_fdopen(fd, *args, **kwargs)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._fh.close()

            def write(self, data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            def __getattr__(self, name):
                return getattr(self._fh, name)

        monkeypatch.setattr(snapshots.os, "fdopen", Full)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(SnapshotError, match="cannot write") as info:
        write_atomic(target, "data")
    monkeypatch.undo()
    text = str(info.value)
    assert "expected:" in text and "got:" in text and "fix:" in text
    assert sorted(os.listdir(tmp_path)) == before  # no temporary file left
    if target.parent.is_dir() and target.is_dir():
        assert os.listdir(target) == []


def test_save_snapshot_write_error_is_a_snapshot_error(tmp_path, record):
    import hessstats as hs

    res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 2.0]))
    (tmp_path / "d.json").mkdir()
    with pytest.raises(SnapshotError, match="cannot write"):
        save_snapshot(res, tmp_path / "d.json")
    assert os.listdir(tmp_path) == ["d.json"]
