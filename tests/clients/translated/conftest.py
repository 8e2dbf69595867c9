"""Fixtures: ``chatplug serve``'s app in-process, in front of the scripted provider
(``chatplug_scripted``) or a provider's emulator, for the official clients of the Responses
and Messages APIs (the Chat Completions clients have their own folder)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import AsyncIterator

import pytest
from chatplug import AsyncClient, Registry

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import chatplug_scripted  # noqa: E402
from translated_kit import SEED, Served, emulated, serve  # noqa: E402


@pytest.fixture
async def scripted_url() -> AsyncIterator[str]:
    """The server's root URL, in front of the scripted provider only."""
    registry = Registry(discover=False)
    registry.register(chatplug_scripted.NAME, chatplug_scripted)
    async with AsyncClient(registry=registry, config=False) as client:
        async for url in serve(client):
            yield url


@pytest.fixture
async def seed() -> AsyncIterator[Served]:
    """A seed provider (a third-party web chat, text only) behind the server."""
    async for served in emulated(SEED):
        yield served


@pytest.fixture
async def claude(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    """chatplug-anthropic (tools, thinking with signatures, usage) behind the server."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)  # the emulator needs none
    async for served in emulated("anthropic"):
        yield served
