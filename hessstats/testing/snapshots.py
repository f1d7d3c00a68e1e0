"""Estimate snapshots: a fit's numbers saved as JSON, written atomically, loaded with validation.

File format ``hessstats-snapshot`` version :data:`FORMAT_VERSION` (UTF-8 JSON, keys in a fixed
order so refreshed files diff cleanly under version control)::

    {"format": "hessstats-snapshot", "format_version": 1,
     "parameters": [{"name": "GPA", "coef": 2.826, "std_err": 1.263}, ...],
     "cov": [[...], ...],                    # covariance, rows/columns in "parameters" order
     "llf": -12.89, "nobs": 32, "cov_type": "nonrobust", "converged": true,
     "description": {...},                   # res.model.description (how the model was built)
     "data_fingerprint": {"sha256": "...", "leaves": [{"path": "['X']", "shape": [32, 4]}, ...]},
     "environment": {"hessstats": ..., "jax": ..., "numpy": ..., "python": ..., "platform": ...,
                     "backend": "cpu", "dtype": "float64"}}

Floats are written with Python's shortest round-trip repr, so save -> load is exact. JSON has no
NaN or infinity: non-finite numbers are written as the *strings* ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` (the tokens Python's ``json`` would emit unquoted), so the file stays strict JSON
and loads back to the same float. Writes go to a temporary file in the target directory, are
fsync'ed, then moved over the target with ``os.replace``: a crash leaves either the old file or
the new one, never half of one. The file gets the permissions a plain ``open(path, "w")`` would
give (the existing file's mode when replacing, else 0o666 less the umask); a write that fails
(disk full, read-only directory, the path is a directory) raises
:class:`~hessstats.errors.SnapshotError` and leaves no temporary file.

Loading never evaluates anything and checks every field: a file that is not a regular file, larger
than :data:`MAX_SNAPSHOT_BYTES`, not UTF-8, not JSON (or nested too deeply), not an object, or has
missing fields, wrong types, numbers that overflow a float, bare ``NaN``/``Infinity`` tokens or a
covariance of the wrong shape raises :class:`~hessstats.errors.SnapshotError`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import platform
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from hessstats._version import __version__
from hessstats.errors import SnapshotError, message

FORMAT_NAME = "hessstats-snapshot"
FORMAT_VERSION = 1
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
MAX_SNAPSHOT_BYTES = 256 * 2**20
"""Largest snapshot file :func:`load_snapshot` reads (256 MiB: a covariance of ~3500 parameters)."""
_MAX_INT_DIGITS = 30
_MAX_TEXT = 1000


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The estimates stored in a snapshot file (see :func:`load_snapshot`).

    Example
    -------
    >>> import numpy as np, hessstats as hs, tempfile, os
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
    >>> snap = load_snapshot(save_snapshot(res, os.path.join(tempfile.mkdtemp(), "s.json")))
    >>> snap.summary_frame()
               coef   std_err
    parameter
    mu          2.0  0.707107
    """

    names: tuple[str, ...]
    params: np.ndarray
    std_err: np.ndarray
    cov: np.ndarray
    llf: float
    nobs: int | None
    cov_type: str
    converged: bool
    description: dict[str, Any]
    data_fingerprint: dict[str, Any] | None
    environment: dict[str, Any]
    path: str | None = None

    def summary_frame(self) -> pd.DataFrame:
        """``coef`` and ``std_err`` by parameter name, like ``FitResult.summary_frame()``."""
        frame = pd.DataFrame({"coef": self.params, "std_err": self.std_err}, index=list(self.names))
        frame.index.name = "parameter"
        return frame

    def cov_params(self) -> pd.DataFrame:
        """The stored covariance matrix, indexed by parameter name."""
        return pd.DataFrame(self.cov, index=list(self.names), columns=list(self.names))


def data_fingerprint(data: Any) -> dict[str, Any] | None:
    """sha256 of the model data: every leaf as little-endian float64 bytes, plus its shape.

    Leaves are visited in JAX's pytree order (dict keys sorted). ``None`` data gives ``None``.

    Example
    -------
    >>> import numpy as np
    >>> fp = data_fingerprint({"y": np.array([1.0, 2.0])})
    >>> fp["leaves"], len(fp["sha256"])
    ([{'path': "['y']", 'shape': [2]}], 64)
    >>> fp == data_fingerprint({"y": np.array([1.0, 2.5])})
    False
    """
    if data is None:
        return None
    digest = hashlib.sha256()
    leaves = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(data)[0]:
        arr = np.asarray(leaf, dtype="<f8")
        digest.update(repr(arr.shape).encode())
        digest.update(arr.tobytes())
        leaves.append({"path": jax.tree_util.keystr(path) or "data", "shape": list(arr.shape)})
    return {"sha256": digest.hexdigest(), "leaves": leaves}


def environment() -> dict[str, str]:
    """Versions and platform recorded in a snapshot (informational; never compared).

    Example
    -------
    >>> sorted(environment())
    ['backend', 'dtype', 'hessstats', 'jax', 'numpy', 'platform', 'python']
    """
    return {"hessstats": __version__, "jax": jax.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "backend": jax.default_backend(), "dtype": "float64"}


def snapshot_record(res: Any, description: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-ready dictionary :func:`save_snapshot` writes for a fit result.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 2.0]))
    >>> [(p["name"], round(p["coef"], 12), round(p["std_err"], 12)) for p in snapshot_record(res)["parameters"]]
    [('mu', 1.5, 0.707106781187)]
    """
    desc = dict(res.model.description if description is None else description)
    names = [str(n) for n in res.names]
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "parameters": [{"name": n, "coef": _num(c), "std_err": _num(s)}
                       for n, c, s in zip(names, res.params.to_numpy(), res.bse.to_numpy())],
        "cov": [[_num(v) for v in row] for row in np.asarray(res.cov_array, dtype=float)],
        "llf": _num(res.llf),
        "nobs": None if res.nobs is None else int(res.nobs),
        "cov_type": str(res.cov_type),
        "converged": bool(res.converged),
        "description": jsonable(desc),
        "data_fingerprint": data_fingerprint(res.model.data),
        "environment": environment(),
    }


def save_snapshot(res: Any, path: str | os.PathLike, *, description: dict[str, Any] | None = None) -> Path:
    """Save a fit's estimates, covariance, llf, nobs, description and data fingerprint as JSON.

    The write is atomic (temporary file in the same directory, then ``os.replace``); missing
    parent directories are created. ``description`` overrides ``res.model.description``.
    Values that JSON cannot hold in the description are stored as their ``repr``.
    Returns the path written.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs, tempfile, os
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 2.0]))
    >>> path = save_snapshot(res, os.path.join(tempfile.mkdtemp(), "mu.json"))
    >>> load_snapshot(path).params.round(12).tolist()
    [1.5]
    """
    return write_atomic(path, _dumps(snapshot_record(res, description)))


def _dumps(record: dict[str, Any]) -> str:
    """Strict JSON, one parameter record and one covariance row per line (readable diffs)."""
    items = []
    for key, value in record.items():
        if key in ("parameters", "cov") and value:
            text = "[\n" + ",\n".join("  " + json.dumps(v, allow_nan=False) for v in value) + "\n ]"
        else:
            text = json.dumps(value, indent=1, allow_nan=False).replace("\n", "\n ")
        items.append(f" {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(items) + "\n}\n"


def write_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and ``os.replace``.

    A failure at any point removes the temporary file, leaves an existing ``path`` untouched and
    raises :class:`~hessstats.errors.SnapshotError`. Missing parent directories are created. The
    file gets the mode a plain ``open(path, "w")`` would give: the existing file's mode when
    replacing it, else ``0o666`` less the umask; a symlink is written through (its target is
    replaced), and a read-only existing file is refused, as ``open`` would refuse it.

    Example
    -------
    >>> import tempfile, os
    >>> path = write_atomic(os.path.join(tempfile.mkdtemp(), "a", "b.txt"), "hello")
    >>> path.read_text(), os.listdir(path.parent)
    ('hello', ['b.txt'])
    """
    target = Path(path)
    if target.is_symlink():  # like open(path, "w"): write the file the link points to
        target = Path(os.path.realpath(target))
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = None
        if target.exists():
            info = os.stat(target)
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", str(target))
            if not os.access(target, os.W_OK):
                raise PermissionError(errno.EACCES, "the file is read-only", str(target))
            mode = stat.S_IMODE(info.st_mode)
        data = text.encode("utf-8")
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        # 0o666 and the kernel applies the umask: the mode a plain open(path, "w") gives a new file
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if mode is not None:
                os.chmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    except (OSError, UnicodeEncodeError) as exc:
        _remove(tmp)
        raise SnapshotError(message(
            f"cannot write {path}", expected="a writable file path (an existing directory with free space)",
            got=_os_text(exc), fix="check the path, its permissions and the free disk space")) from exc
    except BaseException:
        _remove(tmp)
        raise
    return target


def _remove(tmp: Path | None) -> None:
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _os_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return f"{type(exc).__name__}: {exc}"


def load_snapshot(path: str | os.PathLike) -> Snapshot:
    """Read and validate a snapshot file; :class:`~hessstats.errors.SnapshotError` if unusable.

    Nothing in the file is evaluated; every field is type-checked (see the module docstring).

    Example
    -------
    >>> try:
    ...     load_snapshot("/nonexistent/snap.json")
    ... except SnapshotError as exc:
    ...     print(str(exc).splitlines()[0])
    snapshot file not found: /nonexistent/snap.json
    """
    path = Path(path)
    text = _read_text(path)
    try:
        record = json.loads(text, parse_constant=_bare_constant, parse_float=_parse_float, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _corrupt(path, "JSON nested too deeply") from None
    except (ValueError, OverflowError) as exc:
        raise _corrupt(path, str(exc)[:_MAX_TEXT]) from None
    return _from_record(record, path)


def _read_text(path: Path) -> str:
    """The file's text: a regular file, at most MAX_SNAPSHOT_BYTES, UTF-8."""
    def unreadable(got: str, fix: str = "check the path and permissions") -> SnapshotError:
        return SnapshotError(message(f"snapshot file cannot be read: {path}", expected="a readable UTF-8 JSON file "
                                     f"of at most {MAX_SNAPSHOT_BYTES} bytes", got=got, fix=fix))

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SnapshotError(message(
            f"snapshot file not found: {path}", expected="an existing snapshot JSON file",
            got="no such file", fix="create it with `hessstats snapshot ...`, hs.testing.save_snapshot, "
            "or pytest --hessstats-update")) from None
    except (OSError, ValueError) as exc:
        raise unreadable(_os_text(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise unreadable("a directory", "pass the snapshot file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise unreadable("not a regular file (a device, FIFO or socket)", "pass a snapshot file")
    if info.st_size > MAX_SNAPSHOT_BYTES:
        raise unreadable(f"{info.st_size} bytes", "a snapshot this large is not one hessstats wrote")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SNAPSHOT_BYTES + 1)
    except OSError as exc:
        raise unreadable(_os_text(exc)) from None
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise unreadable(f"more than {MAX_SNAPSHOT_BYTES} bytes", "a snapshot this large is not one hessstats wrote")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise unreadable(f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                         "restore it from version control, or regenerate it") from None


def _bare_constant(token: str) -> float:
    raise ValueError(f"bare {token} is not JSON (non-finite numbers are stored as the strings \"NaN\", "
                     "\"Infinity\", \"-Infinity\")")


def _parse_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"the number {token[:40]} overflows a float")
    return value


def _parse_int(token: str) -> int:
    if len(token.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"an integer with {len(token)} digits")
    return int(token)


def _from_record(record: Any, path: Path) -> Snapshot:
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        got = (f"format {_short(record.get('format'))}" if isinstance(record, dict)
               else f"a JSON {type(record).__name__}")
        raise SnapshotError(message(
            f"not a hessstats snapshot: {path}", expected=f'a JSON object with "format": "{FORMAT_NAME}"',
            got=got, fix="point to a file written by hessstats.testing.save_snapshot or `hessstats snapshot`"))
    version = record.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        newer = isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION
        raise SnapshotError(message(
            f"unsupported snapshot format version in {path}",
            expected=f"format_version {FORMAT_VERSION}", got=f"format_version {_short(version)}",
            fix="upgrade hessstats to read it" if newer else
            "regenerate the snapshot with this hessstats (`hessstats snapshot ...` or pytest --hessstats-update)"))
    try:
        rows = _field(record, "parameters", list)
        names = tuple(_text(_field(_item(r, f"parameters[{i}]"), "name", str), f"parameters[{i}].name")
                      for i, r in enumerate(rows))
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate parameter names {sorted({n for n in names if names.count(n) > 1})[:5]}")
        params = np.array([_float(r["coef"], f"parameters[{i}].coef") for i, r in enumerate(rows)], dtype=float)
        std_err = np.array([_float(r["std_err"], f"parameters[{i}].std_err") for i, r in enumerate(rows)], dtype=float)
        if not names:
            raise ValueError("no parameters")
        if np.isnan(params).any():
            raise ValueError(f"coef is NaN for {[n for n, c in zip(names, params) if np.isnan(c)][:5]}")
        if (std_err < 0).any():
            raise ValueError(f"negative std_err for {[n for n, s in zip(names, std_err) if s < 0][:5]}")
        cov_rows = _field(record, "cov", list)
        k = len(names)
        if len(cov_rows) != k or any(not isinstance(row, list) or len(row) != k for row in cov_rows):
            shape = (len(cov_rows), *{len(r) if isinstance(r, list) else -1 for r in cov_rows})
            raise ValueError(f"cov must be {k} rows of {k} numbers, got shape {shape[:3]}")
        cov = np.array([[_float(v, f"cov[{i}][{j}]") for j, v in enumerate(row)] for i, row in enumerate(cov_rows)],
                       dtype=float).reshape(k, k)
        nobs = record["nobs"]
        if nobs is not None and (isinstance(nobs, bool) or not isinstance(nobs, int) or nobs < 0):
            raise ValueError(f"nobs must be a non-negative integer or null, got {_short(nobs)}")
        fingerprint = record["data_fingerprint"]
        if fingerprint is not None:
            sha = _field(_item(fingerprint, "data_fingerprint"), "sha256", str)
            if not re.fullmatch(r"[0-9a-f]{64}", sha):
                raise ValueError(f"data_fingerprint.sha256 must be 64 hex digits, got {_short(sha)}")
            _field(fingerprint, "leaves", list)
        llf = _float(record["llf"], "llf")
        if math.isnan(llf):
            raise ValueError("llf is NaN (a fitted log-likelihood is a number)")
        return Snapshot(names=names, params=params, std_err=std_err, cov=cov, llf=llf,
                        nobs=nobs, cov_type=_text(_field(record, "cov_type", str), "cov_type"),
                        converged=_field(record, "converged", bool),
                        description=dict(_field(record, "description", dict)), data_fingerprint=fingerprint,
                        environment=dict(_field(record, "environment", dict)), path=str(path))
    except KeyError as exc:
        raise _corrupt(path, f"missing field {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise _corrupt(path, f"{type(exc).__name__}: {str(exc)[:_MAX_TEXT]}") from None


def _item(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"{where} must be a JSON object, got {_short(value)}")
    return value


def _field(record: dict, key: str, kind: type) -> Any:
    value = record[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise TypeError(f"{key} must be a JSON {_JSON_NAMES[kind]}, got {_short(value)}")
    return value


def _text(value: str, where: str) -> str:
    if len(value) > _MAX_TEXT:
        raise ValueError(f"{where} is {len(value)} characters long (at most {_MAX_TEXT})")
    return value


_JSON_NAMES = {list: "array", dict: "object", str: "string", bool: "true/false"}


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (list, dict)) else f"a JSON {'array' if isinstance(value, list) else 'object'}"
    return text if len(text) <= 80 else text[:80] + "..."


def _corrupt(path: Path, what: str) -> SnapshotError:
    return SnapshotError(message(
        f"corrupt snapshot file: {path}", expected=f"a complete {FORMAT_NAME} JSON file (version {FORMAT_VERSION})",
        got=what, fix="restore it from version control, or regenerate it (`hessstats snapshot ...` or "
        "pytest --hessstats-update)"))


def _num(x: Any) -> float | str:
    """A float for JSON: finite as float, non-finite as "NaN" / "Infinity" / "-Infinity"."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _float(x: Any, where: str = "value") -> float:
    if isinstance(x, str):
        if x not in _NONFINITE:
            raise ValueError(f"{where}: expected a number or one of {sorted(_NONFINITE)}, got {_short(x)}")
        return _NONFINITE[x]
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{where}: expected a number, got {_short(x)}")
    return float(x)


def jsonable(x: Any) -> Any:
    """Make a description JSON-ready: containers recursively, numpy scalars as Python, else repr.

    Example
    -------
    >>> jsonable({"n": np.int64(3), "f": len})
    {'n': 3, 'f': '<built-in function len>'}
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return _num(x)
    if x is None or isinstance(x, (str, int, bool)):
        return x
    return repr(x)
