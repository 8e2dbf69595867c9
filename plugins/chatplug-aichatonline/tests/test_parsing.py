"""The NDJSON parser: split chunks, skipped keep-alives, and the stream errors it must report."""

from __future__ import annotations

import json
from typing import Any, List

import pytest
from chatplug import StreamProtocolError
from chatplug_aichatonline import MessageParser
from chatplug_aichatonline.emulator import render_stream, reply_text
from hypothesis import given, settings
from hypothesis import strategies as st


def ndjson(*values: Any) -> bytes:
    return b"".join(json.dumps(value, ensure_ascii=False).encode() + b"\n" for value in values)


def text_line(text: str) -> Any:
    return {"code": 200, "message": "success", "data": {"message": text}}


def parse(chunks: List[bytes]) -> List[str]:
    parser = MessageParser()
    pieces: List[str] = []
    for chunk in chunks:
        pieces += parser.feed(chunk)
    return pieces + parser.close()


def split(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({min(max(cut, 0), len(data)) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(min_size=1, max_size=80),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=40),
)
def test_any_split_of_the_stream_yields_exactly_the_text(text: str, cuts: List[int]) -> None:
    data = render_stream(text, "c1")
    assert "".join(parse(split(data, cuts))) == text


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    pieces=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=10),
)
def test_keepalive_and_status_lines_anywhere_are_skipped(data: Any, pieces: List[str]) -> None:
    noise = [
        b"\n",
        b"\r\n",
        b": keep-alive\n",
        b"ping\n",
        b"event: status\n",
        b'{"code":200,"message":"success","data":{"status":"thinking"}}\n',
        b'{"code":200,"message":"success"}\n',
        b'{"data":null}\n',
        b"42\n",
        b"[DONE]\n",
        b"[]\n",
        b'"ok"\n',
    ]
    lines: List[bytes] = []
    for piece in pieces:
        lines += data.draw(st.lists(st.sampled_from(noise), max_size=3))
        lines.append(ndjson(text_line(piece)))
    stream = b"".join(lines)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=20))
    assert parse(split(stream, cuts)) == pieces


def test_a_character_split_across_chunks_decodes_whole() -> None:
    data = ndjson(text_line("✓ ça"))
    check = data.index("✓".encode())
    assert parse([data[: check + 1], data[check + 1 : check + 2], data[check + 2 :]]) == ["✓ ça"]


def test_the_top_level_message_is_a_status_word_not_text() -> None:
    assert parse([b'{"code":200,"message":"success","data":{"message":"Hi"}}\n']) == ["Hi"]


def test_a_last_complete_object_without_a_newline_is_accepted() -> None:
    assert parse([ndjson(text_line("a")), b'{"data":{"message":"b"}}']) == ["a", "b"]


def test_a_stream_without_any_text_is_an_error_not_an_empty_answer() -> None:
    with pytest.raises(StreamProtocolError, match="without any text"):
        parse([b": keep-alive\n", b'{"code":200,"data":{"status":"done"}}\n'])


def test_an_empty_stream_is_an_error() -> None:
    with pytest.raises(StreamProtocolError, match="without any text"):
        parse([])


def test_only_empty_messages_count_as_no_text() -> None:
    with pytest.raises(StreamProtocolError, match="without any text"):
        parse([ndjson(text_line(""), text_line(""))])


def test_the_no_text_error_names_the_upstreams_last_status_line() -> None:
    with pytest.raises(StreamProtocolError, match="quota exceeded"):
        parse([b'{"code":500,"message":"quota exceeded"}\n'])


def test_a_stream_ending_mid_object_is_an_error() -> None:
    with pytest.raises(StreamProtocolError, match="middle of a JSON object"):
        parse([ndjson(text_line("Hello")), b'{"code":200,"data":{"mess'])


def test_a_stream_ending_mid_object_is_an_error_even_without_text_before() -> None:
    with pytest.raises(StreamProtocolError, match="middle of a JSON object"):
        parse([b'{"data":{"message":"Hel'])


def test_a_malformed_object_line_is_reported_not_skipped() -> None:
    parser = MessageParser()
    assert parser.feed(ndjson(text_line("Hi"))) == ["Hi"]
    with pytest.raises(StreamProtocolError, match="malformed JSON object"):
        parser.feed(b'{"data": {"message": "x"\n')


def test_a_done_sentinel_is_skipped_even_as_the_last_line() -> None:
    assert parse([ndjson(text_line("Hi")), b"[DONE]\n", b"[DONE]"]) == ["Hi"]


def test_a_non_string_message_is_a_protocol_error() -> None:
    with pytest.raises(StreamProtocolError, match="not a string"):
        parse([b'{"data":{"message":["a"]}}\n'])


def test_an_overlong_line_is_a_protocol_error_not_unbounded_buffering() -> None:
    parser = MessageParser(max_size=1024)
    with pytest.raises(StreamProtocolError, match="refusing to buffer"):
        parser.feed(b'{"data":{"message":"' + b"x" * 2000)


def test_invalid_utf8_inside_an_object_is_reported() -> None:
    with pytest.raises(StreamProtocolError):
        parse([b'{"data":{"message":"\xff\xfe"}}\n'])


def test_the_emulator_stream_parses_to_its_reply() -> None:
    text = reply_text("User: a\nAssistant: b\nUser: c ✓\nAssistant:")
    assert "".join(parse([render_stream(text, "c1")])) == text
