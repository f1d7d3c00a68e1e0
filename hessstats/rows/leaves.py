"""Row leaves: which data arrays hold one row per observation, and how to take row blocks of them.

The one rule everywhere (row blocks, sharding, cluster meat, index-model checks, margins at means):
a data leaf is a *row leaf* when it has at least one dimension and its leading dimension equals the
number of rows; every other leaf (scalars, lookup tables, matrices of another length) is passed whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def is_row_leaf(leaf: Any, nrows: int) -> bool:
    """True when ``leaf`` has a leading dimension of length ``nrows``.

    Example
    -------
    >>> is_row_leaf(np.zeros((5, 2)), 5), is_row_leaf(np.float64(1.0), 5), is_row_leaf(np.zeros(4), 5)
    (True, False, False)
    """
    return np.ndim(leaf) >= 1 and np.shape(leaf)[0] == nrows


def map_row_leaves(fn: Callable[[Any], Any], data: Any, nrows: int) -> Any:
    """``data`` with ``fn`` applied to every row leaf (other leaves unchanged).

    Example
    -------
    >>> map_row_leaves(lambda a: a[:1], {"y": np.arange(3.0), "c": np.float64(2.0)}, 3)["y"].tolist()
    [0.0]
    """
    return jax.tree_util.tree_map(lambda a: fn(a) if is_row_leaf(a, nrows) else a, data)


def has_row_leaves(data: Any, nrows: int) -> bool:
    """True when at least one leaf of ``data`` is a row leaf.

    Example
    -------
    >>> has_row_leaves({"y": np.zeros(3)}, 3), has_row_leaves({"y": np.zeros(3)}, 4)
    (True, False)
    """
    return any(is_row_leaf(a, nrows) for a in jax.tree_util.tree_leaves(data))


def row_block(data: Any, nrows: int, start: int, size: int) -> Any:
    """Rows ``start .. start + size`` of every row leaf; rows past the end repeat the last row, so
    every block has exactly ``size`` rows (one compiled shape). Callers weight the repeats by 0.

    Example
    -------
    >>> row_block({"y": np.arange(3.0)}, 3, 2, 3)["y"].tolist()
    [2.0, 2.0, 2.0]
    """
    if start + size <= nrows:
        return map_row_leaves(lambda a: a[start:start + size], data, nrows)
    index = np.minimum(np.arange(start, start + size), nrows - 1)
    return map_row_leaves(lambda a: a[index], data, nrows)


def leading_length(data: Any) -> int | None:
    """The common leading dimension of the data arrays with ``ndim >= 1``, if there is one.

    Example
    -------
    >>> leading_length({"y": np.zeros(5), "X": np.zeros((5, 2)), "c": np.float64(1.0)})
    5
    >>> leading_length({"y": np.zeros(5), "X": np.zeros((4, 2))}) is None
    True
    """
    lengths = {np.shape(leaf)[0] for leaf in jax.tree_util.tree_leaves(data) if np.ndim(leaf) >= 1}
    return lengths.pop() if len(lengths) == 1 else None
