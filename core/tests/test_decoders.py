"""The incremental decoders: any chunk split gives the same result; bounds are enforced."""

from __future__ import annotations

import json
from typing import List

import pytest
from chatplug import LineDecoder, SSEDecoder, StreamProtocolError, Utf8Decoder
from hypothesis import given
from hypothesis import strategies as st


def split(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


texts = st.text(min_size=0, max_size=200)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=30)


@given(text=texts, cuts=cuts)
def test_utf8_decoder_decodes_characters_split_across_chunks(text: str, cuts: List[int]) -> None:
    decoder = Utf8Decoder()
    out = "".join(decoder.feed(chunk) for chunk in split(text.encode(), cuts)) + decoder.close()
    assert out == text


def test_utf8_decoder_reports_a_character_cut_at_the_end() -> None:
    decoder = Utf8Decoder()
    assert decoder.feed("✓".encode()[:2]) == ""
    with pytest.raises(StreamProtocolError, match="middle of a UTF-8 character"):
        decoder.close()


def test_utf8_decoder_rejects_invalid_bytes() -> None:
    with pytest.raises(StreamProtocolError, match="invalid UTF-8"):
        Utf8Decoder().feed(b"ok \xff\xfe")


@given(
    lines=st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",))),
        max_size=20,
    ),
    cuts=cuts,
    crlf=st.booleans(),
)
def test_line_decoder_splits_lines_whatever_the_chunks(
    lines: List[str], cuts: List[int], crlf: bool
) -> None:
    ending = "\r\n" if crlf else "\n"
    data = "".join(line + ending for line in lines).encode()
    decoder = LineDecoder()
    out = [line for chunk in split(data, cuts) for line in decoder.feed(chunk)]
    assert [line.decode() for line in out] == lines
    assert decoder.close() is None


def test_line_decoder_returns_an_unterminated_last_line_on_close() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"one\ntw") == [b"one"]
    assert decoder.close() == b"tw"


def test_line_decoder_rejects_a_line_over_the_bound_fed_in_small_chunks() -> None:
    decoder = LineDecoder(max_size=100)
    with pytest.raises(StreamProtocolError, match="over 100 bytes"):
        for _ in range(20):
            decoder.feed(b"x" * 10)


def test_line_decoder_rejects_a_line_over_the_bound_in_one_chunk() -> None:
    with pytest.raises(StreamProtocolError, match="over 100 bytes"):
        LineDecoder(max_size=100).feed(b"ok\n" + b"y" * 500 + b"\n")


def test_line_decoder_accepts_a_line_exactly_at_the_bound() -> None:
    assert LineDecoder(max_size=100).feed(b"z" * 100 + b"\n") == [b"z" * 100]


events = st.lists(
    st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3), max_size=15
)


@given(payloads=events, cuts=cuts)
def test_sse_decoder_yields_each_event_data_whatever_the_chunks(
    payloads: List[dict], cuts: List[int]
) -> None:
    wire = "".join(
        f": keep-alive\nevent: chunk\nid: {i}\ndata: {json.dumps(p, ensure_ascii=False)}\n\n"
        for i, p in enumerate(payloads)
    ).encode()
    decoder = SSEDecoder()
    out = [data for chunk in split(wire, cuts) for data in decoder.feed(chunk)]
    out += decoder.close()
    assert [json.loads(data) for data in out] == payloads


def test_sse_decoder_joins_multi_line_data_with_newlines() -> None:
    assert SSEDecoder().feed(b"data: one\ndata:two\n\n") == ["one\ntwo"]


def test_sse_decoder_skips_events_without_data() -> None:
    assert SSEDecoder().feed(b"event: ping\n\n: comment\n\nretry: 5\n\n") == []


def test_sse_decoder_full_events_carry_type_and_id() -> None:
    decoder = SSEDecoder()
    [event] = decoder.feed_events(b"event: delta\nid: 7\ndata: {}\n\n")
    assert (event.event, event.id, event.data) == ("delta", "7", "{}")


def test_sse_decoder_dispatches_a_last_complete_event_without_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]\n") == []
    assert decoder.close() == ["[DONE]"]


def test_sse_decoder_reports_a_stream_cut_mid_line() -> None:
    decoder = SSEDecoder()
    decoder.feed(b'data: {"partial": tr')
    with pytest.raises(StreamProtocolError, match="middle of a server-sent event"):
        decoder.close()


def test_sse_decoder_rejects_an_event_over_the_bound_across_data_lines() -> None:
    decoder = SSEDecoder(max_size=64)
    with pytest.raises(StreamProtocolError, match="server-sent event of over 64 bytes"):
        decoder.feed(b"data: " + b"a" * 40 + b"\ndata: " + b"b" * 40 + b"\n")


def test_sse_decoder_rejects_invalid_utf8_in_data() -> None:
    with pytest.raises(StreamProtocolError, match="invalid UTF-8"):
        SSEDecoder().feed(b"data: \xc3\x28\n\n")


class _Content:
    def __init__(self, chunks: List[bytes]) -> None:
        self._chunks = chunks

    async def iter_any(self):  # type: ignore[no-untyped-def]
        for chunk in self._chunks:
            yield chunk


class _Response:
    def __init__(self, *chunks: bytes) -> None:
        self.content = _Content(list(chunks))


async def ndjson(*chunks: bytes, skip_invalid: bool = False) -> list:
    from chatplug.decoders import iter_ndjson

    return [value async for value in iter_ndjson(_Response(*chunks), skip_invalid=skip_invalid)]  # type: ignore[arg-type]


async def test_ndjson_skips_invalid_lines_only_when_asked() -> None:
    assert await ndjson(b'{"a": 1}\nping\n\n{"a"', b": 2}\n", skip_invalid=True) == [
        {"a": 1},
        {"a": 2},
    ]
    with pytest.raises(StreamProtocolError, match="malformed JSON"):
        await ndjson(b'{"a": 1}\nping\n')


async def test_ndjson_accepts_a_complete_last_line_without_newline() -> None:
    assert await ndjson(b'{"a": 1}\n{"b"', b": 2}") == [{"a": 1}, {"b": 2}]


async def test_ndjson_reports_a_stream_cut_mid_object() -> None:
    with pytest.raises(StreamProtocolError, match="truncated"):
        await ndjson(b'{"a": 1}\n{"b": ', skip_invalid=True)


async def test_ndjson_does_not_swallow_an_error_thrown_into_the_consumer() -> None:
    from chatplug.decoders import iter_ndjson

    stream = iter_ndjson(_Response(b"1\n2\n"), skip_invalid=True)  # type: ignore[arg-type]
    assert await stream.__anext__() == 1
    with pytest.raises(ValueError, match="consumer"):
        await stream.athrow(ValueError("consumer"))


event_shapes = st.sampled_from(["plain", "comment", "multi", "named", "blank-padded"])


@given(
    items=st.lists(st.tuples(event_shapes, st.text(max_size=12)), max_size=20),
    cuts=cuts,
    crlf=st.booleans(),
)
def test_sse_decoder_fast_and_slow_paths_agree_on_any_split(
    items: List[tuple], cuts: List[int], crlf: bool
) -> None:
    wire, expected = "", []
    for shape, text in items:
        payload = json.dumps(text, ensure_ascii=False)
        if shape == "plain":  # the one-line event the fast path takes whole
            wire += f"data: {payload}\n\n"
        elif shape == "comment":
            wire += f": ping\ndata: {payload}\n\n"
        elif shape == "multi":
            wire += f"data: {payload}\ndata: {payload}\n\n"
            payload = f"{payload}\n{payload}"
        elif shape == "named":
            wire += f"event: delta\ndata:{payload}\n\n"
        else:
            wire += f"\n\ndata: {payload}\n\n\n"
        expected.append(payload)
    if crlf:
        wire = wire.replace("\n", "\r\n")
    decoder = SSEDecoder()
    out = [data for chunk in split(wire.encode(), cuts) for data in decoder.feed(chunk)]
    out += decoder.close()
    assert out == expected
