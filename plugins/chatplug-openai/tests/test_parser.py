"""The SSE stream parser: text deltas, finish_reason, usage, [DONE], errors, random splits."""

from __future__ import annotations

from typing import List

import pytest
from chatplug import AuthenticationError, RateLimitedError, StreamProtocolError, UpstreamError
from chatplug_openai import ChatStreamParser
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import chunk, sse

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def parse(body: bytes, pieces: List[int]) -> "tuple[ChatStreamParser, List[str]]":
    parser = ChatStreamParser("openai")
    texts: List[str] = []
    position = 0
    for size in pieces:
        texts += parser.feed(body[position : position + size])
        position += size
    texts += parser.feed(body[position:])
    parser.close()
    return parser, texts


def test_text_deltas_are_returned_in_order() -> None:
    body = sse(chunk("", role="assistant"), chunk("Hé"), chunk("llo"), chunk(finish="stop"))
    parser, texts = parse(body, [])
    assert texts == ["Hé", "llo"]
    assert parser.done


def test_finish_reason_is_kept() -> None:
    parser, _ = parse(sse(chunk("a"), chunk(finish="length")), [])
    assert parser.finish_reason == "length"


def test_final_usage_chunk_with_empty_choices_is_kept_and_yields_nothing() -> None:
    usage_chunk = {"id": "x", "object": "chat.completion.chunk", "choices": [], "usage": USAGE}
    parser, texts = parse(sse(chunk("a"), chunk(finish="stop"), usage_chunk), [])
    assert texts == ["a"]
    assert parser.usage == USAGE
    assert parser.finish_reason == "stop"


def test_chunks_without_content_are_skipped() -> None:
    body = sse(chunk(role="assistant"), chunk(None, tool_calls=[]), chunk("x"), {"choices": []})
    _, texts = parse(body, [])
    assert texts == ["x"]


def test_nothing_after_done_is_parsed() -> None:
    parser = ChatStreamParser()
    assert parser.feed(sse(chunk("a")) + b"data: not json\n\n") == ["a"]
    assert parser.done
    parser.close()


def test_stream_without_done_raises_stream_protocol_error() -> None:
    parser = ChatStreamParser()
    parser.feed(sse(chunk("a"), chunk(finish="stop"), done=False))
    with pytest.raises(StreamProtocolError, match=r"\[DONE\]"):
        parser.close()


def test_stream_cut_inside_an_event_raises_stream_protocol_error() -> None:
    parser = ChatStreamParser()
    parser.feed(sse(chunk("a"), done=False) + b'data: {"choi')
    with pytest.raises(StreamProtocolError):
        parser.close()


def test_done_without_trailing_blank_line_is_accepted() -> None:
    parser = ChatStreamParser()
    assert parser.feed(sse(chunk("a"), done=False) + b"data: [DONE]\n") == ["a"]
    parser.close()
    assert parser.done


@pytest.mark.parametrize(
    "data", [b"[1, 2]", b'"text"', b'{"choices": ["x"]}', b'{"choices": [{"delta": "x"}]}']
)
def test_json_of_the_wrong_shape_raises_stream_protocol_error(data: bytes) -> None:
    with pytest.raises(StreamProtocolError, match="unexpected event"):
        ChatStreamParser().feed(b"data: " + data + b"\n\n")


def test_malformed_json_raises_stream_protocol_error() -> None:
    with pytest.raises(StreamProtocolError, match="malformed JSON"):
        ChatStreamParser().feed(b"data: {nope\n\n")


def test_in_stream_error_raises_upstream_error_with_its_message() -> None:
    body = sse(
        chunk("a"), {"error": {"message": "The server had an error", "type": "server_error"}}
    )
    parser = ChatStreamParser("groq")
    assert parser.feed(body) == ["a"]  # the text before the error comes out first
    with pytest.raises(UpstreamError, match="The server had an error") as caught:
        parser.close()
    assert caught.value.provider == "groq"


def test_in_stream_error_first_thing_raises_at_once() -> None:
    with pytest.raises(UpstreamError, match="boom"):
        ChatStreamParser().feed(sse({"error": {"message": "boom"}}))


def test_in_stream_rate_limit_error_is_rate_limited_error() -> None:
    body = sse({"error": {"message": "slow down", "type": "rate_limit_error", "code": 429}})
    with pytest.raises(RateLimitedError, match="slow down"):
        ChatStreamParser().feed(body)


def test_in_stream_auth_error_is_authentication_error() -> None:
    body = sse({"error": {"message": "bad key", "code": "invalid_api_key"}})
    with pytest.raises(AuthenticationError):
        ChatStreamParser().feed(body)


def test_in_stream_error_never_shows_the_key() -> None:
    key = "sk-secret-abcdef123456"
    body = sse({"error": {"message": f"key {key} revoked"}})
    with pytest.raises(UpstreamError) as caught:
        ChatStreamParser("openai", key).feed(body)
    assert key not in str(caught.value)


def test_crlf_line_endings_are_parsed() -> None:
    body = sse(chunk("a"), chunk("b")).replace(b"\n", b"\r\n")
    _, texts = parse(body, [])
    assert texts == ["a", "b"]


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=12),
    splits=st.lists(st.integers(min_value=1, max_value=9), max_size=200),
    crlf=st.booleans(),
)
def test_random_splits_give_the_same_text(pieces: List[str], splits: List[int], crlf: bool) -> None:
    usage_chunk = {"choices": [], "usage": USAGE}
    events = [chunk("", role="assistant"), *(chunk(p) for p in pieces), chunk(finish="stop")]
    body = sse(*events, usage_chunk)
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    parser, texts = parse(body, splits)
    assert "".join(texts) == "".join(pieces)
    assert parser.finish_reason == "stop"
    assert parser.usage == USAGE
