"""Where the rows come from: data preparation and row-leaf handling, row sources (in memory,
Parquet, Dask) and sharding over devices. Imports only :mod:`hessstats.errors`,
:mod:`hessstats._checks`, :mod:`hessstats._progress` and :mod:`hessstats._config`."""
