"""pytest plugin for hessstats (issue 6): the ``estimates_snapshot`` fixture.

Registered through the ``pytest11`` entry point in pyproject.toml.
Work in progress: the fixture is added in a follow-up commit.
"""

from __future__ import annotations


def pytest_addoption(parser) -> None:
    """Add ``--hessstats-update`` (write or refresh estimate snapshots)."""
    group = parser.getgroup("hessstats")
    group.addoption(
        "--hessstats-update",
        action="store_true",
        default=False,
        help="write or refresh hessstats estimate snapshots instead of comparing",
    )
