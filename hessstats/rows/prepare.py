"""Validate and convert user data once: float64 device arrays, never a view of the caller's data.

Integer and boolean data become float64 unless marked with :func:`index_array`; pandas objects are
aligned by row label (:func:`prepare_rows`)."""

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
    second scan, so each array is checked once. The mark cannot go stale: :func:`finite_array`
    makes the view read-only, and arithmetic on it returns plain arrays (which are scanned), so
    ``X * np.inf`` or ``X[0] = np.nan`` never reach a model unchecked.

    Example
    -------
    >>> checked = finite_array(np.array([1.0, 2.0]))
    >>> isinstance(checked, FiniteArray), checked.tolist(), type(checked * np.inf).__name__
    (True, [1.0, 2.0], 'ndarray')
    """

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        plain = tuple(x.view(np.ndarray) if isinstance(x, FiniteArray) else x for x in inputs)
        if out is not None:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, FiniteArray) else o for o in out)
        return getattr(ufunc, method)(*plain, **kwargs)


def finite_array(arr: np.ndarray) -> FiniteArray:
    """A read-only :class:`FiniteArray` view of ``arr``, which the caller has checked to be finite.

    Example
    -------
    >>> x = finite_array(np.zeros(2))
    >>> x.flags.writeable
    False
    """
    view = np.asarray(arr).view(FiniteArray)
    view.flags.writeable = False
    return view


class OwnedArray(FiniteArray):
    """A finite float64 array that hessstats itself copied from the user's data (the built-in
    constructors' design matrices, :func:`owned_copy`): private, read-only and aligned, so
    :func:`prepare_data` adopts it as the model's one copy instead of copying it again.

    Example
    -------
    >>> x = owned_copy(np.array([[1.0, 2.0]]))
    >>> isinstance(x, OwnedArray), x.flags.writeable
    (True, False)
    """


def owned_copy(arr: Any) -> OwnedArray:
    """A private, aligned, read-only float64 copy of ``arr`` (see :class:`OwnedArray`); the caller
    checks it is finite.

    Example
    -------
    >>> x = np.ones(3)
    >>> c = owned_copy(x)
    >>> np.shares_memory(c, x), c.dtype.name
    (False, 'float64')
    """
    view = _host_copy(np.asarray(arr, dtype=np.float64)).view(OwnedArray)
    view.flags.writeable = False
    return view


def _adoptable(leaf: Any) -> bool:
    """An :class:`OwnedArray` that device_put can adopt as it is (aligned, C-contiguous, float64)."""
    return isinstance(leaf, OwnedArray) and leaf.dtype == np.float64 and leaf.flags.c_contiguous \
        and leaf.ctypes.data % HOST_ALIGNMENT == 0


class IndexArray(np.ndarray):
    """An integer or boolean data array that stays integer inside the log-likelihood (to index
    parameter vectors: group codes, category numbers, masks). Make one with :func:`index_array`;
    every other numeric data array becomes float64.

    Example
    -------
    >>> codes = index_array([0, 2, 1])
    >>> isinstance(codes, IndexArray), codes.dtype.kind
    (True, 'i')
    """


def index_array(values: Any) -> IndexArray:
    """Mark integer (or boolean) data to keep its dtype inside the log-likelihood, for indexing.

    hessstats converts numeric data to float64 (integer arithmetic such as ``x ** 2`` of an int32
    column overflows silently); an array used as an index, e.g. ``p["alpha"][d["g"]]``, must stay
    integer: pass ``{"g": hs.index_array(codes)}``. A copy is made; non-integer values are a
    :class:`DataError`.

    Example
    -------
    >>> from hessstats._config import x64
    >>> with x64():
    ...     d = prepare_data({"g": index_array([0, 1, 1]), "x": [1, 2, 3]})
    >>> str(d["g"].dtype), str(d["x"].dtype)
    ('int64', 'float64')
    """
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    try:
        arr = np.array(values, copy=True)
    except (TypeError, ValueError) as exc:
        raise DataError(message("index_array needs integer values", expected="an array of integers or booleans",
                                got=f"{type(values).__name__}: {exc}"[:200], fix="pass integer codes")) from None
    if arr.dtype.kind not in "biu":
        raise DataError(message(
            "index_array needs integer values", expected="an array of integers or booleans (codes, indices, masks)",
            got=f"dtype {arr.dtype}, e.g. {arr.ravel()[:3].tolist()}",
            fix="convert the codes first, e.g. np.asarray(x, dtype=np.int64), or pd.factorize(labels)[0]"))
    return arr.view(IndexArray)


def prepare_rows(data: Any) -> tuple[Any, pd.Index | None]:
    """:func:`prepare_data` after aligning the pandas objects in ``data`` by row label:
    ``(prepared data, row labels or None)``.

    A DataFrame's columns share its index. In a dict (or list/tuple) of arrays, pandas objects of
    the same length are aligned to the first one (in the order written) by label: the same labels
    in another order are reordered, different labels are a :class:`DataError` naming the
    difference. numpy arrays have no labels: they are taken to follow the first pandas object's
    order, so mixing them with pandas objects that needed reordering is a :class:`DataError`
    (ambiguous). The labels returned are those of the longest pandas objects.

    Example
    -------
    >>> from hessstats._config import x64
    >>> y = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    >>> x = pd.Series([30.0, 10.0, 20.0], index=["c", "a", "b"])
    >>> with x64():
    ...     d, labels = prepare_rows({"y": y, "x": x})
    >>> d["x"].tolist(), list(labels)
    ([10.0, 20.0, 30.0], ['a', 'b', 'c'])
    """
    if data is None:
        return None, None
    if isinstance(data, pd.DataFrame):
        return prepare_data(data), data.index
    data, labels = _align(data)
    return prepare_data(data), labels


def _written_leaves(data: Any, name: str = "data") -> list[tuple[str, Any]]:
    """Leaves of dicts/lists/tuples in the order the user wrote them (dicts in insertion order)."""
    if isinstance(data, dict):
        return [item for key, value in data.items() for item in _written_leaves(value, f"{name}[{key!r}]")]
    if isinstance(data, (list, tuple)) and not _is_array_like(data):
        return [item for i, value in enumerate(data) for item in _written_leaves(value, f"{name}[{i}]")]
    return [(name, data)]


def _align(data: Any) -> tuple[Any, pd.Index | None]:
    leaves = _written_leaves(data)
    frames = [(name, leaf) for name, leaf in leaves if isinstance(leaf, (pd.Series, pd.DataFrame))]
    if not frames:
        return data, None
    replace: dict[int, Any] = {}
    reordered: dict[int, list[str]] = {}
    references: dict[int, tuple[str, pd.Index]] = {}
    for name, obj in frames:
        n = len(obj)
        if n not in references:
            references[n] = (name, obj.index)
            continue
        ref_name, ref = references[n]
        if obj.index.equals(ref):
            continue
        if obj.index.is_unique and ref.is_unique and obj.index.difference(ref).empty and ref.difference(obj.index).empty:
            replace[id(obj)] = obj.loc[ref]
            reordered.setdefault(n, []).append(name)
            continue
        missing, extra = ref.difference(obj.index), obj.index.difference(ref)
        raise DataError(message(
            f"{name} and {ref_name} have different row labels",
            expected="pandas objects with the same row labels (they are aligned by label)",
            got=f"{name} lacks labels {list(missing[:5])}{' ...' if len(missing) > 5 else ''} and has labels "
                f"{list(extra[:5])}{' ...' if len(extra) > 5 else ''} that {ref_name} does not"
                + ("" if len(missing) or len(extra) else " (duplicated labels in a different order)"),
            fix="select the same rows for both (e.g. s.loc[df.index]) or pass numpy arrays in one row order"))
    for n, names in reordered.items():
        positional = [name for name, leaf in leaves if not isinstance(leaf, (pd.Series, pd.DataFrame))
                      and np.ndim(leaf) >= 1 and np.shape(leaf)[0] == n]
        if positional:
            raise DataError(message(
                "data mixes pandas objects in different row orders with arrays that have no row labels",
                expected="row data either all pandas (aligned by label) or all in one row order",
                got=f"{names} reordered to the labels of {references[n][0]}, while {positional[:5]} are positional",
                fix="pass every row array as pandas with the same labels, or align first and pass .to_numpy() arrays"))
    if replace:
        data = jax.tree_util.tree_map(lambda leaf: replace.get(id(leaf), leaf), data,
                                      is_leaf=lambda x: isinstance(x, (pd.Series, pd.DataFrame)))
    longest = max(references)
    return data, references[longest][1]


def align_to_rows(value: Any, labels: Any, n: int | None, what: str) -> Any:
    """A per-row pandas argument in the data's row order.

    When the data had row ``labels`` (pandas data), a pandas argument of the same length is aligned
    by label: the same labels in another order are reordered, other labels are a
    :class:`DataError` naming them. Data without labels (numpy arrays) have no order but their
    positions, so the argument is taken by position. Non-pandas values, and pandas objects of
    another length (reported by the shape checks that follow), are returned unchanged.

    Example
    -------
    >>> labels = pd.Index(["a", "b", "c"])
    >>> align_to_rows(pd.Series([3, 1, 2], index=["c", "a", "b"]), labels, 3, "groups").tolist()
    [1, 2, 3]
    """
    if not isinstance(value, (pd.Series, pd.DataFrame)) or labels is None or n is None or len(labels) != n:
        return value
    index = value.index
    if len(index) != n or index.equals(labels):
        return value
    if index.is_unique and labels.is_unique and index.difference(labels).empty and labels.difference(index).empty:
        return value.loc[labels]
    missing, extra = labels.difference(index), index.difference(labels)
    raise DataError(message(
        f"{what} has row labels that differ from the data's",
        expected=f"a pandas object with the data's {len(labels)} row labels (aligned by label)",
        got=f"labels missing from {what}: {list(missing[:5])}{' ...' if len(missing) > 5 else ''}; labels not in the "
            f"data: {list(extra[:5])}{' ...' if len(extra) > 5 else ''}"
            + ("" if len(missing) or len(extra) else " (duplicated labels in another order)"),
        fix=f"select {what} for the data's rows, e.g. {what}.loc[df.index], or pass numpy values in data row order"))


def prepare_data(data: Any) -> Any:
    """Check ``data`` and return a copy as a pytree of JAX arrays (numbers as float64).

    A DataFrame becomes a dict of its columns. Every numeric leaf (float, int, uint, bool) becomes
    float64 and must be finite; a leaf wrapped with :func:`index_array` keeps its integer dtype
    (to index); anything else (strings, objects, dates, complex numbers, JAX PRNG keys) is a
    :class:`DataError`. Must be called under ``x64()``.

    Example
    -------
    >>> from hessstats._config import x64
    >>> with x64():
    ...     d = prepare_data({"y": [1, 0], "x": [0.5, 1.5], "g": index_array([0, 1])})
    >>> str(d["x"].dtype), str(d["y"].dtype), str(d["g"].dtype)
    ('float64', 'float64', 'int64')
    """
    if data is None:
        return None
    if isinstance(data, pd.DataFrame):
        data = {str(c): data[c] for c in data.columns}
    leaves, treedef = jax.tree_util.tree_flatten_with_path(data, is_leaf=_is_array_like)
    # host copies placed with one batched device_put: jnp.array/asarray compile a conversion kernel per new shape
    # (an OwnedArray, hessstats' own private copy, is adopted as it is: one copy of the data in all)
    return jax.tree_util.tree_unflatten(treedef, adopt([
        leaf.view(np.ndarray) if _adoptable(leaf) else _host_copy(host_leaf(path, leaf)) for path, leaf in leaves]))


def adopt(arrays: list[np.ndarray]) -> list[Any]:
    """JAX arrays of hessstats' own private host ``arrays`` (copies nothing else refers to), in one
    batched ``device_put`` that may alias them (``may_alias=True``: the CPU backend adopts an aligned
    buffer instead of copying it; the call also takes about two thirds of the time of a plain one).

    Example
    -------
    >>> from hessstats._config import x64
    >>> with x64():
    ...     a, b = adopt([np.arange(3.0), np.ones(2)])
    >>> a.tolist(), str(b.dtype)
    ([0.0, 1.0, 2.0], 'float64')
    """
    try:
        return jax.device_put(arrays, may_alias=True)
    except TypeError:  # a JAX without may_alias (before 0.5): a plain device_put
        return jax.device_put(arrays)


HOST_ALIGNMENT = 64
"""Byte alignment of the model's private host copies: JAX's CPU ``device_put`` adopts such a buffer
without copying it (an unaligned one is copied again: two copies of the data at the peak)."""


def _host_copy(arr: np.ndarray) -> np.ndarray:
    """A private, aligned copy (float64, or the integer codes of an :class:`IndexArray`): the one copy
    of the user's data the model keeps (device_put adopts it on the CPU; nothing else refers to it).

    Example
    -------
    >>> x = np.array([1, 2, 3])
    >>> c = _host_copy(x)
    >>> c.dtype.name, c.ctypes.data % HOST_ALIGNMENT, np.shares_memory(c, x)
    ('float64', 0, False)
    """
    src = np.asarray(arr)
    dtype = src.dtype if isinstance(arr, IndexArray) else np.dtype(np.float64)
    size = int(np.prod(src.shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + HOST_ALIGNMENT, dtype=np.uint8)
    offset = (-raw.ctypes.data) % HOST_ALIGNMENT
    out = raw[offset:offset + size].view(dtype).reshape(src.shape)
    out[...] = src
    return out



def _is_array_like(x: Any) -> bool:
    """A Series, or a list/tuple of scalars, is one data array (not a pytree of scalars)."""
    if isinstance(x, pd.Series):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(np.ndim(v) == 0 and not isinstance(v, (dict, list, tuple)) for v in x)


KIND_NAMES = {"M": "dates/times", "m": "time differences", "U": "strings", "S": "bytes", "O": "Python objects",
              "c": "complex numbers", "V": "structured records"}


def host_leaf(path: tuple, leaf: Any) -> np.ndarray:
    """One data leaf as a checked numpy array: float64 (finite), or an :class:`IndexArray`.

    Example
    -------
    >>> host_leaf((), np.array([1, 2], dtype=np.int32)).dtype.name
    'float64'
    """
    name = "data" + jax.tree_util.keystr(path)
    if isinstance(leaf, IndexArray):
        return leaf
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
        leaf = leaf.to_numpy(dtype=np.float64) if pd.api.types.is_numeric_dtype(leaf.dtype) else leaf.to_numpy()
    dtype = getattr(leaf, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        raise DataError(message(
            f"{name} is a JAX random key, not data",
            expected="numeric arrays (the log-likelihood must be a deterministic function of params and data)",
            got=f"a key array of dtype {dtype}",
            fix="draw the random numbers outside and pass them as arrays; to pass the key itself, pass "
                "hs.index_array(jax.random.key_data(key)) and rebuild it with jax.random.wrap_key_data"))
    if isinstance(leaf, jax.Array) and leaf.dtype == jnp.float32:
        _warn_float32(name)
    try:
        arr = np.asarray(leaf)  # a read-only look; the one copy is made on the device
    except (TypeError, ValueError) as exc:
        raise DataError(message(
            f"{name} is not an array of numbers", expected="numbers (float, int or bool) of one shape",
            got=f"{type(leaf).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300],
            fix="pass a numeric numpy array (lists of equal length, no missing entries)")) from None
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        kind = KIND_NAMES.get(arr.dtype.kind, str(arr.dtype))
        raise DataError(message(
            f"{name} is not numeric",
            expected="numbers (float, int or bool)", got=f"{kind} (dtype {arr.dtype}), e.g. {arr.ravel()[:3].tolist()}"[:300],
            fix="convert it with np.asarray(x, dtype=float) or encode categories as numbers"
                + ("; dates as numbers, e.g. days since a reference date" if arr.dtype.kind in "Mm" else "")))
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
    return arr


def _warn_float32(name: str) -> None:
    warn(
        f"{name} is float32: hessstats computes in float64, but these values carry only float32 "
        "precision (about 7 digits). Create them as float64 (numpy does by default; for JAX arrays "
        "use `with jax.enable_x64(True):`).", PrecisionWarning)
