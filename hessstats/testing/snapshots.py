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
the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import tempfile
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
    >>> snapshot_record(res)["parameters"]
    [{'name': 'mu', 'coef': 1.5, 'std_err': 0.7071067811865476}]
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
    >>> load_snapshot(path).params.tolist()
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

    A failure at any point removes the temporary file and leaves an existing ``path`` untouched.

    Example
    -------
    >>> import tempfile, os
    >>> path = write_atomic(os.path.join(tempfile.mkdtemp(), "a", "b.txt"), "hello")
    >>> path.read_text(), os.listdir(path.parent)
    ('hello', ['b.txt'])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def load_snapshot(path: str | os.PathLike) -> Snapshot:
    """Read and validate a snapshot file; :class:`~hessstats.errors.SnapshotError` if unusable.

    Example
    -------
    >>> try:
    ...     load_snapshot("/nonexistent/snap.json")
    ... except SnapshotError as exc:
    ...     print(str(exc).splitlines()[0])
    snapshot file not found: /nonexistent/snap.json
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SnapshotError(message(
            f"snapshot file not found: {path}", expected="an existing snapshot JSON file",
            got="no such file", fix="create it with `hessstats snapshot ...`, hs.testing.save_snapshot, "
            "or pytest --hessstats-update")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(message(
            f"snapshot file cannot be read: {path}", expected="a readable UTF-8 JSON file",
            got=f"{type(exc).__name__}: {exc}", fix="check the path and permissions")) from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return _from_record(record, path)


def _from_record(record: Any, path: Path) -> Snapshot:
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        got = f"format {record.get('format')!r}" if isinstance(record, dict) else f"a JSON {type(record).__name__}"
        raise SnapshotError(message(
            f"not a hessstats snapshot: {path}", expected=f'a JSON object with "format": "{FORMAT_NAME}"',
            got=got, fix="point to a file written by hessstats.testing.save_snapshot or `hessstats snapshot`"))
    version = record.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise SnapshotError(message(
            f"unsupported snapshot format version in {path}",
            expected=f"format_version {FORMAT_VERSION}", got=f"format_version {version!r}",
            fix="upgrade hessstats to read it" if newer else
            "regenerate the snapshot with this hessstats (`hessstats snapshot ...` or pytest --hessstats-update)"))
    try:
        rows = record["parameters"]
        names = tuple(str(r["name"]) for r in rows)
        params = np.array([_float(r["coef"]) for r in rows], dtype=float)
        std_err = np.array([_float(r["std_err"]) for r in rows], dtype=float)
        cov = np.array([[_float(v) for v in row] for row in record["cov"]], dtype=float).reshape(-1, len(names))
        if cov.shape != (len(names), len(names)):
            raise ValueError(f"cov has shape {cov.shape}, expected {(len(names), len(names))}")
        nobs = record["nobs"]
        return Snapshot(names=names, params=params, std_err=std_err, cov=cov, llf=_float(record["llf"]),
                        nobs=None if nobs is None else int(nobs), cov_type=str(record["cov_type"]),
                        converged=bool(record["converged"]), description=dict(record["description"]),
                        data_fingerprint=record["data_fingerprint"], environment=dict(record["environment"]),
                        path=str(path))
    except (KeyError, TypeError, ValueError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise _corrupt(path, what) from None


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


def _float(x: Any) -> float:
    if isinstance(x, str):
        if x not in _NONFINITE:
            raise ValueError(f"expected a number or one of {sorted(_NONFINITE)}, got {x!r}")
        return _NONFINITE[x]
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"expected a number, got {x!r}")
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
