"""What a Stream reports besides text: every event type through AsyncClient and Client."""

from __future__ import annotations

from typing import Any, List

import pytest
from chatplug import AsyncClient, Client, Completion, StreamProtocolError
from chatplug.events import (
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    ToolCall,
    ToolCallDelta,
    Usage,
)

from .conftest import ScriptedPlugin, scripted_registry

EVERY_EVENT: List[Any] = [
    ResponseMetadata("resp-1"),
    ReasoningDelta("Let me ", metadata={"signature": "s1"}),
    ReasoningDelta("think."),
    "The answer",
    ToolCallDelta(0, "call-a", "lookup", '{"q": '),
    ToolCallDelta(1, "call-b", "clock", "{}"),
    " is near.",
    ToolCallDelta(0, arguments='"x"}'),
    Finish("tool_calls", raw="tool_use"),
    Usage(17, 12, cached_input_tokens=5, reasoning_tokens=3, raw={"in": 17}),
    ResponseMetadata(model="acme-1-2025"),
]
CALLS = [ToolCall(0, "call-a", "lookup", '{"q": "x"}'), ToolCall(1, "call-b", "clock", "{}")]


def client_for(*items: Any) -> AsyncClient:
    return AsyncClient(registry=scripted_registry(ScriptedPlugin("acme", items)), config=False)


async def test_text_iteration_yields_text_only_and_records_every_event() -> None:
    async with client_for(*EVERY_EVENT) as client, client.stream("hi") as stream:
        pieces = [piece async for piece in stream]
    assert pieces == ["The answer", " is near."]
    assert stream.reasoning == "Let me think."
    assert stream.tool_calls == CALLS
    assert stream.finish == Finish("tool_calls", raw="tool_use")
    assert stream.finish_reason == "tool_calls"
    assert stream.usage == Usage(17, 12, 5, 3, {"in": 17})
    assert stream.response == ResponseMetadata("resp-1", "acme-1-2025")


async def test_events_iterates_text_and_every_event_in_order() -> None:
    async with client_for(*EVERY_EVENT) as client, client.stream("hi") as stream:
        items = [item async for item in stream.events()]
    assert items == EVERY_EVENT


async def test_facts_are_readable_during_iteration() -> None:
    seen = []
    async with client_for(ToolCallDelta(0, "c", "f", "{"), "text", Finish("stop")) as client:
        async with client.stream("hi") as stream:
            async for _ in stream:
                seen.append((stream.tool_calls, stream.provider))
    assert seen == [([ToolCall(0, "c", "f", "{")], "acme")]


async def test_respond_returns_text_and_everything_reported() -> None:
    async with client_for(*EVERY_EVENT) as client:
        completion = await client.respond("hi")
    assert completion == Completion(
        text="The answer is near.",
        reasoning="Let me think.",
        tool_calls=tuple(CALLS),
        finish_reason="tool_calls",
        finish=Finish("tool_calls", raw="tool_use"),
        usage=Usage(17, 12, 5, 3, {"in": 17}),
        provider="acme",
        model="m",
        response=ResponseMetadata("resp-1", "acme-1-2025"),
        reasoning_blocks=(
            {"text": "Let me ", "metadata": {"signature": "s1"}},
            {"text": "think."},
        ),
    )


async def test_complete_still_returns_a_string() -> None:
    async with client_for(*EVERY_EVENT) as client:
        assert await client.complete("hi") == "The answer is near."


async def test_a_text_only_plugin_ends_with_stop_and_no_usage() -> None:
    async with client_for("Hel", "lo") as client, client.stream("hi") as stream:
        assert stream.finish_reason is None  # not before the end
        assert [piece async for piece in stream] == ["Hel", "lo"]
    assert (stream.finish_reason, stream.finish, stream.usage) == ("stop", None, None)
    assert (stream.tool_calls, stream.reasoning, stream.response) == ([], "", None)


async def test_a_finish_without_text_is_a_complete_empty_answer() -> None:
    async with client_for(ToolCallDelta(0, "c", "f", "{}"), Finish("tool_calls")) as client:
        completion = await client.respond("hi")
    assert (completion.text, completion.finish_reason) == ("", "tool_calls")
    assert completion.tool_calls == (ToolCall(0, "c", "f", "{}"),)


async def test_a_stream_with_neither_text_nor_finish_is_a_protocol_error() -> None:
    async with client_for(Usage(1, 0), ResponseMetadata("r")) as client:
        with pytest.raises(StreamProtocolError, match="without any text"):
            await client.respond("hi")


async def test_finish_length_is_reported() -> None:
    async with client_for("cut", Finish("length", raw="max_tokens")) as client:
        completion = await client.respond("hi")
    assert (completion.text, completion.finish_reason) == ("cut", "length")


async def test_the_last_usage_wins() -> None:
    async with client_for(Usage(3, 1), "a", Usage(3, 2), Finish("stop"), Usage(3, 5)) as client:
        assert (await client.respond("hi")).usage == Usage(3, 5)


async def test_a_stream_iterates_one_way_only() -> None:
    async with client_for("a", "b") as client, client.stream("hi") as stream:
        await stream.__anext__()
        with pytest.raises(RuntimeError, match="one way"):
            stream.events()


def test_the_sync_client_reports_every_event() -> None:
    plugin = ScriptedPlugin("acme", EVERY_EVENT)
    with Client(registry=scripted_registry(plugin), config=False) as client:
        with client.stream("hi") as stream:
            assert list(stream) == ["The answer", " is near."]
        assert (stream.finish_reason, stream.usage) == (
            "tool_calls",
            Usage(17, 12, 5, 3, {"in": 17}),
        )
        assert (stream.tool_calls, stream.reasoning) == (CALLS, "Let me think.")
        assert stream.response == ResponseMetadata("resp-1", "acme-1-2025")
        assert stream.finish == Finish("tool_calls", raw="tool_use")
        assert list(client.stream("hi").events()) == EVERY_EVENT
        completion = client.respond("hi")
    assert (completion.text, completion.tool_calls) == ("The answer is near.", tuple(CALLS))


def test_leaving_sync_events_early_closes_the_stream() -> None:
    plugin = ScriptedPlugin("acme", ["a", Usage(1, 1), "b", Finish("stop")])
    with Client(registry=scripted_registry(plugin), config=False) as client:
        stream = client.stream("hi")
        for item in stream.events():
            assert item == "a"
            break
        assert list(stream) == []  # closed: nothing more
