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
from chatplug.testing import write_distribution

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
    providers = {
        "faulty": "chatplug_faulty",
        "hangs": "chatplug_faulty:hangs",
        "exits": "chatplug_faulty_import",
    }
    write_distribution(root, "chatplug-faulty", {"chatplug.providers": providers})
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
