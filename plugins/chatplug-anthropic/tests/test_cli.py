"""The command line streams from this plugin's emulator (``chatplug chat --emulate``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chatplug.testing import run_cli

pytest.importorskip("chatplug.cli")


def test_chat_against_the_emulator_prints_the_text_offline(tmp_path: Path) -> None:
    args = ["chat", "--emulate", "-p", "anthropic", "Bonjour ✓"]
    done = run_cli(args, plugins="anthropic", home=tmp_path, unset=["ANTHROPIC_API_KEY"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Claude émulé ✓ — turn 1: «Bonjour ✓» 日本語 🚀"


def test_models_lists_the_catalogue_with_aliases(tmp_path: Path) -> None:
    done = run_cli(["models", "-p", "anthropic"], plugins="anthropic", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "claude-sonnet-4-5-20250929" in done.stdout
    assert "claude-3-5-haiku-latest" in done.stdout
