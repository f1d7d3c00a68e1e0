"""How a Model evaluates (hessstats.core.engine): one kernel in memory, in row blocks, sharded,
or over any row source, through ``Model.evaluate`` / ``loglike_obs`` / ``scores``.

References: closed forms of the normal log-likelihood with unit variance,
``sum -(y - mu)^2 / 2`` (gradient ``sum(y - mu)``, Hessian ``-n``, per-observation score
``y - mu``), and for many parameters ``-I n``. Covered elsewhere: chunked/Parquet fits against
statsmodels (rows/test_source), four devices (rows/test_sharding), every catalogue problem by row
source (test_catalogue).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats.errors import SpecificationError
from hessstats.rows.source import RowSource

Y = np.random.default_rng(5).normal(1.0, 1.0, size=23)


def unit_normal(p, d):
    return -0.5 * (d["y"] - p["mu"]) ** 2


def closed_form(mu):
    """(value, gradient, Hessian, per-observation values, scores) at mu."""
    e = Y - mu
    return -0.5 * np.sum(e ** 2), np.array([e.sum()]), np.array([[-float(len(Y))]]), -0.5 * e ** 2, e[:, None]


WAYS = {
    "memory": {},
    "chunk-5": {"chunk_size": 5},       # 23 = 4 * 5 + 3: a padded last block
    "chunk-1": {"chunk_size": 1},
    "chunk-100": {"chunk_size": 100},   # fewer rows than one block
    "shard-1": {"shard": 1},
}


@pytest.mark.parametrize("options", WAYS.values(), ids=list(WAYS))
def test_every_path_gives_the_closed_form(options):
    """value, gradient and Hessian (summed, padding rows weigh 0), per-observation values and scores
    (padding rows dropped) against the closed form."""
    model = hs.Model(unit_normal, {"mu": 0.0}, {"y": Y}, **options)
    value, grad, hess, obs, scores = closed_form(0.7)
    v, g, H = model.evaluate(np.array([0.7]))
    assert isinstance(v, float) and g.dtype == np.float64 and H.dtype == np.float64
    np.testing.assert_allclose([v, *g, *H.ravel()], [value, *grad, *hess.ravel()], rtol=1e-13)
    np.testing.assert_allclose(model.loglike_obs(np.array([0.7])), obs, rtol=1e-13)
    np.testing.assert_allclose(model.scores(np.array([0.7])), scores, rtol=1e-13)
    assert model.nobs == len(Y)


def test_many_parameters_build_the_hessian_in_blocks():
    """k = 520 parameters (above the 512 threshold, where the Hessian is assembled from blocks of
    directions): ``sum_i -|y_i - b|^2 / 2`` has Hessian ``-n I`` and MLE the column means."""
    k, n = 520, 3
    Ymat = np.random.default_rng(0).normal(size=(n, k))
    model = hs.Model(lambda p, d: -0.5 * jnp.sum((d["Y"] - p["b"]) ** 2, axis=1), {"b": np.zeros(k)}, {"Y": Ymat})
    value, grad, hess = model.evaluate(np.zeros(k))
    np.testing.assert_allclose(value, -0.5 * np.sum(Ymat ** 2), rtol=1e-13)
    np.testing.assert_allclose(grad, Ymat.sum(0), rtol=1e-13)
    np.testing.assert_array_equal(hess, -n * np.eye(k))
    res = model.fit()
    np.testing.assert_allclose(res.theta, Ymat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(res.bse.to_numpy(), np.full(k, 1 / np.sqrt(n)), rtol=1e-12)


def test_a_row_source_without_chunk_size_uses_its_default_block(tmp_path):
    """A row source brings its own nobs and default block size (65,536 rows); the result is the
    closed form as in memory."""
    pd.DataFrame({"y": Y}).to_parquet(tmp_path / "y.parquet")
    model = hs.Model(unit_normal, {"mu": 0.0}, hs.ParquetSource(tmp_path / "y.parquet", {"y": "y"}))
    assert model.chunk_size == RowSource.default_chunk_size == 65_536
    assert model.nobs == len(Y)
    value, grad, hess, _, _ = closed_form(0.7)
    np.testing.assert_allclose(model.evaluate(np.array([0.7]))[0], value, rtol=1e-13)


class ListSource(RowSource):
    """A user-defined row source: blocks of a list of in-memory pieces, padded to the block size."""

    def __init__(self, pieces):
        self.pieces, self.nobs = pieces, sum(len(p) for p in pieces)

    def sample(self):
        return {"y": self.pieces[0]}

    def blocks(self, chunk_size):
        for piece in self.pieces:
            pad = chunk_size - len(piece)
            yield {"y": np.r_[piece, np.repeat(piece[-1:], pad)]}, (np.arange(chunk_size) < len(piece)).astype(float)


def test_a_user_defined_row_source_is_summed_block_by_block():
    """Any RowSource subclass works: sums over its blocks, rows concatenated (closed form)."""
    model = hs.Model(unit_normal, {"mu": 0.0}, ListSource([Y[:10], Y[10:17], Y[17:]]), chunk_size=10)
    value, grad, hess, obs, scores = closed_form(0.7)
    v, g, H = model.evaluate(np.array([0.7]))
    np.testing.assert_allclose([v, g[0], H[0, 0]], [value, grad[0], hess[0, 0]], rtol=1e-13)
    np.testing.assert_allclose(model.scores(np.array([0.7])), scores, rtol=1e-13)
    res = model.fit(cov_type="HC0")
    np.testing.assert_allclose(res.params["mu"], Y.mean(), rtol=1e-12)
    np.testing.assert_allclose(res.bse["mu"], np.sqrt(np.sum((Y - Y.mean()) ** 2)) / len(Y), rtol=1e-10)


def test_sharding_needs_per_observation_values():
    with pytest.raises(SpecificationError, match="per-observation"):
        hs.Model(lambda p, d: jnp.sum(unit_normal(p, d)), {"mu": 0.0}, {"y": Y}, shard=1)


def test_sharding_a_row_source_is_refused(tmp_path):
    """A row source cannot be sharded (its rows are not in memory): a typed error."""
    pd.DataFrame({"y": Y}).to_parquet(tmp_path / "y.parquet")
    with pytest.raises(SpecificationError):
        hs.Model(unit_normal, {"mu": 0.0}, hs.ParquetSource(tmp_path / "y.parquet", {"y": "y"}), shard=1)


def test_sharding_a_row_source_says_why(tmp_path):
    """The message should name the real problem: the rows are not in memory."""
    pd.DataFrame({"y": Y}).to_parquet(tmp_path / "y.parquet")
    with pytest.raises(SpecificationError, match="in-memory data"):
        hs.Model(unit_normal, {"mu": 0.0}, hs.ParquetSource(tmp_path / "y.parquet", {"y": "y"}), shard=1)
