"""Regression-test estimates: tolerance-aware comparison, drift tables and snapshots (``hs.testing``).

:mod:`~hessstats.testing.assertions` compares a fit with a reference (a snapshot, another fit,
statsmodels results or a summary table); :mod:`~hessstats.testing.snapshots` writes and reads the
JSON snapshot files. The pytest plugin (:mod:`hessstats.pytest_plugin`) builds on both.
"""

from hessstats.testing.assertions import (
                                          DEFAULT_ATOL,
                                          DEFAULT_RTOL,
                                          assert_estimates_close,
                                          compare_estimates,
                                          drift_report,
)
from hessstats.testing.snapshots import Snapshot, data_fingerprint, load_snapshot, save_snapshot

__all__ = ["DEFAULT_ATOL", "DEFAULT_RTOL", "Snapshot", "assert_estimates_close", "compare_estimates",
           "data_fingerprint", "drift_report", "load_snapshot", "save_snapshot"]
