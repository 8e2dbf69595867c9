"""The command line streams from this plugin's emulator (``chatplug chat --emulate``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest


def run_cli(args: List[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env: Dict[str, str] = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CHATPLUG_") and not key.lower().endswith("_proxy")
    }
    env.update(CHATPLUG_PLUGINS="aichatonline", CHATPLUG_CONFIG="", HOME=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "chatplug", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(autouse=True)
def needs_the_cli() -> None:
    pytest.importorskip("chatplug.cli")


def test_cli_chat_against_the_emulator(tmp_path: Path) -> None:
    done = run_cli(["chat", "--emulate", "-p", "aichatonline", "Bonjour ✓"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "Hello from the AiChatOnline emulator ✓ — you said: Bonjour ✓ (turn 1)"
    )


def test_cli_json_names_the_provider_and_model(tmp_path: Path) -> None:
    done = run_cli(
        ["chat", "--emulate", "-m", "aichatonline/gpt-4o-mini", "--json", "-s", "Be brief", "hi"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["provider"], result["model"]) == ("aichatonline", "gpt-4o-mini")
    assert result["text"].endswith("you said: hi (turn 1)")
