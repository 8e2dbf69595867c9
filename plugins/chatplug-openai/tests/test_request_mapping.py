"""What the upstream receives for each typed request field (recorded by the emulator)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Dict

from chatplug.emulation import RunningEmulator
from chatplug.types import ResponseFormat, Tool
from chatplug_openai.emulator import REQUESTS

from .conftest import collect, make_request

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
LOOKUP = Tool("lookup", "Look a word up", SCHEMA, True)


async def sent(emulator: RunningEmulator, **fields: Any) -> Dict[str, Any]:
    """The body the emulator received for a request with ``fields``."""
    await collect(make_request(emulator.url, **fields))
    body: Dict[str, Any] = emulator.app[REQUESTS][-1]["body"]
    return body


async def test_tools_are_sent_as_function_tools(emulator: RunningEmulator) -> None:
    body = await sent(emulator, tools=(LOOKUP, Tool("now")))
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up",
                "parameters": SCHEMA,
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}},
    ]


async def test_tool_choice_naming_a_function_is_sent_as_a_function_choice(
    emulator: RunningEmulator,
) -> None:
    body = await sent(emulator, tools=(LOOKUP,), tool_choice="lookup")
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}


async def test_tool_choice_keywords_and_parallel_tool_calls_are_sent_as_they_are(
    emulator: RunningEmulator,
) -> None:
    body = await sent(emulator, tools=(LOOKUP,), tool_choice="required", parallel_tool_calls=False)
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("required", False)


async def test_json_schema_response_format_is_sent_with_name_schema_and_strict(
    emulator: RunningEmulator,
) -> None:
    body = await sent(emulator, response_format=ResponseFormat("json_schema", "out", SCHEMA, True))
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": SCHEMA, "strict": True},
    }


async def test_json_object_response_format_is_sent(emulator: RunningEmulator) -> None:
    messages = [{"role": "user", "content": "json please"}]
    body = await sent(emulator, messages=messages, response_format=ResponseFormat("json_object"))
    assert body["response_format"] == {"type": "json_object"}


async def test_every_sampling_field_is_sent(emulator: RunningEmulator) -> None:
    fields: Dict[str, Any] = {
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 7,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
        "logit_bias": {"50256": -100},
        "user": "u-1",
        "metadata": {"purpose": "test"},
    }
    body = await sent(emulator, stop=("\n\n", "END"), max_tokens=50, **fields)
    assert {name: body[name] for name in fields} == fields
    assert body["stop"] == ["\n\n", "END"]
    assert body["max_tokens"] == 50 and "max_completion_tokens" not in body


async def test_max_tokens_is_max_completion_tokens_for_a_reasoning_model(
    emulator: RunningEmulator,
) -> None:
    body = await sent(emulator, model="o3-mini", max_tokens=50, reasoning_effort="low")
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert body["reasoning_effort"] == "low"


async def test_max_completion_tokens_asked_for_is_sent_as_such(emulator: RunningEmulator) -> None:
    body = await sent(emulator, max_tokens=40, options={"max_completion_tokens": 40})
    assert body["max_completion_tokens"] == 40 and "max_tokens" not in body


async def test_a_typed_field_wins_over_the_option_of_the_same_name(
    emulator: RunningEmulator,
) -> None:
    body = await sent(emulator, temperature=0.1, options={"temperature": 0.9, "top_p": 0.5})
    assert (body["temperature"], body["top_p"]) == (0.1, 0.5)


async def test_rich_messages_are_sent_as_they_are(emulator: RunningEmulator) -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look ✓"},
                {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"a": "cat"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a small feline"},
    ]
    body = await sent(emulator, messages=messages, tools=(LOOKUP,))
    assert body["messages"] == messages


async def test_frozen_mappings_and_tuples_are_sent_as_json(emulator: RunningEmulator) -> None:
    parameters = MappingProxyType(
        {"type": "object", "properties": MappingProxyType({}), "required": ()}
    )
    body = await sent(
        emulator,
        tools=(Tool("now", None, parameters),),
        metadata=MappingProxyType({"k": "v"}),
        logit_bias=MappingProxyType({"1": 2}),
    )
    assert body["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {},
        "required": [],
    }
    assert (body["metadata"], body["logit_bias"]) == ({"k": "v"}, {"1": 2})
