"""Streaming through the core's clients, and closing a stream early."""

from __future__ import annotations

import time
from typing import Any, Callable

import aiohttp
import pytest
from chatplug import AsyncClient, Client, CompletionRequest, Registry
from chatplug.emulation import EmulatorThread, RunningEmulator, run_emulator
from chatplug_aichatonline import stream_completion
from chatplug_aichatonline.emulator import REQUESTS, STREAM_ENDS, create_app

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Quelle heure est-il ? ✓"},
]


async def test_async_client_streams_the_reply_with_the_context(
    emulator: RunningEmulator, registry: Registry
) -> None:
    async with AsyncClient(registry=registry, base_urls={"aichatonline": emulator.url}) as client:
        stream = client.stream(CONVERSATION, model="aichatonline/gpt-4o-mini")
        pieces = [piece async for piece in stream]
    assert len(pieces) > 1
    assert "".join(pieces) == emulator.replies[-1]
    assert "".join(pieces).endswith("you said: Quelle heure est-il ? ✓ (turn 2)")
    assert (stream.provider, stream.model) == ("aichatonline", "gpt-4o-mini")


async def test_async_client_sends_the_rendered_conversation_as_the_prompt(
    emulator: RunningEmulator, registry: Registry
) -> None:
    async with AsyncClient(registry=registry) as client:
        await client.complete(CONVERSATION, provider="aichatonline", base_url=emulator.url)
    post = next(r for r in emulator.app[REQUESTS] if r["method"] == "POST")
    assert b"System: Be brief.\\nUser: Hi\\nAssistant: Hello!\\nUser: Quelle" in post["body"]


async def test_async_client_reuses_the_unique_id_across_completions(
    emulator: RunningEmulator, registry: Registry
) -> None:
    async with AsyncClient(registry=registry, base_urls={"aichatonline": emulator.url}) as client:
        first = await client.complete("one", provider="aichatonline")
        second = await client.complete("two", provider="aichatonline")
    assert first.endswith("one (turn 1)") and second.endswith("two (turn 1)")
    assert [r["method"] for r in emulator.app[REQUESTS]] == ["GET", "POST", "POST"]


async def test_async_client_passes_its_proxy_to_the_plugin(
    emulator: RunningEmulator, registry: Registry, forward_proxy: Any
) -> None:
    async with AsyncClient(
        registry=registry, base_urls={"aichatonline": emulator.url}, proxy=forward_proxy.url
    ) as client:
        await client.complete("hi", provider="aichatonline")
    assert [r.method for r in forward_proxy.requests] == ["GET", "POST"]


def test_sync_client_streams_the_reply(registry: Registry) -> None:
    with EmulatorThread(create_app()) as emulator:
        with Client(registry=registry, base_urls={"aichatonline": emulator.url}) as client:
            pieces = list(client.stream("sync ✓", provider="aichatonline"))
            again = client.complete("again", provider="aichatonline")
        assert "".join(pieces) == emulator.replies[0]
        assert again == emulator.replies[1]
        assert [r["method"] for r in emulator.app[REQUESTS]] == ["GET", "POST", "POST"]


async def test_closing_the_stream_early_closes_the_upstream_connection(
    registry: Registry, wait_for: Any
) -> None:
    async with run_emulator(create_app(delay=0.02)) as emulator:
        async with AsyncClient(
            registry=registry, base_urls={"aichatonline": emulator.url}
        ) as client:
            stream = client.stream("long", provider="aichatonline")
            first = await stream.__anext__()
            await stream.aclose()
            assert first
            assert await wait_for(lambda: emulator.app[STREAM_ENDS] == ["disconnected"])


def test_breaking_out_of_the_sync_loop_closes_the_upstream_connection(
    registry: Registry,
) -> None:
    with EmulatorThread(create_app(delay=0.02)) as emulator:
        with Client(registry=registry, base_urls={"aichatonline": emulator.url}) as client:
            for _piece in client.stream("long", provider="aichatonline"):
                break
        deadline = time.monotonic() + 10
        while emulator.app[STREAM_ENDS] != ["disconnected"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert emulator.app[STREAM_ENDS] == ["disconnected"]


async def test_the_generator_closes_cleanly_mid_stream(
    registry: Registry, make_request: Callable[..., CompletionRequest], wait_for: Any
) -> None:
    # The original wrapped the yield in a bare except: aclose() then raised RuntimeError
    # ("async generator ignored GeneratorExit") and the connection stayed open.
    async with run_emulator(create_app(delay=0.02)) as emulator:
        async with aiohttp.ClientSession() as session:
            agen = stream_completion(make_request(base_url=emulator.url), session)
            assert await agen.__anext__()
            await agen.aclose()
            with pytest.raises(StopAsyncIteration):
                await agen.__anext__()
            assert await wait_for(lambda: emulator.app[STREAM_ENDS] == ["disconnected"])


async def test_an_exception_thrown_into_the_generator_propagates(
    make_request: Callable[..., CompletionRequest],
) -> None:
    async with run_emulator(create_app(delay=0.01)) as emulator:
        async with aiohttp.ClientSession() as session:
            agen = stream_completion(make_request(base_url=emulator.url), session)
            assert await agen.__anext__()
            with pytest.raises(KeyError):
                await agen.athrow(KeyError("from the consumer"))
