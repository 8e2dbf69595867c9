"""Faults in the stream's content: huge lines, bad UTF-8, malformed JSON/SSE, truncation.

Each test checks the outcome, that no connection stays checked out, and (through
``collect``) that text received before an error is flagged as partial, never complete.
"""

from __future__ import annotations

import tracemalloc

import pytest
from chatplug import StreamProtocolError
from chatplug.decoders import DEFAULT_MAX_SIZE
from chatplug.testing import Reply, ScriptedUpstream
from faultkit import (
    QUICK_RETRY,
    collect,
    make_client,
    ndjson_line,
    settle,
    sse_event,
    sse_ok,
    stream,
)

pytestmark = pytest.mark.timeout(20)

TEN_MB = 10 * 1024 * 1024


def sends(*frames: bytes, chunked: bool = True, content_type: str = "text/event-stream") -> Reply:
    """A 200 response made of ``frames`` (each a chunk when ``chunked``), then a clean end."""
    return stream(
        *frames,
        content_type=content_type,
        framing="chunked" if chunked else "eof",
        delay=0.01,  # separate reads, so text before a fault is yielded
        end_delay=0.01,
    )


# --------------------------------------------------------------------------- 10 MB single line


def huge_line(prefix: bytes) -> Reply:
    piece = b"x" * 65536
    return stream(prefix, *[piece] * (TEN_MB // len(piece)), b"\n\n")


@pytest.mark.parametrize(("kind", "prefix"), [("sse", b"data: "), ("ndjson", b'{"data": "')])
async def test_a_10mb_single_line_is_rejected_at_the_bound_with_bounded_memory(
    kind: str, prefix: bytes
) -> None:
    async with ScriptedUpstream(huge_line(prefix)) as up:
        async with make_client({kind: (kind, up.url)}) as client:
            tracemalloc.start()
            try:
                outcome = await collect(client)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert isinstance(outcome.error, StreamProtocolError)
            assert f"over {DEFAULT_MAX_SIZE} bytes" in str(outcome.error)
            assert outcome.text == ""
            # the bound (1 MiB) plus socket buffers: nowhere near the 10 MB sent
            assert peak < 4 * DEFAULT_MAX_SIZE, f"peak {peak} bytes while reading a 10 MB line"
            assert up.bytes_sent < TEN_MB  # the client hung up instead of reading it all
            assert await up.wait_client_closed()
            assert await settle(client) == 0


# --------------------------------------------------------------------------- invalid UTF-8


async def test_invalid_utf8_after_text_is_a_protocol_error_with_the_partial_length() -> None:
    script = sends(b"ok ", b"\xff\xfe rest", chunked=False, content_type="text/plain")
    async with ScriptedUpstream(script) as up:
        async with make_client({"a": ("text", up.url)}) as client:
            outcome = await collect(client)
            assert outcome.text == "ok "
            assert isinstance(outcome.error, StreamProtocolError)
            assert "UTF-8" in str(outcome.error)
            assert outcome.error.partial_length == 3
            assert await settle(client) == 0


async def test_a_stream_ending_inside_a_utf8_character_is_not_complete() -> None:
    script = sends(b"ab", "é".encode()[:1], chunked=False, content_type="text/plain")
    async with ScriptedUpstream(script) as up:
        async with make_client({"a": ("text", up.url)}) as client:
            outcome = await collect(client)
            assert outcome.text == "ab"
            assert isinstance(outcome.error, StreamProtocolError)
            assert outcome.error.partial_length == 2
            assert await settle(client) == 0


async def test_invalid_utf8_in_an_event_before_any_text_falls_back() -> None:
    async with (
        ScriptedUpstream(sends(b"data: \xc3\x28\n\n")) as bad,
        ScriptedUpstream(sse_ok()) as good,
    ):
        async with make_client({"a": ("sse", bad.url), "b": ("sse", good.url)}) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.text == "Hello wörld"
            first = outcome.attempts[0][0]
            assert first == "a" and outcome.provider == "b"
            assert await settle(client) == 0


# --------------------------------------------------------------------------- malformed JSON / SSE


async def test_malformed_json_in_an_event_is_a_protocol_error_not_skipped() -> None:
    async with ScriptedUpstream(sends(sse_event("fine "), b"data: {not json\n\n")) as up:
        async with make_client({"a": ("sse", up.url)}) as client:
            outcome = await collect(client)
            assert outcome.text == "fine "
            assert isinstance(outcome.error, StreamProtocolError)
            assert "malformed JSON" in str(outcome.error)
            assert await settle(client) == 0


async def test_malformed_json_before_any_text_falls_back_and_lists_nothing_partial() -> None:
    async with (
        ScriptedUpstream(sends(b"data: {oops\n\n")) as bad,
        ScriptedUpstream(sse_ok()) as good,
    ):
        async with make_client({"a": ("sse", bad.url), "b": ("sse", good.url)}) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.provider == "b"
            assert await settle(client) == 0


async def test_an_html_page_instead_of_sse_is_a_protocol_error() -> None:
    page = b"<html><body>Checking your browser...</body></html>\n"
    async with ScriptedUpstream(sends(page)) as up:
        async with make_client({"a": ("sse", up.url)}) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, StreamProtocolError)
            assert outcome.text == ""
            assert await settle(client) == 0


async def test_ndjson_keepalive_and_status_lines_are_skipped() -> None:
    body = [b"keep-alive\n", ndjson_line("Hi"), b'{"status": "thinking"}\n', ndjson_line(" there")]
    async with ScriptedUpstream(sends(*body)) as up:
        async with make_client({"a": ("ndjson", up.url)}) as client:
            outcome = await collect(client)
            assert outcome.complete and outcome.text == "Hi there"
            assert await settle(client) == 0


async def test_ndjson_stream_with_no_text_at_all_is_an_error_not_an_empty_answer() -> None:
    async with ScriptedUpstream(sends(b"keep-alive\n", b'{"status": "busy"}\n')) as up:
        async with make_client({"a": ("ndjson", up.url)}) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, StreamProtocolError)
            assert "without any text" in str(outcome.error)
            assert await settle(client) == 0


async def test_empty_200_body_is_an_error_not_an_empty_answer() -> None:
    async with ScriptedUpstream(sends()) as up:
        async with make_client({"a": ("text", up.url)}) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, StreamProtocolError)
            assert outcome.text == ""


# --------------------------------------------------------------------------- truncated final event


TRUNCATIONS = {
    "sse-mid-event": ("sse", sends(sse_event("abc"), b'data: {"choices": [{"del')),
    "sse-no-done": ("sse", sends(sse_event("abc"))),
    "sse-without-done-mid-event": ("sse-lenient", sends(sse_event("abc"), b'data: {"choi')),
    "ndjson-mid-object": ("ndjson", sends(ndjson_line("abc"), b'{"data": {"mess')),
}


@pytest.mark.parametrize("case", sorted(TRUNCATIONS))
async def test_truncated_final_event_is_a_protocol_error_with_partial_length(case: str) -> None:
    kind, script = TRUNCATIONS[case]
    async with ScriptedUpstream(script) as up:
        async with make_client({"a": (kind, up.url)}) as client:
            outcome = await collect(client)
            assert outcome.text == "abc"
            assert isinstance(outcome.error, StreamProtocolError)
            assert outcome.error.partial_length == 3
            assert await settle(client) == 0


# --------------------------------------------------------------------------- malformed HTTP


def raw_reply(data: bytes) -> Reply:
    return Reply(chunks=[data], raw=True, end="hang")


MALFORMED_HTTP = {
    "not-http": b"SSH-2.0-OpenSSH_8.9\r\n\r\n",
    "bad-chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_HTTP))
async def test_a_malformed_http_response_is_a_protocol_error_not_retried(case: str) -> None:
    async with ScriptedUpstream(raw_reply(MALFORMED_HTTP[case])) as up:
        async with make_client({"a": ("sse", up.url)}, retry=QUICK_RETRY) as client:
            outcome = await collect(client)
            assert isinstance(outcome.error, StreamProtocolError)
            assert "malformed" in str(outcome.error)
            assert len(up.requests) == 1
            assert await settle(client) == 0


async def test_a_body_shorter_than_its_content_length_is_not_complete() -> None:
    body = b"hello".ljust(100, b".")  # Content-Length: 100, then only "hello"
    script = Reply.truncated(body, 5, headers={"Content-Type": "text/plain"}, end_delay=0.01)
    async with ScriptedUpstream(script) as up:
        async with make_client({"a": ("text", up.url)}) as client:
            outcome = await collect(client)
            assert outcome.text == "hello"
            assert outcome.error is not None and outcome.error.partial_length == 5
            assert await settle(client) == 0
