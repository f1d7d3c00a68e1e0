"""Docs as users read them: the README's Quick start is the two commands CI runs, every Python
block of the README runs as written, and every link to the documentation resolves.

Blocks run top to bottom in one namespace, as a reader pastes them into one session, in a fresh
working directory, with the one runner the docs pages use (tests/markdown_blocks.py; a block
preceded by ``<!-- docs-test: skip -->`` is a sketch and is not run). Reference: the README itself
and .ci/run (issue 11, "Green everywhere"; issue 14, the README of about 120-150 lines).
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown_blocks import python_blocks, run_blocks

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_readme_has_python_blocks():
    assert len([b for b in python_blocks(README) if not b.skip]) >= 1


def test_every_readme_python_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_blocks(README) == len([b for b in python_blocks(README) if not b.skip])


def test_quick_start_is_the_two_commands_ci_runs():
    """Exactly two commands: install + the main job on bundled data, and install the test extras + the suite
    (the second is what .ci/run executes in a fresh virtual environment)."""
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```console\n(.*?)```", section, re.S)
    commands = block.strip().splitlines()
    assert commands == ['pip install . && hessstats fit spector --model logit --formula "GRADE ~ GPA + TUCE + PSI"',
                        'pip install ".[test]" && pytest']
    assert 'pip install ".[test]" && pytest' in (ROOT / ".ci" / "run").read_text()


def test_readme_is_short_and_its_links_resolve():
    text = README.read_text()
    assert 100 <= len(text.splitlines()) <= 160
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert len(local) >= 10
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"
