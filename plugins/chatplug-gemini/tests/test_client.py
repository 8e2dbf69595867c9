"""The plugin through chatplug: the entry point, the catalogue, the client and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import chatplug_gemini
import pytest
from chatplug import AsyncClient, Registry
from chatplug.emulation import RunningEmulator
from chatplug.types import IMAGES, JSON_OBJECT, JSON_SCHEMA, OFFICIAL, REASONING, TOOLS, USAGE

BASE = {TOOLS, IMAGES, JSON_SCHEMA, JSON_OBJECT, USAGE}


def test_the_entry_point_loads_the_gemini_provider() -> None:
    provider = Registry(enabled=["gemini"]).provider("gemini")
    assert provider.plugin is chatplug_gemini
    assert provider.default_model.id == "gemini-2.5-flash"


def test_every_model_is_official_with_tools_images_json_and_usage() -> None:
    for model in chatplug_gemini.list_models():
        assert model.provider == "gemini" and model.upstream == OFFICIAL
        assert model.capabilities >= BASE


def test_only_the_2_5_models_reason() -> None:
    reasoning = [m.id for m in chatplug_gemini.list_models() if REASONING in m.capabilities]
    assert reasoning == ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"]


def test_short_aliases_name_the_2_5_models() -> None:
    aliases = {alias: m.id for m in chatplug_gemini.list_models() for alias in m.aliases}
    assert aliases["gemini-flash"] == "gemini-2.5-flash"
    assert aliases["gemini-pro"] == "gemini-2.5-pro"


@pytest.mark.usefixtures("event_aware_core")
async def test_the_async_client_streams_the_emulator_reply(emulator: RunningEmulator) -> None:
    async with AsyncClient(registry=Registry(enabled=["gemini"]), config=False) as client:
        stream = client.stream("Salut ✓", model="gemini/gemini-pro", base_url=emulator.url)
        pieces = [piece async for piece in stream]
    assert "".join(pieces) == emulator.replies[-1]
    assert "«Salut ✓»" in emulator.replies[-1]
    assert stream.model == "gemini-2.5-pro"


@pytest.mark.usefixtures("event_aware_core")
def test_chat_emulate_answers_offline() -> None:
    env = {**os.environ, "CHATPLUG_PLUGINS": "gemini", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "chatplug", "chat", "--emulate", "-p", "gemini", "Hello ✓"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Hello from the Gemini émulateur ✓ turn 1: «Hello ✓» — 日本語 🚀" in result.stdout
