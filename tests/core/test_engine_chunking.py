"""Row blocks must not change the per-row values: chunks, row sources and padded shards refuse
row-dependent log-likelihoods, and a chunked likelihood must return one value per row.

References: the in-memory fit of the same row-by-row likelihood (closed-form AR(1) least squares
for the refused cases: estimates would have changed with the chunk size), and the one-device fit
in a 4-device subprocess for padded shards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats.core.engine import rows_agree
from hessstats.errors import SpecificationError

ROOT = Path(__file__).resolve().parents[2]
Z = np.cumsum(np.random.default_rng(0).normal(size=300))


def ar1_concat(p, d):
    lag = jnp.concatenate([jnp.zeros(1), d[:-1]])  # shape-preserving lag: silently wrong per block
    return -0.5 * (d - p["rho"] * lag) ** 2


def cumulative(p, d):
    return -0.5 * (jnp.cumsum(d) / 100.0 - p["mu"]) ** 2


def centred(p, d):
    return -0.5 * (d - jnp.mean(d) - p["mu"]) ** 2


@pytest.mark.parametrize("loglike", [ar1_concat, cumulative, centred], ids=["lag", "cumsum", "block-mean"])
def test_row_dependent_likelihoods_refuse_chunk_size(loglike):
    """In memory the AR(1) estimate is sum(z_t z_{t-1}) / sum(z_{t-1}^2) (closed form); with
    chunk_size each block restarted the lag (or the sum, or the mean) and the estimate changed.
    One block longer than the data is padded at the end: harmless for a lag or a cumulative sum
    (the fit equals the in-memory one, 1e-10), not for a mean over the block."""
    start = {"rho": 0.0} if loglike is ar1_concat else {"mu": 0.0}
    whole = hs.fit(loglike, start, Z)
    if loglike is ar1_concat:
        np.testing.assert_allclose(whole.params["rho"], Z[1:] @ Z[:-1] / (Z[:-1] @ Z[:-1]), rtol=1e-10)
    with pytest.raises(SpecificationError, match="not row by row") as info:
        hs.Model(loglike, start, Z, chunk_size=50)
    assert "expected" in str(info.value) and "fix" in str(info.value)
    if loglike is centred:
        with pytest.raises(SpecificationError, match="not row by row"):
            hs.Model(loglike, start, Z, chunk_size=1000)
    else:
        np.testing.assert_allclose(hs.fit(loglike, start, Z, chunk_size=1000).params, whole.params, rtol=1e-10)


def test_a_lag_hidden_by_a_zero_start_is_still_found():
    """rho = 0 at the start makes the lag term vanish; the check also evaluates near the start."""
    with pytest.raises(SpecificationError, match="not row by row"):
        hs.Model(ar1_concat, {"rho": 0.0}, Z, chunk_size=64)


def test_row_by_row_likelihoods_still_chunk_to_the_in_memory_fit():
    """Reference: the in-memory fit (1e-10), with data rows not a multiple of the chunk."""
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=1_003), np.ones(1_003)])
    y = (X @ [1.0, -0.5] + rng.logistic(size=1_003) > 0).astype(float)

    def logit(p, d):
        eta = d["X"] @ p["b"]
        return d["y"] * eta - jnp.logaddexp(0.0, eta)

    whole = hs.fit(logit, {"b": np.zeros(2)}, {"X": X, "y": y})
    for chunk in (100, 2_000):
        chunked = hs.fit(logit, {"b": np.zeros(2)}, {"X": X, "y": y}, chunk_size=chunk)
        np.testing.assert_allclose(chunked.bse, whole.bse, rtol=1e-10)


@pytest.mark.parametrize("loglike", [
    lambda p, d: -0.5 * (d[1:] - p["rho"] * d[:-1]) ** 2,                 # n - 1 values
    lambda p, d: jnp.sum(-0.5 * (d - p["rho"]) ** 2, keepdims=True),      # sums inside
], ids=["n-1 values", "sum inside"])
def test_a_chunked_likelihood_of_the_wrong_length_is_a_typed_error(loglike):
    """One value per row is required (a raw broadcasting TypeError, or nobs = 1, before)."""
    with pytest.raises(SpecificationError, match="wrong number of values") as info:
        hs.fit(loglike, {"rho": 0.0}, Z, chunk_size=50)
    assert "expected: one value per row" in str(info.value)


def test_parquet_row_source_refuses_a_lag(tmp_path):
    """A Parquet source evaluates blocks: the lag is found on its leading rows (typed error)."""
    path = tmp_path / "z.parquet"
    pd.DataFrame({"z": Z}).to_parquet(path)
    with pytest.raises(SpecificationError, match="not row by row"):
        hs.Model(lambda p, d: ar1_concat(p, d["z"]), {"rho": 0.0}, hs.ParquetSource(path, {"z": "z"}), chunk_size=50)


def test_rows_agree_is_the_one_comparison():
    """Equal to rounding, NaN in the same places: agree; otherwise (or another shape) not."""
    a = np.array([1.0, np.nan, -3.0])
    assert rows_agree(a * (1 + 1e-13), a)
    assert not rows_agree(a + 1e-3, a)
    assert not rows_agree(a[:2], a)


SHARD_SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    import hessstats as hs
    from hessstats.errors import SpecificationError
    assert len(jax.devices()) == 4
    z = np.cumsum(np.random.default_rng(0).normal(size=301))          # 301 rows: padded to 304
    def lead(p, d):                                                     # reversed cumulative sum
        return -0.5 * (jnp.cumsum(d[::-1])[::-1] / 100.0 - p["mu"]) ** 2
    def normal(p, d):
        return -0.5 * (d - p["mu"]) ** 2
    for fn, what in ((lead, "not row by row"), (lambda p, d: normal(p, d)[1:], "wrong number of values")):
        try:
            hs.Model(fn, {"mu": 0.0}, z, shard=True)
        except SpecificationError as e:
            assert what in str(e), str(e)
        else:
            raise AssertionError("accepted")
    whole, sharded = hs.fit(normal, {"mu": 0.0}, z), hs.fit(normal, {"mu": 0.0}, z, shard=True)
    np.testing.assert_allclose(sharded.bse, whole.bse, rtol=1e-12)
    print("ok")
""")


def test_padded_shards_refuse_leads_and_wrong_lengths():
    """4 forced CPU devices (subprocess): padding rows change a reversed cumulative sum, and n - 1
    values cannot be weighted per row; a row-by-row likelihood matches the one-device fit (1e-12)."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", SHARD_SCRIPT], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok"
