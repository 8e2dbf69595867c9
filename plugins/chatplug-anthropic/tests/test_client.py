"""chatplug-anthropic through the core's client: events become the stream's facts, and an
answer's ``Completion.message`` goes back as the next turn (thinking signatures included)."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from chatplug import AsyncClient
from chatplug.emulation import RunningEmulator
from chatplug.registry import Registry

from .conftest import MODEL

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def client_for(emulator: RunningEmulator) -> AsyncClient:
    registry = Registry(enabled=["anthropic"])
    return AsyncClient(
        registry=registry, base_urls={"anthropic": emulator.url}, config=False, retry=1
    )


async def test_usage_finish_and_metadata_reach_the_stream(emulator: RunningEmulator) -> None:
    async with client_for(emulator) as client:
        answer = await client.respond("Hi ✓", model=f"anthropic/{MODEL}")
    assert answer.text and answer.finish_reason == "stop"
    assert answer.usage is not None and answer.usage.input_tokens > 0
    assert answer.usage.output_tokens > 0
    assert answer.response is not None and answer.response.id


async def test_a_tool_call_round_trips_through_completion_message(
    emulator: RunningEmulator,
) -> None:
    messages: List[Dict[str, Any]] = [{"role": "user", "content": "Use get_weather for Paris"}]
    async with client_for(emulator) as client:
        first = await client.respond(messages, model=f"anthropic/{MODEL}", tools=[TOOL])
        assert first.finish_reason == "tool_calls"
        [call] = first.tool_calls
        assert call.name == "get_weather" and '"city"' in call.arguments
        messages += [
            first.message,
            {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 °C"},
        ]
        second = await client.respond(messages, model=f"anthropic/{MODEL}", tools=[TOOL])
    assert second.finish_reason == "stop" and second.text


@pytest.mark.parametrize("effort", ["low"])
async def test_signed_thinking_round_trips_through_completion_message(
    emulator: RunningEmulator, effort: str
) -> None:
    messages: List[Dict[str, Any]] = [{"role": "user", "content": "Hi ✓"}]
    async with client_for(emulator) as client:
        first = await client.respond(messages, model=f"anthropic/{MODEL}", reasoning_effort=effort)
        assert first.reasoning
        [block] = first.message["reasoning"]
        assert block["metadata"]["signature"]
        messages += [first.message, {"role": "user", "content": "Encore"}]
        second = await client.respond(messages, model=f"anthropic/{MODEL}", reasoning_effort=effort)
    assert "turn 2" in second.text
