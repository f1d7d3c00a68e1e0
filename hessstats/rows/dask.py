"""Fit from a Dask DataFrame: each partition runs the same compiled kernels; the client adds them.

Each Newton iteration sends one task per partition to the cluster. A task converts its pandas
partition to the data pytree, evaluates the model's kernel (``(llf, gradient, Hessian)``, or per-row
scores) in blocks of ``chunk_size`` rows, and returns the partition's sums; the client reduces them
and takes the optimiser's step. Tasks are submitted with ``retries=`` so a worker lost mid-fit (or
a task that fails transiently) is recomputed by Dask, not lost.

Real cluster::

    from dask.distributed import Client
    client = Client("tcp://scheduler-host:8786")          # or a dask-jobqueue / Kubernetes cluster
    ddf = dask.dataframe.read_parquet("s3://bucket/data/*.parquet")
    source = hs.DaskSource(ddf, {"X": ["x1", "x2", "const"], "y": "y"}, client=client)
    res = hs.Model(loglike, start, source).fit()

The workers need hessstats and JAX installed, and the log-likelihood must be importable there (a
module on the workers' path) or defined in ``__main__`` (cloudpickle then ships it by value).

Every task also returns a CRC-32 of its partition's rows; the client compares them with the first
pass's, so partitions recomputed with other values (a changed source, ``persist=False``) are a
:class:`~hessstats.errors.DataError`, as is a source that can no longer be read (a deleted file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from hessstats.errors import DataError, HessstatsError, SpecificationError, message
from hessstats.rows.prepare import host_leaf
from hessstats.rows.source import ArraySource, Block, RowSource, rows_checksum, source_changed

Columns = Mapping[str, str | Sequence[str]] | Callable[[Any], Any]


def partition_data(frame: Any, columns: Columns) -> Any:
    """The data pytree of one pandas partition: ``{key: column}`` / ``{key: [columns]}`` or a callable.

    Example
    -------
    >>> import pandas as pd
    >>> d = partition_data(pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]}), {"X": ["a", "b"], "y": "b"})
    >>> d["X"].tolist(), d["y"].tolist()
    ([[1.0, 3.0], [2.0, 4.0]], [3.0, 4.0])
    """
    if callable(columns):  # the user's pytree: numbers as float64, index arrays kept (as prepare_data)
        data = jax.tree_util.tree_map_with_path(host_leaf, columns(frame))
    else:
        data = {key: frame[cols].to_numpy(dtype=np.float64) if not isinstance(cols, str)
                else frame[cols].to_numpy(dtype=np.float64) for key, cols in columns.items()}
    for key, value in (data.items() if isinstance(data, Mapping) else []):
        arr = np.asarray(value)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise DataError(message(
                f"data {key!r} has non-finite values in a partition", expected="finite numbers",
                got=f"{int((~np.isfinite(arr)).sum())} non-finite of {arr.size}",
                fix="drop or impute those rows (e.g. ddf.dropna()) before fitting"))
    return data


def _partition_task(fn: Callable, frame: Any, columns: Columns, chunk_size: int, what: str):
    data = partition_data(frame, columns)
    source = ArraySource(data, len(frame))
    crc = rows_checksum(data, np.ones(len(frame)))
    if what == "reduce":
        return source.reduce(fn, chunk_size, progress=False), crc
    return source.rows(fn, chunk_size, progress=False), crc


class DaskSource(RowSource):
    """Rows of a Dask DataFrame, evaluated partition by partition on a ``dask.distributed`` cluster.

    ``columns`` maps data keys to a column (1-d) or a list of columns (2-d, in that order), or is a
    function ``partition (pandas DataFrame) -> data pytree``. ``client`` defaults to the current
    ``distributed`` client; ``retries`` is passed to ``client.compute``. The DataFrame is persisted
    on the workers once (``persist=False`` to recompute it from its source each iteration).

    Example
    -------
    >>> import numpy as np, pandas as pd, jax.numpy as jnp, dask.dataframe as dd, hessstats as hs
    >>> from distributed import Client, LocalCluster
    >>> cluster = LocalCluster(n_workers=1, processes=False, dashboard_address=None)
    >>> client = Client(cluster)
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 4.0, 3.0, 5.0]})
    >>> source = DaskSource(dd.from_pandas(df, npartitions=2), {"y": "y"}, client=client)
    >>> res = hs.Model(lambda p, d: -0.5 * (d["y"] - p["mu"]) ** 2, {"mu": 0.0}, source).fit()
    >>> round(float(res.params["mu"]), 10), source.nobs
    (3.0, 5)
    >>> client.close(); cluster.close()
    """

    default_chunk_size = 65_536

    def __init__(self, ddf: Any, columns: Columns, *, client: Any = None, retries: int = 3, persist: bool = True):
        import dask.dataframe as dd  # optional dependency (the dask extra), needed only for this source
        from distributed import default_client

        if not isinstance(ddf, dd.DataFrame):
            raise SpecificationError(message(
                "DaskSource needs a dask DataFrame", expected="a dask.dataframe.DataFrame",
                got=type(ddf).__name__, fix="e.g. dask.dataframe.from_pandas(df, npartitions=8)"))
        self.client = client or default_client()
        self.columns, self.retries = columns, int(retries)
        self.ddf = self.client.persist(ddf) if persist else ddf
        self.partitions = self.ddf.to_delayed()
        self.nobs = int(self.ddf.map_partitions(len).compute().sum())

    def sample(self) -> Any:
        return partition_data(self.ddf.head(64, npartitions=-1), self.columns)

    def blocks(self, chunk_size: int) -> Iterator[Block]:
        """Row blocks of every partition, computed here one partition at a time (``reduce`` and
        ``rows`` run on the cluster instead)."""
        for part in self.partitions:
            frame = part.compute()
            yield from ArraySource(partition_data(frame, self.columns), len(frame)).blocks(chunk_size)

    def _run(self, fn: Callable, chunk_size: int, what: str) -> list:
        import dask  # optional dependency, as above

        tasks = [dask.delayed(_partition_task)(fn, part, self.columns, chunk_size, what) for part in self.partitions]
        try:
            futures = self.client.compute(tasks, retries=self.retries)
            results = self.client.gather(futures)
        except HessstatsError:
            raise
        except OSError as exc:  # the source went away (a deleted file)
            raise DataError(message(
                "the Dask source cannot be read any more", expected="the partitions the model was built from",
                got=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300],
                fix="keep the source files until the fit and its covariances are done, or persist the frame "
                    "(persist=True, the default)")) from None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] != "pyarrow":
                raise
            raise DataError(message(
                "the Dask source cannot be read any more", expected="readable partitions",
                got=f"{type(exc).__name__}: {exc}"[:300], fix="check that the source files are complete")) from None
        checksums = [crc for _, crc in results]
        first = self.__dict__.setdefault("_checksums", checksums)
        if checksums != first:
            changed = [i for i, (a, b) in enumerate(zip(first, checksums)) if a != b]
            raise source_changed(self, f"the rows of partitions {changed[:10]}", first[:4], checksums[:4])
        return [out for out, _ in results]

    def reduce(self, fn: Callable, chunk_size: int, progress: bool | None = None) -> tuple:
        parts = self._run(fn, chunk_size, "reduce")
        return tuple(sum(part[i] for part in parts) for i in range(len(parts[0])))

    def rows(self, fn: Callable, chunk_size: int, progress: bool | None = None) -> np.ndarray:
        return np.concatenate(self._run(fn, chunk_size, "rows"), axis=0)
