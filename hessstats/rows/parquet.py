"""Columns of a Parquet file as a row source: read block by block with pyarrow, never whole.

The file is fingerprinted when the source is created (size, modification time and a hash of the
Parquet metadata, which holds every row group's sizes and column statistics) and checked before
and after every pass; a CRC-32 of the rows read is compared between passes. A rewritten,
truncated or deleted file is a :class:`~hessstats.errors.DataError`, never a silent change.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from hessstats.errors import DataError, HessstatsError, message
from hessstats.rows.source import Block, RowSource


class ParquetSource(RowSource):
    """Columns of a Parquet file, read in row blocks with pyarrow on every pass (bounded memory).

    ``columns`` maps each data key to a column name (a 1-d array) or a list of column names (a 2-d
    ``(n, p)`` array, columns in that order); values are converted to float64.

    Example
    -------
    >>> import os, tempfile, numpy as np, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
    >>> pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]}).to_parquet(path)
    >>> src = ParquetSource(path, {"X": ["a", "b"], "y": "a"})
    >>> src.nobs, [d["X"].tolist() for d, _ in src.blocks(2)][1]
    (3, [[3.0, 6.0], [3.0, 6.0]])
    """

    checksum_rows = True

    def __init__(self, path: str, columns: Mapping[str, str | Sequence[str]]):
        import pyarrow.parquet as pq  # optional dependency (the parquet extra), needed only for this source

        self.path, self.columns = str(path), dict(columns)
        try:
            self._file = pq.ParquetFile(self.path)
        except Exception as exc:
            raise self._unreadable(exc) from None
        self.nobs = int(self._file.metadata.num_rows)
        self._fingerprint = self.fingerprint()
        if self.nobs == 0:
            raise DataError(message(
                f"the Parquet file {self.path!r} has no rows", expected="at least one row",
                got="0 rows", fix="check that the file was written with the data"))
        available = set(self._file.schema_arrow.names)
        missing = sorted({c for c in _column_list(self.columns)} - available)
        if missing:
            raise DataError(message(
                "columns not found in the Parquet file", expected=f"columns among {sorted(available)}",
                got=f"missing {missing}", fix="check the column names passed in `columns`"))

    def _unreadable(self, exc: Exception) -> DataError:
        return DataError(message(
            f"the Parquet file {self.path!r} cannot be read", expected="a complete, readable Parquet file",
            got=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300],
            fix="check the path, and that the file was written completely (not truncated or being rewritten)"))

    def fingerprint(self) -> tuple[int, int, str]:
        """``(size, modification time in ns, SHA-256 of the Parquet metadata)``; a missing or
        unreadable file is a :class:`DataError`."""
        import pyarrow.parquet as pq  # optional dependency, as above

        try:
            stat = os.stat(self.path)
            metadata = pq.read_metadata(self.path)
        except Exception as exc:
            raise self._unreadable(exc) from None
        digest = hashlib.sha256(repr(metadata.to_dict()).encode()).hexdigest()
        return int(stat.st_size), int(stat.st_mtime_ns), digest

    def describe_change(self, first: Any, now: Any) -> str:
        parts = []
        if first[0] != now[0]:
            parts.append(f"size {first[0]} -> {now[0]} bytes")
        if first[1] != now[1]:
            parts.append("modification time changed")
        if first[2] != now[2]:
            parts.append("metadata (row groups, column statistics) changed")
        return "the file was rewritten: " + ", ".join(parts)

    def sample(self) -> Any:
        return next(self.blocks(min(self.nobs, 64)))[0]

    def blocks(self, chunk_size: int) -> Iterator[Block]:
        try:
            yield from self._blocks(chunk_size)
        except HessstatsError:
            raise
        except Exception as exc:  # pyarrow/OS errors while reading: the file changed or went away
            raise self._unreadable(exc) from None

    def _blocks(self, chunk_size: int) -> Iterator[Block]:
        c = min(int(chunk_size), self.nobs)
        buffers = {key: np.empty((c,) if isinstance(cols, str) else (c, len(cols))) for key, cols in self.columns.items()}
        filled, offset = 0, 0
        names = _column_list(self.columns)
        for group in range(self._file.metadata.num_row_groups):  # one row group in memory at a time
            batch = self._file.read_row_group(group, columns=names, use_threads=False)
            arrays = {name: _float_column(batch, name) for name in names}
            rows, batch = batch.num_rows, None
            taken = 0
            while taken < rows:
                m = min(c - filled, rows - taken)
                for key, cols in self.columns.items():
                    target = buffers[key]
                    if isinstance(cols, str):
                        target[filled:filled + m] = arrays[cols][taken:taken + m]
                    else:
                        for j, col in enumerate(cols):
                            target[filled:filled + m, j] = arrays[col][taken:taken + m]
                filled, taken = filled + m, taken + m
                if filled == c:
                    yield self._emit(buffers, c, c, offset)
                    offset, filled = offset + c, 0
        if filled:
            yield self._emit(buffers, filled, c, offset)

    @staticmethod
    def _emit(buffers: dict[str, np.ndarray], filled: int, c: int, offset: int) -> Block:
        out = {}
        for key, buf in buffers.items():
            if filled < c:  # pad with copies of the first row: finite, and weight 0
                buf[filled:] = buf[0]
            bad = ~np.isfinite(buf[:filled])
            if bad.any():
                row = offset + int(np.argwhere(bad)[0][0])
                raise DataError(message(
                    f"data {key!r} has non-finite values", expected="finite numbers",
                    got=f"{int(bad.sum())} non-finite values in rows {offset}..{offset + filled - 1}, first at row {row}",
                    fix="drop or impute those rows before fitting"))
            out[key] = buf.copy()
        return out, (np.arange(c) < filled).astype(np.float64)


def _float_column(batch: Any, name: str) -> np.ndarray:
    """A column of a row group as float64; a column that is not numeric is a :class:`DataError`."""
    column = batch.column(name)
    try:
        return column.to_numpy().astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise DataError(message(
            f"Parquet column {name!r} is not numeric", expected="numeric columns (float, int or bool)",
            got=f"type {column.type}", fix="encode it as numbers before writing, or leave it out of `columns`")) from None


def _column_list(columns: Mapping[str, str | Sequence[str]]) -> list[str]:
    out: list[str] = []
    for cols in columns.values():
        for c in ([cols] if isinstance(cols, str) else list(cols)):
            if c not in out:
                out.append(c)
    return out
