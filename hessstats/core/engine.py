"""How a Model evaluates: in memory, sharded, in row blocks, or on a Dask cluster (one kernel for all).

Internal dispatch for :class:`hessstats.Model`. Every path calls :func:`_block_value_grad_hess` (or
:func:`_block_rows`), which runs the same jitted kernel, generic (:mod:`hessstats.core.derivatives`) or index
model (:mod:`hessstats.models.index`), on a data pytree with optional row weights.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax.numpy as jnp
import numpy as np

from hessstats._config import x64
from hessstats.core import derivatives
from hessstats.core.compilation import call_kernel, counted_for_model
from hessstats.core.hvp import columns_in_blocks
from hessstats.errors import SpecificationError, message
from hessstats.rows.prepare import prepare_data
from hessstats.rows.sharding import shard_rows
from hessstats.rows.source import ArraySource, RowSource, check_chunk_size

AUTO_BLOCK_K = 512
"""Above this many parameters the generic Hessian is built in blocks of directions (JAX #787)."""
AUTO_BLOCK_SIZE = 128


def prepare(data: Any, chunk_size: Any) -> tuple[Any, Any, int | None, int | None]:
    """``(data, sample for validation, chunk_size, nobs from the source)``.

    Example
    -------
    >>> from hessstats._config import x64
    >>> with x64():
    ...     data, sample, size, nobs = prepare({"y": [1.0, 2.0]}, None)
    >>> str(data["y"].dtype), size, nobs
    ('float64', None, None)
    """
    if isinstance(data, RowSource):
        size = check_chunk_size(chunk_size if chunk_size is not None else data.default_chunk_size)
        return data, prepare_data(data.sample()), size, data.nobs
    size = None if chunk_size is None else check_chunk_size(chunk_size)
    data = prepare_data(data)
    return data, data, size, None


def check(per_observation: bool, chunk_size: int | None, shard: Any) -> None:
    """Row blocks and shards need a per-observation log-likelihood, and do not combine.

    Example
    -------
    >>> check(True, 1000, False) is None
    True
    """
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
                          index: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The compiled ``(value, gradient, Hessian)`` of one block (or all rows), as numpy."""
    with x64():
        w = None if weights is None else jnp.asarray(weights)
        if index is not None:  # the log-likelihood assembles its own Hessian (index models)
            out = call_kernel("index_value_grad_hess", index.value_grad_hess, jnp.asarray(theta), data, spec,
                              weights=w)
        elif len(theta) > AUTO_BLOCK_K:  # many parameters: directions in blocks, bounded memory
            value, grad = call_kernel("value_grad", derivatives.value_grad, jnp.asarray(theta), data,
                                           loglike, spec, weights=w)
            out = value, grad, columns_in_blocks(theta, data, w, loglike, spec, AUTO_BLOCK_SIZE)
        else:
            out = call_kernel("value_grad_hess", derivatives.value_grad_hess, jnp.asarray(theta), data,
                                   loglike, spec, weights=w)
        return tuple(np.asarray(a, dtype=np.float64) for a in out)


def _block_rows(theta: np.ndarray, data: Any, weights: Any, *, loglike: Any, spec: Any, what: str) -> np.ndarray:
    """Per-observation values (``what="loglike_obs"``) or scores (``"scores"``) of one block."""
    with x64():
        kernel = derivatives.loglike_obs if what == "loglike_obs" else derivatives.scores
        # scores of padding rows are dropped by the caller; unit weights keep their values exact
        return np.asarray(call_kernel(what, kernel, jnp.asarray(theta), data, loglike, spec))


def _source(model) -> RowSource | None:
    if isinstance(model.data, RowSource):
        return model.data
    if model.chunk_size is not None:
        return ArraySource(model.data, model.nobs)
    return None


@counted_for_model
def evaluate(model, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(loglike, gradient, Hessian)`` of the model at ``theta`` by whichever path it uses."""
    fn = partial(_block_value_grad_hess, theta, loglike=model.loglike, spec=model.spec, index=model.index)
    source = _source(model)
    if source is None:
        value, grad, hess = fn(model.data, model.weights)
    else:
        value, grad, hess = source.reduce(fn, model.chunk_size, model.progress)
    return float(value), grad, hess


@counted_for_model
def rows(model, theta: np.ndarray, what: str) -> np.ndarray:
    """Per-observation values or scores, concatenated over blocks; padding rows removed."""
    fn = partial(_block_rows, theta, loglike=model.loglike, spec=model.spec, what=what)
    source = _source(model)
    if source is not None:
        return source.rows(fn, model.chunk_size, model.progress)
    out = fn(model.data, None)
    return out[: model.nobs] if model.weights is not None else out
