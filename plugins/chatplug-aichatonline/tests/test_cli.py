"""The command line streams from this plugin's emulator (``chatplug chat --emulate``)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import List

import pytest
from chatplug.testing import run_cli as run_command


def run_cli(args: List[str], tmp_path: Path) -> "subprocess.CompletedProcess[str]":
    return run_command(args, plugins="aichatonline", home=tmp_path)


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
