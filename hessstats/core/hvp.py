"""Many parameters: the Hessian in blocks of directions, and standard errors without the full matrix.

``jax.hessian`` pushes all ``k`` tangent directions through the likelihood at once, holding
``n x k`` values per intermediate (JAX issue #787): at ``k = 2,000`` and ``n = 1e5`` that is gigabytes
per array. Here the directions go through in blocks of ``block_size`` (one compiled shape; the last
block is padded with zero directions), and row chunks (``Model(chunk_size=...)``) bound ``n``.

When even the ``k x k`` matrix is too big, :func:`selected_se` solves ``(-H) x = e_j`` by conjugate
gradients with Hessian-vector products only (``scipy.sparse.linalg.cg`` on a ``LinearOperator``):
memory O(n + k), and the standard error of parameter ``j`` is ``sqrt(x_j)`` — the ``j``-th diagonal
element of the inverse observed information, the same value as the full inverse gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats._checks import check_positive_int, check_tolerance
from hessstats._config import float64, x64
from hessstats._progress import progress as progress_bar
from hessstats.core import derivatives
from hessstats.core.compilation import call_kernel
from hessstats.core.indices import source_blocks
from hessstats.errors import ConvergenceWarning, warn
from hessstats.rows.weights import memory_weights, model_source

if TYPE_CHECKING:
    from hessstats.model import Model


def _block_hvp(theta: np.ndarray, data: Any, weights: Any, *, directions: np.ndarray, model: Model) -> tuple[np.ndarray]:
    with x64():
        w = None if weights is None else jnp.asarray(weights)
        program = getattr(model, "program", None)
        out = call_kernel("hessian_columns", derivatives.hessian_columns, jnp.asarray(theta), data,
                          jnp.asarray(directions), program if program is not None else model.loglike, model.spec,
                          weights=w, consts=getattr(model, "consts", ()))
    return (np.asarray(out, dtype=np.float64),)


def _unit_blocks(k: int, block_size: int):
    """``(start, width, directions)``: unit vectors in blocks of one shape (the last zero-padded)."""
    b = max(1, min(int(block_size), k))
    for lo in range(0, k, b):
        width = min(b, k - lo)
        eye = np.zeros((k, b))
        eye[lo + np.arange(width), np.arange(width)] = 1.0
        yield lo, width, eye


def columns_in_blocks(theta: np.ndarray, data: Any, weights: Any, loglike: Any, spec: Any,
                      block_size: int, consts: tuple = ()) -> np.ndarray:
    """The symmetrised Hessian of one data block from ``block_size`` directions at a time.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> m = hs.Model(lambda p, d: -0.5 * (d @ p["b"]) ** 2, {"b": np.ones(2)}, X)
    >>> columns_in_blocks(np.ones(2), m.data, m.weights, m.loglike, m.spec, block_size=1).tolist()  # -X'X
    [[-20.0, -26.0], [-26.0, -35.0]]
    """
    theta = np.asarray(theta, dtype=np.float64)
    hess = np.empty((theta.size, theta.size))
    with x64():
        t = jnp.asarray(theta)
        for lo, width, eye in _unit_blocks(theta.size, block_size):
            out = call_kernel("hessian_columns", derivatives.hessian_columns, t, data,
                              jnp.asarray(eye), loglike, spec, weights=weights, consts=consts)
            hess[:, lo:lo + width] = np.asarray(out)[:, :width]
    return _symmetrise(hess)


def _symmetrise(hess: np.ndarray) -> np.ndarray:
    """``(H + H') / 2`` in place, one block of rows at a time (no second ``k x k`` matrix).

    Example
    -------
    >>> _symmetrise(np.array([[1.0, 2.0], [4.0, 3.0]])).tolist()
    [[1.0, 3.0], [3.0, 3.0]]
    """
    k = hess.shape[0]
    step = max(1, min(k, 256))
    for lo in range(0, k, step):
        hi = min(k, lo + step)
        # the block (rows lo:hi, columns lo:) and its mirror (rows lo:, columns lo:hi): read both, then write
        upper = hess[lo:hi, lo:].copy()
        lower = hess[lo:, lo:hi].T
        sym = (upper + lower) / 2.0
        hess[lo:hi, lo:] = sym
        hess[lo:, lo:hi] = sym.T
    return hess


def hvp(model: Model, theta: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``H @ directions`` (``directions`` of shape ``(k,)`` or ``(k, b)``), summed over row chunks.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> m = hs.Model(lambda p, d: -0.5 * (d @ p["b"]) ** 2, {"b": np.ones(2)}, X)
    >>> hvp(m, np.ones(2), np.array([1.0, 0.0])).tolist()  # first column of -X'X
    [-20.0, -26.0]
    """
    directions = np.asarray(directions, dtype=np.float64)
    flat = directions.ndim == 1
    block = directions[:, None] if flat else directions
    fn = partial(_block_hvp, np.asarray(theta, dtype=np.float64), directions=block, model=model)
    source = model_source(model)  # the model's row blocks, with its observation weights
    if source is not None:
        (out,) = source.reduce(source_blocks(model, fn), model.chunk_size, model.progress)
    else:
        (out,) = fn(model.data, memory_weights(model))
    return out[:, 0] if flat else out


@float64
def hessian_blocked(model: Model, theta: Any, block_size: int = 128, progress: bool | None = None) -> np.ndarray:
    """The exact ``k x k`` Hessian, built ``block_size`` columns at a time (bounded memory).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> m = hs.Model(lambda p, d: -0.5 * (d @ p["b"]) ** 2, {"b": np.ones(5)}, X)
    >>> bool(np.allclose(hessian_blocked(m, np.ones(5), block_size=2), -X.T @ X))
    True
    """
    block_size = check_positive_int(block_size, "block_size")
    theta = np.asarray(theta, dtype=np.float64)
    blocks = list(_unit_blocks(theta.size, block_size))
    hess = np.empty((theta.size, theta.size))
    for lo, width, eye in progress_bar(blocks, len(blocks), desc="Hessian columns", unit="block", show=progress):
        hess[:, lo:lo + width] = hvp(model, theta, eye)[:, :width]
    return _symmetrise(hess)


@float64
def selected_se(model: Model, theta: Any, names: Sequence[str], *, rtol: float = 1e-10,
                maxiter: int | None = None) -> pd.Series:
    """Standard errors of the named parameters from Hessian-vector products (no ``k x k`` matrix).

    For each name ``j``, conjugate gradients solve ``(-H) x = e_j`` at ``theta`` (the optimum);
    ``se_j = sqrt(x_j)``, the inverse observed information's diagonal (``cov_type="nonrobust"``).
    Each CG step costs one Hessian-vector product (about two likelihood passes). Needs ``-H``
    positive definite (a proper maximum).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> y = np.array([1.0, 2.0, 4.0, 3.0])
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y)
    >>> round(float(selected_se(m, [2.5], ["mu"]).iloc[0]), 9)   # 1 / sqrt(n)
    0.5
    """
    rtol = check_tolerance(rtol, "rtol")
    if maxiter is not None:
        maxiter = check_positive_int(maxiter, "maxiter")
    theta = np.asarray(theta, dtype=np.float64)
    k = theta.size
    model.spec.positions(names)
    operator = scipy.sparse.linalg.LinearOperator((k, k), matvec=lambda v: -hvp(model, theta, np.ravel(v)),
                                                  dtype=np.float64)
    out = {}
    for name in names:
        j = model.names.index(name)
        e = np.zeros(k)
        e[j] = 1.0
        x, info = scipy.sparse.linalg.cg(operator, e, rtol=rtol, atol=0.0, maxiter=maxiter or 10 * k)
        if info != 0 or not x[j] > 0:
            warn(f"conjugate gradients did not converge for {name!r} (info={info}, x_j={x[j]:.3g}): the "
                 "information may be singular or indefinite; its standard error is NaN", ConvergenceWarning)
            out[name] = np.nan
        else:
            out[name] = float(np.sqrt(x[j]))
    return pd.Series(out, name="std_err")
