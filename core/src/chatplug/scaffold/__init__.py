"""Generating a complete, working provider plugin package (``chatplug new-plugin NAME``).

The package (``chatplug-<id>/``) holds ``pyproject.toml`` (entry points for the provider
and its emulator), ``src/chatplug_<name>/__init__.py`` (the three hooks), ``emulator.py``
(an offline emulator of the upstream), tests (including the conformance suite), a
README and a noxfile.  It installs and passes its own tests unchanged; the author then
replaces the example protocol with the real upstream's.

Names: NAME may use letters, digits, ``-``, ``_``, ``.`` and spaces, in any case
(``"My Provider"``, ``ACME_2``, ``chatplug-acme``).  The provider id is NAME lowercased
with separators turned into single dashes (``my-provider``), the distribution
``chatplug-<id>`` and the module ``chatplug_<id with underscores>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from importlib.abc import Traversable

TEMPLATE_PACKAGE = "chatplug.scaffold"
TEMPLATE_DIR = "template"
TEMPLATE_SUFFIX = ".tmpl"
MAX_NAME = 40
_ALLOWED = re.compile(r"^[A-Za-z0-9 ._-]+$")
_SEPARATORS = re.compile(r"[ ._-]+")
CORE_REQUIREMENT = "chatplug>=0.2,<1"


@dataclass(frozen=True)
class PluginNames:
    """The names derived from what the user typed."""

    provider: str  #: the provider id (entry-point name): ``my-provider``
    module: str  #: the import name: ``chatplug_my_provider``
    dist: str  #: the distribution name: ``chatplug-my-provider``
    title: str  #: for prose: ``My Provider``

    def substitutions(self) -> Dict[str, str]:
        return {
            "{{provider}}": self.provider,
            "{{module}}": self.module,
            "{{dist}}": self.dist,
            "{{title}}": self.title,
            "{{core_requirement}}": CORE_REQUIREMENT,
        }


def plugin_names(name: str) -> PluginNames:
    """Derive the provider id, module and distribution names; ``ValueError`` if impossible."""
    raw = name.strip()
    if not raw:
        raise ValueError("the plugin name is empty")
    if not _ALLOWED.match(raw):
        bad = sorted({ch for ch in raw if not _ALLOWED.match(ch)})
        raise ValueError(
            f"{name!r} contains {', '.join(repr(ch) for ch in bad)}: use ASCII letters, "
            "digits, '-', '_' or spaces (e.g. 'acme' or 'my-provider')"
        )
    words = [word for word in _SEPARATORS.split(raw.lower()) if word]
    if words[:1] == ["chatplug"] and len(words) > 1:  # "chatplug-acme" means "acme"
        words = words[1:]
    if not words:
        raise ValueError(f"{name!r} has no letters or digits; use e.g. 'acme'")
    provider = "-".join(words)
    if len(provider) > MAX_NAME:
        raise ValueError(f"{name!r} is too long: at most {MAX_NAME} characters")
    if provider == "chatplug":
        raise ValueError("'chatplug' is the core's own name; choose the provider's name")
    title = " ".join(word if not word.islower() else word.capitalize() for word in words)
    return PluginNames(
        provider=provider,
        module="chatplug_" + provider.replace("-", "_"),
        dist="chatplug-" + provider,
        title=title,
    )


def _template_root() -> "Traversable":
    from importlib.resources import files

    return files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR)


def _render(text: str, names: PluginNames) -> str:
    for key, value in names.substitutions().items():
        text = text.replace(key, value)
    return text


def _template_files(root: "Traversable", prefix: str = "") -> List["tuple[str, Traversable]"]:
    found: List["tuple[str, Traversable]"] = []
    for entry in sorted(root.iterdir(), key=lambda item: item.name):
        if entry.name in ("__pycache__",) or entry.name.endswith((".pyc", ".pyo")):
            continue
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.extend(_template_files(entry, relative + "/"))
        else:
            found.append((relative, entry))
    return found


def generate(name: Union[str, PluginNames], directory: Optional[Union[str, Path]] = None) -> Path:
    """Write the plugin package for ``name`` into ``directory`` (default ``./chatplug-<id>``).

    Refuses (``FileExistsError``) when ``directory`` exists and is not empty: nothing is
    ever overwritten.  Returns the directory.
    """
    names = name if isinstance(name, PluginNames) else plugin_names(name)
    target = Path(directory) if directory is not None else Path.cwd() / names.dist
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(
            f"{target} already exists and is not empty; choose another --dir (nothing was written)"
        )
    files = [
        (_render(relative, names), entry.read_text(encoding="utf-8"))
        for relative, entry in _template_files(_template_root())
    ]
    target.mkdir(parents=True, exist_ok=True)
    for relative, text in files:
        if relative.endswith(TEMPLATE_SUFFIX):
            relative = relative[: -len(TEMPLATE_SUFFIX)]
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8", newline="\n") as handle:
            handle.write(_render(text, names))
    return target


def __getattr__(name: str) -> Any:
    """``new_plugin_command`` (the click command) lives in :mod:`chatplug.cli.new_plugin`;
    it is still found here, loaded on first access."""
    if name == "new_plugin_command":
        import importlib

        return importlib.import_module("chatplug.cli.new_plugin").new_plugin_command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PluginNames", "generate", "new_plugin_command", "plugin_names"]
