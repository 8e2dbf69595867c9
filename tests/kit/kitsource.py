"""Plugins as source text, for the kit's tests: load one as a module, patch it to break it.

The broken variants of a plugin are its source with one replacement, so that each reads as
the mistake a real plugin makes; a replacement whose text is gone fails loudly (the template
or the documented example changed).
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType
from typing import Callable

_counter = itertools.count()

Patch = Callable[[str], str]


def load_source(text: str, directory: Path, stem: str) -> ModuleType:
    """``text`` written to ``directory`` and imported as a fresh module (a unique name)."""
    name = f"_kit_{stem}_{next(_counter)}"
    path = directory / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def replace(old: str, new: str) -> Patch:
    """A patch replacing ``old`` (which must be there) with ``new``."""

    def patch(text: str) -> str:
        assert old in text, f"the plugin's source changed: {old!r} not found"
        return text.replace(old, new)

    return patch
