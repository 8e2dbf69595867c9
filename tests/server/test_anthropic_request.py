"""Anthropic Messages requests -> chatplug calls (``chatplug.server.anthropic_request``, pure)."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from chatplug.server.anthropic_request import parse_messages_request
from chatplug.server.protocol import ApiError

USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}


def parse(messages: List[Dict[str, Any]], **body: Any) -> Any:
    return parse_messages_request({"model": "p/m", "max_tokens": 10, "messages": messages, **body})


def refusal(messages: List[Dict[str, Any]], **body: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(messages, **body)
    assert caught.value.status == 400
    return caught.value


HI = [{"role": "user", "content": "hi"}]


def test_system_text_blocks_become_one_system_message() -> None:
    system = [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]
    assert parse(HI, system=system).messages[0] == {"role": "system", "content": "One.\n\nTwo."}


def test_tool_use_blocks_become_tool_calls_with_json_arguments() -> None:
    messages = parse(
        [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Checking."}, USE]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"}],
            },
        ]
    ).messages
    assert messages[1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "18°C"}


def test_tool_results_come_before_the_rest_of_their_user_turn() -> None:
    turn = [
        {"type": "text", "text": "and now?"},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [{"type": "text", "text": "18°C"}],
        },
    ]
    messages = parse(
        [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": turn},
        ]
    ).messages
    assert [message["role"] for message in messages] == ["user", "assistant", "tool", "user"]
    assert messages[3]["content"] == "and now?"


def test_error_tool_results_are_marked_in_their_text() -> None:
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": "no such city",
        "is_error": True,
    }
    messages = parse(
        [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [USE]},
            {"role": "user", "content": [result]},
        ]
    ).messages
    assert messages[-1]["content"] == "Error: no such city"


def test_thinking_blocks_become_reasoning_blocks_with_their_signature() -> None:
    thinking = {"type": "thinking", "thinking": "hmm", "signature": "s"}
    messages = parse(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [thinking, {"type": "text", "text": "hello"}]},
            *HI,
        ]
    ).messages
    assert messages[1] == {
        "role": "assistant",
        "content": "hello",
        "reasoning": [{"text": "hmm", "metadata": {"signature": "s"}}],
    }


def test_redacted_thinking_becomes_a_redacted_reasoning_block() -> None:
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    messages = parse(
        [*HI, {"role": "assistant", "content": [redacted, {"type": "text", "text": "ok"}]}, *HI]
    ).messages
    assert messages[1]["reasoning"] == [
        {"text": "", "redacted": True, "metadata": {"data": "opaque"}}
    ]


def test_url_images_become_image_url_parts() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    content = parse(
        [{"role": "user", "content": [image, {"type": "text", "text": "what?"}]}]
    ).messages[0]["content"]
    assert content[0] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/a.png", "detail": "auto"},
    }


def test_document_blocks_are_refused() -> None:
    document = {
        "type": "document",
        "source": {"type": "text", "data": "x", "media_type": "text/plain"},
    }
    assert refusal([{"role": "user", "content": [document]}]).code == "unsupported_content"


def test_tool_result_answering_no_call_is_refused() -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}
    assert "toolu_9" in refusal([{"role": "user", "content": [result]}]).message


def test_tools_become_function_tools_with_the_input_schema_as_parameters() -> None:
    tool = {"name": "f", "description": "d", "input_schema": {"type": "object"}}
    assert parse(HI, tools=[tool]).fields["tools"] == [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object"}, "description": "d"},
        }
    ]


def test_server_tools_are_refused() -> None:
    assert refusal(HI, tools=[{"type": "bash_20250124", "name": "bash"}]).code == "unsupported_tool"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "f"}, "f"),
    ],
)
def test_tool_choice_is_translated(choice: Dict[str, Any], expected: str) -> None:
    assert parse(HI, tool_choice=choice).fields["tool_choice"] == expected


@pytest.mark.parametrize(
    ("budget", "effort"),
    [
        (1024, "minimal"),
        (2047, "minimal"),
        (2048, "low"),
        (8191, "low"),
        (8192, "medium"),
        (16384, "high"),
        (64000, "high"),
    ],
)
def test_thinking_budget_maps_onto_reasoning_effort(budget: int, effort: str) -> None:
    fields = parse(HI, thinking={"type": "enabled", "budget_tokens": budget}).fields
    assert fields["reasoning_effort"] == effort


@pytest.mark.parametrize("kind", ["disabled", "adaptive"])
def test_disabled_or_adaptive_thinking_asks_for_no_effort(kind: str) -> None:
    assert "reasoning_effort" not in parse(HI, thinking={"type": kind}).fields


def test_output_config_effort_and_format_are_translated() -> None:
    config = {"effort": "max", "format": {"type": "json_schema", "schema": {"type": "object"}}}
    fields = parse(HI, output_config=config).fields
    assert fields["reasoning_effort"] == "high"
    assert fields["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_stop_sequences_and_user_id_are_translated() -> None:
    fields = parse(HI, stop_sequences=["END"], metadata={"user_id": "u-1"}).fields
    assert (fields["stop"], fields["user"]) == (["END"], "u-1")


@pytest.mark.parametrize("max_tokens", [None, 0, "10", True])
def test_max_tokens_is_required_and_positive(max_tokens: Any) -> None:
    with pytest.raises(ApiError) as caught:
        parse_messages_request({"model": "p/m", "max_tokens": max_tokens, "messages": HI})
    assert caught.value.param == "max_tokens"


def test_roles_other_than_user_and_assistant_are_refused() -> None:
    assert refusal([{"role": "system", "content": "x"}]).param == "messages"
