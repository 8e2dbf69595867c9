"""A contract-0.1 plugin (text only, only the public API, nothing declared), installed from
its own distribution, streams and passes the whole conformance suite unchanged.

The plugin is ``legacy_plugin/``: what ``chatplug new-plugin`` generated for 0.1, untouched.
It is installed as pip would install it (its package and a ``.dist-info`` with its entry
points, ``write_distribution``) in a directory that the subprocesses get as ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
from chatplug.testing import write_distribution
from chatplug.testing.conformance import CHECK_NAMES, run_conformance

LEGACY = Path(__file__).resolve().parent / "legacy_plugin"
PROVIDER = "legacy-acme"
MODULE = "chatplug_legacy_acme"
ENTRY_POINTS = {
    "chatplug.providers": {PROVIDER: MODULE},
    "chatplug.emulators": {PROVIDER: f"{MODULE}.emulator:create_app"},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(LEGACY / "src" / MODULE, site / MODULE)
    write_distribution(site, "chatplug-legacy-acme", ENTRY_POINTS, version="0.1.0")
    return site


def _run(args: List[str], site: Path, cwd: Path) -> "subprocess.CompletedProcess[str]":
    env: Dict[str, str] = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CHATPLUG_"))
    }
    # a chat is logged by default: to this test's own database, never the user's
    env.update(PYTHONPATH=str(site), NO_COLOR="1", CHATPLUG_LOGS_DB=str(cwd / "logs.db"))
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_plugin_is_text_only_and_written_for_0_1() -> None:
    source = (LEGACY / "src" / MODULE / "__init__.py").read_text(encoding="utf-8")
    assert "chatplug.events" not in source and "capabilities" not in source
    assert 'dependencies = ["chatplug>=0.1,<1"]' in (LEGACY / "pyproject.toml").read_text()


STREAM = """
import asyncio, json
from chatplug.emulation import emulator_factory, run_emulator
from chatplug.testing import make_client

async def main():
    async with run_emulator(emulator_factory("legacy-acme")()) as emulator:
        async with make_client("legacy-acme", base_urls={"legacy-acme": emulator.url}) as client:
            async with client.stream("Hello ✓") as stream:
                pieces = [piece async for piece in stream]
    print(json.dumps([pieces, stream.finish_reason, stream.usage, stream.tool_calls]))

asyncio.run(main())
"""


def test_the_installed_plugin_streams_and_finishes_with_stop(site: Path, tmp_path: Path) -> None:
    done = _run(["-c", STREAM], site, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    pieces, finish_reason, usage, tool_calls = json.loads(done.stdout)
    assert len(pieces) > 1
    assert "".join(pieces) == "Hello from the Legacy Acme emulator ✓ — you said: Hello ✓"
    assert (finish_reason, usage, tool_calls) == ("stop", None, [])


def test_the_installed_plugin_answers_on_the_command_line(site: Path, tmp_path: Path) -> None:
    args = ["-m", "chatplug", "chat", "--emulate", "-p", PROVIDER, "--json", "Hello ✓"]
    done = _run(args, site, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["text"] == "Hello from the Legacy Acme emulator ✓ — you said: Hello ✓"
    assert (answer["finish_reason"], answer["usage"], answer["tool_calls"]) == ("stop", None, [])


def test_the_installed_plugin_passes_every_conformance_check(site: Path, tmp_path: Path) -> None:
    done = _run(["-m", "chatplug", "check", PROVIDER], site, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    total = len(CHECK_NAMES)
    assert f"{PROVIDER}: {total} of {total} conformance checks passed" in done.stdout


def test_the_new_checks_apply_to_its_stream_but_not_to_capabilities_it_lacks(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(site))
    checks = ["final_event", "malformed_event", "parallel_tool_calls", "finish_length", "usage"]
    results = {result.name: result for result in run_conformance(PROVIDER, only=checks)}
    assert all(result.passed for result in results.values())
    assert (results["final_event"].message, results["malformed_event"].message) == ("", "")
    assert "no model declares the 'tools' capability" in results["parallel_tool_calls"].message
    assert "no model declares a capability" in results["finish_length"].message
    assert "no model declares 'usage' and the plugin reported none" in results["usage"].message


def test_the_plugins_own_tests_pass_unchanged(site: Path, tmp_path: Path) -> None:
    shutil.copytree(LEGACY / "tests", tmp_path / "tests")
    done = _run(["-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"], site, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed" not in done.stdout.splitlines()[-1]
