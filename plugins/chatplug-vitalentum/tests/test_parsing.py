"""Parsing the converse-edge SSE stream: splits, skipped lines, [DONE], malformed data."""

from __future__ import annotations

import json
from typing import Any, List, Sequence

import pytest
from chatplug import StreamProtocolError, UpstreamError
from chatplug_vitalentum import EventStream, delta_text
from hypothesis import given, settings
from hypothesis import strategies as st

PIECES = ["Héllo", ", ", "wörld ", "✓ ", "日本語", " 🎉"]


def event(delta: Any) -> bytes:
    chunk = {"choices": [{"index": 0, "delta": delta}]}
    return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"


def body(pieces: Sequence[str] = PIECES, *, done: bool = True) -> bytes:
    parts = [event({"role": "assistant"}), b": keep-alive\n\n", b"event: ping\n\n"]
    parts += [event({"content": piece}) for piece in pieces]
    parts += [event({"content": ""}), event({}), b"retry: 100\nid: 7\n\n"]
    if done:
        parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def split(data: bytes, cuts: Sequence[int]) -> List[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def parse(chunks: Sequence[bytes]) -> List[str]:
    parser = EventStream()
    texts: List[str] = []
    for chunk in chunks:
        texts += parser.feed(chunk)
        if parser.done:
            return texts
    return texts + parser.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=40))
def test_any_split_of_the_stream_gives_the_same_text(cuts: List[int]) -> None:
    assert "".join(parse(split(body(), cuts))) == "".join(PIECES)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=40))
def test_any_split_of_a_crlf_stream_gives_the_same_text(cuts: List[int]) -> None:
    data = body().replace(b"\n", b"\r\n")
    assert "".join(parse(split(data, cuts))) == "".join(PIECES)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=40))
def test_any_split_of_a_stream_without_done_is_reported_truncated(cuts: List[int]) -> None:
    with pytest.raises(StreamProtocolError, match=r"\[DONE\]"):
        parse(split(body(done=False), cuts))


def test_one_byte_chunks_parse() -> None:
    data = body()
    assert "".join(parse([data[i : i + 1] for i in range(len(data))])) == "".join(PIECES)


def test_comments_event_lines_and_empty_deltas_yield_no_text() -> None:
    parser = EventStream()
    data = b": ping\n\nevent: message\n\n" + event({"role": "assistant"}) + event({"content": ""})
    assert parser.feed(data) == []
    assert not parser.done


def test_done_stops_parsing_and_ignores_what_follows() -> None:
    parser = EventStream()
    assert parser.feed(event({"content": "a"}) + b"data: [DONE]\n\ndata: {broken\n\n") == ["a"]
    assert parser.done
    assert parser.feed(b"data: {more broken\n\n") == []
    assert parser.close() == []


def test_done_as_the_last_line_without_a_blank_line_completes() -> None:
    parser = EventStream()
    assert parser.feed(event({"content": "a"}) + b"data: [DONE]\n") == ["a"]
    assert parser.close() == []


def test_stream_cut_inside_an_event_is_an_error() -> None:
    parser = EventStream()
    parser.feed(event({"content": "a"}) + b'data: {"choi')
    with pytest.raises(StreamProtocolError):
        parser.close()


def test_malformed_json_in_a_data_line_raises_with_an_excerpt() -> None:
    # The original client crashed or, in later versions, skipped it silently.
    with pytest.raises(StreamProtocolError, match=r"malformed JSON.*choices") as caught:
        EventStream().feed(b'data: {"choices": [\n\n')
    assert caught.value.provider == "vitalentum"


def test_text_before_an_error_in_the_same_chunk_comes_out_first() -> None:
    parser = EventStream()
    assert parser.feed(
        event({"content": "a"}) + b"data: {broken\n\n" + event({"content": "b"})
    ) == ["a"]
    with pytest.raises(StreamProtocolError, match="malformed JSON"):
        parser.feed(b"data: [DONE]\n\n")
    with pytest.raises(StreamProtocolError, match="malformed JSON"):
        parser.close()


@pytest.mark.parametrize(
    "data",
    [
        '"text"',
        "[1, 2]",
        '{"object": "chunk"}',
        '{"choices": ["x"]}',
        '{"choices": [{"delta": 5}]}',
        '{"choices": [{"delta": {"content": 5}}]}',
    ],
)
def test_unexpected_chunk_shapes_raise(data: str) -> None:
    with pytest.raises(StreamProtocolError):
        delta_text(data)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ('{"choices": []}', ""),
        ('{"choices": [{"index": 0, "finish_reason": "stop"}]}', ""),
        ('{"choices": [{"delta": {"content": null}}]}', ""),
        ('{"choices": [{"delta": {"content": "✓"}}]}', "✓"),
    ],
)
def test_chunks_without_text_give_empty_text(data: str, text: str) -> None:
    assert delta_text(data) == text


def test_error_object_in_the_stream_raises_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="quota exceeded"):
        EventStream().feed(b'data: {"error": {"message": "quota exceeded"}}\n\n')


def test_an_event_over_the_bound_raises_instead_of_buffering() -> None:
    parser = EventStream()
    with pytest.raises(StreamProtocolError, match="refusing to buffer"):
        for _ in range(20):
            parser.feed(b"data: " + b"x" * (1 << 17))
