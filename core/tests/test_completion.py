"""``Completion.message``: an answer as the next turn's assistant message, and the
reasoning blocks that carry a provider's signatures back."""

from __future__ import annotations

import pytest
from chatplug import InvalidRequestError, normalize_messages
from chatplug.events import ReasoningDelta, ToolCall
from chatplug.stream import Completion, reasoning_blocks


def test_deltas_join_into_one_block_closed_by_its_signature() -> None:
    deltas = [
        ReasoningDelta("Let me "),
        ReasoningDelta("think."),
        ReasoningDelta("", metadata={"signature": "sig-1"}),
    ]
    assert reasoning_blocks(deltas) == [
        {"text": "Let me think.", "metadata": {"signature": "sig-1"}}
    ]


def test_redacted_reasoning_is_a_block_of_its_own() -> None:
    deltas = [ReasoningDelta("a"), ReasoningDelta("", redacted=True, metadata={"data": "x"})]
    assert reasoning_blocks(deltas) == [
        {"text": "a"},
        {"text": "", "redacted": True, "metadata": {"data": "x"}},
    ]


def test_reasoning_without_metadata_is_one_plain_block() -> None:
    assert reasoning_blocks([ReasoningDelta("x"), ReasoningDelta("y")]) == [{"text": "xy"}]


def test_no_reasoning_gives_no_blocks() -> None:
    assert reasoning_blocks([]) == []


def test_the_message_of_a_text_answer_is_plain() -> None:
    assert Completion("Hi").message == {"role": "assistant", "content": "Hi"}


def test_the_message_carries_tool_calls_in_the_openai_shape() -> None:
    answer = Completion("", tool_calls=(ToolCall(0, "call_1", "f", '{"a": 1}'),))
    assert answer.message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]


def test_the_message_goes_back_through_validation_unchanged() -> None:
    answer = Completion(
        "Done.",
        tool_calls=(ToolCall(0, "call_1", "f", "{}"),),
        reasoning_blocks=({"text": "hm", "metadata": {"signature": "s"}},),
    )
    conversation = normalize_messages(
        [
            {"role": "user", "content": "Go"},
            answer.message,
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ]
    )
    assert conversation[1] == answer.message


def test_reasoning_is_refused_on_a_user_message() -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[0\]\.reasoning"):
        normalize_messages([{"role": "user", "content": "x", "reasoning": [{"text": "y"}]}])


def test_a_reasoning_block_with_a_non_string_text_names_the_field() -> None:
    message = {"role": "assistant", "content": "x", "reasoning": [{"text": 3}]}
    with pytest.raises(InvalidRequestError, match=r"messages\[1\]\.reasoning\[0\]\.text"):
        normalize_messages([{"role": "user", "content": "q"}, message])
