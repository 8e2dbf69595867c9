"""The conversation log end to end: ``chatplug chat`` and ``chatplug logs`` as fresh
processes on a real database file (``CHATPLUG_LOGS_DB`` in a temporary directory).

The ``chatplug`` subprocess fixtures are those of ``tests/cli`` (its test plugins
included), loaded from there.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest


def _cli_fixtures() -> Any:
    path = Path(__file__).parent.parent / "cli" / "conftest.py"
    spec = importlib.util.spec_from_file_location("chatplug_cli_test_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_cli = _cli_fixtures()
plugin_path = _cli.plugin_path
cli_env = _cli.cli_env
cli_command = _cli.cli_command
run_cli = _cli.run_cli

RunCli = Callable[..., "subprocess.CompletedProcess[str]"]
Logged = Callable[..., List[Dict[str, Any]]]


@pytest.fixture
def db(cli_env: Dict[str, str]) -> Path:
    """The logs database the ``chatplug`` subprocesses use."""
    return Path(cli_env["CHATPLUG_LOGS_DB"])


@pytest.fixture
def logged(run_cli: RunCli) -> Logged:
    """``logged(*args)``: ``chatplug logs --json -n 100 *args`` (newest first)."""

    def read(*args: str) -> List[Dict[str, Any]]:
        result = run_cli("logs", "--json", "-n", "100", *args)
        assert result.returncode == 0, result.stderr
        exchanges: List[Dict[str, Any]] = json.loads(result.stdout)
        return exchanges

    return read
