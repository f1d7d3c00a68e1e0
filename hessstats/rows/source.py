"""Row sources for bounded-memory fits: the data arrive in fixed-size row blocks.

A chunked fit evaluates the *same* compiled kernel on blocks of ``chunk_size`` rows and adds the
blocks' log-likelihood, gradient and Hessian (scores and per-observation values are
concatenated). Every block has exactly ``chunk_size`` rows, so the kernel compiles once: the last
block is padded with real rows carrying weight 0 (they add nothing to any sum).

Which data are chunked: every data array whose leading dimension equals the number of
observations is split by rows; every other leaf (scalars, a lookup table, a matrix of a different
length) is passed whole to every block.

Sources:

- in-memory data with ``Model(..., chunk_size=c)``: bounds the memory of the derivative
  computations (``jax.hessian`` holds ``n x k`` per tangent direction; a block holds ``c x k``);
- :class:`ParquetSource`: columns of a Parquet file read block by block with pyarrow on every pass,
  so the data never sit in memory whole;
- :class:`hessstats.rows.dask.DaskSource`: partitions of a Dask DataFrame on a cluster.

Sources that re-read their rows on every pass (Parquet, Dask) are fingerprinted: a cheap
description of the source (file size, modification time, Parquet metadata) is checked before and
after every pass, and a checksum of the rows (CRC-32 of the real rows as they stream) taken on the
first pass is compared on every later one. A source that changed between passes (a rewritten
file, recomputed partitions with other values) is a :class:`~hessstats.errors.DataError`: the
optimiser and ``with_cov`` must see the rows the fit saw.
"""

from __future__ import annotations

import abc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

from hessstats._checks import check_positive_int
from hessstats._progress import progress
from hessstats.errors import DataError, message
from hessstats.rows.leaves import row_block

Block = tuple[Any, np.ndarray]
"""One row block: the data pytree (``chunk_size`` rows) and its row weights (1 real, 0 padding)."""


class RowSource(abc.ABC):
    """Abstract base: data that arrive in row blocks. Subclasses define ``nobs``, ``sample`` and
    ``blocks``; ``reduce`` and ``rows`` (what the engine calls) may be overridden, e.g. to run
    blocks on a cluster.

    Example
    -------
    >>> import numpy as np
    >>> source = ArraySource({"y": np.arange(5.0)}, 5)
    >>> isinstance(source, RowSource), source.reduce(lambda d, w: (float((d["y"] * w).sum()),), chunk_size=2)
    (True, (10.0,))
    """

    nobs: int
    default_chunk_size: int = 65_536
    checksum_rows: bool = False
    """Re-read sources set this: a checksum of the rows of every pass is compared with the first's."""

    @abc.abstractmethod
    def sample(self) -> Any:
        """A few leading rows (as the data pytree) to validate the log-likelihood on."""

    @abc.abstractmethod
    def blocks(self, chunk_size: int) -> Iterator[Block]:
        """Yield ``(data, weights)`` row blocks of exactly ``chunk_size`` rows."""

    def fingerprint(self) -> Any:
        """A cheap description of the source that changes when its rows may have changed (file size,
        modification time, metadata); ``None`` (the default) when there is nothing to check."""
        return None

    def describe_change(self, first: Any, now: Any) -> str:
        """What differs between two fingerprints, in words (for the error message)."""
        return "its description"

    def check_unchanged(self) -> None:
        """Compare :meth:`fingerprint` with the one taken when the source was first used."""
        now = self.fingerprint()
        if now is None:
            return
        first = self.__dict__.setdefault("_fingerprint", now)
        if now != first:
            raise source_changed(self, self.describe_change(first, now), first, now)

    def checked_blocks(self, chunk_size: int) -> Iterator[Block]:
        """:meth:`blocks`, with the fingerprint checked before and after, and (``checksum_rows``)
        a checksum of the real rows compared with the first pass's."""
        self.check_unchanged()
        crc = 0
        for data, weights in self.blocks(chunk_size):
            if self.checksum_rows:
                crc = rows_checksum(data, weights, crc)
            yield data, weights
        self.check_unchanged()
        if self.checksum_rows:
            first = self.__dict__.setdefault("_checksums", {}).setdefault(int(chunk_size), crc)
            if crc != first:
                raise source_changed(self, "the checksum of its rows", first, crc)

    def reduce(self, fn: Callable[[Any, np.ndarray], tuple], chunk_size: int, progress: bool | None = None) -> tuple:
        """The sum over blocks of ``fn(data, weights)`` (a tuple of arrays)."""
        total = None
        for data, weights in _progress(self.checked_blocks(chunk_size), self.nobs, chunk_size, progress):
            out = fn(data, weights)
            total = list(out) if total is None else [a + b for a, b in zip(total, out)]
        return tuple(total)

    def rows(self, fn: Callable[[Any, np.ndarray], np.ndarray], chunk_size: int, progress: bool | None = None) -> np.ndarray:
        """Per-row results ``fn(data, weights)`` of all blocks, concatenated (padding rows dropped)."""
        parts = [np.asarray(fn(data, weights))[np.asarray(weights) > 0]
                 for data, weights in _progress(self.checked_blocks(chunk_size), self.nobs, chunk_size, progress)]
        return np.concatenate(parts, axis=0)


def rows_checksum(data: Any, weights: np.ndarray, crc: int = 0) -> int:
    """CRC-32 of the real rows (weight > 0) of every leaf of a block, continued from ``crc``.

    Example
    -------
    >>> a = rows_checksum({"y": np.arange(3.0)}, np.ones(3))
    >>> a == rows_checksum({"y": np.arange(3.0)}, np.ones(3)), a == rows_checksum({"y": np.ones(3)}, np.ones(3))
    (True, False)
    """
    real = np.asarray(weights) > 0
    for leaf in jax.tree_util.tree_leaves(data):
        arr = np.asarray(leaf)
        if arr.ndim >= 1 and arr.shape[0] == real.shape[0]:
            arr = arr[real]
        crc = zlib.crc32(np.ascontiguousarray(arr).view(np.uint8).ravel(), crc)
    return crc


def source_changed(source: RowSource, what: str, first: Any, now: Any) -> DataError:
    """The error for a row source whose rows changed between passes of one fit.

    Example
    -------
    >>> str(source_changed(ArraySource({"y": np.zeros(2)}, 2), "its rows", 1, 2)).splitlines()[0]
    'the ArraySource changed while the model was using it (its rows)'
    """
    return DataError(message(
        f"the {type(source).__name__} changed while the model was using it ({what})",
        expected="the same rows on every pass over the source (every optimiser step, every covariance)",
        got=f"{first!r}"[:120] + " when first read, now " + f"{now!r}"[:120],
        fix="do not modify the data during a fit; to use the new data, build a new source and model and fit again"))


def _progress(blocks: Iterator[Block], nobs: int, chunk_size: int, show: bool | None) -> Iterator[Block]:
    return progress(blocks, -(-nobs // chunk_size), desc="hessstats blocks", unit="block", show=show)


class ArraySource(RowSource):
    """In-memory data (already validated device or numpy arrays) served in row blocks.

    Example
    -------
    >>> import numpy as np
    >>> src = ArraySource({"y": np.arange(5.0), "scale": np.float64(2.0)}, nobs=5)
    >>> [(d["y"].tolist(), w.tolist()) for d, w in src.blocks(2)]
    [([0.0, 1.0], [1.0, 1.0]), ([2.0, 3.0], [1.0, 1.0]), ([3.0, 4.0], [0.0, 1.0])]
    >>> [(d["y"].tolist(), w.tolist()) for d, w in src.blocks(7)]
    [([0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0], [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0])]
    """

    def __init__(self, data: Any, nobs: int):
        self.data, self.nobs = data, int(nobs)

    def sample(self) -> Any:
        return self.data

    def blocks(self, chunk_size: int) -> Iterator[Block]:
        n, c = self.nobs, int(chunk_size)
        if n < c:  # fewer rows than a block: pad with copies of the last row at weight 0 (same compiled shape)
            yield row_block(self.data, n, 0, c), (np.arange(c) < n).astype(np.float64)
            return
        ones = np.ones(c)
        for start in range(0, n, c):
            lo = min(start, n - c)  # the last block overlaps the previous one: overlap rows weigh 0
            weights = ones if lo == start else (np.arange(lo, lo + c) >= start).astype(np.float64)
            yield row_block(self.data, n, lo, c), weights


def check_chunk_size(chunk_size: Any) -> int:
    """A positive integer, or a :class:`SpecificationError`.

    Example
    -------
    >>> from hessstats.errors import SpecificationError
    >>> check_chunk_size(1000)
    1000
    >>> try:
    ...     check_chunk_size(0)
    ... except SpecificationError:
    ...     print("rejected")
    rejected
    """
    return check_positive_int(chunk_size, "chunk_size", hint=" (rows per block), or None, e.g. chunk_size=100_000")
