"""The NDJSON stream parser: Ollama's records → contract 0.2 items, errors, random splits."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence

import pytest
from chatplug import StreamProtocolError, UpstreamError
from chatplug.events import (
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    StreamItem,
    ToolCallDelta,
    Usage,
)
from chatplug.testing import of_type, parse_chunks, split_bytes, text_of
from chatplug_ollama import ChatStream
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import ndjson


def record(content: str = "", **message: Any) -> Dict[str, Any]:
    return {
        "model": "llama3.2",
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content, **message},
        "done": False,
    }


def done(reason: str = "stop", **fields: Any) -> Dict[str, Any]:
    fields.setdefault("prompt_eval_count", 26)
    fields.setdefault("eval_count", 4)
    return {**record(), "done": True, "done_reason": reason, "total_duration": 5, **fields}


def parse(body: bytes, sizes: Sequence[int] = ()) -> "tuple[ChatStream, List[StreamItem]]":
    parser = ChatStream()
    return parser, parse_chunks(parser, split_bytes(body, sizes))


def test_content_comes_out_as_strings_in_order() -> None:
    _, items = parse(ndjson(record("Hé"), record("llo ✓"), done()))
    assert of_type(items, str) == ["Hé", "llo ✓"]


def test_the_first_record_gives_the_model() -> None:
    _, items = parse(ndjson(record("a"), done()))
    assert items[0] == ResponseMetadata(model="llama3.2")
    assert len(of_type(items, ResponseMetadata)) == 1


def test_thinking_is_reasoning() -> None:
    _, items = parse(
        ndjson(record(thinking="Let me "), record(thinking="see"), record("x"), done())
    )
    assert of_type(items, ReasoningDelta) == [ReasoningDelta("Let me "), ReasoningDelta("see")]


def test_the_done_record_gives_finish_then_usage() -> None:
    _, items = parse(ndjson(record("a"), done(prompt_eval_count=12, eval_count=3)))
    assert items[-2] == Finish("stop", raw="stop")
    usage = items[-1]
    assert isinstance(usage, Usage)
    assert (usage.input_tokens, usage.output_tokens) == (12, 3)
    assert usage.raw is not None and usage.raw["total_duration"] == 5


def test_a_done_record_without_counts_has_no_usage() -> None:
    body = ndjson(record("a"), {**record(), "done": True, "done_reason": "stop"})
    _, items = parse(body)
    assert of_type(items, Usage) == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("stop", "stop"), ("length", "length"), ("load", "other"), ("unload", "other")],
)
def test_done_reasons_map_to_finish_reasons(raw: str, reason: str) -> None:
    _, items = parse(ndjson(record("a"), done(raw)))
    assert of_type(items, Finish) == [Finish(reason, raw=raw)]


def test_tool_calls_are_whole_deltas_with_an_index_each() -> None:
    body = ndjson(
        record(tool_calls=[{"function": {"name": "weather", "arguments": {"city": "Köln"}}}]),
        record(tool_calls=[{"function": {"name": "clock", "arguments": {}}}]),
        done(),
    )
    _, items = parse(body)
    calls = of_type(items, ToolCallDelta)
    assert [(c.index, c.name) for c in calls] == [(0, "weather"), (1, "clock")]
    assert json.loads(calls[0].arguments) == {"city": "Köln"}
    assert calls[1].arguments == "{}"
    assert all(c.id and c.id.startswith("call_") for c in calls)
    assert calls[0].id != calls[1].id


def test_a_tool_call_id_from_the_server_is_kept() -> None:
    call = {"id": "call_abc", "function": {"name": "f", "arguments": {}}}
    _, items = parse(ndjson(record(tool_calls=[call]), done()))
    assert of_type(items, ToolCallDelta)[0].id == "call_abc"


def test_string_arguments_pass_as_they_are() -> None:
    call = {"function": {"name": "f", "arguments": '{"a": 1}'}}
    _, items = parse(ndjson(record(tool_calls=[call]), done()))
    assert of_type(items, ToolCallDelta)[0].arguments == '{"a": 1}'


def test_a_stop_after_tool_calls_finishes_with_tool_calls() -> None:
    call = {"function": {"name": "f", "arguments": {}}}
    _, items = parse(ndjson(record(tool_calls=[call]), done("stop")))
    assert of_type(items, Finish) == [Finish("tool_calls", raw="stop")]


def test_a_stream_without_its_done_record_is_truncated() -> None:
    parser = ChatStream()
    parser.feed(ndjson(record("a"), record("b")))
    with pytest.raises(StreamProtocolError, match="done record"):
        parser.close()


def test_a_stream_cut_inside_a_record_is_a_protocol_error() -> None:
    parser = ChatStream()
    parser.feed(ndjson(record("a")) + b'{"model": "llama3.2", "mess')
    with pytest.raises(StreamProtocolError):
        parser.close()


def test_a_done_record_without_its_newline_completes_the_stream() -> None:
    parser = ChatStream()
    parser.feed(ndjson(record("a")) + json.dumps(done()).encode())
    items = parser.close()
    assert parser.done and isinstance(items[0], Finish)


def test_blank_lines_are_skipped_and_nothing_after_done_is_parsed() -> None:
    parser = ChatStream()
    items = parser.feed(b"\n" + ndjson(record("a")) + b"\r\n" + ndjson(done()) + b"{nope\n")
    assert "a" in items and parser.done
    assert parser.close() == []


def test_malformed_json_is_a_protocol_error() -> None:
    with pytest.raises(StreamProtocolError):
        ChatStream().feed(b"{nope\n")


@pytest.mark.parametrize(
    "value", [[1, 2], {"message": "text"}, {"message": {"tool_calls": [{"x": 1}]}}]
)
def test_records_of_the_wrong_shape_are_protocol_errors(value: Any) -> None:
    with pytest.raises(StreamProtocolError, match="unexpected record"):
        ChatStream().feed(json.dumps(value).encode() + b"\n")


def test_an_error_record_raises_its_message() -> None:
    with pytest.raises(UpstreamError, match="out of memory"):
        ChatStream().feed(ndjson({"error": "out of memory"}))


def test_an_error_after_text_comes_after_that_text() -> None:
    parser = ChatStream()
    items = parser.feed(ndjson(record("partial"), {"error": "model crashed"}))
    assert "partial" in items
    with pytest.raises(UpstreamError, match="model crashed"):
        parser.close()


@settings(max_examples=100, deadline=None)
@given(
    pieces=st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=8),
    splits=st.lists(st.integers(min_value=1, max_value=9), max_size=300),
)
def test_any_split_of_the_bytes_gives_the_same_items(pieces: List[str], splits: List[int]) -> None:
    body = ndjson(
        record(thinking="hm ✓"),
        *(record(piece) for piece in pieces),
        record(tool_calls=[{"id": "c1", "function": {"name": "f", "arguments": {"k": "✓"}}}]),
        done(),
    )
    _, whole = parse(body)
    _, split = parse(body, splits)
    assert split == whole
    assert text_of(split) == "".join(pieces)
