"""chatplug.parsing: the event parser base (errors after the items before them), iter_items
and iter_batches driving a parser over a body, post_json sending a JSON payload and parsing
the answer."""

from __future__ import annotations

import json
from typing import Any, List

import aiohttp
import pytest
from chatplug import (
    LineDecoder,
    StreamProtocolError,
    UpstreamError,
    UpstreamHTTPError,
)
from chatplug.events import Finish, StreamItem
from chatplug.parsing import EventParser, iter_batches, iter_items, post_json
from chatplug.testing import Reply, ScriptedUpstream, completion_request


class Lines(EventParser):
    """NDJSON: ``{"text"}`` is text, ``{"error"}`` an upstream error, ``{"end"}`` the end."""

    __slots__ = ("_lines", "closed")

    def __init__(self) -> None:
        super().__init__("acme")
        self._lines = LineDecoder()
        self.closed = False

    def frames(self, chunk: bytes) -> List[bytes]:
        return self._lines.feed(chunk)

    def event(self, frame: Any, items: List[StreamItem]) -> None:
        record = json.loads(frame)
        if "error" in record:
            raise UpstreamError(record["error"], provider=self.provider)
        if "end" in record:
            self.done = True
            items.append(Finish("stop"))
        else:
            items.append(record["text"])

    def close(self) -> List[StreamItem]:
        self.raise_pending()
        self.closed = True
        if not self.done:
            raise StreamProtocolError("no end record", provider=self.provider)
        return []


def lines(*records: Any) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def test_an_error_after_items_in_the_same_chunk_comes_at_the_next_call() -> None:
    parser = Lines()
    assert parser.feed(lines({"text": "a"}, {"error": "boom"}, {"text": "lost"})) == ["a"]
    with pytest.raises(UpstreamError, match="boom"):
        parser.feed(lines({"text": "later"}))


def test_an_error_before_any_item_is_raised_at_once() -> None:
    with pytest.raises(UpstreamError, match="boom"):
        Lines().feed(lines({"error": "boom"}))


def test_nothing_is_read_after_the_end() -> None:
    parser = Lines()
    assert parser.feed(lines({"text": "a"}, {"end": 1}, {"text": "after"})) == ["a", Finish("stop")]
    assert parser.feed(lines({"text": "more"})) == []


def test_close_raises_the_error_held_back() -> None:
    parser = Lines()
    parser.feed(lines({"text": "a"}, {"error": "boom"}))
    with pytest.raises(UpstreamError, match="boom"):
        parser.close()


async def test_iter_items_stops_reading_at_the_end_and_closes_the_parser() -> None:
    body = lines({"text": "Grüße ✓"}, {"end": 1})
    reply = Reply(chunks=[body[:5], body[5:], b"garbage after the end\n"])
    parser = Lines()
    async with ScriptedUpstream(reply) as upstream, aiohttp.ClientSession() as session:
        async with session.get(upstream.url) as response:
            items = [item async for item in iter_items(response, parser)]
    assert items == ["Grüße ✓", Finish("stop")]
    assert parser.closed


async def test_iter_items_lets_close_report_a_truncated_body() -> None:
    async with ScriptedUpstream(Reply(chunks=[lines({"text": "a"})])) as upstream:
        async with aiohttp.ClientSession() as session:
            async with session.get(upstream.url) as response:
                items: List[StreamItem] = []
                with pytest.raises(StreamProtocolError, match="no end record"):
                    async for item in iter_items(response, Lines()):
                        items.append(item)
    assert items == ["a"]


async def test_iter_batches_gives_the_items_of_each_network_chunk_together() -> None:
    first, second = lines({"text": "a"}, {"text": "b"}), lines({"text": "c"}, {"end": 1})
    reply = Reply(chunks=[first, second, b"garbage after the end\n"], delay=0.05)
    parser = Lines()
    async with ScriptedUpstream(reply) as upstream, aiohttp.ClientSession() as session:
        async with session.get(upstream.url) as response:
            batches = [list(items) async for items in iter_batches(response, parser)]
    assert batches == [["a", "b"], ["c", Finish("stop")]]
    assert parser.closed


async def test_post_json_sends_utf8_json_with_the_headers_and_parses_the_answer() -> None:
    reply = Reply(chunks=[lines({"text": "ok"}, {"end": 1})])
    async with ScriptedUpstream(reply) as upstream, aiohttp.ClientSession() as session:
        request = completion_request(upstream.url, provider="acme", model="m", timeout=5)
        items = [
            item
            async for item in post_json(
                session,
                request,
                upstream.url + "/chat",
                {"q": "Grüße ✓"},
                Lines(),
                headers={"x-probe": "1"},
                params={"alt": "sse"},
            )
        ]
    assert items == ["ok", Finish("stop")]
    [sent] = upstream.requests
    assert sent.body == '{"q": "Grüße ✓"}'.encode()
    assert (sent.path, sent.query, sent.headers["x-probe"]) == ("/chat", "alt=sse", "1")


async def test_post_json_raises_what_on_error_builds_for_an_error_status() -> None:
    async def on_error(response: aiohttp.ClientResponse) -> Exception:
        return UpstreamHTTPError(f"acme says {await response.text()}", status=response.status)

    async with ScriptedUpstream(Reply.error(418, "teapot")) as upstream:
        async with aiohttp.ClientSession() as session:
            request = completion_request(upstream.url, provider="acme", model="m")
            with pytest.raises(UpstreamHTTPError, match="acme says teapot"):
                async for _ in post_json(
                    session, request, upstream.url, {}, Lines(), on_error=on_error
                ):
                    pass
