"""A griffe extension for the API reference: hessstats docstrings title their doctest section
``Example`` (one example each); numpy style spells it ``Examples``. Renaming it at load time lets
mkdocstrings render those sections as examples (code) instead of a stray heading."""

from __future__ import annotations

import re

import griffe

_TITLE = re.compile(r"^(\s*)Example\n(\s*)-{7}$", re.M)


class ExampleSections(griffe.Extension):
    """Rename ``Example`` / ``-------`` section titles to ``Examples`` / ``--------``."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _TITLE.sub(r"\1Examples\n\2--------", obj.docstring.value)
