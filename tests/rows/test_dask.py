"""Fit from a Dask DataFrame on a 2-worker LocalCluster: the in-memory estimates to 1e-10.

Reference: the in-memory fit of the same likelihood (exact sums, different order) and statsmodels
0.15 ``Logit`` (analytic) at 1e-8. A task that fails once is retried by Dask (``retries=``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.errors import DataError, SpecificationError

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


def logit(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(11)
    n = 5_003
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x1", "x2", "x3"])
    df["const"] = 1.0
    df["y"] = (df[["x1", "x2", "x3"]].to_numpy() @ [0.5, -0.5, 0.2] + 0.1 + rng.logistic(size=n) > 0).astype(float)
    return df


COLUMNS = {"X": ["x1", "x2", "x3", "const"], "y": "y"}


def test_dask_fit_matches_in_memory(client, frame):
    ddf = dd.from_pandas(frame, npartitions=4)
    source = hs.DaskSource(ddf, COLUMNS, client=client)
    assert source.nobs == len(frame)
    res = hs.Model(logit, {"beta": np.zeros(4)}, source, chunk_size=1_000).fit(cov_type="nonrobust")
    X, y = frame[COLUMNS["X"]].to_numpy(), frame["y"].to_numpy()
    whole = hs.fit(logit, {"beta": np.zeros(4)}, {"X": X, "y": y})
    np.testing.assert_allclose(res.params, whole.params, rtol=1e-10)
    np.testing.assert_allclose(res.bse, whole.bse, rtol=1e-10)
    np.testing.assert_allclose(res.model.scores(res.theta), whole.model.scores(res.theta), rtol=1e-9, atol=1e-14)
    ref = sm.Logit(y, X).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=1e-8)


def test_failed_task_is_retried(client, frame, tmp_path):
    """The partition converter fails once (a flag file marks the failure); Dask retries and the fit
    still gives the in-memory estimates."""
    flag = tmp_path / "fail_once"

    def convert(part):
        if flag.exists():
            flag.unlink()
            raise RuntimeError("simulated worker failure")
        return {"X": part[COLUMNS["X"]].to_numpy(dtype=float), "y": part["y"].to_numpy(dtype=float)}

    source = hs.DaskSource(dd.from_pandas(frame, npartitions=3), convert, client=client, retries=2)
    model = hs.Model(logit, {"beta": np.zeros(4)}, source, chunk_size=1_000)
    flag.write_text("fail the next partition task once")  # armed after construction: hits a cluster task
    res = model.fit()
    assert not flag.exists()
    whole = hs.fit(logit, {"beta": np.zeros(4)}, {"X": frame[COLUMNS["X"]].to_numpy(), "y": frame["y"].to_numpy()})
    np.testing.assert_allclose(res.bse, whole.bse, rtol=1e-10)


def test_not_a_dask_frame_is_a_typed_error(client, frame):
    with pytest.raises(SpecificationError, match="dask DataFrame"):
        hs.DaskSource(frame, COLUMNS, client=client)


def test_recomputed_partitions_with_other_rows_are_refused(client, frame, tmp_path):
    """persist=False re-reads the Parquet files every pass: a rewritten partition changed with_cov
    silently; now a DataError naming the partition, and a deleted file a DataError too. Reference:
    the in-memory HC0 before the change (1e-10)."""
    directory = tmp_path / "parts"
    directory.mkdir()
    for i in range(3):
        frame.iloc[i * 1_700:(i + 1) * 1_700].to_parquet(directory / f"part{i}.parquet")
    source = hs.DaskSource(dd.read_parquet(directory), COLUMNS, client=client, persist=False)
    res = hs.Model(logit, {"beta": np.zeros(4)}, source, chunk_size=1_000).fit()
    whole = hs.fit(logit, {"beta": np.zeros(4)}, {"X": frame[COLUMNS["X"]].to_numpy(), "y": frame["y"].to_numpy()},
                   cov_type="HC0")
    np.testing.assert_allclose(res.with_cov("HC0").bse, whole.bse, rtol=1e-10)
    changed = frame.iloc[:1_700].copy()
    changed["y"] = 1.0 - changed["y"]
    changed.to_parquet(directory / "part0.parquet")
    with pytest.raises(DataError, match=r"partitions \[0\]"):
        res.with_cov("HC0")
    (directory / "part1.parquet").unlink()
    with pytest.raises(DataError, match="cannot be read"):
        res.with_cov("HC0")


def test_code_out_of_range_in_a_later_partition_is_refused(client):
    """The model is built on the source's first 64 rows; a code past the end in the last partition is
    found in the block that carries it, on the worker (in memory it is refused at construction:
    tests/core/test_indices.py). Reference: the codes themselves (constructed)."""
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"y": rng.normal(size=400), "g": rng.integers(0, 3, 400).astype(float)})
    df.loc[390, "g"] = 3.0

    def by_group(p, d):
        return -0.5 * (d["y"] - p["a"][d["g"].astype(jnp.int32)]) ** 2

    source = hs.DaskSource(dd.from_pandas(df, npartitions=4), {"y": "y", "g": "g"}, client=client)
    model = hs.Model(by_group, {"a": np.zeros(3)}, source, chunk_size=50)
    with pytest.raises(DataError, match="out of range"):
        model.fit()
