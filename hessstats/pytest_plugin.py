"""pytest plugin: the ``estimates_snapshot`` fixture and the ``--hessstats-update`` option.

Registered by the ``pytest11`` entry point when hessstats is installed; from a source tree use
``pytest -p hessstats.pytest_plugin``. Conventions follow syrupy (``__snapshots__`` next to the
test file, an update flag) and pytest-regressions (per-quantity tolerances)::

    def test_logit(estimates_snapshot):
        res = hs.fit(...)
        estimates_snapshot(res)                       # __snapshots__/test_mod/test_logit.json
        estimates_snapshot(res2, name="probit", rtol={"std_err": 1e-6})

A missing snapshot fails the test with the command that creates it (it is never written silently:
a test that passes because nothing was stored would hide every change). With
``--hessstats-update`` missing snapshots are written and snapshots whose estimates drifted beyond
tolerance are refreshed; snapshots that still match are left untouched, so refreshing does not
churn files whose numbers did not change. Writes are deferred to the end of the test and happen
only if the test itself passed: a test that fails (an assertion after ``estimates_snapshot``,
an exception, an xfail) never overwrites its snapshot.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ENTRY_POINT_NAME = "hessstats"
_WRITTEN = pytest.StashKey[list]()
_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


def pytest_addhooks(pluginmanager) -> None:
    """Avoid a double registration when both ``-p hessstats.pytest_plugin`` and the entry point load us.

    ``-p`` registers this module under its module name before entry points are loaded; the
    ``pytest11`` entry point would then register the same module again as ``hessstats`` and pluggy
    raises. Blocking that second name makes the entry point skip it.
    """
    me = sys.modules[__name__]
    name = pluginmanager.get_name(me)
    if name != ENTRY_POINT_NAME and pluginmanager.get_plugin(ENTRY_POINT_NAME) is None:
        pluginmanager.set_blocked(ENTRY_POINT_NAME)


def pytest_addoption(parser) -> None:
    """Add ``--hessstats-update`` (write or refresh estimate snapshots)."""
    group = parser.getgroup("hessstats")
    group.addoption(
        "--hessstats-update", action="store_true", default=False,
        help="write missing hessstats estimate snapshots and refresh those that drifted, instead of failing")


def pytest_configure(config) -> None:
    config.stash[_WRITTEN] = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep the call-phase report on the item: the fixture's teardown writes only if the test passed."""
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    written = config.stash.get(_WRITTEN, [])
    if written:
        terminalreporter.write_sep("-", f"hessstats: wrote {len(written)} estimate snapshot(s)")
        for line in written:
            terminalreporter.write_line(line)


class EstimatesSnapshot:
    """Compare a fit with its stored snapshot; write it under ``--hessstats-update``.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> request = SimpleNamespace(config=SimpleNamespace(getoption=lambda name: False),
    ...                           path=Path("tests/test_fit.py"), node=SimpleNamespace(name="test_logit[a b]"))
    >>> EstimatesSnapshot(request).path_for().as_posix()
    'tests/__snapshots__/test_fit/test_logit[a_b].json'
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._count = 0
        self._pending: dict[Path, tuple[Any, str]] = {}
        self.update = bool(request.config.getoption("hessstats_update"))
        self.directory = Path(request.path).parent / "__snapshots__" / Path(request.path).stem

    def path_for(self, name: str | None = None) -> Path:
        """Where the snapshot called ``name`` (default: the test's name) is stored."""
        if name is None:
            name = self._request.node.name + (f"-{self._count}" if self._count else "")
            self._count += 1
        return self.directory / (re.sub(r"[^\w.\[\]=,+-]", "_", name) + ".json")

    def __call__(self, res: Any, *, name: str | None = None, rtol: float | dict | None = None,
                 atol: float | dict | None = None, columns: list[str] | None = None) -> Path:
        """Assert ``res`` matches its snapshot (see :func:`hessstats.testing.assert_estimates_close`)."""
        # deferred: pytest loads this plugin in every session; JAX is imported only when the fixture is used
        from hessstats import testing
        from hessstats.errors import SnapshotError

        path = self.path_for(name)
        tol = {"rtol": testing.DEFAULT_RTOL if rtol is None else rtol,
               "atol": testing.DEFAULT_ATOL if atol is None else atol, "columns": columns}
        command = self._update_command()
        if not path.exists():
            if self.update:
                return self._write(res, path, "created")
            pytest.fail(f"estimate snapshot {path} does not exist.\nCreate it with:\n    {command}", pytrace=False)
        try:
            testing.assert_estimates_close(res, path, **tol)
        except SnapshotError as exc:
            if self.update:
                return self._write(res, path, "replaced unreadable")
            pytest.fail(f"{exc}\nRegenerate it with:\n    {command}", pytrace=False)
        except AssertionError as exc:
            if self.update:
                return self._write(res, path, "refreshed")
            raise AssertionError(f"{exc}\nIf this change is expected, refresh the snapshot with:\n    {command}") from None
        return path

    def _write(self, res: Any, path: Path, what: str) -> Path:
        """Record the write; :meth:`flush` performs it at teardown if the test passed."""
        self._pending[path] = (res, what)
        return path

    def flush(self) -> list[Path]:
        """Write the pending snapshots if the test's call phase passed; drop them otherwise.

        Returns the paths written (called by the fixture's teardown).
        """
        from hessstats.testing import save_snapshot  # deferred: see __call__

        pending, self._pending = self._pending, {}
        report = self._request.node.stash.get(_CALL_REPORT, None)
        if not pending or report is None or not report.passed:
            return []
        written = []
        for path, (res, what) in pending.items():
            save_snapshot(res, path)
            self._request.config.stash[_WRITTEN].append(f"{what}: {path}")
            written.append(path)
        return written

    def _update_command(self) -> str:
        config = self._request.config
        loaded_by_p = config.pluginmanager.get_name(sys.modules[__name__]) != ENTRY_POINT_NAME
        return (f"cd {shlex.quote(str(config.rootpath))} && python -m pytest "
                f"{shlex.quote(self._request.node.nodeid)} --hessstats-update"
                + (f" -p {__name__}" if loaded_by_p else ""))


@pytest.fixture
def estimates_snapshot(request: pytest.FixtureRequest) -> Iterator[EstimatesSnapshot]:
    """Compare fit results with snapshots in ``__snapshots__/<test_module>/<test_name>.json``.

    Call it with a FitResult; ``name=`` overrides the file name (several snapshots per test get
    ``<test_name>-1``, ``-2``, ... otherwise); ``rtol``/``atol``/``columns`` as
    :func:`hessstats.testing.assert_estimates_close`. Run ``pytest --hessstats-update`` to write.

    Example (in a test module; it needs pytest, so it is not a doctest)::

        def test_spector_logit(estimates_snapshot):
            res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
            estimates_snapshot(res, rtol={"coef": 1e-8, "std_err": 1e-6})

    Under ``--hessstats-update`` the snapshots are written when the test ends, and only if it passed.
    """
    snapshot = EstimatesSnapshot(request)
    yield snapshot
    snapshot.flush()
