"""Validate and convert user data once: float64 device arrays, never a view of the caller's data."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from hessstats.errors import DataError, PrecisionWarning, message, warn


class FiniteArray(np.ndarray):
    """A float64 numpy array its producer has already checked to be finite (the built-in model
    constructors, which name the offending columns); :func:`prepare_data` converts it without a
    second scan, so each array is checked once.

    Example
    -------
    >>> checked = np.array([1.0, 2.0]).view(FiniteArray)
    >>> isinstance(checked, np.ndarray), checked.tolist()
    (True, [1.0, 2.0])
    """


def prepare_data(data: Any) -> Any:
    """Check ``data`` and return a copy as a pytree of JAX arrays (floats as float64).

    A DataFrame becomes a dict of its columns. Floating leaves must be finite; integer and boolean
    leaves keep their kind (so they can index); anything else (strings, objects) is an error.
    Must be called under ``x64()``.

    Example
    -------
    >>> from hessstats._config import x64
    >>> with x64():
    ...     d = prepare_data({"y": [1, 0], "x": [0.5, 1.5]})
    >>> str(d["x"].dtype), str(d["y"].dtype)
    ('float64', 'int64')
    """
    if data is None:
        return None
    if isinstance(data, pd.DataFrame):
        data = {str(c): data[c] for c in data.columns}
    leaves, treedef = jax.tree_util.tree_flatten_with_path(data, is_leaf=_is_array_like)
    return jax.tree_util.tree_unflatten(treedef, [_leaf(path, leaf) for path, leaf in leaves])


def _is_array_like(x: Any) -> bool:
    """A Series, or a list/tuple of scalars, is one data array (not a pytree of scalars)."""
    if isinstance(x, pd.Series):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(np.ndim(v) == 0 and not isinstance(v, (dict, list, tuple)) for v in x)


def _leaf(path: tuple, leaf: Any) -> jax.Array:
    name = "data" + jax.tree_util.keystr(path)
    if isinstance(leaf, pd.Series):
        if isinstance(leaf.dtype, pd.CategoricalDtype) or leaf.dtype == object or pd.api.types.is_string_dtype(leaf.dtype):
            raise DataError(message(
                f"{name} is not numeric",
                expected="numbers (float, int or bool)", got=f"dtype {leaf.dtype}, e.g. {leaf.iloc[:3].tolist()}",
                fix="encode it as numbers (e.g. dummy columns), or use a formula interface that does"))
        n_missing = int(leaf.isna().sum())
        if n_missing:
            raise DataError(message(
                f"{name} has missing values",
                expected="no missing values", got=f"{n_missing} missing of {len(leaf)}",
                fix="drop or impute the rows before fitting (e.g. df.dropna())"))
        leaf = leaf.to_numpy()
    if isinstance(leaf, jax.Array) and leaf.dtype == jnp.float32:
        _warn_float32(name)
    arr = np.asarray(leaf)  # a read-only look; the one copy is made by jnp.array below
    if arr.dtype.kind in "biu":
        return jnp.array(arr)
    if arr.dtype.kind != "f":
        raise DataError(message(
            f"{name} is not numeric",
            expected="numbers (float, int or bool)", got=f"dtype {arr.dtype}, e.g. {arr.ravel()[:3].tolist()}",
            fix="convert it with np.asarray(x, dtype=float) or encode categories as numbers"))
    if arr.dtype == np.float32:
        _warn_float32(name)
    if not isinstance(leaf, FiniteArray) and not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        where = (np.flatnonzero(bad) if arr.ndim == 1 else np.argwhere(bad))[:5].tolist()
        raise DataError(message(
            f"{name} has non-finite values",
            expected="finite numbers",
            got=f"{int(np.isnan(arr).sum())} NaN and {int(np.isinf(arr).sum())} inf of {arr.size}; first at index {where}",
            fix="drop or impute those rows before fitting"))
    return jnp.array(arr, dtype=jnp.float64, copy=True)


def _warn_float32(name: str) -> None:
    warn(
        f"{name} is float32: hessstats computes in float64, but these values carry only float32 "
        "precision (about 7 digits). Create them as float64 (numpy does by default; for JAX arrays "
        "use `with jax.enable_x64(True):`).", PrecisionWarning)
