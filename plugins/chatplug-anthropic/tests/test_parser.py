"""The event stream parser: every Messages API event → contract 0.2 items, errors, splits."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import pytest
from chatplug import (
    AuthenticationError,
    RateLimitedError,
    StreamProtocolError,
    UpstreamError,
    UpstreamHTTPError,
)
from chatplug.events import (
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    StreamItem,
    ToolCallDelta,
    Usage,
)
from chatplug.testing import of_type, parse_chunks, split_bytes, text_of
from chatplug_anthropic import MessageStream
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import events

START: Dict[str, Any] = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [],
        "usage": {"input_tokens": 10, "output_tokens": 1},
    },
}
STOP = {"type": "message_stop"}


def block_start(index: int, **block: Any) -> Dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **value: Any) -> Dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": value}


def block_stop(index: int) -> Dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(reason: str = "end_turn", output: int = 5, **usage: Any) -> Dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": reason, "stop_sequence": None},
        "usage": {"output_tokens": output, **usage},
    }


def text_block(*pieces: str, index: int = 0) -> List[Dict[str, Any]]:
    return [
        block_start(index, type="text", text=""),
        *(delta(index, type="text_delta", text=piece) for piece in pieces),
        block_stop(index),
    ]


def parse(body: bytes, sizes: Sequence[int] = ()) -> "tuple[MessageStream, List[StreamItem]]":
    parser = MessageStream("anthropic")
    return parser, parse_chunks(parser, split_bytes(body, sizes))


def test_text_deltas_come_out_as_strings_in_order() -> None:
    _, items = parse(events(START, *text_block("Hé", "llo ✓"), message_delta(), STOP))
    assert of_type(items, str) == ["Hé", "llo ✓"]


def test_message_start_gives_the_response_id_and_model() -> None:
    _, items = parse(events(START, *text_block("a"), message_delta(), STOP))
    assert items[0] == ResponseMetadata("msg_1", "claude-sonnet-4-5-20250929")


def test_message_start_reports_the_input_usage_and_message_delta_the_output() -> None:
    _, items = parse(events(START, *text_block("a"), message_delta(output=7), STOP))
    usages = of_type(items, Usage)
    assert [(u.input_tokens, u.output_tokens) for u in usages] == [(10, 1), (10, 7)]


def test_cached_and_newly_cached_input_tokens_count_as_input() -> None:
    start = {
        **START,
        "message": {
            **START["message"],
            "usage": {
                "input_tokens": 4,
                "cache_creation_input_tokens": 20,
                "cache_read_input_tokens": 100,
                "output_tokens": 1,
            },
        },
    }
    parser, _ = parse(events(start, *text_block("a"), message_delta(output=3), STOP))
    assert parser.usage is not None
    assert parser.usage.input_tokens == 124
    assert parser.usage.cached_input_tokens == 100
    assert parser.usage.raw is not None and parser.usage.raw["cache_read_input_tokens"] == 100


def test_usage_without_cache_fields_has_no_cached_count() -> None:
    parser, _ = parse(events(START, *text_block("a"), message_delta(), STOP))
    assert parser.usage is not None and parser.usage.cached_input_tokens is None


def test_message_delta_input_usage_updates_the_running_total() -> None:
    body = events(START, *text_block("a"), message_delta(output=9, input_tokens=12), STOP)
    parser, _ = parse(body)
    assert parser.usage is not None and parser.usage.input_tokens == 12


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "other"),
        ("model_context_window_exceeded", "length"),
        ("something_new", "other"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(raw: str, reason: str) -> None:
    _, items = parse(events(START, *text_block("a"), message_delta(raw), STOP))
    assert of_type(items, Finish) == [Finish(reason, raw=raw)]


def test_finish_comes_before_the_last_usage() -> None:
    _, items = parse(events(START, *text_block("a"), message_delta(), STOP))
    assert isinstance(items[-2], Finish) and isinstance(items[-1], Usage)


def test_thinking_deltas_are_reasoning_and_the_signature_is_metadata() -> None:
    body = events(
        START,
        block_start(0, type="thinking", thinking="", signature=""),
        delta(0, type="thinking_delta", thinking="Let me "),
        delta(0, type="thinking_delta", thinking="think ✓"),
        delta(0, type="signature_delta", signature="c2lnbmF0dXJl"),
        block_stop(0),
        *text_block("Answer", index=1),
        message_delta(),
        STOP,
    )
    _, items = parse(body)
    assert of_type(items, ReasoningDelta) == [
        ReasoningDelta("Let me "),
        ReasoningDelta("think ✓"),
        ReasoningDelta("", metadata={"signature": "c2lnbmF0dXJl"}),
    ]
    assert of_type(items, str) == ["Answer"]


def test_redacted_thinking_is_redacted_reasoning_carrying_its_data() -> None:
    body = events(
        START,
        block_start(0, type="redacted_thinking", data="RU5DUllQVEVE"),
        block_stop(0),
        *text_block("x", index=1),
        message_delta(),
        STOP,
    )
    _, items = parse(body)
    assert of_type(items, ReasoningDelta) == [
        ReasoningDelta("", redacted=True, metadata={"data": "RU5DUllQVEVE"})
    ]


def tool_block(index: int, call_id: str, name: str, *pieces: str) -> List[Dict[str, Any]]:
    return [
        block_start(index, type="tool_use", id=call_id, name=name, input={}),
        *(delta(index, type="input_json_delta", partial_json=piece) for piece in pieces),
        block_stop(index),
    ]


def test_tool_use_start_gives_id_and_name_then_arguments_come_in_fragments() -> None:
    body = events(
        START,
        *tool_block(0, "toolu_1", "weather", "", '{"city": ', '"Köln"}'),
        message_delta("tool_use"),
        STOP,
    )
    _, items = parse(body)
    assert of_type(items, ToolCallDelta) == [
        ToolCallDelta(0, "toolu_1", "weather"),
        ToolCallDelta(0, arguments='{"city": '),
        ToolCallDelta(0, arguments='"Köln"}'),
    ]


def test_tool_call_index_counts_tool_calls_not_content_blocks() -> None:
    body = events(
        START,
        *text_block("Calling", index=0),
        *tool_block(1, "toolu_a", "weather", '{"city": "Oslo"}'),
        *tool_block(2, "toolu_b", "time", '{"zone": "UTC"}'),
        message_delta("tool_use"),
        STOP,
    )
    _, items = parse(body)
    starts = [(d.index, d.id) for d in of_type(items, ToolCallDelta) if d.id]
    assert starts == [(0, "toolu_a"), (1, "toolu_b")]


def test_a_tool_call_without_input_deltas_gets_empty_object_arguments() -> None:
    body = events(START, *tool_block(0, "toolu_1", "now"), message_delta("tool_use"), STOP)
    _, items = parse(body)
    assert "".join(d.arguments for d in of_type(items, ToolCallDelta)) == "{}"


def test_ping_unknown_events_and_unknown_blocks_are_skipped() -> None:
    body = events(
        START,
        {"type": "ping"},
        {"type": "brand_new_event", "x": 1},
        block_start(0, type="server_tool_use", id="srvtoolu_1", name="web_search", input={}),
        delta(0, type="input_json_delta", partial_json='{"q": 1}'),
        block_stop(0),
        *text_block("ok", index=1),
        delta(1, type="citations_delta", citation={}),
        message_delta(),
        STOP,
    )
    _, items = parse(body)
    assert of_type(items, str) == ["ok"]
    assert of_type(items, ToolCallDelta) == []


def test_stream_ending_before_message_stop_is_truncated() -> None:
    parser = MessageStream()
    parser.feed(events(START, *text_block("a"), message_delta()))
    with pytest.raises(StreamProtocolError, match="message_stop"):
        parser.close()


def test_stream_cut_inside_an_event_is_a_protocol_error() -> None:
    parser = MessageStream()
    parser.feed(events(START) + b'event: content_block_start\ndata: {"type": "content_')
    with pytest.raises(StreamProtocolError):
        parser.close()


def test_message_stop_without_its_blank_line_completes_the_stream() -> None:
    parser = MessageStream()
    parser.feed(
        events(START, *text_block("a"), message_delta()) + b'data: {"type": "message_stop"}\n'
    )
    parser.close()
    assert parser.done


def test_nothing_after_message_stop_is_parsed() -> None:
    parser = MessageStream()
    items = parser.feed(events(START, *text_block("a"), message_delta(), STOP) + b"data: {nope\n\n")
    assert parser.done and "a" in items
    parser.close()


def test_malformed_json_is_a_protocol_error() -> None:
    with pytest.raises(StreamProtocolError):
        MessageStream().feed(b"event: message_start\ndata: {nope\n\n")


@pytest.mark.parametrize(
    "value",
    [
        {"type": "message_start"},
        {"type": "content_block_delta", "index": 0, "delta": "x"},
        {"type": "content_block_stop", "index": 3},
        [1, 2],
    ],
)
def test_events_of_the_wrong_shape_are_protocol_errors(value: Any) -> None:
    import json

    with pytest.raises(StreamProtocolError, match="unexpected event"):
        MessageStream().feed(b"data: " + json.dumps(value).encode() + b"\n\n")


def error_event(kind: str, message: str = "boom") -> Dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def feed_and_close(body: bytes, parser: "MessageStream | None" = None) -> None:
    parser = parser or MessageStream()
    parser.feed(body)
    parser.close()


def test_overloaded_error_event_is_a_retryable_529() -> None:
    with pytest.raises(UpstreamHTTPError) as caught:
        feed_and_close(events(START, error_event("overloaded_error", "Overloaded")))
    assert caught.value.status == 529 and caught.value.retryable
    assert "Overloaded" in str(caught.value)


def test_rate_limit_error_event_is_rate_limited_error() -> None:
    with pytest.raises(RateLimitedError):
        feed_and_close(events(START, error_event("rate_limit_error")))


def test_authentication_error_event_is_authentication_error() -> None:
    with pytest.raises(AuthenticationError):
        feed_and_close(events(START, error_event("authentication_error")))


def test_unknown_error_event_is_an_upstream_error_with_its_message() -> None:
    with pytest.raises(UpstreamError, match="strange thing"):
        feed_and_close(events(START, error_event("new_error", "strange thing")))


def test_an_error_event_after_text_comes_after_that_text() -> None:
    parser = MessageStream()
    items = parser.feed(events(START, *text_block("partial"), error_event("api_error")))
    assert "partial" in items
    with pytest.raises(UpstreamHTTPError) as caught:
        parser.close()
    assert caught.value.status == 500


def test_an_error_event_never_shows_the_key() -> None:
    key = "sk-ant-secret-0123456789"
    with pytest.raises(UpstreamError) as caught:
        MessageStream("anthropic", key).feed(events(error_event("api_error", f"bad {key}")))
    assert key not in str(caught.value)


def test_crlf_line_endings_are_parsed() -> None:
    body = events(START, *text_block("a", "b"), message_delta(), STOP).replace(b"\n", b"\r\n")
    _, items = parse(body)
    assert of_type(items, str) == ["a", "b"]


@settings(max_examples=100, deadline=None)
@given(
    pieces=st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=8),
    arguments=st.lists(st.text(min_size=1, max_size=6), max_size=5),
    splits=st.lists(st.integers(min_value=1, max_value=9), max_size=300),
)
def test_any_split_of_the_bytes_gives_the_same_items(
    pieces: List[str], arguments: List[str], splits: List[int]
) -> None:
    body = events(
        START,
        block_start(0, type="thinking", thinking=""),
        delta(0, type="thinking_delta", thinking="hm ✓"),
        block_stop(0),
        *text_block(*pieces, index=1),
        *tool_block(2, "toolu_1", "f", *arguments),
        message_delta("tool_use"),
        STOP,
    )
    _, whole = parse(body)
    _, split = parse(body, splits)
    assert split == whole
    assert text_of(split) == "".join(pieces)
