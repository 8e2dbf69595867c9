"""The plugin through chatplug: the entry point, the catalogue, the client and the CLI."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Tuple

import chatplug_gemini
import pytest
from chatplug import (
    AsyncClient,
    Completion,
    Registry,
    UnsupportedCapabilityError,
    UpstreamHTTPError,
)
from chatplug.emulation import RunningEmulator
from chatplug.events import ToolCall
from chatplug.testing import run_cli
from chatplug.types import IMAGES, JSON_OBJECT, JSON_SCHEMA, OFFICIAL, REASONING, TOOLS, USAGE
from chatplug_gemini.emulator import REQUESTS, sign

BASE = {TOOLS, IMAGES, JSON_SCHEMA, JSON_OBJECT, USAGE}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}


def client() -> AsyncClient:
    return AsyncClient(registry=Registry(enabled=["gemini"]), config=False)


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


async def test_the_async_client_streams_the_emulator_reply(emulator: RunningEmulator) -> None:
    async with client() as chat:
        stream = chat.stream("Salut ✓", model="gemini/gemini-pro", base_url=emulator.url)
        pieces = [piece async for piece in stream]
    assert "".join(pieces) == emulator.replies[-1]
    assert "«Salut ✓»" in emulator.replies[-1]
    assert stream.model == "gemini-2.5-pro"


async def test_respond_reports_usage_finish_and_the_response(emulator: RunningEmulator) -> None:
    async with client() as chat:
        answer = await chat.respond("Salut ✓", provider="gemini", base_url=emulator.url)
    assert answer.text == emulator.replies[-1]
    assert answer.finish_reason == "stop" and answer.finish is not None
    assert answer.finish.raw == "STOP"
    assert answer.usage is not None and (answer.usage.input_tokens, answer.usage.output_tokens) == (
        2,
        13 + 6,
    )
    assert answer.usage.reasoning_tokens == 6
    assert answer.response is not None and answer.response.model == "gemini-2.5-flash"


async def test_respond_assembles_parallel_tool_calls(emulator: RunningEmulator) -> None:
    async with client() as chat:
        answer = await chat.respond(
            "Call get_weather and get_time",
            model="gemini/gemini-2.0-flash",
            base_url=emulator.url,
            tools=[WEATHER, TIME],
        )
    assert answer.text == "" and answer.finish_reason == "tool_calls"
    assert answer.tool_calls == (
        ToolCall(0, "call_0", "get_weather", '{"city": "city ✓"}'),
        ToolCall(1, "call_1", "get_time", "{}"),
    )


async def test_tool_results_go_back_and_are_answered(emulator: RunningEmulator) -> None:
    conversation = [
        {"role": "user", "content": "Call get_weather"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": '{"celsius": 3}'},
    ]
    async with client() as chat:
        answer = await chat.respond(
            conversation, model="gemini/gemini-2.0-flash", base_url=emulator.url, tools=[WEATHER]
        )
    assert 'get_weather → {"celsius": 3}' in answer.text
    assert answer.finish_reason == "stop"


async def test_respond_collects_the_reasoning(emulator: RunningEmulator) -> None:
    async with client() as chat:
        answer = await chat.respond(
            "Why ✓", provider="gemini", base_url=emulator.url, reasoning_effort="medium"
        )
    assert answer.reasoning.startswith("Pondering «Why ✓»")
    body = emulator.app[REQUESTS][-1]["body"]
    assert b'"thinkingBudget": 8192' in body


ASK = {"role": "user", "content": "Call get_weather ✓"}


def thinking_turn(emulator: RunningEmulator) -> Callable[..., Awaitable[Completion]]:
    """``await respond(chat, *messages)``: a turn of gemini-2.5-flash that thinks and may
    call ``get_weather``."""

    def respond(chat: AsyncClient, *messages: Dict[str, Any]) -> Awaitable[Completion]:
        return chat.respond(
            list(messages),
            model="gemini/gemini-2.5-flash",
            base_url=emulator.url,
            reasoning_effort="low",
            tools=[WEATHER],
        )

    return respond


@pytest.fixture
async def called(emulator: RunningEmulator) -> AsyncIterator[Tuple[Any, Completion]]:
    """``(respond, first)``: a thinking turn that called ``get_weather``, and the next turn."""
    respond = thinking_turn(emulator)
    async with client() as chat:
        first = await respond(chat, ASK)
        yield functools.partial(respond, chat), first


async def test_thought_signatures_round_trip_through_completion_message(
    emulator: RunningEmulator, called: Tuple[Any, Completion]
) -> None:
    respond, first = called
    [call] = first.tool_calls
    result = {"role": "tool", "tool_call_id": call.id, "content": '{"celsius": 3}'}
    # first.message: the call, and its thought signature among the reasoning blocks
    second = await respond(ASK, first.message, result)
    thanks = {"role": "user", "content": "Merci ✓"}
    third = await respond(ASK, first.message, result, second.message, thanks)
    assert 'get_weather → {"celsius": 3}' in second.text and "Merci ✓" in third.text
    model_turns = [
        content
        for content in json.loads(emulator.app[REQUESTS][-1]["body"])["contents"]
        if content["role"] == "model"
    ]
    call_part, text_part = model_turns[0]["parts"][-1], model_turns[1]["parts"][-1]
    arguments = ["get_weather", json.loads(call.arguments)]
    assert call_part["thoughtSignature"] == sign("functionCall", arguments)
    assert text_part["thoughtSignature"] == sign("text", second.text)


async def test_an_altered_thought_signature_is_refused_by_the_upstream(
    called: Tuple[Any, Completion],
) -> None:
    respond, first = called
    forged = first.message
    for block in forged["reasoning"]:
        if "thoughtSignature" in block.get("metadata", {}):
            block["metadata"]["thoughtSignature"] = sign("text", "forged")
    result = {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "3 °C"}
    with pytest.raises(UpstreamHTTPError) as caught:
        await respond(ASK, forged, result)
    assert caught.value.status == 400 and "signature" in caught.value.body


async def test_reasoning_on_a_2_0_model_is_refused_before_any_request(
    emulator: RunningEmulator,
) -> None:
    async with client() as chat:
        with pytest.raises(UnsupportedCapabilityError):
            await chat.respond(
                "Hi", model="gemini/gemini-2.0-flash", base_url=emulator.url, reasoning_effort="low"
            )
    assert emulator.app[REQUESTS] == []


def test_chat_emulate_answers_offline(tmp_path: Path) -> None:
    args = ["chat", "--emulate", "-p", "gemini", "Hello ✓"]
    result = run_cli(args, plugins="gemini", home=tmp_path, NO_COLOR="1")
    assert result.returncode == 0, result.stderr
    assert "Hello from the Gemini émulateur ✓ turn 1: «Hello ✓» — 日本語 🚀" in result.stdout
