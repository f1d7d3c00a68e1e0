"""``hs.ParquetSource``: columns of a Parquet file served in fixed-size row blocks.

Reference: the same file read whole by ``pandas.read_parquet`` (pyarrow), and numpy's float64
conversion of its columns. Covered elsewhere: fits from Parquet against in-memory fits and
statsmodels (rows/test_source, test_catalogue), a NaN cell and a missing column (rows/test_source).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hessstats as hs
from hessstats.errors import DataError

N = 37


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.normal(size=N), "b": rng.normal(size=N), "count": rng.integers(0, 9, size=N),
                          "flag": rng.integers(0, 2, size=N).astype(bool)})
    out = tmp_path_factory.mktemp("parquet") / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out, row_group_size=10)  # groups 10,10,10,7
    return out


@pytest.mark.parametrize("chunk_size", [4, 7, 10, 37, 50])
def test_blocks_cover_every_row_once_across_row_groups(path, chunk_size):
    """Blocks have exactly min(chunk_size, n) rows; weight 1 on real rows, 0 on padding; the real
    rows, in order, are the file's rows; a list of columns is a matrix in that column order, and one
    column may feed two keys."""
    frame = pd.read_parquet(path)
    source = hs.ParquetSource(path, {"X": ["b", "a"], "y": "a", "n": "count"})
    assert source.nobs == N
    c = min(chunk_size, N)
    blocks = list(source.blocks(chunk_size))
    assert len(blocks) == -(-N // c)
    assert all(d["X"].shape == (c, 2) and d["y"].shape == (c,) and w.shape == (c,) for d, w in blocks)
    weights = np.concatenate([w for _, w in blocks])
    assert set(np.unique(weights)) <= {0.0, 1.0} and weights.sum() == N
    rows = {key: np.concatenate([d[key][w > 0] for d, w in blocks]) for key in ("X", "y", "n")}
    np.testing.assert_array_equal(rows["X"], frame[["b", "a"]].to_numpy())
    np.testing.assert_array_equal(rows["y"], frame["a"].to_numpy())
    np.testing.assert_array_equal(rows["n"], frame["count"].to_numpy(dtype=np.float64))
    assert all(np.isfinite(d["X"]).all() for d, _ in blocks)  # padding rows are real (finite) rows


def test_integer_and_boolean_columns_arrive_as_float64(path):
    frame = pd.read_parquet(path)
    data = hs.ParquetSource(path, {"n": "count", "f": "flag"}).sample()
    assert data["n"].dtype == np.float64 and data["f"].dtype == np.float64
    np.testing.assert_array_equal(data["f"], frame["flag"].to_numpy(dtype=np.float64))


def test_sample_is_the_leading_rows(path):
    """The validation sample is the first min(n, 64) rows."""
    sample = hs.ParquetSource(path, {"y": "a"}).sample()
    np.testing.assert_array_equal(sample["y"], pd.read_parquet(path)["a"].to_numpy())


def test_null_cells_are_data_errors_naming_the_row(tmp_path):
    """A null in an integer column (read as NaN) is refused with its row number (row 12 of 20)."""
    values = pa.array([*range(12), None, *range(13, 20)], type=pa.int64())
    pq.write_table(pa.table({"k": values}), tmp_path / "nulls.parquet", row_group_size=8)
    source = hs.ParquetSource(tmp_path / "nulls.parquet", {"y": "k"})
    with pytest.raises(DataError, match="first at row 12"):
        list(source.blocks(5))


def test_a_text_column_is_a_typed_error(tmp_path):
    pq.write_table(pa.table({"s": ["x", "y", "z"]}), tmp_path / "text.parquet")
    with pytest.raises(DataError, match="'s'"):
        list(hs.ParquetSource(tmp_path / "text.parquet", {"y": "s"}).blocks(2))


def test_an_empty_file_is_a_typed_error(tmp_path):
    pq.write_table(pa.table({"y": pa.array([], type=pa.float64())}), tmp_path / "empty.parquet")
    with pytest.raises(DataError):
        hs.Model(lambda p, d: -(d["y"] - p["mu"]) ** 2, {"mu": 0.0}, hs.ParquetSource(tmp_path / "empty.parquet", {"y": "y"}))
