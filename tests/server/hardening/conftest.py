"""Fixtures of the hardening tests: ``chatplug serve`` with misbehaving plugins.

The providers of ``fakeplugin/chatplug_faulty.py`` (``faulty``, ``hangs``, ``exits``) are
installed for the server subprocess by a ``.dist-info`` in a temporary directory, next to
the scripted ``servertest`` providers of the parent directory's ``conftest.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, Iterator

import pytest

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from server_harness import ServerProcess, start_server_with  # noqa: E402


@pytest.fixture(scope="session")
def faulty_env(
    plugin_env: Dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Dict[str, str]:
    """A server environment with the misbehaving providers installed (``faulty`` enabled)."""
    root = tmp_path_factory.mktemp("faulty-site")
    info = root / "chatplug_faulty-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: chatplug-faulty\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[chatplug.providers]\n"
        "faulty = chatplug_faulty\n"
        "hangs = chatplug_faulty:hangs\n"
        "exits = chatplug_faulty_import\n",
        encoding="utf-8",
    )
    env = dict(plugin_env)
    env["PYTHONPATH"] = os.pathsep.join([str(root), env["PYTHONPATH"]])
    env["CHATPLUG_PLUGINS"] = "faulty"
    return env


@pytest.fixture(scope="module")
def faulty_server(faulty_env: Dict[str, str]) -> Iterator[ServerProcess]:
    """One server for a module's tests, serving ``faulty`` (no retries)."""
    process = start_server_with(faulty_env, "--retries", "0")
    yield process
    process.stop()
