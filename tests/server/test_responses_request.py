"""Responses API requests -> chatplug calls (``chatplug.server.responses_request``, pure)."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from chatplug.server.protocol import ApiError
from chatplug.server.responses_request import parse_responses_request
from chatplug.server.translation import encode_reasoning


def parse(**body: Any) -> Any:
    return parse_responses_request({"model": "p/m", **body})


def refusal(**body: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(**body)
    assert caught.value.status == 400
    return caught.value


CALL: Dict[str, Any] = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city": "Paris"}',
    "status": "completed",
}
TOOL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def test_string_input_is_one_user_message() -> None:
    assert parse(input="hi").messages == ({"role": "user", "content": "hi"},)


def test_instructions_become_the_first_system_message() -> None:
    messages = parse(instructions="Be brief.", input="hi").messages
    assert messages[0] == {"role": "system", "content": "Be brief."}


def test_developer_messages_become_system_messages() -> None:
    messages = parse(
        input=[{"role": "developer", "content": "x"}, {"role": "user", "content": "y"}]
    )
    assert messages.messages[0] == {"role": "system", "content": "x"}


def test_function_call_after_assistant_text_joins_that_turn() -> None:
    messages = parse(
        input=[
            {"role": "user", "content": "weather?"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Let me check."}],
            },
            CALL,
            {"type": "function_call_output", "call_id": "call_1", "output": "18°C"},
        ]
    ).messages
    assert messages[1] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [TOOL_CALL],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "18°C"}


def test_function_call_alone_is_an_assistant_turn_without_text() -> None:
    messages = parse(
        input=[
            {"role": "user", "content": "weather?"},
            CALL,
            {"type": "function_call_output", "call_id": "call_1", "output": "18°C"},
        ]
    ).messages
    assert messages[1] == {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]}


def test_reasoning_item_summary_becomes_the_next_assistant_turns_reasoning() -> None:
    summary = [{"type": "summary_text", "text": "thinking..."}]
    messages = parse(
        input=[
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "id": "rs_1", "summary": summary},
            {"role": "assistant", "content": "hello"},
        ]
    ).messages
    assert messages[1] == {
        "role": "assistant",
        "content": "hello",
        "reasoning": [{"text": "thinking..."}],
    }


def test_reasoning_written_by_the_server_comes_back_exactly() -> None:
    blocks = [{"text": "hmm", "metadata": {"signature": "s"}}, {"text": "", "redacted": True}]
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "hmm"}],
        "encrypted_content": encode_reasoning(blocks),
    }
    messages = parse(input=[{"role": "user", "content": "hi"}, item, CALL]).messages
    assert messages[1]["reasoning"] == blocks
    assert messages[1]["tool_calls"] == [TOOL_CALL]


def test_reasoning_with_foreign_encrypted_content_keeps_its_summary_only() -> None:
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "hmm"}],
        "encrypted_content": "gAAAAB-openai-ciphertext",
    }
    messages = parse(input=[{"role": "user", "content": "hi"}, item, CALL]).messages
    assert messages[1]["reasoning"] == [{"text": "hmm"}]


def test_reasoning_before_a_user_message_is_left_out() -> None:
    item = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "x"}]}
    messages = parse(input=[item, {"role": "user", "content": "hi"}]).messages
    assert messages == ({"role": "user", "content": "hi"},)


def test_function_call_output_parts_become_its_text() -> None:
    messages = parse(
        input=[
            {"role": "user", "content": "weather?"},
            CALL,
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": [{"type": "input_text", "text": "18°C"}],
            },
        ]
    ).messages
    assert messages[-1]["content"] == "18°C"


def test_output_answering_no_call_is_refused() -> None:
    error = refusal(input=[{"type": "function_call_output", "call_id": "call_9", "output": "x"}])
    assert error.param == "input" and "call_9" in error.message


@pytest.mark.parametrize(
    "item",
    [{"type": "item_reference", "id": "msg_1"}, {"type": "web_search_call", "id": "ws_1"}],
)
def test_items_that_need_stored_state_or_hosted_tools_are_refused(item: Dict[str, Any]) -> None:
    assert refusal(input=[item]).code == "unsupported_item"


def test_file_inputs_are_refused() -> None:
    part = {"type": "input_file", "file_id": "file_1"}
    assert refusal(input=[{"role": "user", "content": [part]}]).code == "unsupported_content"


def test_image_by_file_id_is_refused() -> None:
    part = {"type": "input_image", "file_id": "file_1"}
    assert "file_id" in refusal(input=[{"role": "user", "content": [part]}]).message


@pytest.mark.parametrize("name", ["previous_response_id", "conversation", "prompt", "background"])
def test_stateful_fields_are_refused_naming_the_field(name: str) -> None:
    value: Any = True if name == "background" else "x_1"
    assert refusal(input="hi", **{name: value}).param == name


def test_store_is_accepted_and_ignored() -> None:
    assert parse(input="hi", store=True).fields == {}


def test_function_tools_become_chat_tools() -> None:
    tool = {
        "type": "function",
        "name": "f",
        "description": "d",
        "parameters": {"type": "object"},
        "strict": True,
    }
    fields = parse(input="hi", tools=[tool]).fields
    assert fields["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "f",
                "description": "d",
                "parameters": {"type": "object"},
                "strict": True,
            },
        }
    ]


def test_hosted_tools_are_refused_naming_the_tool() -> None:
    assert refusal(input="hi", tools=[{"type": "file_search"}]).param == "tools[0]"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("auto", "auto"), ("required", "required"), ({"type": "function", "name": "f"}, "f")],
)
def test_tool_choice_is_translated(choice: Any, expected: str) -> None:
    assert parse(input="hi", tool_choice=choice).fields["tool_choice"] == expected


def test_allowed_tools_choice_is_refused() -> None:
    choice = {"type": "allowed_tools", "mode": "auto", "tools": []}
    assert refusal(input="hi", tool_choice=choice).param == "tool_choice"


def test_json_schema_format_becomes_a_response_format() -> None:
    spec = {"type": "json_schema", "name": "person", "schema": {"type": "object"}, "strict": True}
    fields = parse(input="hi", text={"format": spec}).fields
    assert fields["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": {"type": "object"}, "strict": True},
    }


def test_text_format_and_verbosity_alone_ask_for_nothing() -> None:
    assert parse(input="hi", text={"format": {"type": "text"}, "verbosity": "low"}).fields == {}


@pytest.mark.parametrize(
    ("effort", "expected"), [("low", "low"), ("xhigh", "high"), ("none", "none")]
)
def test_reasoning_effort_is_translated(effort: str, expected: str) -> None:
    fields = parse(input="hi", reasoning={"effort": effort, "summary": "auto"}).fields
    assert fields["reasoning_effort"] == expected


def test_max_output_tokens_becomes_max_tokens() -> None:
    assert parse(input="hi", max_output_tokens=64).fields["max_tokens"] == 64


def test_missing_model_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        parse_responses_request({"input": "hi"})
    assert caught.value.param == "model"


def test_missing_input_is_refused() -> None:
    assert refusal().param == "input"


def test_non_boolean_stream_is_refused() -> None:
    assert refusal(input="hi", stream="yes").param == "stream"
