"""How a Model evaluates: in memory, sharded, in row blocks, or on a Dask cluster (one kernel for all).

Internal dispatch for :class:`hessstats.Model`. Every path calls :func:`_block_value_grad_hess` (or
:func:`_block_rows`), which runs the same jitted kernel, generic (:mod:`hessstats.core.derivatives`) or index
model (:mod:`hessstats.models.index`), on a data pytree with optional row weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hessstats._config import x64
from hessstats.core import derivatives
from hessstats.core.compilation import (
    Program,
    cached_program,
    call_kernel,
    const_avals,
    counted_for_model,
    first_trace,
    same_constants,
)
from hessstats.core.hvp import columns_in_blocks
from hessstats.core.indices import source_blocks
from hessstats.errors import DataError, SpecificationError, message
from hessstats.rows.leaves import has_row_leaves, is_row_leaf
from hessstats.rows.prepare import adopt, prepare_data, prepare_rows
from hessstats.rows.sharding import shard_rows
from hessstats.rows.source import ArraySource, RowSource, check_chunk_size
from hessstats.rows.weights import WeightType, memory_weights, model_source

AUTO_BLOCK_K = 512
"""Above this many parameters the generic Hessian is built in blocks of directions (JAX #787)."""
AUTO_BLOCK_SIZE = 128


def prepare(data: Any, chunk_size: Any) -> tuple[Any, Any, int | None, int | None, Any]:
    """``(data, sample for validation, chunk_size, nobs from the source, pandas row labels)``.

    Example
    -------
    >>> from hessstats._config import x64
    >>> with x64():
    ...     data, sample, size, nobs, labels = prepare({"y": [1.0, 2.0]}, None)
    >>> str(data["y"].dtype), size, nobs, labels
    ('float64', None, None, None)
    """
    if isinstance(data, RowSource):
        size = check_chunk_size(chunk_size if chunk_size is not None else data.default_chunk_size)
        return data, prepare_data(data.sample()), size, data.nobs, None
    size = None if chunk_size is None else check_chunk_size(chunk_size)
    data, labels = prepare_rows(data)
    return data, data, size, None, labels


def check(per_observation: bool, chunk_size: int | None, shard: Any, *, source: bool = False) -> None:
    """Row blocks and shards need a per-observation log-likelihood, and do not combine; a row
    source (Parquet, Dask) cannot be sharded.

    Example
    -------
    >>> check(True, 1000, False) is None
    True
    """
    if source and shard is not False and shard is not None:
        raise SpecificationError(message(
            "shard needs in-memory data with a row dimension", expected="arrays with n rows in memory",
            got=f"a row source with shard={shard!r}",
            fix="use shard with in-memory data; a row source is already evaluated in blocks (Dask: on its workers)"))
    if chunk_size is not None and shard is not False and shard is not None:
        raise SpecificationError(message(
            "chunk_size and shard cannot be combined", expected="one of chunk_size (bounded memory) "
            "or shard (several devices)", got=f"chunk_size={chunk_size}, shard={shard!r}",
            fix="shard the rows over devices, or process them in blocks, not both"))
    if (chunk_size is not None or shard is not False) and not per_observation:
        raise SpecificationError(message(
            "chunked or sharded fits need per-observation log-likelihood values",
            expected="loglike returning shape (n,)", got="a scalar log-likelihood",
            fix="return the per-observation terms (do not sum them)"))


def shard(data: Any, nobs: int | None, option: Any) -> tuple[Any, Any]:
    """Place the rows on the device mesh when asked (``shard=True``/int/Mesh).

    Example
    -------
    >>> data, weights = shard({"y": np.ones(3)}, 3, False)
    >>> weights is None
    True
    """
    if option is False or option is None:
        return data, None
    if isinstance(data, RowSource) or nobs is None:
        raise SpecificationError(message(
            "shard needs in-memory data with a row dimension", expected="arrays with n rows",
            got=type(data).__name__, fix="use shard with in-memory data, or a Dask source without shard"))
    return shard_rows(data, nobs, option)


def _block_value_grad_hess(theta: np.ndarray, data: Any, weights: Any, *, loglike: Any, spec: Any,
                          index: Any, consts: tuple = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The compiled ``(value, gradient, Hessian)`` of one block (or all rows), as numpy."""
    with x64():
        # host arrays go to the kernel as they are (jnp.asarray would dispatch a conversion per call)
        w = weights if weights is None or isinstance(weights, jax.Array) else jnp.asarray(weights)
        t = np.asarray(theta, dtype=np.float64)
        if index is not None:  # the log-likelihood assembles its own Hessian (index models)
            out = index.value_grad_hess(t, data, spec, weights=w)  # its kernels go through call_kernel
        elif len(theta) > AUTO_BLOCK_K:  # many parameters: directions in blocks, bounded memory
            value, grad = call_kernel("value_grad", derivatives.value_grad, t, data, loglike, spec, weights=w,
                                      consts=consts)
            out = value, grad, columns_in_blocks(theta, data, w, loglike, spec, AUTO_BLOCK_SIZE, consts=consts)
        else:
            out = call_kernel("value_grad_hess", derivatives.value_grad_hess, t, data, loglike, spec, weights=w,
                              consts=consts)
        return tuple(np.asarray(a, dtype=np.float64) for a in out)


def _block_rows(theta: np.ndarray, data: Any, weights: Any, *, loglike: Any, spec: Any, what: str,
                consts: tuple = (), weighted: bool = False) -> np.ndarray:
    """Per-observation values (``what="loglike_obs"``) or scores (``"scores"``) of one block;
    ``weighted``: multiplied by the row weights (a weighted model's contributions ``w_i l_i``, ``w_i s_i``)."""
    with x64():
        kernel = derivatives.loglike_obs if what == "loglike_obs" else derivatives.scores
        # scores of padding rows are dropped by the caller; unweighted models never multiply (values exact)
        w = (weights if isinstance(weights, jax.Array) else jnp.asarray(weights)) if weighted and weights is not None else None
        return np.asarray(call_kernel(what, kernel, np.asarray(theta, dtype=np.float64), data, loglike, spec, weights=w,
                                      consts=consts))


def _block_score_squares(theta: np.ndarray, data: Any, weights: Any, *, loglike: Any, spec: Any,
                         directions: np.ndarray, consts: tuple = ()) -> tuple[np.ndarray]:
    with x64():
        w = weights if weights is None or isinstance(weights, jax.Array) else jnp.asarray(weights)
        out = call_kernel("score_squares", derivatives.score_squares, np.asarray(theta, dtype=np.float64), data,
                          np.asarray(directions, dtype=np.float64), loglike, spec, weights=w, consts=consts)
    return (np.asarray(out, dtype=np.float64),)


_source = model_source


_row_weights = memory_weights


def _weighted(model) -> bool:
    return getattr(model, "weight_type", None) is not None


def _kernel_args(model) -> dict[str, Any]:
    """The static log-likelihood program and its captured constants (a model's own, always)."""
    program = getattr(model, "program", None)
    return {"loglike": program if program is not None else model.loglike, "spec": model.spec,
            "consts": getattr(model, "consts", ())}


def _memory(model) -> tuple[Any, Any]:
    """``(data, row weights)`` of an in-memory kernel call: the rows padded to their bucket (weight 0
    on the padding rows) when the model has a :class:`RowPadding`, else its own rows and weights."""
    padding = getattr(model, "padding", None)
    if padding is not None:
        return padding.data, padding.weights
    return model.data, _row_weights(model)


@counted_for_model
def evaluate(model, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(loglike, gradient, Hessian)`` of the model at ``theta`` by whichever path it uses."""
    fn = partial(_block_value_grad_hess, theta, index=model.index, **_kernel_args(model))
    source = _source(model)
    if source is None:
        value, grad, hess = fn(*_memory(model))
    else:
        value, grad, hess = source.reduce(source_blocks(model, fn), model.chunk_size, model.progress)
    return float(value), grad, hess


@counted_for_model
def rows(model, theta: np.ndarray, what: str) -> np.ndarray:
    """Per-observation values or scores, concatenated over blocks; padding rows removed."""
    fn = partial(_block_rows, theta, what=what, weighted=_weighted(model), **_kernel_args(model))
    source = _source(model)
    if source is not None:
        return source.rows(source_blocks(model, fn), model.chunk_size, model.progress)
    out = fn(*_memory(model))
    padded = model.weights is not None or getattr(model, "padding", None) is not None
    return out[: model.nobs] if padded else out


def opg_diagonal(model, theta: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Diagonal entries ``sum_i s_ij^2`` of the scores' outer product for the parameters at
    ``positions`` (forward passes only, summed over row blocks: no ``n x k`` score matrix).

    A diagnostic (the mean-log-likelihood check of ``Model.fit``): its one compile per model shape
    shows in ``hs.compile_stats()`` (kernel ``score_squares``), not in ``res.compile_stats``, which
    counts the fit's own evaluations.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    >>> opg_diagonal(m, np.array([0.0]), np.array([0])).tolist()  # (1 - 0)^2 + (3 - 0)^2
    [10.0]
    """
    directions = np.zeros((len(theta), len(positions)))
    directions[positions, np.arange(len(positions))] = 1.0
    fn = partial(_block_score_squares, theta, directions=directions, **_kernel_args(model))
    source = _source(model)
    if source is None:
        (out,) = fn(*_memory(model))
    else:
        (out,) = source.reduce(source_blocks(model, fn), model.chunk_size, model.progress)
    return out


# ----------------------------------------------------------------------------- row buckets
# A new number of rows would compile every kernel again (jit specialises on shapes). In-memory
# models of at most BUCKET_MAX_ROWS rows are therefore evaluated on their rows padded to a bucket
# size, the padding rows copies of real rows with weight 0 (so the log-likelihood, its gradient and
# Hessian are exact, and finite wherever the real rows' are); per-row outputs are cut back to the
# real rows. Models of nearby sizes share one compiled kernel per bucket.

BUCKET_MIN_ROWS = 64
"""The smallest bucket: fewer rows are padded to this many."""
BUCKET_OCTAVE_ROWS = 4096
"""Up to this many rows the buckets are powers of two (64, 128, ..., 4096)."""
BUCKET_MAX_ROWS = 1 << 17
"""Above this many rows (131072) models are not padded (a compile is then small next to a fit)."""
BUCKET_MAX_BYTES = 1 << 26
"""Data whose row arrays hold more than this many bytes (64 MiB) are not padded (the padded copy is
kept next to the model's own rows)."""
TRUSTED_MIN_ROWS = 512
"""The smallest bucket of a :func:`~hessstats.core.compilation.trusted` built-in. Its rows cost a few
flops each, so evaluating 50 rows padded to 512 costs microseconds, where each further bucket costs a
compile (about 0.16 s for a logit): 100 per-group logit fits of 50-500 rows compile once, not four
times. User functions keep :data:`BUCKET_MIN_ROWS` (their rows may be expensive)."""


def _quarter_octaves() -> tuple[int, ...]:
    out = []
    for i in range(1, 21):  # 4096 * 2^(i/4), rounded up to a multiple of 256, up to 2^17
        out.append(int(-(-int(np.ceil(BUCKET_OCTAVE_ROWS * 2.0 ** (i / 4))) // 256) * 256))
    return tuple(out)


_QUARTER_OCTAVES = _quarter_octaves()


def bucket_rows(n: int) -> int:
    """The number of rows ``n`` rows are padded to: powers of two from :data:`BUCKET_MIN_ROWS` to
    :data:`BUCKET_OCTAVE_ROWS`, then quarter octaves (factor ``2^(1/4)``, multiples of 256) up to
    :data:`BUCKET_MAX_ROWS`; ``n`` itself above (27 buckets in all).

    Example
    -------
    >>> [bucket_rows(n) for n in (1, 50, 64, 65, 500, 5000, 200_000)]
    [64, 64, 64, 128, 512, 5120, 200000]
    """
    n = int(n)
    if n > BUCKET_MAX_ROWS:
        return n
    if n <= BUCKET_OCTAVE_ROWS:
        return max(BUCKET_MIN_ROWS, 1 << max(n - 1, 0).bit_length())
    return next(b for b in _QUARTER_OCTAVES if b >= n)


@dataclass(frozen=True, eq=False)
class RowPadding:
    """A model's rows padded to their bucket (``Model.padding``): what its in-memory kernels run on.

    ``data`` holds ``rows`` rows (the real ``nobs`` rows, then copies of real rows); ``weights`` is 1
    (or the case weight) on the real rows and 0 on the padding rows. ``structure`` and ``row_leaves``
    record which leaves were padded, so :meth:`refresh` can pad new data of the same layout.

    Example
    -------
    >>> p = pad_rows({"y": np.arange(3.0), "c": np.float64(1.0)}, 3, 4)
    >>> np.asarray(p.data["y"]).tolist(), np.asarray(p.weights).tolist()
    ([0.0, 1.0, 2.0, 2.0], [1.0, 1.0, 1.0, 0.0])
    """

    data: Any
    weights: Any
    nobs: int
    rows: int
    structure: Any
    row_leaves: tuple[bool, ...]

    def refresh(self, data: Any, case_weights: Any) -> RowPadding | None:
        """The same padding of new ``data`` (and case weights), or None when its layout changed.

        Example
        -------
        >>> p = pad_rows({"y": np.arange(3.0)}, 3, 4)
        >>> np.asarray(p.refresh({"y": np.ones(3)}, [1.0, 2.0, 3.0]).weights).tolist()
        [1.0, 2.0, 3.0, 0.0]
        >>> p.refresh({"y": np.ones(3), "u0": np.ones(2)}, None) is None
        True
        """
        leaves, structure = jax.tree_util.tree_flatten(data)
        if structure != self.structure or tuple(is_row_leaf(a, self.nobs) for a in leaves) != self.row_leaves:
            return None
        return pad_rows(data, self.nobs, self.rows, case_weights)


def pad_rows(data: Any, nobs: int, rows: int, case_weights: Any = None, *, cycle: bool = False) -> RowPadding:
    """``data`` (``nobs`` rows) padded to ``rows`` rows: the padding rows copy the last real row (or,
    ``cycle=True``, the real rows in turn); weights 1 (or ``case_weights``) on real rows, 0 on padding.

    Example
    -------
    >>> np.asarray(pad_rows({"y": np.arange(3.0)}, 3, 6, cycle=True).data["y"]).tolist()
    [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    """
    extra = np.arange(rows - nobs) % nobs if cycle else np.full(rows - nobs, nobs - 1)
    index = np.concatenate([np.arange(nobs), extra])
    leaves, structure = jax.tree_util.tree_flatten(data)
    row_leaves = tuple(is_row_leaf(a, nobs) for a in leaves)
    weights = np.zeros(rows)
    weights[:nobs] = 1.0 if case_weights is None else np.asarray(case_weights, dtype=np.float64)
    with x64():
        # one batched device_put (jnp.asarray would compile a conversion kernel, about 40 ms, for every
        # new shape); no rows to add: the (immutable) device arrays are used as they are
        moved = [a if rows == nobs and isinstance(a, jax.Array) else np.asarray(a)[index]
                 for a, row in zip(leaves, row_leaves) if row]
        *moved, weights = adopt([*moved, weights])
        moved.reverse()
        padded = [moved.pop() if row else a for a, row in zip(leaves, row_leaves)]
        return RowPadding(jax.tree_util.tree_unflatten(structure, padded), weights, int(nobs),
                          int(rows), structure, row_leaves)


def _row_free(text: str, rows: int) -> str:
    """A jaxpr's text with every integer token equal to the row count (shapes, slice bounds) replaced
    by ``R``; float literals (``137.0``) and typed literals (``137:i64[]``) are left as they are."""
    return re.sub(rf"(?<![\w.]){rows}(?![\w.:])", "R", text)


def bucket(fn: Any, closed: Any, spec: Any, theta0: np.ndarray, data: Any, nobs: int,
           case_weights: Any = None) -> tuple[Program, tuple, RowPadding] | None:
    """``(program traced on the padded rows, its constants, padding)`` for the flat log-likelihood
    ``fn(theta, data)`` on in-memory data of ``nobs`` rows (``closed``: its jaxpr traced on those
    rows), or None when the rows are not padded: at their bucket size already, more than
    :data:`BUCKET_MAX_BYTES` once padded, or a log-likelihood whose real rows' values could depend on
    the padding.

    Padding is used only when (1) the function traced on the padded rows runs the same operations as
    on the real rows, with the row count as the only difference (a function that uses the number of
    rows as a value, or indexes rows from the end, keeps its rows), (2) it returns one value per padded
    row and captures the same constants, and (3) the real rows' values are the same whether the padding
    rows copy the last row or the real rows in turn (the weighted log-likelihood, gradient and Hessian
    of the real rows, from the kernel the fit then uses; with more than ``AUTO_BLOCK_K`` parameters the
    per-row values), near the start values: a function of other rows (means over all rows,
    reversed sums) keeps its rows.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(5.0))
    >>> m.padding.rows, m.nobs, m.fit().nobs
    (64, 5, 5)
    >>> demean = lambda p, d: -0.5 * (d - d.mean() - p["mu"]) ** 2   # a statistic over all rows
    >>> hs.Model(demean, {"mu": 0.0}, np.arange(5.0)).padding is None
    True
    """
    rows = bucket_rows(nobs)
    if rows == nobs or not has_row_leaves(data, nobs):
        return None
    size = sum(int(np.size(a)) * np.dtype(a.dtype).itemsize for a in jax.tree_util.tree_leaves(data)
               if is_row_leaf(a, nobs))
    if size * rows / nobs > BUCKET_MAX_BYTES:
        return None
    padding = pad_rows(data, nobs, rows, case_weights)
    with x64():
        theta = jax.device_put(np.asarray(theta0))
        try:
            trace = first_trace(fn, theta, padding.data)
        except Exception:  # noqa: BLE001  (it ran on the real rows: keep them)
            return None
        text = str(trace[0].jaxpr)
        # one trace on the padded rows: the same program as on the real rows (so also the purity check
        # that Program.trace makes with a second trace: same operations, same captured values)
        if tuple(getattr(trace[1], "shape", ())) != (rows,) or const_avals(trace[0].consts) != const_avals(closed.consts) \
                or _row_free(text, rows) != _row_free(str(closed.jaxpr), nobs) \
                or not same_constants(trace[0].consts, closed.consts):
            return None
        padded, consts, _ = Program.from_trace(fn, trace, theta, padding.data, text=text)
        other = pad_rows(data, nobs, rows, cycle=True).data
        for theta in _probe_points(np.asarray(theta0, dtype=np.float64))[1:]:  # near the start (not at a 0 start)
            if len(theta) <= AUTO_BLOCK_K:  # the fit's own kernel: (value, gradient, Hessian) of the real rows
                first = _block_value_grad_hess(theta, padding.data, padding.weights, loglike=padded, spec=spec,
                                               index=None, consts=consts)
                second = _block_value_grad_hess(theta, other, padding.weights, loglike=padded, spec=spec,
                                                index=None, consts=consts)
                same = all(rows_agree(np.ravel(a), np.ravel(b)) for a, b in zip(first, second))
            else:  # many parameters: the real rows' values
                first = _block_rows(theta, padding.data, None, loglike=padded, spec=spec, what="loglike_obs", consts=consts)
                second = _block_rows(theta, other, None, loglike=padded, spec=spec, what="loglike_obs", consts=consts)
                same = rows_agree(first[:nobs], second[:nobs])
            if not same:
                return None
    return padded, consts, padding


def trusted_rows(data: Any, nobs: int | None) -> int | None:
    """The bucket size that the rows of a :func:`~hessstats.core.compilation.trusted` log-likelihood
    are padded to (:func:`bucket_rows`), or None when they are not padded: more than
    :data:`BUCKET_MAX_ROWS` rows or :data:`BUCKET_MAX_BYTES` once padded, or data with a leaf that is
    not a row leaf of ``nobs`` rows (such data take the checks of :func:`bucket`). Rows already at
    their bucket size get a padding of no rows (weights 1), so that they run the bucket's kernels.

    At least :data:`TRUSTED_MIN_ROWS` rows.

    Example
    -------
    >>> trusted_rows({"y": np.zeros(50), "X": np.zeros((50, 3))}, 50), trusted_rows({"y": np.zeros(900)}, 900)
    (512, 1024)
    >>> trusted_rows({"y": np.zeros(50), "c": np.float64(1.0)}, 50) is None
    True
    """
    if not nobs:
        return None
    rows = max(TRUSTED_MIN_ROWS, bucket_rows(nobs))
    leaves = jax.tree_util.tree_leaves(data)
    if nobs > BUCKET_MAX_ROWS or not leaves or not all(is_row_leaf(a, nobs) and hasattr(a, "dtype") for a in leaves):
        return None
    size = sum(int(np.size(a)) * np.dtype(a.dtype).itemsize for a in leaves)
    return rows if size * rows / nobs <= BUCKET_MAX_BYTES else None


def padded_shapes(data: Any, rows: int) -> Any:
    """``data`` as ``jax.ShapeDtypeStruct`` leaves with ``rows`` rows (every leaf a row leaf): what a
    trusted log-likelihood is traced on for its row bucket, without padding any array.

    Example
    -------
    >>> padded_shapes({"X": np.zeros((5, 2))}, 64)["X"].shape
    (64, 2)
    """
    def shaped(a: Any) -> jax.ShapeDtypeStruct:
        aval = jax.typeof(a)
        return jax.ShapeDtypeStruct((rows, *aval.shape[1:]), aval.dtype, weak_type=aval.weak_type)

    return jax.tree_util.tree_map(shaped, data)


def trusted_bucket(fn: Any, owner: Any, theta0: np.ndarray, data: Any, nobs: int, rows: int,
                   case_weights: Any = None) -> tuple[Program, tuple, RowPadding] | None:
    """``(program, constants, padding)`` like :func:`bucket`, for the flat log-likelihood ``fn`` of a
    :func:`~hessstats.core.compilation.trusted` log-likelihood ``owner`` whose data (``nobs`` rows,
    every leaf a row leaf: :func:`trusted_rows` gave ``rows``) are padded to ``rows`` rows. A trusted
    function computes row by row by construction, so the probes of :func:`bucket` are not run, and
    its program at the bucket's shapes is shared by every model of that bucket
    (:func:`~hessstats.core.compilation.cached_program`). None when its trace captures constants.

    Example
    -------
    >>> import hessstats as hs
    >>> from hessstats.models.binary import logit_model
    >>> X = np.column_stack([np.ones(6), np.arange(6.0)])
    >>> y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    >>> m = logit_model(y, X)
    >>> m.padding.rows, m.program is logit_model(1.0 - y, X).program
    (512, True)
    """
    with x64():
        theta = jax.ShapeDtypeStruct((len(theta0),), np.float64)
        found = cached_program(fn, owner, theta, padded_shapes(data, rows))
        if found is None:
            return None
        program, consts, out = found
        if tuple(getattr(out, "shape", ())) != (rows,):
            return None
        return program, consts, pad_rows(data, nobs, rows, case_weights)


def kernel_rows(model) -> tuple[Any, Any]:
    """``(data, row weights)`` that a model's in-memory kernels run on: its padded rows and their
    weights (0 on padding rows) when it has a :class:`RowPadding`, else its data and weights.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(3.0))
    >>> data, weights = kernel_rows(m)
    >>> data.shape, float(np.asarray(weights).sum())
    ((64,), 3.0)
    """
    return _memory(model)


# ----------------------------------------------------------------------------- observation weights

def shard_weights(mask: Any, case_weights: Any, nobs: int) -> Any:
    """The sharded row weights of a weighted model: the padding mask (1 real rows, 0 padding) times
    the case weights padded to the mask's length, placed like the mask.

    Example
    -------
    >>> from hessstats._config import x64
    >>> with x64():
    ...     shard_weights(jnp.ones(2), jnp.array([2.0, 3.0]), 2).tolist()
    [2.0, 3.0]
    """
    padded = np.zeros(len(mask))
    padded[:nobs] = np.asarray(case_weights)
    with x64():
        out = jnp.asarray(mask) * jnp.asarray(padded)
        sharding = getattr(mask, "sharding", None)
        return jax.device_put(out, sharding) if sharding is not None else out


def _block_weights(key: str, scale: float, data: Any, pad: Any) -> np.ndarray:
    return np.asarray(data[key], dtype=np.float64) * scale


def case_weights(model) -> np.ndarray | None:
    """The effective weight of every row (host float64; a row source's are read in one pass), or None.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(3.0), weights=[1, 3, 0],
    ...              weight_type="analytic")
    >>> case_weights(m).tolist()
    [0.5, 1.5, 0.0]
    """
    if getattr(model, "weight_type", None) is None:
        return None
    if model.case_weights is not None:
        return np.asarray(model.case_weights, dtype=np.float64)
    return model.data.rows(partial(_block_weights, model.weight_key, model.weight_scale), model.chunk_size, progress=False)


def _weight_totals(key: str, data: Any, pad: Any) -> tuple[np.ndarray]:
    w = np.asarray(data[key], dtype=np.float64)
    real = np.asarray(pad) > 0
    w = w[real]
    bad = int((~np.isfinite(w)).sum() + (w < 0).sum())
    integer = bool(np.all(w == np.round(w))) if bad == 0 else False
    return (np.array([w.sum() if bad == 0 else 0.0, np.count_nonzero(w > 0), bad, 0 if integer else 1], dtype=np.float64),)


def source_weights(source: RowSource, weights: Any, weight_type: Any, chunk_size: int | None) -> tuple[Any, str, float, Any]:
    """``(weight type, key, scale, weighted nobs)`` for a row source whose blocks hold the weights in the
    data key ``weights`` (a string); one pass over the source checks them and sums them.

    Example
    -------
    >>> src = ArraySource({"y": np.arange(3.0), "w": np.array([1.0, 2.0, 0.0])}, 3)
    >>> kind, key, scale, total = source_weights(src, "w", "frequency", 2)
    >>> kind.stata, key, scale, total
    ('fweight', 'w', 1.0, 3)
    """
    sample = source.sample()
    if not isinstance(weights, str) or not isinstance(sample, dict) or weights not in sample:
        raise SpecificationError(message(
            "weights of a row source must be one of its data keys",
            expected=f"weights= a key of the source's data {sorted(sample) if isinstance(sample, dict) else ''}",
            got=f"{type(weights).__name__}: {weights!r}"[:120],
            fix="add the weight column to the source's columns and pass its key, e.g. weights='w'"))
    if weight_type is None:
        raise SpecificationError(message(
            "weights need a declared meaning", expected="weight_type= 'frequency', 'analytic', 'probability' or 'importance'",
            got="weights without weight_type", fix="say what the weights mean"))
    kind = WeightType.parse(weight_type)
    (total, positive, bad, fractional), = source.reduce(partial(_weight_totals, weights), chunk_size or source.default_chunk_size,
                                                        progress=False)
    if bad or positive == 0 or (kind is WeightType.FREQUENCY and fractional):
        raise DataError(message(
            "the row source's weights are invalid", expected="finite weights >= 0, not all zero (integers for frequency weights)",
            got=f"{int(bad)} negative or non-finite, {int(positive)} positive" + (", non-integer" if fractional else ""),
            fix="check the weight column"))
    scale = float(positive / total) if kind is WeightType.ANALYTIC else 1.0
    if kind is WeightType.FREQUENCY:
        nobs: Any = int(round(total))
    elif kind is WeightType.IMPORTANCE:
        nobs = int(round(total)) if total == round(total) else float(total)
    else:
        nobs = int(positive)
    return kind, weights, scale, nobs


# ----------------------------------------------------------------------------- row independence

def rows_agree(block: np.ndarray, whole: np.ndarray) -> bool:
    """True when per-row values computed on a row block equal the same rows computed with all rows
    (the one test of row independence: chunks, shards, row-block score sums).

    Example
    -------
    >>> rows_agree(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-14])), rows_agree(np.ones(2), np.zeros(2))
    (True, False)
    """
    block, whole = np.asarray(block, dtype=np.float64), np.asarray(whole, dtype=np.float64)
    if block.shape != whole.shape:
        return False
    finite = whole[np.isfinite(whole)]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    return bool(np.allclose(block, whole, rtol=1e-9, atol=1e-12 * max(scale, 1.0), equal_nan=True))


def _probe_points(start: np.ndarray) -> list[np.ndarray]:
    """The start values and a small deterministic perturbation of them (a dependence that a zero
    start value hides, e.g. an autoregressive coefficient at 0, shows at the second point)."""
    step = 0.01 * np.random.default_rng(0).standard_normal(start.size) * np.maximum(1.0, np.abs(start))
    return [start, start + step]


def check_row_blocks(model, data: Any, nrows: int, block_rows: int, *, what: str) -> None:
    """Refuse a log-likelihood whose per-row values change when the rows are split into blocks.

    ``data`` (``nrows`` rows: all rows, or a leading sample of a row source) is evaluated whole and
    in blocks of ``block_rows`` (the last padded with weight 0, as a chunked fit does), at the start
    values and near them; any difference (lags, cumulative sums, per-block means) is a
    :class:`SpecificationError`: such a likelihood gives different estimates per chunk size.

    Example
    -------
    >>> import jax.numpy as jnp, hessstats as hs
    >>> lag = lambda p, d: -0.5 * (d - p["rho"] * jnp.concatenate([jnp.zeros(1), d[:-1]])) ** 2
    >>> m = hs.Model(lag, {"rho": 0.0}, np.arange(8.0))
    >>> try:
    ...     check_row_blocks(m, m.data, 8, 4, what="chunk_size")
    ... except SpecificationError as e:
    ...     print(str(e).splitlines()[0])
    the log-likelihood is not row by row, so chunk_size would change the estimates
    """
    kernel = _kernel_args(model)
    source = ArraySource(data, nrows)
    for theta in _probe_points(np.asarray(model.start, dtype=np.float64)):
        whole = _block_rows(theta, data, None, what="loglike_obs", **kernel)
        parts = source.rows(partial(_block_rows, theta, what="loglike_obs", **kernel), block_rows, progress=False)
        if whole.shape != (nrows,) or not rows_agree(parts, whole):
            differ = (np.flatnonzero(~np.isclose(parts, whole, rtol=1e-9, equal_nan=True))[:5].tolist()
                      if whole.shape == parts.shape else "all")
            raise SpecificationError(message(
                f"the log-likelihood is not row by row, so {what} would change the estimates",
                expected=f"observation i to depend only on row i of the data (the same values whether the {nrows} "
                         f"rows are evaluated together or in blocks of {block_rows})",
                got=f"different per-row values in blocks at rows {differ} (e.g. lags, cumulative sums, "
                    "or statistics over all rows)",
                fix=f"fit without {what} (in memory), or put lagged/cumulative columns into the data beforehand"))


def check_padding(model, unsharded: Any) -> None:
    """Sharded rows are padded with copies of the last row (weight 0): the real rows' values must
    not change (a function of later rows, e.g. a lead or a reversed cumulative sum, would).

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(3.0))
    >>> check_padding(m, m.data) is None  # unpadded: nothing changes
    True
    """
    kernel = _kernel_args(model)
    n = model.nobs
    for theta in _probe_points(np.asarray(model.start, dtype=np.float64)):
        whole = _block_rows(theta, unsharded, None, what="loglike_obs", **kernel)
        padded = _block_rows(theta, model.data, None, what="loglike_obs", **kernel)[:n]
        if not rows_agree(padded, whole):
            raise SpecificationError(message(
                "the log-likelihood is not row by row, so padding the rows for shard would change the estimates",
                expected=f"observation i to depend only on row i (the same values for the {n} rows with padding rows "
                         "appended)", got="different values once rows are appended (e.g. leads or reversed sums)",
                fix="fit without shard, or put such derived columns into the data beforehand"))


def check_block_output(out_shape: tuple[int, ...], block_rows: int, *, what: str) -> None:
    """A chunked or sharded log-likelihood must return one value per row of its block.

    Example
    -------
    >>> check_block_output((100,), 100, what="chunk_size") is None
    True
    """
    if tuple(out_shape) != (block_rows,):
        raise SpecificationError(message(
            f"the log-likelihood returns the wrong number of values for {what}",
            expected=f"one value per row of each block: shape ({block_rows},)",
            got=f"shape {tuple(out_shape)} for a block of {block_rows} rows",
            fix="return the per-observation terms (do not sum or drop rows inside the function)"))
