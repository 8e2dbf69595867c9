"""The typed request fields (validated before any network traffic) and model capabilities."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict

import pytest
from chatplug import (
    AsyncClient,
    Client,
    CompletionRequest,
    InvalidRequestError,
    ModelInfo,
    UnsupportedCapabilityError,
)
from chatplug._request import needed_capabilities, new_request
from chatplug.messages import message_needs
from chatplug.types import (
    IMAGES,
    JSON_OBJECT,
    JSON_SCHEMA,
    REASONING,
    TOOLS,
    ResponseFormat,
    Timeout,
    Tool,
)

from .conftest import ScriptedPlugin, scripted_registry

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
EVERYTHING = frozenset({TOOLS, IMAGES, JSON_SCHEMA, JSON_OBJECT, REASONING})


def plugin(
    name: str = "acme", capabilities: frozenset = EVERYTHING, **model: Any
) -> ScriptedPlugin:
    info = ModelInfo("m", name, default=True, capabilities=capabilities, **model)
    return ScriptedPlugin(name, ["ok"], models=[info])


async def test_typed_fields_reach_the_plugin_as_request_fields() -> None:
    acme = plugin()
    async with AsyncClient(registry=scripted_registry(acme), config=False) as client:
        await client.respond(
            "hi",
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "weather"}},
            parallel_tool_calls=False,
            response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": {}}},
            temperature=0.5,
            top_p=1,
            max_completion_tokens=64,
            stop="END",
            seed=7,
            presence_penalty=0.1,
            frequency_penalty=-0.1,
            logit_bias={"50256": -100},
            user="u-1",
            reasoning_effort="low",
            metadata={"trace": "t"},
        )
    [request] = acme.requests
    function = WEATHER["function"]
    assert request.tools == (
        Tool("weather", function["description"], function["parameters"]),  # type: ignore[index]
    )
    assert (request.tool_choice, request.parallel_tool_calls) == ("weather", False)
    assert request.response_format == ResponseFormat("json_schema", "w", {})
    assert (request.temperature, request.top_p, request.max_tokens) == (0.5, 1.0, 64)
    assert (request.stop, request.seed, request.user) == (("END",), 7, "u-1")
    assert (request.presence_penalty, request.frequency_penalty) == (0.1, -0.1)
    assert request.logit_bias == {"50256": -100.0}
    assert (request.reasoning_effort, request.metadata) == ("low", {"trace": "t"})


async def test_sampling_fields_are_also_options_for_plugins_written_for_0_1() -> None:
    acme = plugin()
    async with AsyncClient(registry=scripted_registry(acme), config=False) as client:
        await client.respond(
            "hi", temperature=0.3, max_tokens=10, system="Be brief.", tools=[WEATHER]
        )
    options = dict(acme.requests[0].options)
    assert options == {"temperature": 0.3, "max_tokens": 10, "system": "Be brief."}


INVALID: Dict[str, Dict[str, Any]] = {
    "temperature": {"temperature": 3},
    "top_p": {"top_p": "high"},
    "max_tokens": {"max_tokens": 0},
    "max_completion_tokens": {"max_completion_tokens": 1.5},
    "seed": {"seed": True},
    "stop": {"stop": ["a", 3]},
    "presence_penalty": {"presence_penalty": -5},
    "logit_bias['1']": {"logit_bias": {"1": 500}},
    "user": {"user": 3},
    "reasoning_effort": {"reasoning_effort": "extreme"},
    "metadata": {"metadata": {"a": 1}},
    "tools[0].name": {"tools": [{"type": "function", "function": {"description": "x"}}]},
    "tools[0]": {"tools": [{"type": "retrieval"}]},
    "tools": {"tools": {"name": "x"}},
    "tool_choice": {"tool_choice": "nonexistent", "tools": [WEATHER]},
    "response_format.type": {"response_format": {"type": "xml"}},
    "response_format.json_schema.schema": {"response_format": {"type": "json_schema"}},
    "parallel_tool_calls": {"parallel_tool_calls": "yes"},
}


@pytest.mark.parametrize("field, arguments", INVALID.items(), ids=list(INVALID))
def test_an_invalid_field_fails_before_any_request_naming_the_field(
    field: str, arguments: Dict[str, Any]
) -> None:
    acme = plugin()
    client = AsyncClient(registry=scripted_registry(acme), config=False)
    with pytest.raises(InvalidRequestError) as raised:
        client.stream("hi", **arguments)
    assert raised.value.message.startswith(field + " ")
    assert acme.requests == []


NEEDS = {
    TOOLS: {"tools": [WEATHER]},
    "tools (tool_choice)": {"tool_choice": "required", "tools": [WEATHER]},
    JSON_SCHEMA: {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
    JSON_OBJECT: {"response_format": {"type": "json_object"}},
    REASONING: {"reasoning_effort": "high"},
}


@pytest.mark.parametrize("arguments", NEEDS.values(), ids=list(NEEDS))
def test_a_model_without_the_capability_is_refused_before_any_request(
    arguments: Dict[str, Any],
) -> None:
    textonly, able = plugin("textonly", frozenset()), plugin("able")
    client = AsyncClient(registry=scripted_registry(textonly, able), config=False)
    with pytest.raises(UnsupportedCapabilityError) as raised:
        client.stream("hi", provider="textonly", **arguments)
    error = raised.value
    assert (error.model, error.provider, error.alternatives) == (
        "textonly/m",
        "textonly",
        ["able/m"],
    )
    assert error.capability in error.message and isinstance(error, InvalidRequestError)
    assert textonly.requests == []


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
MESSAGES_NEEDING = {
    "an image part": (
        [{"role": "user", "content": [{"type": "text", "text": "?"}, IMAGE]}],
        IMAGES,
    ),
    "a tool message": ([{"role": "tool", "tool_call_id": "c", "content": "sunny"}], TOOLS),
    "an assistant tool call": (
        [{"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]}],
        TOOLS,
    ),
}


@pytest.mark.parametrize(
    "messages, capability", MESSAGES_NEEDING.values(), ids=list(MESSAGES_NEEDING)
)
def test_messages_needing_a_capability(messages: Any, capability: str) -> None:
    assert needed_capabilities({}, message_needs(messages)) == {capability}


def test_text_messages_need_nothing() -> None:
    messages = [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]
    assert needed_capabilities({}, message_needs(messages)) == set()


def test_a_typed_field_keeps_what_the_messages_need() -> None:
    textonly, able = plugin("textonly", frozenset()), plugin("able")
    client = AsyncClient(registry=scripted_registry(textonly, able), config=False)
    messages = MESSAGES_NEEDING["an image part"][0]
    with pytest.raises(UnsupportedCapabilityError) as raised:
        client.stream(messages, provider="textonly", temperature=0.5)
    assert raised.value.capability == IMAGES
    assert textonly.requests == []


async def test_with_fallback_the_candidates_without_the_capability_are_skipped() -> None:
    first, second = plugin("alpha", frozenset()), plugin("beta", frozenset({TOOLS}))
    async with AsyncClient(registry=scripted_registry(first, second), config=False) as client:
        completion = await client.respond("hi", model="m", tools=[WEATHER])
    assert completion.provider == "beta"
    assert first.requests == []


def test_without_any_capable_candidate_the_error_lists_none() -> None:
    first, second = plugin("alpha", frozenset()), plugin("beta", frozenset())
    client = AsyncClient(registry=scripted_registry(first, second), config=False)
    with pytest.raises(UnsupportedCapabilityError) as raised:
        client.stream("hi", model="m", tools=[WEATHER])
    assert (raised.value.capability, raised.value.alternatives) == (TOOLS, [])


def test_the_sync_client_refuses_the_same_way() -> None:
    textonly = plugin("textonly", frozenset())
    with Client(registry=scripted_registry(textonly), config=False) as client:
        with pytest.raises(UnsupportedCapabilityError):
            client.respond("hi", reasoning_effort="low")
    assert textonly.requests == []


def test_a_capability_list_in_the_catalogue_is_frozen() -> None:
    acme = ScriptedPlugin("acme", models=[ModelInfo("m", "acme", capabilities=[TOOLS])])  # type: ignore[arg-type]
    [model] = AsyncClient(registry=scripted_registry(acme), config=False).models()
    assert model.capabilities == frozenset({TOOLS})


def test_a_request_built_in_one_step_is_the_dataclass_s_own() -> None:
    timeout = Timeout(total=9)
    messages = ({"role": "user", "content": "hi"},)
    args = ("acme", "m", messages, "hi", {"system": "s"}, None, "http://x", timeout, {"k": 1})
    fields = {"temperature": 0.5, "stop": ("END",)}
    built = new_request(*args, fields)
    names = ("provider", "model", "messages", "prompt", "options", "proxy", "base_url")
    expected = CompletionRequest(
        **dict(zip(names, args)), timeout=timeout, settings={"k": 1}, **fields
    )
    assert built == expected
    assert repr(built) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.model = "other"  # type: ignore[misc]


def test_a_request_with_an_unknown_field_is_refused_like_the_dataclass_does() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        new_request("acme", "m", (), "", {}, None, None, Timeout(), {}, {"colour": "red"})
