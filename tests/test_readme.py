"""Docs as users read them: every Python block of the README runs as written.

Blocks run top to bottom in one namespace, as a reader pastes them into one session, in a fresh
working directory; a block preceded by ``<!-- readme-test: partial -->`` is a deliberately partial
sketch and is only compiled. Reference: the README itself (issue 11, "Green everywhere").
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"(<!-- readme-test: partial -->\n)?```python\n(.*?)```", re.S)


def _blocks() -> list[tuple[int, bool, str]]:
    text = (ROOT / "README.md").read_text()
    return [(text[: m.start()].count("\n") + 1, bool(m.group(1)), m.group(2)) for m in FENCE.finditer(text)]


def test_readme_has_python_blocks():
    assert len(_blocks()) >= 6


def test_every_readme_python_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    ran = 0
    for line, partial, code in _blocks():
        compiled = compile(code, f"README.md:{line}", "exec")
        if partial:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the README shows the warnings a user sees; they are not failures here
            try:
                exec(compiled, namespace)
            except Exception as exc:  # pragma: no cover - the message names the block
                pytest.fail(f"README block at line {line} failed: {type(exc).__name__}: {exc}")
        ran += 1
    assert ran >= 5
