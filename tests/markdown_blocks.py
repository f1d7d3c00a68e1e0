"""The one runner for Python code in Markdown (the README and every docs/*.md page).

A page's ```python blocks run top to bottom in one namespace, as a reader pastes them into one
session. A block preceded by the line ``<!-- docs-test: skip -->`` is a deliberate sketch (names
that come from the reader's own code) and is not run. Used by tests/test_readme.py and
tests/test_docs_site.py.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

SKIP_MARK = "<!-- docs-test: skip -->"
FENCE = re.compile(r"(" + re.escape(SKIP_MARK) + r"\n)?```python\n(.*?)```", re.S)


@dataclass(frozen=True)
class Block:
    """One ```python block: where it starts (1-based line), whether it is skipped, its code."""

    line: int
    skip: bool
    code: str


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a Markdown file, in order."""
    text = Path(path).read_text()
    return [Block(text[: m.start()].count("\n") + 1, bool(m.group(1)), m.group(2)) for m in FENCE.finditer(text)]


def run_blocks(path: Path, label: str | None = None) -> int:
    """Run the page's blocks in order in one namespace (in the current directory); return how many ran.

    A failing block raises ``AssertionError`` naming the page and line. Warnings are not failures
    here: the pages show the warnings a user sees.
    """
    label = label or Path(path).name
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for block in python_blocks(path):
        if block.skip:
            continue
        compiled = compile(block.code, f"{label}:{block.line}", "exec")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(compiled, namespace)
            except Exception as exc:
                raise AssertionError(f"{label}: the block at line {block.line} failed: {type(exc).__name__}: {exc}") from exc
        ran += 1
    return ran
