"""The emulator's tool calls, reasoning, structured output and request checks, as OpenAI's
clients see them (the official SDK and raw HTTP)."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List

import aiohttp
import pytest
from chatplug.emulation import EmulatorThread, RunningEmulator, run_emulator
from chatplug.testing import emulator_process
from chatplug_openai.emulator import create_app

openai = pytest.importorskip("openai")

USER = [{"role": "user", "content": "What about get_weather in Paris? ✓"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
            "required": ["city", "unit"],
        },
    },
}


@pytest.fixture(scope="module")
def sdk() -> Iterator[Any]:
    with EmulatorThread(create_app()) as running:
        with openai.OpenAI(base_url=running.url, api_key="sk-x", max_retries=0, timeout=20) as c:
            yield c


def test_sdk_streams_a_tool_call_in_fragments(sdk: Any) -> None:
    stream = sdk.chat.completions.create(
        model="gpt-4o", messages=USER, tools=[WEATHER], stream=True
    )
    names: List[str] = []
    arguments = ""
    reasons = []
    for chunk in stream:
        choice = chunk.choices[0]
        for call in choice.delta.tool_calls or ():
            if call.function.name:
                names.append(call.function.name)
            arguments += call.function.arguments or ""
        reasons.append(choice.finish_reason)
    assert names == ["get_weather"]
    assert json.loads(arguments) == {"city": "city ✓", "unit": "C"}
    assert reasons[-1] == "tool_calls"


def test_sdk_non_streamed_tool_call_has_no_content(sdk: Any) -> None:
    result = sdk.chat.completions.create(model="gpt-4o", messages=USER, tools=[WEATHER])
    message = result.choices[0].message
    assert message.content is None
    assert [call.function.name for call in message.tool_calls] == ["get_weather"]
    assert result.choices[0].finish_reason == "tool_calls"


def test_sdk_tool_result_round_trip(sdk: Any) -> None:
    first = sdk.chat.completions.create(model="gpt-4o", messages=USER, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages = [
        *USER,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "rain 🌧"},
    ]
    result = sdk.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    assert "get_weather «rain 🌧»" in result.choices[0].message.content


def test_sdk_non_streamed_reasoning_counts_reasoning_tokens(sdk: Any) -> None:
    result = sdk.chat.completions.create(model="o4-mini", messages=USER, reasoning_effort="low")
    reasoning = (result.choices[0].message.model_extra or {})["reasoning_content"]
    assert reasoning.startswith("Thinking about")
    assert result.usage.completion_tokens_details.reasoning_tokens > 0


def test_sdk_max_completion_tokens_cuts_with_length(sdk: Any) -> None:
    result = sdk.chat.completions.create(model="o3-mini", messages=USER, max_completion_tokens=7)
    assert result.choices[0].finish_reason == "length"
    assert result.usage.completion_tokens == 7


def test_sdk_structured_output_parses(sdk: Any) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    result = sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER,
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
    )
    assert json.loads(result.choices[0].message.content) == {"n": 1}


def test_sdk_streams_usage_with_its_details(sdk: Any) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details.reasoning_tokens == 0


# --- requests OpenAI refuses ----------------------------------------------------------


def tool_call(call_id: str) -> Dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }


ASKED = {"role": "assistant", "content": None, "tool_calls": [tool_call("call_1")]}
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.org/a.png"}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"foo": 1}, "Unrecognized request argument supplied: foo"),
        (
            {"messages": [*USER, {"role": "assistant", "content": "x", "reasoning": []}, *USER]},
            "Unknown parameter: 'messages[1].reasoning'",
        ),
        (
            {"messages": [*USER, {"role": "tool", "tool_call_id": "x", "content": "r"}]},
            "must be a response to a preceding message with 'tool_calls'",
        ),
        ({"messages": [*USER, ASKED], "tools": [WEATHER]}, "did not have response messages"),
        ({"messages": [*USER, ASKED, *USER], "tools": [WEATHER]}, "call_1"),
        ({"messages": [*USER, {"role": "assistant", "content": None}]}, "content"),
        ({"tool_choice": "auto"}, "only allowed when 'tools' are specified"),
        ({"parallel_tool_calls": True}, "only allowed when 'tools' are specified"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice",
        ),
        ({"tools": [{"type": "function", "function": {"name": "a b"}}]}, "does not match"),
        ({"response_format": {"type": "json_object"}}, "must contain the word 'json'"),
        (
            {"model": "gpt-3.5-turbo", "response_format": {"type": "json_schema"}},
            "'json_schema' is not supported with this model",
        ),
        ({"model": "o3-mini", "max_tokens": 5}, "Use 'max_completion_tokens' instead"),
        ({"model": "o3-mini", "temperature": 0.2}, "Only the default (1) value is supported"),
        ({"reasoning_effort": "low"}, "'reasoning_effort' is not supported with this model"),
        ({"model": "o3-mini", "reasoning_effort": "extreme"}, "reasoning_effort"),
        (
            {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": [IMAGE]}]},
            "image_url is only supported by certain models",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}],
                    }
                ]
            },
            "base64-encoded data URL",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_video", "x": 1}]}]},
            "Invalid value: 'input_video'",
        ),
        ({"messages": [{"role": "system", "content": [IMAGE]}]}, "Invalid value: 'image_url'"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "maximum length 4"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"seed": "7"}, "seed"),
        ({"n": 2}, "n = 1"),
        ({"logit_bias": {"1": 500}}, "logit_bias"),
        ({"metadata": {"a": 1}}, "metadata"),
    ],
)
async def test_requests_openai_refuses_get_400_in_openais_error_shape(
    emulator: RunningEmulator, changes: Dict[str, Any], message: str
) -> None:
    body = {"model": "gpt-4o", "messages": USER, **changes}
    async with aiohttp.ClientSession() as session:
        async with session.post(emulator.url + "/chat/completions", json=body) as response:
            status, answer = response.status, await response.json()
    assert status == 400
    assert message in answer["error"]["message"]
    assert answer["error"]["type"] == "invalid_request_error"
    assert set(answer["error"]) == {"message", "type", "param", "code"}


async def test_an_answered_tool_call_is_accepted() -> None:
    messages = [*USER, ASKED, {"role": "tool", "tool_call_id": "call_1", "content": "ok"}]
    body = {"model": "gpt-4o", "messages": messages, "tools": [WEATHER]}
    async with run_emulator(create_app()) as emulator:
        async with aiohttp.ClientSession() as session:
            async with session.post(emulator.url + "/chat/completions", json=body) as response:
                assert response.status == 200


# --- serving on its own ---------------------------------------------------------------


def test_python_m_serves_the_emulator_on_its_own() -> None:
    with emulator_process("chatplug_openai.emulator", "--key", "k") as served:
        assert served.line == f"OpenAI emulator on http://127.0.0.1:{served.port}/v1"
        client = openai.OpenAI(base_url=served.url, api_key="k", max_retries=0, timeout=20)
        result = client.chat.completions.create(model="gpt-4o", messages=USER)
        assert "get_weather" in result.choices[0].message.content
