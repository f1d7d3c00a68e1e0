"""Cluster labels and score outer products accumulated in row chunks (the robust covariances' meat).

:func:`score_meat` never materialises all ``n x k`` scores when ``n k`` is large: it evaluates the
exact per-observation scores (``derivatives.scores``, forward-mode AD) on blocks of rows and accumulates
``S'S`` (or the cluster sums ``C = sum_{i in g} s_i``) block by block, so n = 1e6, k = 50 needs
one block (about 2**22 numbers) at a time. Slicing rows assumes observation ``i`` depends only on
row ``i`` of every data array whose leading dimension is ``nobs``; this is checked on every block
with the engine's one row-independence test (:func:`hessstats.core.engine.rows_agree`: the
per-observation log-likelihood of the block must equal the full one), and a model that fails
the check (e.g. lagged terms) falls back to the full score matrix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core import derivatives, engine
from hessstats.errors import CovarianceError, SpecificationError, message
from hessstats.rows.leaves import has_row_leaves, row_block
from hessstats.rows.prepare import align_to_rows
from hessstats.rows.weights import meat_row_factors

if TYPE_CHECKING:
    from hessstats.model import Model

CHUNK_ELEMENTS = 2 ** 22
"""Target size (rows x parameters) of one block of scores."""


def resolve_groups(groups: Any, data: Any, nobs: int | None, labels: Any = None) -> np.ndarray:
    """Validate cluster labels and return integer codes ``0..G-1``.

    ``groups`` is an array-like of labels (numbers or strings), one per observation, or the name of
    a column of ``data`` (a dict or DataFrame passed to the fit). A pandas Series is aligned with
    the data's row ``labels`` when the data had them (pandas data), else taken by position
    (:func:`~hessstats.rows.prepare.align_to_rows`).

    Example
    -------
    >>> resolve_groups(["b", "a", "b"], None, 3).tolist()
    [1, 0, 1]
    """
    groups = align_to_rows(groups, labels, nobs, "groups")
    if isinstance(groups, str):
        if not isinstance(data, dict) or groups not in data:
            keys = sorted(data) if isinstance(data, dict) else []
            raise CovarianceError(message(
                "groups names a data column that does not exist", expected=f"one of the data keys {keys}",
                got=repr(groups), fix="pass the cluster labels as an array, or a valid column name"))
        groups = np.asarray(data[groups])
    labels = pd.Series(np.asarray(groups).ravel() if np.ndim(groups) > 1 else list(np.asarray(groups, dtype=object)))
    if np.ndim(groups) != 1 or (nobs is not None and len(labels) != nobs):
        raise CovarianceError(message(
            "groups has the wrong shape", expected=f"one label per observation: shape ({nobs},)",
            got=f"shape {np.shape(groups)}", fix="pass a 1-d array aligned with the data rows"))
    missing = labels.isna()
    if missing.any():
        raise CovarianceError(message(
            "groups has missing labels", expected="a cluster label for every observation",
            got=f"{int(missing.sum())} NaN/None labels, first at row {int(np.flatnonzero(missing)[0])}",
            fix="drop those rows before fitting, or give them their own cluster labels"))
    codes, uniques = pd.factorize(labels, sort=True)
    if len(uniques) < 2:
        raise CovarianceError(message(
            "cluster-robust covariance needs at least two clusters", expected="G >= 2 distinct labels",
            got=f"G = {len(uniques)} ({list(uniques)[:1]})", fix="check the groups column, or use cov_type='robust'"))
    return codes.astype(np.int64)


def accumulate_meat(scores: np.ndarray, codes: np.ndarray | None, n_groups: int | None = None) -> np.ndarray:
    """``S'S`` or, with cluster codes, ``C'C`` where ``C`` holds the scores summed by cluster.

    Example
    -------
    >>> accumulate_meat(np.array([[1.0], [2.0]]), None).tolist(), accumulate_meat(np.array([[1.0], [2.0]]), np.array([0, 0])).tolist()
    ([[5.0]], [[9.0]])
    """
    scores = np.asarray(scores, dtype=np.float64)
    if codes is None:
        return scores.T @ scores
    sums = cluster_sums(scores, codes, n_groups)
    return sums.T @ sums


def cluster_sums(scores: np.ndarray, codes: np.ndarray, n_groups: int | None = None) -> np.ndarray:
    """Scores summed within each cluster: a ``(G, k)`` matrix.

    Example
    -------
    >>> import numpy as np
    >>> cluster_sums(np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 1.0]]), np.array([0, 1, 0])).tolist()
    [[4.0, 1.0], [2.0, 1.0]]
    """
    n_groups = int(codes.max()) + 1 if n_groups is None else n_groups
    indicator = scipy.sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))),
                                        shape=(n_groups, len(codes)))
    return np.asarray(indicator @ scores)


def model_scores(model: Model, theta: np.ndarray) -> np.ndarray:
    """All per-observation scores; a scalar log-likelihood raises a :class:`CovarianceError`.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    >>> model_scores(m, np.array([2.0])).tolist()
    [[-1.0], [1.0]]
    """
    try:
        return model.scores(theta)
    except SpecificationError as exc:
        raise CovarianceError(str(exc)) from None


def score_meat(model: Model, theta: np.ndarray, codes: np.ndarray | None = None, *,
               chunk_rows: int | None = None) -> np.ndarray:
    """``sum_g s_g s_g'`` at ``theta`` (per observation when ``codes`` is None), in row blocks.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
    >>> score_meat(m, np.array([2.0]), chunk_rows=1).tolist()
    [[2.0]]
    """
    n, k = model.nobs, model.k_params
    if getattr(model, "weight_type", None) is not None:
        return weighted_meat(model, model_scores(model, theta), codes)
    rows = chunk_rows or block_rows(k)
    if not uses_row_blocks(model, rows):
        return accumulate_meat(model_scores(model, theta), codes)  # small, or the model chunks its own rows
    n_groups = None if codes is None else int(codes.max()) + 1
    total = np.zeros((k, k)) if codes is None else np.zeros((n_groups, k))
    full_obs = model.loglike_obs(theta)
    kernel = {"loglike": model.program if model.program is not None else model.loglike, "spec": model.spec,
              "consts": model.consts}
    with jax.enable_x64(True):
        t = jnp.asarray(theta)
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            block = row_block(model.data, n, start, rows)
            try:
                obs = np.asarray(derivatives.loglike_obs(t, block, **kernel))[: stop - start]
            except SpecificationError:  # the function does not run on row blocks
                return accumulate_meat(model_scores(model, theta), codes)
            if not engine.rows_agree(obs, full_obs[start:stop]):
                return accumulate_meat(model_scores(model, theta), codes)  # rows are not independent
            s = np.asarray(derivatives.scores(t, block, **kernel))[: stop - start]
            total += s.T @ s if codes is None else cluster_sums(s, codes[start:stop], n_groups)
    return total if codes is None else total.T @ total


def weighted_meat(model: Model, scores: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
    """The score meat of a weighted model from its weighted per-row scores ``w_i s_i``.

    Per observation (``codes`` None): ``sum_i w_i s_i s_i'`` for frequency and importance weights
    (exactly the expanded rows), ``sum_i (w_i s_i)(w_i s_i)'`` for analytic and probability weights
    (Stata ``[P] _robust``). By cluster: ``sum_g (sum_{i in g} w_i s_i)(...)'`` for every kind.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]),
    ...              weights=[2, 1], weight_type="frequency")
    >>> weighted_meat(m, m.scores(np.array([0.0]))).tolist()  # 2 * 1**2 + 1 * 3**2
    [[11.0]]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if codes is not None:
        return accumulate_meat(scores, codes)
    factors = meat_row_factors(engine.case_weights(model), model.weight_type)
    return (scores * factors[:, None]).T @ scores


def block_rows(k: int) -> int:
    """Rows per block of scores for ``k`` parameters (about :data:`CHUNK_ELEMENTS` numbers).

    Example
    -------
    >>> block_rows(50)
    83886
    """
    return max(256, CHUNK_ELEMENTS // max(k, 1))


def uses_row_blocks(model: Model, rows: int) -> bool:
    """Whether :func:`score_meat` evaluates ``model`` in blocks of ``rows`` rows (in-memory device
    data with more rows, not chunked or sharded by the model itself).

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(1000.0))
    >>> uses_row_blocks(m, 256), uses_row_blocks(m, 5000)
    (True, False)
    """
    n = model.nobs
    own_blocks = getattr(model, "chunk_size", None) is not None or getattr(model, "weights", None) is not None
    return not (own_blocks or not model.per_observation or n is None or n <= rows
                or not _device_row_leaves(model.data, n))


def _device_row_leaves(data: Any, n: int) -> bool:
    """Row blocks of in-memory device data can be taken (not a row source)."""
    return all(isinstance(x, jax.Array) for x in jax.tree_util.tree_leaves(data)) and has_row_leaves(data, n)
