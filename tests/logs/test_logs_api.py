"""The library opt-in end to end: a client with ``log`` against chatplug-openai's emulator
records the upstream's own usage, reasoning and finish reason (never an estimate)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chatplug import AsyncClient, Client
from chatplug.emulation import EmulatorThread, run_emulator
from chatplug.history import LogStore, Recorder
from chatplug_openai.emulator import create_app


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CHATPLUG_CONFIG", "")
    monkeypatch.delenv("CHATPLUG_PLUGINS", raising=False)
    path = tmp_path / "logs.db"
    monkeypatch.setenv("CHATPLUG_LOGS_DB", str(path))
    return path


async def test_async_client_records_the_upstreams_usage_reasoning_and_finish(
    tmp_path: Path,
) -> None:
    db = tmp_path / "mine.db"
    async with run_emulator(create_app()) as emulator:
        async with AsyncClient(
            base_urls={"openai": emulator.url}, proxy="", log=Recorder(db)
        ) as client:
            completion = await client.respond("Why?", model="openai/o4-mini", max_tokens=8)
    with LogStore(db) as store:
        (exchange,) = store.latest()
    assert exchange.answer == completion.text
    assert exchange.reasoning == completion.reasoning == "Thinking about «Why?» ✓"
    assert exchange.finish_reason == "length"
    assert completion.usage is not None
    assert (exchange.input_tokens, exchange.output_tokens) == (
        completion.usage.input_tokens,
        completion.usage.output_tokens,
    )
    assert exchange.reasoning_tokens == 6 and exchange.usage_estimated is False
    assert (exchange.provider, exchange.model) == ("openai", "o4-mini")


def test_sync_client_with_log_true_records_to_the_default_database(no_config: Path) -> None:
    with EmulatorThread(create_app()) as emulator:
        with Client(base_urls={"openai": emulator.url}, proxy="", log=True) as client:
            text = client.complete("Hi", model="openai/gpt-4o-mini")
    with LogStore(no_config) as store:
        (exchange,) = store.latest()
    assert exchange.answer == text and exchange.source == "api"
    assert exchange.input_tokens == 1
