"""The request mapping: OpenAI-style messages and typed fields → an /api/chat body."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from chatplug import InvalidRequestError
from chatplug.types import ResponseFormat, Tool
from chatplug_ollama import build_payload

from .conftest import make_request

WEATHER = Tool("weather", "The weather", {"type": "object", "properties": {}})


def payload(messages: Optional[List[Dict[str, Any]]] = None, **fields: Any) -> Dict[str, Any]:
    return build_payload(make_request(None, messages, **fields))


def test_the_body_streams_the_model_with_the_messages() -> None:
    body = payload([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert body == {
        "model": "llama3.2",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "stream": True,
    }


def test_the_system_option_leads_and_developer_becomes_system() -> None:
    body = payload(
        [{"role": "developer", "content": "B"}, {"role": "user", "content": "x"}],
        options={"system": "A"},
    )
    assert [(m["role"], m["content"]) for m in body["messages"][:2]] == [
        ("system", "A"),
        ("system", "B"),
    ]


def test_data_url_images_go_on_the_message_as_base64() -> None:
    parts = [
        {"type": "text", "text": "What is it?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    body = payload([{"role": "user", "content": parts}])
    assert body["messages"][0] == {
        "role": "user",
        "content": "What is it?",
        "images": ["iVBORw0KGgo="],
    }


def test_an_image_url_ollama_cannot_take_is_refused() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}}
    with pytest.raises(InvalidRequestError, match="base64"):
        payload([{"role": "user", "content": [part]}])


def test_tool_calls_and_results_map_to_ollama_messages() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Köln"}'},
    }
    body = payload(
        [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        ],
        tools=(WEATHER,),
    )
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "weather", "arguments": {"city": "Köln"}}}],
    }
    assert body["messages"][2] == {"role": "tool", "content": "Sunny", "tool_name": "weather"}


def test_assistant_reasoning_goes_back_as_thinking() -> None:
    reasoning = [{"text": "Hmm "}, {"text": "yes", "metadata": {"x": 1}}]
    body = payload(
        [
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A", "reasoning": reasoning},
        ]
    )
    assert body["messages"][1]["thinking"] == "Hmm yes"


def test_tools_are_sent_as_functions() -> None:
    assert payload(tools=(WEATHER,))["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "The weather",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]


def test_tool_choice_none_sends_no_tools() -> None:
    assert "tools" not in payload(tools=(WEATHER,), tool_choice="none")


@pytest.mark.parametrize("choice", ["required", "weather"])
def test_a_forced_tool_choice_is_refused(choice: str) -> None:
    with pytest.raises(InvalidRequestError, match="cannot force"):
        payload(tools=(WEATHER,), tool_choice=choice)


def test_json_object_format_is_json() -> None:
    assert payload(response_format=ResponseFormat("json_object"))["format"] == "json"


def test_json_schema_format_is_the_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = ResponseFormat("json_schema", name="x", schema=schema)
    assert payload(response_format=fmt)["format"] == schema


def test_sampling_fields_and_ollama_options_go_in_options() -> None:
    body = payload(
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        stop=("END",),
        seed=7,
        options={"num_ctx": 8192, "top_k": 40, "api_key": "sneaky"},
    )
    assert body["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 7,
        "num_predict": 50,
        "stop": ["END"],
        "num_ctx": 8192,
        "top_k": 40,
    }


def test_options_of_a_contract_01_caller_are_read_too() -> None:
    body = payload(options={"temperature": 0.5, "max_tokens": 9, "stop": "x"})
    assert body["options"] == {"temperature": 0.5, "num_predict": 9, "stop": ["x"]}


@pytest.mark.parametrize(("effort", "think"), [("low", True), ("high", True), ("none", False)])
def test_reasoning_effort_sets_think(effort: str, think: bool) -> None:
    assert payload(reasoning_effort=effort)["think"] is think


def test_the_think_option_is_sent_as_it_is() -> None:
    assert payload(options={"think": "high"})["think"] == "high"


def test_keep_alive_comes_from_the_option_or_the_setting() -> None:
    assert payload(settings={"keep_alive": "10m"})["keep_alive"] == "10m"
    assert payload(options={"keep_alive": -1}, settings={"keep_alive": "10m"})["keep_alive"] == -1
