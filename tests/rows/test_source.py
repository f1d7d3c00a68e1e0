"""Chunked fits: the same estimates as in memory, with bounded memory; Parquet read in row blocks.

References: the in-memory fit of the same likelihood (exact sums in a different order: 1e-10),
and statsmodels 0.15 ``Logit`` (analytic) at 1e-8.
"""

from __future__ import annotations

import os

import jax.numpy as jnp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.core import compilation as diff
from hessstats.errors import DataError, SpecificationError


def logit(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


def logit_obs(eta, params, d):
    return d["y"] * eta["beta"] - jnp.logaddexp(0.0, eta["beta"])


def simulate(n, k, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=(n, k - 1)), np.ones(n)])
    y = (X @ np.linspace(-0.5, 0.5, k) + rng.logistic(size=n) > 0).astype(float)
    return X, y


def write_parquet(path, X, y, row_group_size):
    table = pa.table({**{f"x{j}": X[:, j] for j in range(X.shape[1])}, "y": y})
    pq.write_table(table, path, row_group_size=row_group_size)
    return {"X": [f"x{j}" for j in range(X.shape[1])], "y": "y"}


def test_in_memory_chunks_equal_whole_fit_and_compile_once():
    """n = 10,007 (not a multiple of the chunk): the padded last block adds nothing; one compile."""
    X, y = simulate(10_007, 4)
    data = {"X": X, "y": y, "unused_table": np.arange(3.0)}  # a leaf without the row dimension: passed whole

    def loglike(p, d):
        return logit(p, d) + 0.0 * jnp.sum(d["unused_table"])

    whole = hs.fit(loglike, {"beta": np.zeros(4)}, data)
    model = hs.Model(loglike, {"beta": np.zeros(4)}, data, chunk_size=1_000)
    before = diff.trace_count("value_grad_hess")
    chunked = model.fit(cov_type="nonrobust")
    assert diff.trace_count("value_grad_hess") - before <= 1  # 11 blocks, one shape, one compile
    np.testing.assert_allclose(chunked.params, whole.params, rtol=1e-10)
    np.testing.assert_allclose(chunked.bse, whole.bse, rtol=1e-10)
    np.testing.assert_allclose(chunked.llf, whole.llf, rtol=1e-12)
    np.testing.assert_allclose(model.scores(whole.theta), whole.model.scores(whole.theta), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(model.loglike_obs(whole.theta), whole.model.loglike_obs(whole.theta), rtol=1e-12)


def test_parquet_source_matches_in_memory_and_statsmodels(tmp_path):
    """n = 2e5, k = 5 from a Parquet file with uneven row groups, chunk 30,000: 1e-10 vs in memory."""
    X, y = simulate(200_000, 5, seed=3)
    columns = write_parquet(tmp_path / "logit.parquet", X, y, row_group_size=45_000)
    source = hs.ParquetSource(tmp_path / "logit.parquet", columns)
    assert source.nobs == 200_000
    streamed = hs.Model(logit, {"beta": np.zeros(5)}, source, chunk_size=30_000).fit()
    whole = hs.fit(logit, {"beta": np.zeros(5)}, {"X": X, "y": y})
    np.testing.assert_allclose(streamed.params, whole.params, rtol=1e-10)
    np.testing.assert_allclose(streamed.bse, whole.bse, rtol=1e-10)
    assert streamed.nobs == 200_000
    ref = sm.Logit(y, X).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(streamed.bse.to_numpy(), ref.bse, rtol=1e-8)
    # the index-model kernel serves the same blocks
    indexed = hs.IndexModel(logit_obs, {"beta": np.zeros(5)}, source, design={"beta": "X"}, chunk_size=30_000).fit()
    np.testing.assert_allclose(indexed.bse, whole.bse, rtol=1e-10)


def test_parquet_nan_and_missing_columns_are_typed_errors(tmp_path):
    X, y = simulate(100, 2)
    X[57, 0] = np.nan
    columns = write_parquet(tmp_path / "bad.parquet", X, y, row_group_size=40)
    with pytest.raises(DataError, match="first at row 57"):
        hs.Model(logit, {"beta": np.zeros(2)}, hs.ParquetSource(tmp_path / "bad.parquet", columns),
                 chunk_size=30).fit()
    with pytest.raises(DataError, match="missing"):
        hs.ParquetSource(tmp_path / "bad.parquet", {"X": ["x0", "nope"], "y": "y"})


def test_bad_chunk_size_and_scalar_loglike_are_refused():
    X, y = simulate(50, 2)
    with pytest.raises(SpecificationError, match="chunk_size"):
        hs.Model(logit, {"beta": np.zeros(2)}, {"X": X, "y": y}, chunk_size=0)
    with pytest.raises(SpecificationError, match="per-observation"):
        hs.Model(lambda p, d: jnp.sum(logit(p, d)), {"beta": np.zeros(2)}, {"X": X, "y": y}, chunk_size=10)


FIT_SCRIPT = """
import resource, sys, time, numpy as np, jax.numpy as jnp, psutil, hessstats as hs
path, k, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def logit_obs(eta, params, d):
    return d["y"] * eta["beta"] - jnp.logaddexp(0.0, eta["beta"])
import threading
source = hs.ParquetSource(path, {"X": [f"x{j}" for j in range(k)], "y": "y"})
model = hs.IndexModel(logit_obs, {"beta": np.zeros(k)}, source, design={"beta": "X"}, chunk_size=chunk)
model.evaluate(model.start)                      # compile first: the growth below is the data's
proc, samples, done = psutil.Process(), [], threading.Event()
base = proc.memory_info().rss
def sample():
    while not done.is_set():
        samples.append(proc.memory_info().rss)
        time.sleep(0.005)
thread = threading.Thread(target=sample)
thread.start()
start = time.perf_counter()
res = model.fit()
seconds = time.perf_counter() - start
done.set(); thread.join()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(res.converged, max(samples) - base, peak, seconds, res.iterations, *res.params.tolist(), *res.bse.tolist())
"""


@pytest.mark.slow
def test_full_scale_parquet_fit(tmp_path):
    """n = 2e7, k = 20 with HESSSTATS_FULL_SCALE=1 (else n = 4e5): in a fresh process, after the
    kernels are compiled, the fit grows memory (RSS sampled every 5 ms) by less than 1.5x the design
    matrix n k 8 bytes (issue 7 target); the process's whole peak RSS is printed too.

    Reference: the true coefficients of the simulation (estimates within 6 standard errors)."""
    import subprocess
    import sys
    from pathlib import Path

    full = os.environ.get("HESSSTATS_FULL_SCALE") == "1"
    n, k, piece = (20_000_000, 20, 1_000_000) if full else (400_000, 20, 100_000)
    path = tmp_path / "big.parquet"
    rng = np.random.default_rng(7)
    beta = np.linspace(-0.5, 0.5, k)
    writer = None
    for _ in range(0, n, piece):  # write in pieces: the test never holds the whole design
        Xb = np.column_stack([rng.normal(size=(piece, k - 1)), np.ones(piece)])
        yb = (Xb @ beta + rng.logistic(size=piece) > 0).astype(float)
        table = pa.table({**{f"x{j}": Xb[:, j] for j in range(k)}, "y": yb})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=piece // 4)
    writer.close()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    chunk = 500_000 if full else 50_000
    out = subprocess.run([sys.executable, "-c", FIT_SCRIPT, str(path), str(k), str(chunk)],
                         env=env, capture_output=True, text=True, timeout=3000)
    assert out.returncode == 0, out.stderr[-3000:]
    fields = out.stdout.split()
    converged, growth, peak, seconds, iterations = fields[0] == "True", *map(float, fields[1:5])
    params, bse = np.array(fields[5:5 + k], float), np.array(fields[5 + k:], float)
    print(f"n={n:,} k={k}: fit {seconds:.1f} s, {iterations:.0f} iterations, peak RSS {peak / 1e9:.2f} GB "
          f"(growth {growth / 1e9:.2f} GB; design {n * k * 8 / 1e9:.2f} GB)")
    assert converged
    assert np.all(np.abs(params - beta) < 6 * bse)
    assert growth < 1.5 * n * k * 8


def test_progress_bar_is_opt_in(capsys):
    """tqdm bar over row blocks when progress=True; silent by default (stderr is not a terminal here).
    Reference: the value of the in-memory evaluation (exact)."""
    X, y = simulate(1_000, 2)
    quiet = hs.Model(logit, {"beta": np.zeros(2)}, {"X": X, "y": y}, chunk_size=100)
    loud = hs.Model(logit, {"beta": np.zeros(2)}, {"X": X, "y": y}, chunk_size=100, progress=True)
    whole = hs.Model(logit, {"beta": np.zeros(2)}, {"X": X, "y": y})
    np.testing.assert_allclose(quiet.evaluate(np.ones(2))[0], whole.evaluate(np.ones(2))[0], rtol=1e-13)
    assert "hessstats blocks" not in capsys.readouterr().err
    loud.evaluate(np.ones(2))
    assert "hessstats blocks" in capsys.readouterr().err


def test_row_source_is_an_abstract_base():
    """A row source must say how to sample and how to make blocks (abc), not fail at fit time."""
    from hessstats.rows.source import RowSource

    class Incomplete(RowSource):
        nobs = 3

        def sample(self):
            return {"y": np.zeros(3)}

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


# ----------------------------------------------------------------------------- source fingerprints

def test_a_rewritten_parquet_file_is_refused_not_used_by_with_cov(tmp_path):
    """with_cov after the file was rewritten re-read other rows (HC0 of another data set); now a
    DataError naming the change. Reference: the fit's own HC0 on the unchanged file (1e-12)."""
    X, y = simulate(500, 2, seed=7)
    path = tmp_path / "d.parquet"
    columns = write_parquet(path, X, y, row_group_size=120)
    res = hs.Model(logit, {"beta": np.zeros(2)}, hs.ParquetSource(path, columns), chunk_size=128).fit()
    hc0 = res.with_cov("HC0").bse
    whole = hs.fit(logit, {"beta": np.zeros(2)}, {"X": X, "y": y}, cov_type="HC0")
    np.testing.assert_allclose(hc0, whole.bse, rtol=1e-10)
    write_parquet(path, X, 1.0 - y, row_group_size=120)
    with pytest.raises(DataError, match="changed while the model was using it") as info:
        res.with_cov("HC0")
    assert "rewritten" in str(info.value) and "fix:" in str(info.value)


def test_rows_changed_under_the_same_description_are_refused():
    """A re-read source whose description cannot see the edit: the CRC-32 of the rows on the
    second pass differs from the first's (reference: zlib.crc32 of the rows), a DataError."""
    from hessstats.rows.source import ArraySource

    class Reread(ArraySource):
        checksum_rows = True

    X, y = simulate(300, 2, seed=8)
    data = {"X": X.copy(), "y": y.copy()}
    model = hs.Model(logit, {"beta": np.zeros(2)}, Reread(data, 300), chunk_size=64)
    model.evaluate(np.zeros(2))
    model.evaluate(np.ones(2))  # same rows: fine
    data["y"][:10] = 1.0 - data["y"][:10]
    with pytest.raises(DataError, match="checksum of its rows"):
        model.evaluate(np.zeros(2))


def test_truncated_and_deleted_parquet_files_are_typed_errors(tmp_path):
    """A truncated footer and a deleted file raised raw ArrowInvalid / FileNotFoundError."""
    X, y = simulate(200, 2, seed=9)
    path = tmp_path / "d.parquet"
    columns = write_parquet(path, X, y, row_group_size=50)
    model = hs.Model(logit, {"beta": np.zeros(2)}, hs.ParquetSource(path, columns), chunk_size=64)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    for call in (model.fit, lambda: hs.ParquetSource(path, columns)):
        with pytest.raises(DataError, match="cannot be read|changed") as info:
            call()
        assert "expected:" in str(info.value) and "fix:" in str(info.value)
    os.remove(path)
    with pytest.raises(DataError, match="cannot be read"):
        model.fit()
