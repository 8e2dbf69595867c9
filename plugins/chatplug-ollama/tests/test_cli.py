"""The command line streams from this plugin's emulator (``chatplug chat --emulate``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest


def run_cli(args: List[str], tmp_path: Path) -> "subprocess.CompletedProcess[str]":
    env: Dict[str, str] = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CHATPLUG_") and not key.lower().endswith("_proxy")
    }
    env.pop("OLLAMA_API_KEY", None)
    env.update(CHATPLUG_PLUGINS="ollama", CHATPLUG_CONFIG="", HOME=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "chatplug", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
        check=False,
    )


def test_chat_against_the_emulator_prints_the_text_offline(tmp_path: Path) -> None:
    pytest.importorskip("chatplug.cli")
    done = run_cli(["chat", "--emulate", "-p", "ollama", "Bonjour ✓"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Ollama émulé ✓ — turn 1: «Bonjour ✓» 日本語 🚀"


def test_models_lists_the_catalogue_with_aliases(tmp_path: Path) -> None:
    pytest.importorskip("chatplug.cli")
    done = run_cli(["models", "-p", "ollama"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "llama3.2" in done.stdout
    assert "qwen2.5vl" in done.stdout
