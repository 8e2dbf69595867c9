"""Every event type through chatplug's AsyncClient and Client, against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List

import pytest
from chatplug import AsyncClient, Client, Registry, UnsupportedCapabilityError
from chatplug.emulation import EmulatorThread, RunningEmulator
from chatplug.events import Finish, ResponseMetadata, ToolCallDelta, Usage
from chatplug_openai.emulator import REQUESTS, create_app

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
PNG = {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}}


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[AsyncClient]:
    registry = Registry(enabled=["openai"])
    base_urls = {"openai": emulator.url}
    async with AsyncClient(registry=registry, base_urls=base_urls, retry=1) as chat:
        yield chat


async def test_respond_reports_usage_finish_and_the_response(client: AsyncClient) -> None:
    answer = await client.respond("Hi ✓", model="openai/gpt-4.1")
    assert answer.finish_reason == "stop"
    assert answer.usage is not None and answer.usage.output_tokens > 0
    assert answer.response == ResponseMetadata("chatcmpl-emulator", "gpt-4.1")


async def test_max_tokens_gives_finish_reason_length(client: AsyncClient) -> None:
    answer = await client.respond("Hi", model="openai/gpt-4o", max_tokens=2)
    assert (answer.text, answer.finish_reason) == ("Héllo from", "length")


async def test_respond_assembles_parallel_tool_calls(client: AsyncClient) -> None:
    answer = await client.respond(
        "get_weather and get_time, please", model="openai/gpt-4o", tools=[WEATHER, TIME]
    )
    assert answer.text == "" and answer.finish_reason == "tool_calls"
    assert [(call.index, call.name) for call in answer.tool_calls] == [
        (0, "get_weather"),
        (1, "get_time"),
    ]
    assert json.loads(answer.tool_calls[0].arguments) == {"city": "city ✓"}


async def test_a_tool_result_round_trips(client: AsyncClient) -> None:
    question = {"role": "user", "content": "get_weather?"}
    first = await client.respond([question], model="openai/gpt-4o", tools=[WEATHER])
    (call,) = first.tool_calls
    result = {"role": "tool", "tool_call_id": call.id, "content": "Sunny ☀"}
    second = await client.respond(
        [question, first.message, result], model="openai/gpt-4o", tools=[WEATHER]
    )
    assert "get_weather «Sunny ☀»" in second.text


async def test_reasoning_is_reported_and_its_blocks_are_not_sent_back(
    client: AsyncClient, emulator: RunningEmulator
) -> None:
    first = await client.respond("Why?", model="openai/o3-mini", reasoning_effort="low")
    assert first.reasoning.startswith("Thinking about «Why?» (low effort)")
    assert first.message["reasoning"]
    second = await client.respond(
        [{"role": "user", "content": "Why?"}, first.message, {"role": "user", "content": "Sure?"}],
        model="openai/o3-mini",
    )
    assert "turn 2" in second.text
    assert "reasoning" not in emulator.app[REQUESTS][-1]["body"]["messages"][1]


async def test_structured_output_arrives_as_json(client: AsyncClient) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    answer = await client.respond(
        "Check",
        model="openai/gpt-4o-mini",
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
    )
    assert json.loads(answer.text) == {"ok": True}


async def test_events_iterates_the_typed_events(client: AsyncClient) -> None:
    items: List[Any] = []
    async with client.stream("get_time", model="openai/gpt-4o", tools=[TIME]) as stream:
        async for item in stream.events():
            items.append(item)
    assert isinstance(items[0], ResponseMetadata)
    assert [type(item) for item in items[1:]] == [ToolCallDelta, ToolCallDelta, Usage, Finish]


async def test_an_image_for_a_model_without_vision_is_refused_before_sending(
    client: AsyncClient, emulator: RunningEmulator
) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "What?"}, PNG]}
    with pytest.raises(UnsupportedCapabilityError) as caught:
        await client.respond([message], model="openai/o3-mini")
    assert caught.value.capability == "images"
    assert "openai/gpt-4o" in caught.value.alternatives
    assert emulator.app[REQUESTS] == []


async def test_an_image_reaches_a_model_with_vision(client: AsyncClient) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "What?"}, PNG]}
    answer = await client.respond([message], model="openai/gpt-4o")
    assert "«What?» I see 1 image." in answer.text


async def test_a_bare_model_id_goes_to_the_official_api_before_a_web_chat(
    emulator: RunningEmulator,
) -> None:
    registry = Registry(enabled=["openai", "aichatonline"])
    async with AsyncClient(registry=registry, base_urls={"openai": emulator.url}) as chat:
        answer = await chat.respond("Hi", model="gpt-4o-mini")
    assert answer.provider == "openai"


async def test_the_capabilities_setting_of_a_configured_provider_is_enforced(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    config = tmp_path / "chatplug.toml"
    config.write_text(
        f'[providers.lan]\nplugin = "openai"\nbase_url = "{emulator.url}"\n'
        'models = ["gpt-4o"]\ncapabilities = ["usage"]\n',
        encoding="utf-8",
    )
    registry = Registry(enabled=["openai", "lan"])
    async with AsyncClient(config=config, registry=registry, retry=1) as chat:
        with pytest.raises(UnsupportedCapabilityError, match="tools"):
            await chat.respond("get_time", model="lan/gpt-4o", tools=[TIME])
        answer = await chat.respond("Hi", model="lan/gpt-4o")
    assert answer.usage is not None and answer.provider == "lan"


def test_the_sync_client_reports_the_same() -> None:
    with EmulatorThread(create_app()) as emulator:
        registry = Registry(enabled=["openai"])
        with Client(registry=registry, base_urls={"openai": emulator.url}) as chat:
            answer = chat.respond("get_time", model="openai/gpt-4o", tools=[TIME])
    calls: List[Dict[str, Any]] = [
        {"name": c.name, "arguments": c.arguments} for c in answer.tool_calls
    ]
    assert calls == [{"name": "get_time", "arguments": "{}"}]
    assert answer.usage is not None and answer.finish_reason == "tool_calls"
