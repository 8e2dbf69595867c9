"""Installing a plugin for a test: a distribution written as pip would write it, no pip.

:func:`write_distribution` puts modules and a ``.dist-info`` (``METADATA``,
``entry_points.txt``, ``top_level.txt``) into a directory; with that directory on
``sys.path`` (or ``PYTHONPATH`` for a subprocess), ``importlib.metadata`` discovers the
distribution's entry points exactly as it discovers a pip-installed plugin's::

    site = tmp_path / "site"
    write_distribution(
        site,
        "chatplug-acme",
        {"chatplug.providers": {"acme": "chatplug_acme"}},
        modules={"chatplug_acme": PLUGIN_SOURCE},
    )
    monkeypatch.syspath_prepend(str(site))
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Mapping, Optional, Union


def write_distribution(
    site: Union[str, Path],
    name: str,
    entry_points: Mapping[str, Mapping[str, str]],
    *,
    version: str = "0.1",
    modules: Optional[Mapping[str, str]] = None,
) -> Path:
    """Write the distribution ``name`` into ``site`` (created if missing).

    ``entry_points``: group -> {entry name: object reference}; ``modules``: module name ->
    source, each written as ``<module>.py``.  Returns the ``.dist-info`` directory.
    """
    root = Path(site)
    root.mkdir(parents=True, exist_ok=True)
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(source, encoding="utf-8")
    info = root / f"{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items()) + "\n"
            for group, entries in entry_points.items()
        ),
        encoding="utf-8",
    )
    if modules:
        (info / "top_level.txt").write_text("".join(f"{m}\n" for m in modules), encoding="utf-8")
    importlib.invalidate_caches()  # a running interpreter sees the new files at once
    return info
