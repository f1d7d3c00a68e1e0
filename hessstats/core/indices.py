"""Integer data used as indices, checked against the axes they index.

JAX does not check indices. In ``p["a"][d["g"]]`` a code past the end is clamped to the last entry,
a negative code counts from the end (pandas' category codes and ``pd.factorize`` mark a missing
value with -1), and ``jnp.zeros(G).at[d["g"]].add(v)`` drops the rows whose code is out of range.
A model whose codes do that fits, silently, a different model. :func:`check_indices` finds in a
traced log-likelihood every gather and scatter whose indices are computed from the data alone (not
from the parameters), computes those indices from the data, and raises a :class:`DataError` naming
the data when one falls outside ``0 .. n - 1`` *before* JAX's normalisation of negative indices.
Gathers that say what an out-of-range code reads (``mode="clip"``, ``mode="fill"``: e.g. codes
masked later, ``jnp.where(g >= 0, a.at[g].get(mode="fill", fill_value=0.0), 0.0)``; ``jnp.take``'s
default fills NaN, which no fit accepts) and scatters asked to clamp are left alone. A scatter's
default drops out-of-range rows without a word, so scatters are checked in every other mode.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import numpy as np
from jax.lax import GatherScatterMode

from hessstats._config import x64
from hessstats.core import interpret
from hessstats.core.compilation import is_trusted
from hessstats.errors import DataError, message
from hessstats.rows.source import RowSource
from hessstats.rows.weights import weighted_blocks

_SCATTERS = frozenset({"scatter", "scatter-add", "scatter-sub", "scatter-mul", "scatter-min", "scatter-max"})


def _indexing(eqn: Any) -> tuple[int, ...] | None:
    """The operand axes an equation indexes with its second operand (None: not a checked gather or
    scatter)."""
    name = eqn.primitive.name
    if name != "gather" and name not in _SCATTERS:
        return None
    mode = eqn.params.get("mode")
    if mode is GatherScatterMode.CLIP or (name == "gather" and mode is GatherScatterMode.FILL_OR_DROP):
        return None  # the program says what an out-of-range code reads
    dn = eqn.params["dimension_numbers"]
    axes = dn.start_index_map if name == "gather" else dn.scatter_dims_to_operand_dims
    return tuple(int(a) for a in axes)


def _has_indexing(jaxpr: Any) -> bool:
    for eqn in jaxpr.eqns:
        if _indexing(eqn) is not None:
            return True
        if eqn.primitive.name in interpret.CALL_PRIMITIVES and _has_indexing(interpret.called_program(eqn)[0]):
            return True
    return False


class _Flat:
    """A jaxpr with its calls inlined: equations on integer value keys (a call's inner variables
    take the keys of the values passed in, so a value keeps its key across calls)."""

    def __init__(self, closed: Any):
        jaxpr, consts = interpret.program_and_consts(closed)
        self.values: dict[int, Any] = {}
        self.records: list[tuple[Any, list[int], list[int]]] = []
        self._next = 0
        self.inputs = [self._key() for _ in jaxpr.invars]
        self._inline(jaxpr, consts, self.inputs)

    def _key(self, value: Any = None) -> int:
        self._next += 1
        if value is not None:
            self.values[self._next] = value
        return self._next

    def _inline(self, jaxpr: Any, consts: Sequence, inputs: Sequence[int]) -> list[int]:
        env: dict[Any, int] = dict(zip(jaxpr.invars, inputs))
        env.update((v, self._key(np.asarray(c))) for v, c in zip(jaxpr.constvars, consts))

        def key(atom: Any) -> int:
            if interpret.is_literal(atom):
                return self._key(np.asarray(atom.val, dtype=atom.aval.dtype))
            return env[atom]

        for eqn in jaxpr.eqns:
            ins = [key(v) for v in eqn.invars]
            if eqn.primitive.name in interpret.CALL_PRIMITIVES:
                inner, inner_consts = interpret.called_program(eqn)
                env.update(zip(eqn.outvars, self._inline(inner, inner_consts, ins)))
                continue
            outs = [self._key() for _ in eqn.outvars]
            env.update(zip(eqn.outvars, outs))
            self.records.append((eqn, ins, outs))
        return [key(v) for v in jaxpr.outvars]


def check_indices(closed: Any, data: Any) -> None:
    """Raise :class:`DataError` when integer data indexes past an axis of the traced program.

    ``closed`` is the (closed) jaxpr of a log-likelihood whose last inputs are the leaves of
    ``data`` (the others, the parameters, are unknown here). Indices computed from
    parameters, gathers with ``mode="clip"`` or ``mode="fill"`` and scatters with ``mode="clip"`` (the
    program says what an out-of-range code does), are not checked; nor are
    those inside loops.

    Example
    -------
    >>> import jax, jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> g = np.array([0, 1, 3])
    >>> with x64():
    ...     closed = jax.make_jaxpr(lambda a, g: a[g])(jnp.zeros(3), g)
    >>> try:
    ...     check_indices(closed, {"g": g})
    ... except DataError as e:
    ...     print(str(e).splitlines()[0])
    integer data used as an index is out of range
    >>> check_indices(closed, {"g": np.array([0, 2, 1])})  # in range: no error
    """
    jaxpr, _ = interpret.program_and_consts(closed)
    if not _has_indexing(jaxpr):
        return
    try:
        _check_program(closed, data)
    except DataError:
        raise
    except Exception:  # noqa: BLE001  (a program this check cannot read is left unchecked, never refused)
        return


def _check_program(closed: Any, data: Any) -> None:
    paths, _ = jax.tree_util.tree_flatten_with_path(data)
    prepared = _prepare(closed, [_name(path) for path, _ in paths])
    if prepared is not None:
        prepared.run([leaf for _, leaf in paths])


@dataclass(frozen=True)
class _Prepared:
    """The part of a program that computes indices from the data, ready to run on data leaves."""

    records: list
    """The equations the indices need, in order."""
    values: dict[int, Any]
    """Constants and literals by value key."""
    inputs: list[int | None]
    """Per data leaf, its value key where the indices need it."""
    sources: dict[int, frozenset[str]]
    """The data leaves each value derives from."""
    targets: list[tuple[Any, int, tuple[int, ...]]]
    """``(gather or scatter, key of its indices, the operand axes they index)``."""

    def run(self, leaves: Sequence[Any], where: str = "") -> None:
        """Compute the indices from the data ``leaves`` and check them (:class:`DataError`)."""
        values = dict(self.values)
        for k, leaf in zip(self.inputs, leaves):
            if k is not None:
                values[k] = np.asarray(leaf)
        _evaluate(self.records, values, self.sources)
        for eqn, key, axes in self.targets:
            if values.get(key) is not None:
                _check(values[key], [eqn.invars[0].aval.shape[a] for a in axes], sorted(self.sources[key]), where)


def _prepare(closed: Any, data_names: Sequence[str]) -> _Prepared | None:
    """The equations of ``closed`` that compute its data-derived indices (None: there are none)."""
    flat = _Flat(closed)
    first_data = len(flat.inputs) - len(data_names)
    sources: dict[int, frozenset[str]] = {k: frozenset({n}) for k, n in zip(flat.inputs[first_data:], data_names)}
    by_parameters = set(flat.inputs[:first_data])
    for _, ins, outs in flat.records:
        if any(k in by_parameters for k in ins):
            by_parameters.update(outs)
        else:
            found = frozenset().union(*(sources.get(k, frozenset()) for k in ins))
            if found:
                sources.update((k, found) for k in outs)
    targets = [(eqn, ins[1], axes) for eqn, ins, _ in flat.records
               if (axes := _indexing(eqn)) is not None and ins[1] in sources and ins[1] not in by_parameters]
    if not targets:
        return None
    needed = {key for _, key, _ in targets}
    kept = []
    for record in reversed(flat.records):
        if any(k in needed for k in record[2]):
            kept.append(record)
            needed.update(record[1])
    inputs = [k if k in needed else None for k in flat.inputs[first_data:]]
    return _Prepared(kept[::-1], flat.values, inputs, sources, targets)


class BlockCodes:
    """The index check of :func:`check_indices` for every row block a row source delivers.

    A model on a row source (Parquet, Dask) is built and checked on the source's first rows; the
    other rows arrive block by block while it fits. Called on each block's data, this checks the
    integer codes in it against the axes they index (the model's program traced once per block
    shape), so that a code out of range in row 300 of a file is refused as in memory. A program
    this check cannot read is left unchecked, as at construction.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from hessstats.core.compilation import Program
    >>> from hessstats._config import x64
    >>> ll = lambda theta, d: -(d["y"] - theta[d["g"].astype(jnp.int32)]) ** 2
    >>> with x64():
    ...     program, consts, _ = Program.trace(ll, jnp.zeros(2), {"y": jnp.zeros(3), "g": jnp.zeros(3)})
    >>> check = BlockCodes(program, consts, 2)
    >>> check({"y": np.zeros(4), "g": np.array([0.0, 1.0, 1.0, 0.0])})   # codes in range: no error
    >>> try:
    ...     check({"y": np.zeros(4), "g": np.array([0.0, 1.0, 5.0, 0.0])})
    ... except DataError as e:
    ...     print(str(e).splitlines()[0])
    integer data used as an index is out of range
    """

    def __init__(self, program: Any, consts: tuple, k: int):
        self.program, self.consts, self.k = program, consts, int(k)
        self._prepared: dict[Any, _Prepared | None] = {}

    def __getstate__(self) -> dict:  # sent to a cluster's workers without the traced checks
        return {"program": self.program, "consts": self.consts, "k": self.k, "_prepared": {}}

    def __call__(self, data: Any) -> None:
        paths, tree = jax.tree_util.tree_flatten_with_path(data)
        leaves = [np.asarray(leaf) for _, leaf in paths]
        key = (tree, tuple((a.shape, a.dtype.str) for a in leaves))
        if key not in self._prepared:
            self._prepared[key] = self._trace(data, [_name(path) for path, _ in paths])
        prepared = self._prepared[key]
        if prepared is None:
            return
        try:
            prepared.run(leaves, where=f" of a block of {_rows(leaves)} rows read from the row source "
                                       "(rows counted within the block)")
        except DataError:
            raise
        except Exception:  # noqa: BLE001  (as check_indices: unreadable means unchecked, never refused)
            return

    def _trace(self, data: Any, names: list[str]) -> _Prepared | None:
        try:
            with x64():
                closed = jax.make_jaxpr(lambda theta, d: self.program(self.consts, theta, d))(
                    jax.ShapeDtypeStruct((self.k,), np.float64), data)
            if not _has_indexing(interpret.program_and_consts(closed)[0]):
                return None
            return _prepare(closed, names)
        except Exception:  # noqa: BLE001
            return None


_BLOCK_CODES: weakref.WeakKeyDictionary[Any, BlockCodes | None] = weakref.WeakKeyDictionary()


def with_block_codes(model: Any, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``fn(data, weights)`` for the row blocks of ``model``'s source, each block's codes checked
    first (:class:`BlockCodes`) when the model reads a row source with a log-likelihood of the user's
    that indexes with its data; ``fn`` itself otherwise (in-memory data were checked whole when the
    model was built; the built-ins make their own codes).

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(3.0))
    >>> fn = lambda data, weights: 1.0
    >>> with_block_codes(m, fn) is fn
    True
    """
    try:
        check = _BLOCK_CODES[model]
    except KeyError:
        check = None
        program = getattr(model, "program", None)
        if isinstance(getattr(model, "data", None), RowSource) and program is not None \
                and not is_trusted(model.loglike) and _has_indexing(program.jaxpr):
            check = BlockCodes(program, model.consts, model.k_params)
        _BLOCK_CODES[model] = check
    return fn if check is None else partial(_checked_block, check, fn)


def source_blocks(model: Any, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``fn(data, weights)`` as every pass over ``model``'s row blocks calls it (evaluations, rows,
    score squares, Hessian-vector products): the case weights folded in
    (:func:`~hessstats.rows.weights.weighted_blocks`), then each block's codes checked
    (:func:`with_block_codes`).

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(3.0))
    >>> source_blocks(m, lambda data, weights: float(np.sum(data)))(np.arange(3.0), None)
    3.0
    """
    return with_block_codes(model, weighted_blocks(model, fn))


def _checked_block(check: BlockCodes, fn: Callable[[Any, Any], Any], data: Any, weights: Any) -> Any:
    check(data)
    return fn(data, weights)


def _rows(leaves: Sequence[np.ndarray]) -> int:
    return max((a.shape[0] for a in leaves if a.ndim >= 1), default=1)


def _name(path: Sequence[Any]) -> str:
    """A data leaf's name as the user wrote it: ``g``, ``X[0]``, or ``data`` for a bare array."""
    parts = [str(getattr(p, "key", getattr(p, "idx", getattr(p, "name", p)))) for p in path]
    return ".".join(parts) if parts else "data"


def _evaluate(records: Sequence[tuple[Any, list[int], list[int]]], values: dict[int, Any],
              sources: dict[int, frozenset[str]]) -> None:
    """Compute the records' outputs (numpy, else JAX's own rule); an output that cannot be computed
    stays unknown. JAX's normalisation of negative indices (``where(g < 0, g + n, g)``) is read as
    ``g`` itself, so that a negative code is reported rather than counted from the end."""
    negative_test: dict[int, int] = {}
    shifted: dict[int, int] = {}
    for eqn, ins, outs in records:
        if any(values.get(k) is None for k in ins):
            continue
        args = [values[k] for k in ins]
        name = eqn.primitive.name
        integer = all(np.asarray(a).dtype.kind in "iu" for a in args)
        if name == "lt" and integer and np.ndim(args[1]) == 0 and args[1] == 0:
            negative_test[outs[0]] = ins[0]
        elif name == "add" and integer and np.ndim(args[1]) == 0:
            shifted[outs[0]] = ins[0]
        if name == "select_n" and len(ins) == 3 and negative_test.get(ins[0]) == ins[1] == shifted.get(ins[2]):
            values[outs[0]] = args[1]
            continue
        if name == "convert_element_type" and integer and sources.get(outs[0]):
            _check_narrowing(args[0], np.dtype(eqn.params["new_dtype"]), sorted(sources[outs[0]]))
        try:
            result = _run(eqn, args)
        except Exception:  # noqa: BLE001  (a value this check cannot compute: its indices go unchecked)
            continue
        values.update(zip(outs, result))


def _run(eqn: Any, args: Sequence[Any]) -> list[Any]:
    try:
        fn = interpret.numpy_function(eqn)
    except NotImplementedError:
        out = eqn.primitive.bind(*[jax.numpy.asarray(a) for a in args], **eqn.params)
        return [np.asarray(o) for o in out] if eqn.primitive.multiple_results else [np.asarray(out)]
    with np.errstate(all="ignore"):
        out = fn(*args)
    return [np.asarray(o) for o in out] if eqn.primitive.multiple_results else [np.asarray(out)]


def _codes_error(names: Sequence[str], sizes: Sequence[int], got: str) -> DataError:
    what = " and ".join(repr(n) for n in names) or "the data"
    span = " x ".join(f"0..{n - 1}" for n in sizes)
    return DataError(message(
        "integer data used as an index is out of range",
        expected=f"codes {span}: the {'axis it indexes has' if len(sizes) == 1 else 'axes it indexes have'} "
                 f"{' x '.join(str(n) for n in sizes)} entries (JAX does not "
                 "check indices: it would use the last entry for a larger code, count a negative code from the "
                 "end, and drop the row from a scatter sum)",
        got=f"data {what}: {got}",
        fix=f"recode {what} to {span} and drop the rows without a valid code (pandas' category codes and "
            "pd.factorize give -1 for a missing value), or give the indexed parameter one entry per code; "
            "if such codes are meant (masked later), say what they read: a.at[g].get(mode='fill', "
            "fill_value=0.0) or jnp.take(a, g, mode='clip')"))


def _check(index: np.ndarray, sizes: Sequence[int], names: Sequence[str], where: str = "") -> None:
    index = np.asarray(index)
    if index.ndim == 0 or index.shape[-1] != len(sizes) or index.size == 0:
        return
    columns = index.reshape(-1, len(sizes))
    bad = np.zeros(len(columns), dtype=bool)
    for m, n in enumerate(sizes):
        bad |= (columns[:, m] < 0) | (columns[:, m] >= n)
    if not bad.any():
        return
    rows = np.unique(np.nonzero(bad.reshape(index.shape[:-1]))[0]) if index.ndim > 1 else np.array([0])
    wrong = columns[bad]
    raise _codes_error(names, sizes, f"{int(bad.sum())} value(s) out of range (from {int(wrong.min())} to "
                                     f"{int(wrong.max())}), at rows {rows[:5].tolist()}"
                                     f"{' ...' if len(rows) > 5 else ''}{where}")


def _check_narrowing(values: Any, target: np.dtype, names: Sequence[str]) -> None:
    """Integer codes cast to a narrower integer type (JAX indexes with int32) must keep their values."""
    values = np.asarray(values)
    if target.kind not in "iu" or values.dtype.itemsize <= target.itemsize or values.size == 0:
        return
    info = np.iinfo(target)
    if values.min() < info.min or values.max() > info.max:
        raise DataError(message(
            "integer data used as an index does not fit the index type",
            expected=f"codes between {info.min} and {info.max} ({target})",
            got=f"data {' and '.join(repr(n) for n in names)}: values from {int(values.min())} to {int(values.max())}",
            fix="recode to 0 .. number of levels - 1, e.g. with pd.factorize"))
