"""The OpenAI chunk stream parser: every item kind, the rules it keeps, errors, any split."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence

import pytest
from chatplug import (
    AuthenticationError,
    ChatChunkParser,
    RateLimitedError,
    StreamProtocolError,
    UpstreamError,
    UpstreamHTTPError,
)
from chatplug.decoders import SSEDecoder
from chatplug.events import Finish, ReasoningDelta, ResponseMetadata, ToolCallDelta, Usage
from chatplug.openai_chunks import chunk_error, finish_from, usage_from
from hypothesis import given, settings
from hypothesis import strategies as st

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def chunk(
    content: Optional[str] = None, finish: Optional[str] = None, **delta: Any
) -> Dict[str, Any]:
    """One ``chat.completion.chunk`` without id or model."""
    if content is not None:
        delta["content"] = content
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def call(
    index: Optional[int],
    id: Optional[str] = None,
    name: Optional[str] = None,
    arguments: Any = None,
) -> Dict[str, Any]:
    function: Dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if arguments is not None:
        function["arguments"] = arguments
    fragment: Dict[str, Any] = {"function": function}
    if index is not None:
        fragment["index"] = index
    if id is not None:
        fragment["id"] = id
        fragment["type"] = "function"
    return fragment


def sse(*events: Any, done: bool = True) -> bytes:
    body = b"".join(
        b"data: "
        + (e if isinstance(e, bytes) else json.dumps(e, ensure_ascii=False).encode())
        + b"\n\n"
        for e in events
    )
    return body + (b"data: [DONE]\n\n" if done else b"")


def parse(body: bytes, provider: Optional[str] = "acme", **kwargs: Any) -> List[Any]:
    parser = ChatChunkParser(provider, **kwargs)
    return parser.feed(body) + parser.close()


# --- text and metadata ----------------------------------------------------------------


def test_text_deltas_come_as_bare_strings_in_order() -> None:
    assert parse(sse(chunk("", role="assistant"), chunk("Hé"), chunk("llo"))) == ["Hé", "llo"]


def test_response_metadata_comes_once_from_the_first_chunk_with_an_id_or_model() -> None:
    first = {"id": "chatcmpl-1", "model": "m-1", **chunk("a")}
    later = {"id": "chatcmpl-1", "model": "m-1", **chunk("b")}
    assert parse(sse(chunk(role="assistant"), first, later)) == [
        ResponseMetadata("chatcmpl-1", "m-1"),
        "a",
        "b",
    ]


def test_a_stream_without_ids_has_no_metadata() -> None:
    parser = ChatChunkParser()
    assert parser.feed(sse(chunk("a"))) == ["a"]
    assert parser.metadata is None


def test_refusal_text_is_text() -> None:
    assert parse(sse(chunk(refusal="I can't help with that."))) == ["I can't help with that."]


def test_content_and_finish_reason_in_one_chunk_give_both() -> None:
    assert parse(sse(chunk("end", finish="stop"))) == ["end", Finish("stop", "stop")]


def test_has_text_says_whether_any_text_came() -> None:
    parser = ChatChunkParser()
    parser.feed(sse(chunk(reasoning_content="hmm"), chunk(finish="stop"), done=False))
    assert not parser.has_text
    parser.feed(sse(chunk("a")))
    assert parser.has_text


# --- reasoning ------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_comes_as_reasoning_deltas(field: str) -> None:
    body = sse(chunk(**{field: "Let me"}), chunk(**{field: " think"}), chunk("Yes"))
    assert parse(body) == [ReasoningDelta("Let me"), ReasoningDelta(" think"), "Yes"]


def test_reasoning_comes_before_the_text_of_the_same_chunk() -> None:
    assert parse(sse(chunk("answer", reasoning_content="why"))) == [ReasoningDelta("why"), "answer"]


def test_null_reasoning_next_to_text_is_ignored() -> None:
    assert parse(sse(chunk("a", reasoning_content=None))) == ["a"]


# --- tool calls -----------------------------------------------------------------------


def test_a_tool_call_comes_as_its_first_fragment_then_argument_fragments() -> None:
    body = sse(
        chunk(tool_calls=[call(0, "call_1", "get_weather", "")]),
        chunk(tool_calls=[call(0, arguments='{"city"')]),
        chunk(tool_calls=[call(0, arguments=': "Paris"}')]),
        chunk(finish="tool_calls"),
    )
    assert parse(body) == [
        ToolCallDelta(0, "call_1", "get_weather", ""),
        ToolCallDelta(0, None, None, '{"city"'),
        ToolCallDelta(0, None, None, ': "Paris"}'),
        Finish("tool_calls", "tool_calls"),
    ]


def test_parallel_calls_keep_their_indexes_when_interleaved() -> None:
    body = sse(
        chunk(tool_calls=[call(0, "a", "f", "{"), call(1, "b", "g", "{")]),
        chunk(tool_calls=[call(1, arguments="}")]),
        chunk(tool_calls=[call(0, arguments="}")]),
    )
    assert parse(body) == [
        ToolCallDelta(0, "a", "f", "{"),
        ToolCallDelta(1, "b", "g", "{"),
        ToolCallDelta(1, None, None, "}"),
        ToolCallDelta(0, None, None, "}"),
    ]


def test_repeated_id_and_name_are_left_out_of_later_fragments() -> None:
    body = sse(
        chunk(tool_calls=[call(0, "a", "f", "{")]), chunk(tool_calls=[call(0, "a", "f", "}")])
    )
    assert parse(body)[1] == ToolCallDelta(0, None, None, "}")


def test_a_call_without_an_index_is_numbered_by_its_id() -> None:
    body = sse(
        chunk(tool_calls=[call(None, "a", "f", "{}")]),
        chunk(tool_calls=[call(None, "b", "g", "{}")]),
    )
    assert parse(body) == [ToolCallDelta(0, "a", "f", "{}"), ToolCallDelta(1, "b", "g", "{}")]


def test_an_index_reused_by_another_call_gets_a_new_index() -> None:
    body = sse(
        chunk(tool_calls=[call(0, "a", "f", "{}")]), chunk(tool_calls=[call(0, "b", "g", "{}")])
    )
    assert parse(body) == [ToolCallDelta(0, "a", "f", "{}"), ToolCallDelta(1, "b", "g", "{}")]


def test_a_first_fragment_without_an_id_gets_one() -> None:
    assert parse(sse(chunk(tool_calls=[call(0, name="f", arguments="{}")]))) == [
        ToolCallDelta(0, "call_0", "f", "{}")
    ]


def test_object_arguments_are_serialized_to_json() -> None:
    body = sse(chunk(tool_calls=[call(0, "a", "f", {"city": "Zürich"})]))
    assert parse(body) == [ToolCallDelta(0, "a", "f", '{"city": "Zürich"}')]


def test_the_legacy_function_call_is_a_tool_call() -> None:
    body = sse(
        chunk(function_call={"name": "f", "arguments": "{"}),
        chunk(function_call={"arguments": "}"}),
        chunk(finish="function_call"),
    )
    assert parse(body) == [
        ToolCallDelta(0, "call_0", "f", "{"),
        ToolCallDelta(0, None, None, "}"),
        Finish("tool_calls", "function_call"),
    ]


def test_a_new_tool_call_without_a_name_is_a_protocol_error() -> None:
    with pytest.raises(StreamProtocolError, match="without a function name"):
        parse(sse(chunk(tool_calls=[call(0, "a", arguments="{}")])))


@pytest.mark.parametrize(
    "calls",
    ['"x"', "[1]", '[{"index": 0, "function": 3}]', '[{"id": 5, "function": {"name": "f"}}]'],
)
def test_malformed_tool_calls_are_protocol_errors(calls: str) -> None:
    data = b'{"choices": [{"delta": {"tool_calls": ' + calls.encode() + b"}}]}"
    with pytest.raises(StreamProtocolError, match="tool"):
        parse(sse(data))


# --- finish ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        ("end_turn", "other"),
        (7, "other"),
    ],
)
def test_finish_reasons_are_normalized_and_the_raw_value_kept(raw: Any, reason: str) -> None:
    assert finish_from(raw) == Finish(reason, raw)


def test_finish_comes_at_done_after_the_usage() -> None:
    body = sse(chunk("a"), chunk(finish="length"), {"choices": [], "usage": USAGE})
    items = parse(body)
    assert items[0] == "a"
    assert isinstance(items[1], Usage)
    assert items[2] == Finish("length", "length")


def test_only_the_first_finish_reason_counts() -> None:
    body = sse(chunk("a", finish="length"), chunk(finish="stop"))
    assert [item for item in parse(body) if isinstance(item, Finish)] == [
        Finish("length", "length")
    ]


# --- usage ----------------------------------------------------------------------------


def test_usage_has_the_counts_details_and_the_raw_object() -> None:
    usage = {
        "prompt_tokens": 17,
        "completion_tokens": 12,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 4},
    }
    (item,) = parse(sse({"choices": [], "usage": usage}))
    assert item == Usage(17, 12, 5, 4, usage)


def test_usage_repeated_unchanged_comes_once_and_a_change_comes_again() -> None:
    more = {**USAGE, "completion_tokens": 3}
    body = sse({"choices": [], "usage": USAGE}, {"choices": [], "usage": USAGE}, {"usage": more})
    assert [(u.input_tokens, u.output_tokens) for u in parse(body)] == [(3, 2), (3, 3)]


@pytest.mark.parametrize("usage", [None, {}, {"total_tokens": 5}])
def test_usage_without_counts_is_no_usage(usage: Any) -> None:
    assert usage_from(usage) is None


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -1, "completion_tokens": 2},
        {"prompt_tokens": "3", "completion_tokens": 2},
        [1],
    ],
)
def test_usage_with_a_bad_count_is_a_protocol_error(usage: Any) -> None:
    with pytest.raises(StreamProtocolError, match="usage"):
        parse(sse({"choices": [], "usage": usage}))


# --- the end of the stream ------------------------------------------------------------


def test_nothing_after_done_is_parsed() -> None:
    parser = ChatChunkParser()
    assert parser.feed(sse(chunk("a")) + b"data: not json\n\n") == ["a"]
    assert parser.done
    assert parser.feed(b"data: {broken\n\n") == []
    assert parser.close() == []


def test_done_without_its_blank_line_completes() -> None:
    assert parse(sse(chunk("a"), done=False) + b"data: [DONE]\n") == ["a"]


def test_a_stream_without_done_is_truncated() -> None:
    parser = ChatChunkParser("acme")
    parser.feed(sse(chunk("a"), chunk(finish="stop"), done=False))
    with pytest.raises(
        StreamProtocolError, match=r"without 'data: \[DONE\]' \(truncated\)"
    ) as caught:
        parser.close()
    assert caught.value.provider == "acme"


def test_a_stream_cut_inside_an_event_is_an_error() -> None:
    parser = ChatChunkParser("acme")
    parser.feed(sse(chunk("a"), done=False) + b'data: {"choi')
    with pytest.raises(StreamProtocolError) as caught:
        parser.close()
    assert caught.value.provider == "acme"


def test_a_body_that_is_not_an_event_stream_is_quoted() -> None:
    parser = ChatChunkParser()
    parser.feed(b"<html><body>Service unavailable</body></html>")
    with pytest.raises(StreamProtocolError, match=r"not a server-sent event stream.*Service"):
        parser.close()


# --- malformed chunks -----------------------------------------------------------------


def test_malformed_json_in_the_middle_raises_instead_of_being_skipped() -> None:
    parser = ChatChunkParser("acme")
    assert parser.feed(sse(chunk("a"), b"{nope", chunk("b"), done=False)) == ["a"]
    with pytest.raises(StreamProtocolError, match=r"malformed JSON.*nope") as caught:
        parser.feed(b"data: [DONE]\n\n")
    assert caught.value.provider == "acme"


def test_trailing_garbage_after_the_json_is_malformed() -> None:
    with pytest.raises(StreamProtocolError, match="malformed JSON"):
        parse(sse(b'{"choices": []} x'))


def test_whitespace_around_the_json_is_accepted() -> None:
    assert parse(sse(b' {"choices": [{"delta": {"content": "a"}}]} ')) == ["a"]


@pytest.mark.parametrize(
    "data",
    [
        b"[1, 2]",
        b'"text"',
        b'{"object": "chat.completion.chunk"}',
        b'{"choices": ["x"]}',
        b'{"choices": {"0": 1}}',
        b'{"choices": [{"delta": "x"}]}',
        b'{"choices": [{"delta": {"content": 5}}]}',
        b'{"choices": [{"delta": {"reasoning_content": 5}}]}',
    ],
)
def test_chunks_of_the_wrong_shape_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(StreamProtocolError, match="unexpected chunk"):
        parse(sse(data))


def test_the_secret_never_appears_in_a_protocol_error() -> None:
    key = "sk-secret-abcdef123456"
    with pytest.raises(StreamProtocolError) as caught:
        parse(sse(b"{" + key.encode()), secret=key)
    assert key not in str(caught.value)
    assert "[redacted]" in str(caught.value)


# --- errors in the stream -------------------------------------------------------------


def test_an_error_after_text_is_raised_after_that_text() -> None:
    parser = ChatChunkParser("groq")
    error = {"error": {"message": "The server had an error", "type": "server_error"}}
    assert parser.feed(sse(chunk("a"), error)) == ["a"]
    with pytest.raises(UpstreamError, match="The server had an error") as caught:
        parser.close()
    assert caught.value.provider == "groq"
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"message": "slow down", "type": "rate_limit_error", "code": 429}, RateLimitedError),
        ({"message": "bad key", "code": "invalid_api_key"}, AuthenticationError),
        ({"message": "overloaded", "code": 503}, UpstreamHTTPError),
        ("plain text", UpstreamError),
    ],
)
def test_errors_in_the_stream_are_typed(error: Any, kind: type) -> None:
    with pytest.raises(kind):
        parse(sse({"error": error}))


def test_an_http_status_in_the_error_is_the_error_status() -> None:
    assert chunk_error({"message": "x", "status": 502}, "acme").status == 502  # type: ignore[attr-defined]


def test_the_secret_never_appears_in_an_error_from_the_stream() -> None:
    key = "sk-secret-abcdef123456"
    with pytest.raises(UpstreamError) as caught:
        parse(sse({"error": {"message": f"key {key} revoked"}}), secret=key)
    assert key not in str(caught.value)


# --- feeding ------------------------------------------------------------------------


def test_feed_data_takes_the_events_of_your_own_decoder() -> None:
    decoder = SSEDecoder()
    parser = ChatChunkParser()
    items: List[Any] = []
    for data in decoder.feed(sse(chunk("a"), chunk(finish="stop"))):
        items += parser.feed_data(data)
    assert items == ["a", Finish("stop", "stop")]
    assert parser.done


RICH = [
    {"id": "c-1", "model": "m", **chunk("", role="assistant")},
    chunk(reasoning_content="Hmm ✓"),
    chunk("Hé"),
    chunk("llo 日本語"),
    chunk(tool_calls=[call(0, "a", "f", '{"x": "é')]),
    chunk(tool_calls=[call(1, "b", "g", "{")]),
    chunk(tool_calls=[call(0, arguments='"}')]),
    chunk(tool_calls=[call(1, arguments="}")]),
    chunk(finish="tool_calls"),
    {"choices": [], "usage": {**USAGE, "completion_tokens_details": {"reasoning_tokens": 1}}},
]


def split(data: bytes, cuts: Sequence[int]) -> List[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


@settings(max_examples=200, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0), max_size=60), crlf=st.booleans(), comments=st.booleans()
)
def test_any_split_of_the_byte_stream_gives_the_same_items(
    cuts: List[int], crlf: bool, comments: bool
) -> None:
    body = sse(*RICH)
    if comments:
        body = body.replace(b"\n\ndata:", b"\n\n: keep-alive\n\ndata:")
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    expected = parse(sse(*RICH))
    parser = ChatChunkParser("acme")
    items: List[Any] = []
    for piece in split(body, cuts):
        items += parser.feed(piece)
    items += parser.close()
    assert items == expected
    assert expected[:4] == [
        ResponseMetadata("c-1", "m"),
        ReasoningDelta("Hmm ✓"),
        "Hé",
        "llo 日本語",
    ]
    assert expected[-1] == Finish("tool_calls", "tool_calls")


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=40))
def test_any_split_of_a_stream_cut_at_an_event_boundary_is_truncated(cuts: List[int]) -> None:
    body = sse(*RICH, done=False)
    parser = ChatChunkParser()
    with pytest.raises(StreamProtocolError, match="truncated"):
        for piece in split(body, cuts):
            parser.feed(piece)
        parser.close()
