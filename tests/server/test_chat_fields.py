"""Every Chat Completions request field: typed fields reach the plugin, what the model
cannot honour is a 400 naming the ``param``, the rest is ignored."""

from __future__ import annotations

from typing import Any, Dict

import pytest
import scripted_events
from chatplug.types import ResponseFormat, Tool
from http_helpers import chat, post

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SCHEMA = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
TOOL_HISTORY = [
    {"role": "user", "content": "weather?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
]


def received() -> Any:
    (request,) = scripted_events.RECEIVED
    return request


async def test_tools_reach_the_plugin_as_typed_tools(scripted_server: str) -> None:
    await post(scripted_server, chat("plain", tools=[WEATHER]))
    assert received().tools == (
        Tool("get_weather", "The weather in a city", WEATHER["function"]["parameters"], None),
    )


async def test_tool_choice_object_form_becomes_the_function_name(scripted_server: str) -> None:
    body = chat(
        "plain",
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
    )
    await post(scripted_server, body)
    assert (received().tool_choice, received().parallel_tool_calls) == ("get_weather", False)


async def test_response_format_json_schema_reaches_the_plugin(scripted_server: str) -> None:
    await post(scripted_server, chat("plain", response_format=SCHEMA))
    assert received().response_format == ResponseFormat(
        "json_schema", "answer", {"type": "object"}, True
    )


SAMPLING: Dict[str, Any] = {
    "temperature": 0.5,
    "top_p": 0.9,
    "seed": 7,
    "stop": ["END"],
    "presence_penalty": 0.1,
    "frequency_penalty": -0.2,
    "logit_bias": {"50256": -100},
    "user": "alice",
    "reasoning_effort": "low",
    "metadata": {"team": "a"},
    "max_completion_tokens": 33,
}


async def test_every_sampling_field_reaches_the_plugin(scripted_server: str) -> None:
    answer = await post(scripted_server, chat("plain", **SAMPLING))
    assert answer.status == 200, answer.body
    request = received()
    expected = {**SAMPLING, "stop": ("END",)}
    del expected["max_completion_tokens"]
    assert {name: getattr(request, name) for name in expected} == expected
    assert request.max_tokens == 33


async def test_max_tokens_reaches_the_plugin(scripted_server: str) -> None:
    await post(scripted_server, chat("plain", max_tokens=12))
    assert received().max_tokens == 12


async def test_tool_call_history_and_tool_results_are_accepted(scripted_server: str) -> None:
    body = {"model": "scripted/full", "messages": TOOL_HISTORY}
    answer = await post(scripted_server, body)
    assert answer.status == 200, answer.body
    assert [m["role"] for m in received().messages] == ["user", "assistant", "tool"]
    assert received().messages[1]["tool_calls"][0]["id"] == "c1"


async def test_image_parts_reach_the_plugin(scripted_server: str) -> None:
    content = [{"type": "text", "text": "what is this?"}, IMAGE]
    body = {"model": "scripted/full", "messages": [{"role": "user", "content": content}]}
    answer = await post(scripted_server, body)
    assert answer.status == 200, answer.body
    assert received().messages[0]["content"][1]["image_url"]["url"].startswith("data:image/png")


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"tools": [WEATHER]}, "tools"),
        ({"tool_choice": "required", "tools": [WEATHER]}, "tools"),
        ({"response_format": SCHEMA}, "response_format"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"reasoning_effort": "high"}, "reasoning_effort"),
    ],
)
async def test_a_field_the_model_cannot_honour_is_a_400_naming_it(
    scripted_server: str, fields: Dict[str, Any], param: str
) -> None:
    answer = await post(scripted_server, chat("plain", model="scripted/text", **fields))
    assert answer.status == 400
    error = answer.body["error"]
    assert (error["param"], error["code"]) == (param, "unsupported_capability")
    assert "scripted/full" in error["message"]  # the model that has it
    assert scripted_events.RECEIVED == []


async def test_an_image_to_a_text_only_model_is_a_400_naming_messages(
    scripted_server: str,
) -> None:
    content = [{"type": "text", "text": "what is this?"}, IMAGE]
    body = {"model": "scripted/text", "messages": [{"role": "user", "content": content}]}
    answer = await post(scripted_server, body)
    assert (answer.status, answer.body["error"]["param"]) == (400, "messages")


async def test_tool_history_to_a_text_only_model_is_a_400_naming_messages(
    scripted_server: str,
) -> None:
    answer = await post(scripted_server, {"model": "scripted/text", "messages": TOOL_HISTORY})
    assert (answer.status, answer.body["error"]["param"]) == (400, "messages")


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"n": 2}, "n"),
        ({"n": True}, "n"),
        ({"n": 0}, "n"),
        ({"n": "1"}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "mp3"}}, "audio"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": "high"}, "top_p"),
        ({"seed": 1.5}, "seed"),
        ({"tools": [{"type": "function", "function": {}}]}, "tools"),
        ({"tools": [WEATHER], "tool_choice": "other_function"}, "tool_choice"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"stream": "yes"}, "stream"),
        ({"stream": True, "stream_options": {"include_usage": "yes"}}, "stream_options"),
    ],
)
async def test_an_invalid_or_unsupported_field_is_a_400_naming_it(
    scripted_server: str, fields: Dict[str, Any], param: str
) -> None:
    answer = await post(scripted_server, chat("plain", **fields))
    assert answer.status == 400, answer.body
    assert answer.body["error"]["param"] == param
    assert answer.body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "fields",
    [
        {"n": 1},
        {"logprobs": False},
        {"modalities": ["text"]},
        {"store": True, "service_tier": "auto", "prompt_cache_key": "k"},
        {"prediction": {"type": "content", "content": "x"}},
        {"some_vendor_extension": {"x": 1}},
        {"stream_options": {"include_usage": True}},  # without stream: nothing to add
    ],
)
async def test_neutral_and_unknown_fields_are_accepted(
    scripted_server: str, fields: Dict[str, Any]
) -> None:
    answer = await post(scripted_server, chat("plain", **fields))
    assert answer.status == 200, answer.body
    assert answer.body["choices"][0]["message"]["content"] == "Hi there"
