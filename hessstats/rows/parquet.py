"""Columns of a Parquet file as a row source: read block by block with pyarrow, never whole."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from hessstats.errors import DataError, message
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

    def __init__(self, path: str, columns: Mapping[str, str | Sequence[str]]):
        import pyarrow.parquet as pq  # optional dependency (the parquet extra), needed only for this source

        self.path, self.columns = str(path), dict(columns)
        self._file = pq.ParquetFile(self.path)
        self.nobs = int(self._file.metadata.num_rows)
        available = set(self._file.schema_arrow.names)
        missing = sorted({c for c in _column_list(self.columns)} - available)
        if missing:
            raise DataError(message(
                "columns not found in the Parquet file", expected=f"columns among {sorted(available)}",
                got=f"missing {missing}", fix="check the column names passed in `columns`"))

    def sample(self) -> Any:
        return next(self.blocks(min(self.nobs, 64)))[0]

    def blocks(self, chunk_size: int) -> Iterator[Block]:
        c = min(int(chunk_size), self.nobs)
        buffers = {key: np.empty((c,) if isinstance(cols, str) else (c, len(cols))) for key, cols in self.columns.items()}
        filled, offset = 0, 0
        names = _column_list(self.columns)
        for group in range(self._file.metadata.num_row_groups):  # one row group in memory at a time
            batch = self._file.read_row_group(group, columns=names, use_threads=False)
            arrays = {name: batch.column(name).to_numpy().astype(np.float64, copy=False) for name in names}
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


def _column_list(columns: Mapping[str, str | Sequence[str]]) -> list[str]:
    out: list[str] = []
    for cols in columns.values():
        for c in ([cols] if isinstance(cols, str) else list(cols)):
            if c not in out:
                out.append(c)
    return out
