"""Rendering answers: ``chat.completion.chunk`` events and the ``chat.completion`` object."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from chatplug.events import ToolCall, ToolCallDelta
from chatplug.server.chat_response import ChunkEncoder, completion_object, finish_reason
from chatplug.server.protocol import ApiError
from http_helpers import sse_events


def events(data: bytes) -> List[Any]:
    """The events of one write: whole SSE events of ASCII JSON (``[DONE]`` as the string)."""
    text = data.decode("ascii")
    assert text.endswith("\n\n")
    return sse_events(text)


@pytest.mark.parametrize(
    "text", ["plain", 'quo"te', "back\\slash", "new\nline", "ünïcødé ✓ 日本語 🚀", "\x00\x1f", ""]
)
def test_content_chunk_is_valid_json_with_the_exact_text(text: str) -> None:
    encoder = ChunkEncoder('prov/model-"x"')
    (chunk,) = events(encoder.content(text))
    assert chunk["choices"][0]["delta"] == {"content": text}
    assert chunk["choices"][0]["finish_reason"] is None
    assert chunk["model"] == 'prov/model-"x"'
    assert chunk["object"] == "chat.completion.chunk"
    assert chunk["id"] == encoder.ident


def test_first_write_carries_the_role_then_the_first_content() -> None:
    role, first = events(ChunkEncoder("p/m").first("Hi"))
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert first["choices"][0]["delta"] == {"content": "Hi"}


def test_last_write_is_stop_then_done() -> None:
    stop, done = events(ChunkEncoder("p/m").last())
    assert stop["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert done == "[DONE]"


def test_last_write_with_usage_adds_a_usage_chunk() -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    stop, with_usage, done = events(ChunkEncoder("p/m", include_usage=True).last("stop", usage))
    assert stop["choices"][0]["finish_reason"] == "stop"
    assert with_usage["choices"] == [] and with_usage["usage"] == usage
    assert done == "[DONE]"


def test_error_event_is_the_openai_error_shape() -> None:
    (event,) = events(ChunkEncoder.error(ApiError(502, "boom", type="upstream_error", code="x")))
    assert event["error"]["message"] == "boom"
    assert event["error"]["code"] == "x"


def test_usage_null_is_on_every_chunk_with_include_usage() -> None:
    encoder = ChunkEncoder("p/m", include_usage=True)
    data = (
        encoder.first("a") + encoder.reasoning("r") + encoder.tool_call(ToolCallDelta(0, "c", "f"))
    )
    assert all(chunk["usage"] is None for chunk in events(data))


def test_no_usage_key_without_include_usage() -> None:
    encoder = ChunkEncoder("p/m")
    data = encoder.first("a") + encoder.last("stop")
    assert all("usage" not in chunk for chunk in events(data)[:-1])


def test_last_carries_the_finish_reason() -> None:
    stop, _done = events(ChunkEncoder("p/m").last("length"))
    assert stop["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("arguments", ['{"q": "a\\"b"}', "ünï ✓", ""])
def test_tool_call_fragment_arguments_survive_encoding(arguments: str) -> None:
    (chunk,) = events(ChunkEncoder("p/m").tool_call(ToolCallDelta(2, arguments=arguments)))
    assert chunk["choices"][0]["delta"] == {
        "tool_calls": [{"index": 2, "function": {"arguments": arguments}}]
    }


def test_reasoning_chunk_is_reasoning_content() -> None:
    (chunk,) = events(ChunkEncoder("p/m").reasoning("hm\n"))
    assert chunk["choices"][0]["delta"] == {"reasoning_content": "hm\n"}


@pytest.mark.parametrize(
    "reported, calls, expected",
    [(None, False, "stop"), (None, True, "tool_calls"), ("length", True, "length")],
)
def test_finish_reason(reported: Any, calls: bool, expected: str) -> None:
    assert finish_reason(reported, calls) == expected


def test_completion_object_with_tool_calls_only_has_null_content() -> None:
    usage: Dict[str, Any] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    body = completion_object("p/m", "", usage, tool_calls=[ToolCall(0, "c", "f", "{}")])
    assert body["choices"][0]["message"]["content"] is None


def test_completion_object_empty_answer_without_tools_has_empty_content() -> None:
    usage: Dict[str, Any] = {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}
    body = completion_object("p/m", "", usage)
    assert body["choices"][0]["message"]["content"] == ""
