"""The stream parser: GenerateContentResponse events to contract-0.2 items, fed in any pieces."""

from __future__ import annotations

from typing import Any, List, Sequence

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
from chatplug.testing import of_type, parse_chunks, split_bytes
from chatplug_gemini import StreamParser
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import chunk, sse

USAGE = {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}


def parse(body: bytes, sizes: Sequence[int] = (), **options: Any) -> List[StreamItem]:
    return parse_chunks(StreamParser("gemini", **options), split_bytes(body, sizes))


def test_text_parts_are_yielded_as_strings_in_order() -> None:
    body = sse(chunk({"text": "Hé"}), chunk({"text": "llo"}, finish="STOP"))
    assert of_type(parse(body), str) == ["Hé", "llo"]


def test_response_id_and_model_version_come_first_and_once() -> None:
    head = {"responseId": "r-1", "modelVersion": "gemini-2.5-flash"}
    items = parse(sse(chunk({"text": "a"}, **head), chunk({"text": "b"}, finish="STOP", **head)))
    assert items[0] == ResponseMetadata("r-1", "gemini-2.5-flash")
    assert sum(isinstance(item, ResponseMetadata) for item in items) == 1


def test_thought_parts_are_reasoning_with_their_signature() -> None:
    body = sse(
        chunk({"text": "hmm", "thought": True, "thoughtSignature": "sig=="}),
        chunk({"text": "Answer"}, finish="STOP"),
    )
    items = parse(body)
    assert items[0] == ReasoningDelta("hmm", metadata={"thoughtSignature": "sig=="})
    assert items[1] == "Answer"


def test_a_signature_on_an_answer_part_is_redacted_reasoning_before_it() -> None:
    body = sse(chunk({"text": "Answer", "thoughtSignature": "c2ln"}, finish="STOP"))
    items = parse(body)
    assert items[:2] == [
        ReasoningDelta("", redacted=True, metadata={"thoughtSignature": "c2ln"}),
        "Answer",
    ]


def test_a_signature_on_a_function_call_names_the_call_it_belongs_to() -> None:
    call = {"name": "get_weather", "args": {"city": "Oslo"}}
    body = sse(chunk({"functionCall": call, "thoughtSignature": "c2ln"}, finish="STOP"))
    items = parse(body)
    signature = {"thoughtSignature": "c2ln", "toolCallId": "call_0"}
    assert items[:2] == [
        ReasoningDelta("", redacted=True, metadata=signature),
        ToolCallDelta(0, "call_0", "get_weather", '{"city": "Oslo"}'),
    ]


def test_function_calls_are_whole_tool_call_deltas_with_synthesized_ids() -> None:
    calls = (
        {"functionCall": {"name": "get_weather", "args": {"city": "Zürich"}}},
        {"functionCall": {"name": "get_time"}},
    )
    items = parse(sse(chunk(*calls, finish="STOP")))
    assert items[:2] == [
        ToolCallDelta(0, "call_0", "get_weather", '{"city": "Zürich"}'),
        ToolCallDelta(1, "call_1", "get_time", "{}"),
    ]


def test_a_function_call_id_given_by_the_upstream_is_kept() -> None:
    part = {"functionCall": {"id": "fc-9", "name": "f", "args": {}}}
    assert parse(sse(chunk(part, finish="STOP")))[0] == ToolCallDelta(0, "fc-9", "f", "{}")


def test_calls_in_later_chunks_continue_the_index() -> None:
    body = sse(
        chunk({"functionCall": {"name": "a", "args": {}}}),
        chunk({"functionCall": {"name": "b", "args": {}}}, finish="STOP"),
    )
    calls = of_type(parse(body), ToolCallDelta)
    assert [(call.index, call.id, call.name) for call in calls] == [
        (0, "call_0", "a"),
        (1, "call_1", "b"),
    ]


def test_single_call_keeps_only_the_first_function_call() -> None:
    calls = ({"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b"}})
    items = parse(sse(chunk(*calls, finish="STOP")), single_call=True)
    assert [item.name for item in items if isinstance(item, ToolCallDelta)] == ["a"]


def test_stop_after_function_calls_is_finish_tool_calls() -> None:
    items = parse(sse(chunk({"functionCall": {"name": "f", "args": {}}}, finish="STOP")))
    assert Finish("tool_calls", raw="STOP") in items


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("UNEXPECTED_TOOL_CALL", "error"),
        ("LANGUAGE", "other"),
        ("OTHER", "other"),
        ("FINISH_REASON_UNSPECIFIED", "other"),
        ("SOMETHING_NEW", "other"),
    ],
)
def test_finish_reasons_map_and_keep_the_raw_value(raw: str, reason: str) -> None:
    items = parse(sse(chunk({"text": "a"}, finish=raw)))
    assert of_type(items, Finish) == [Finish(reason, raw=raw)]


def test_usage_comes_once_after_the_finish_with_the_last_counts() -> None:
    early = {"promptTokenCount": 5, "candidatesTokenCount": 1, "totalTokenCount": 6}
    body = sse(chunk({"text": "a"}, usage=early), chunk({"text": "b"}, finish="STOP", usage=USAGE))
    items = parse(body)
    assert items[-2:] == [Finish("stop", raw="STOP"), Usage(5, 3, raw=USAGE)]
    assert sum(isinstance(item, Usage) for item in items) == 1


def test_thoughts_count_as_output_and_reasoning_and_cache_as_cached_input() -> None:
    usage = {
        "promptTokenCount": 100,
        "candidatesTokenCount": 10,
        "thoughtsTokenCount": 30,
        "cachedContentTokenCount": 60,
        "totalTokenCount": 140,
    }
    items = parse(sse(chunk({"text": "a"}, finish="STOP", usage=usage)))
    assert items[-1] == Usage(100, 40, cached_input_tokens=60, reasoning_tokens=30, raw=usage)


def test_usage_after_the_finish_chunk_is_reported_again() -> None:
    later = {**USAGE, "candidatesTokenCount": 4}
    body = sse(chunk({"text": "a"}, finish="STOP", usage=USAGE), {"usageMetadata": later})
    assert of_type(parse(body), Usage) == [
        Usage(5, 3, raw=USAGE),
        Usage(5, 4, raw=later),
    ]


def test_a_usage_count_that_is_not_a_count_is_a_protocol_error() -> None:
    usage = {"promptTokenCount": "many"}
    with pytest.raises(StreamProtocolError, match="promptTokenCount"):
        parse(sse(chunk({"text": "a"}, finish="STOP", usage=usage)))


def test_a_blocked_prompt_is_finish_content_filter_without_text() -> None:
    body = sse({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": USAGE})
    assert parse(body) == [
        Finish("content_filter", raw="PROHIBITED_CONTENT"),
        Usage(5, 3, raw=USAGE),
    ]


def test_a_finish_without_content_is_a_complete_answer() -> None:
    body = sse({"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}]})
    assert parse(body) == [Finish("length", raw="MAX_TOKENS")]


def test_a_stream_without_a_finish_reason_is_truncated() -> None:
    with pytest.raises(StreamProtocolError, match="without a finishReason"):
        parse(sse(chunk({"text": "a"}), chunk({"text": "b"})))


def test_a_stream_cut_inside_an_event_is_a_protocol_error() -> None:
    body = sse(chunk({"text": "a"})) + b'data: {"candidates": [{"content'
    with pytest.raises(StreamProtocolError):
        parse(body)


def test_a_last_event_without_its_blank_line_still_counts() -> None:
    body = sse(chunk({"text": "a"})) + sse(chunk(finish="STOP"))[:-2]  # no blank line
    assert parse(body)[-1] == Finish("stop", raw="STOP")


def test_content_after_the_finish_reason_is_a_protocol_error() -> None:
    body = sse(chunk({"text": "a"}, finish="STOP"), chunk({"text": "more"}))
    with pytest.raises(StreamProtocolError, match="after the finishReason"):
        parse(body)


def test_an_empty_text_part_after_the_finish_reason_is_harmless() -> None:
    body = sse(chunk({"text": "a"}, finish="STOP"), chunk({"text": ""}, usage=USAGE))
    assert parse(body)[-2:] == [Finish("stop", raw="STOP"), Usage(5, 3, raw=USAGE)]


def test_malformed_json_is_a_protocol_error_without_the_key() -> None:
    parser = StreamParser("gemini", key="AIza-secret")
    with pytest.raises(StreamProtocolError) as caught:
        parser.feed(b"data: {not json AIza-secret\r\n\r\n")
    assert "AIza-secret" not in str(caught.value)


def test_a_part_that_is_not_an_object_is_a_protocol_error() -> None:
    with pytest.raises(StreamProtocolError, match="unexpected object"):
        parse(sse({"candidates": [{"content": {"parts": ["text"]}}]}))


def test_an_error_event_comes_after_the_text_before_it() -> None:
    parser = StreamParser("gemini")
    error = {
        "error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}
    }
    assert parser.feed(sse(chunk({"text": "part"}), error)) == ["part"]
    with pytest.raises(UpstreamHTTPError, match="internal error") as caught:
        parser.close()
    assert caught.value.status == 500


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}, RateLimitedError),
        ({"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}, AuthenticationError),
        ({"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}, UpstreamHTTPError),
        ({"message": "odd"}, UpstreamError),
    ],
)
def test_error_events_raise_typed_errors(error: Any, kind: type) -> None:
    with pytest.raises(kind):
        parse(sse({"error": error}))


def test_a_rate_limit_event_takes_the_retry_delay_from_retry_info() -> None:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "27s"}
    error = {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED", "details": [retry]}
    with pytest.raises(RateLimitedError) as caught:
        parse(sse({"error": error}))
    assert caught.value.retry_after == 27


BODY = sse(
    chunk(
        {"text": "Thinking ✓", "thought": True},
        responseId="r",
        modelVersion="gemini-2.5-flash",
    ),
    chunk({"text": "Grüße, "}, {"text": "日本語 🚀"}),
    chunk({"functionCall": {"name": "f", "args": {"q": "é"}}}),
    chunk({"text": "—"}, finish="STOP", usage=USAGE),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=17), max_size=60))
def test_any_split_of_the_bytes_gives_the_same_items(sizes: List[int]) -> None:
    assert parse(BODY, sizes) == parse(BODY)
