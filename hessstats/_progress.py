"""One progress-bar rule for every long loop (row blocks, Hessian column blocks, profiled parameters)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], total: int, *, desc: str, unit: str = "it", show: bool | None = None,
             minimum: int = 16) -> Iterator[T]:
    """``items``, wrapped in a tqdm bar when ``show`` is True, or by default (``show=None``) when
    stderr is a terminal and there are at least ``minimum`` items.

    Example
    -------
    >>> list(progress(range(3), 3, desc="demo", show=False))
    [0, 1, 2]
    """
    visible = show if show is not None else (sys.stderr.isatty() and total >= minimum)
    if not visible:
        return iter(items)
    from tqdm.auto import tqdm  # optional display dependency, imported only when a bar is shown

    return iter(tqdm(items, total=total, desc=desc, unit=unit, leave=False))
