"""Row leaves (hessstats.rows.leaves): which data leaves hold one row per observation, and how row
blocks of them are taken, through chunked and sharded ``hs.Model`` fits and ``nobs``.

References: closed forms of a normal log-likelihood with group effects read from a lookup table
(the data leaf that must be passed whole), numpy indexing for row blocks, and the definition of
BIC (``-2 llf + k log n``). Covered elsewhere: an unused non-row leaf in a chunked fit
(rows/test_source), the cluster meat's row blocks (core/test_scores).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs
from hessstats.rows.leaves import row_block

N = 23
RNG = np.random.default_rng(11)
GROUP = RNG.integers(0, 4, size=N).astype(float)
Y = RNG.normal(size=N) + GROUP
TABLE = np.array([0.0, 1.0, 2.0, 3.0])  # length 4 != N: passed whole to every block


def loglike(p, d):
    """y_i ~ N(mu + slope * table[g_i], scale^2) with scale a 0-d data leaf (passed whole too)."""
    effect = d["table"][d["g"].astype(jnp.int32)]
    return -0.5 * ((d["y"] - p["mu"] - p["slope"] * effect) / d["scale"]) ** 2


DATA = {"y": Y, "g": GROUP, "table": TABLE, "scale": np.float64(2.0), "W": np.eye(3)}


@pytest.mark.parametrize("options", [{}, {"chunk_size": 5}, {"chunk_size": 50}, {"shard": 1}],
                         ids=["memory", "chunk-5", "chunk-50", "shard-1"])
def test_row_leaves_are_split_and_the_others_passed_whole(options):
    """Least squares closed form: (mu, slope) = OLS of y on [1, table[g]]; the Hessian is
    -X'X / scale^2 on every path."""
    X = np.column_stack([np.ones(N), TABLE[GROUP.astype(int)]])
    res = hs.fit(loglike, {"mu": 0.0, "slope": 0.0}, DATA, **options)
    np.testing.assert_allclose(res.theta, np.linalg.lstsq(X, Y, rcond=None)[0], rtol=1e-10)
    np.testing.assert_allclose(res.hessian_array, -X.T @ X / 4.0, rtol=1e-12)
    assert res.nobs == N


def test_row_block_takes_rows_of_every_row_leaf_and_repeats_the_last():
    """Rows start..start+size of each leaf with N rows (nested too); past the end, the last row;
    other leaves unchanged. Reference: numpy fancy indexing."""
    data = {"y": Y, "inner": {"X": np.arange(2.0 * N).reshape(N, 2)}, "table": TABLE, "scale": 2.0}
    block = row_block(data, N, 20, 5)
    index = [20, 21, 22, 22, 22]
    np.testing.assert_array_equal(block["y"], Y[index])
    np.testing.assert_array_equal(block["inner"]["X"], data["inner"]["X"][index])
    np.testing.assert_array_equal(block["table"], TABLE)
    np.testing.assert_array_equal(block["scale"], 2.0)
    middle = row_block(data, N, 3, 4)
    np.testing.assert_array_equal(middle["inner"]["X"], data["inner"]["X"][3:7])


def test_nobs_of_a_summed_loglike_is_the_common_leading_length():
    """A scalar log-likelihood has no row count of its own: nobs is the common leading dimension
    of the data arrays (BIC = -2 llf + k log n), or unknown (BIC NaN) when the lengths differ."""
    def summed(p, d):
        return jnp.sum(-0.5 * (d["y"] - p["mu"]) ** 2)

    with pytest.warns(hs.errors.SpecificationWarning, match="cannot check"):
        res = hs.fit(summed, {"mu": 0.0}, {"y": Y, "X": np.ones((N, 2)), "c": np.float64(1.0)})
    assert res.nobs == N
    np.testing.assert_allclose(res.bic, -2 * res.llf + np.log(N), rtol=1e-13)
    mixed = hs.fit(summed, {"mu": 0.0}, {"y": Y, "other": np.ones(N - 1)})
    assert mixed.nobs is None and np.isnan(mixed.bic)
    assert "Observations:   None" in str(mixed)
