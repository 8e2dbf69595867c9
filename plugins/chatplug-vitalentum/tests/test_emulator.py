"""The emulator enforces the protocol and streams awkwardly, like the real service."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, List, Tuple

import aiohttp
import pytest
from chatplug import emulator_kit
from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.testing import split_bytes
from chatplug_vitalentum import EventStream
from chatplug_vitalentum.emulator import REQUESTS, create_app, reply_text, write_sizes

GOOD = {
    "conversation": json.dumps({"history": [{"speaker": "human", "text": "Hi ✓"}]}),
    "temperature": 0.7,
}


@pytest.fixture
async def served() -> AsyncIterator[Tuple[RunningEmulator, aiohttp.ClientSession]]:
    async with run_emulator(create_app()) as emulator, aiohttp.ClientSession() as session:
        yield emulator, session


async def post(served: Any, body: Any, *, path: str = "/api/converse-edge") -> Tuple[int, str]:
    emulator, session = served
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with session.post(
        emulator.url + path, data=data, headers={"Content-Type": "application/json"}
    ) as response:
        return response.status, await response.text()


async def test_valid_request_streams_sse_ending_with_done(served) -> None:
    emulator, session = served
    async with session.post(emulator.url + "/api/converse-edge", json=GOOD) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        chunks = [chunk async for chunk in response.content.iter_any()]
    body = b"".join(chunks)
    assert body.endswith(b"data: [DONE]\n\n")
    assert b": keep-alive" in body and b"event: ping" in body
    parser = EventStream()
    texts = [text for chunk in chunks for text in parser.feed(chunk)]
    assert parser.done
    assert "".join(texts) == emulator.replies[-1]
    assert emulator.replies[-1] == "Hello from the Vitalentum emulator ✓ — you said: Hi ✓ (turn 1)"


def test_reply_counts_human_turns_and_quotes_the_last() -> None:
    history = [
        {"speaker": "human", "text": "one"},
        {"speaker": "bot", "text": "two"},
        {"speaker": "human", "text": "thrée"},
    ]
    assert reply_text(history).endswith("you said: thrée (turn 2)")


async def test_wrong_path_is_404(served) -> None:
    status, _ = await post(served, GOOD, path="/api/converse")
    assert status == 404


async def test_wrong_method_is_405(served) -> None:
    emulator, session = served
    async with session.get(emulator.url + "/api/converse-edge") as response:
        assert response.status == 405


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "must be JSON"),
        ([1, 2], "JSON object"),
        ({"temperature": 0.7}, "'conversation'"),
        ({"conversation": {"history": []}}, "JSON string"),
        ({"conversation": "not json"}, "'history'"),
        ({"conversation": json.dumps({"history": []})}, "non-empty"),
        (
            {"conversation": json.dumps({"history": [{"speaker": "system", "text": "x"}]})},
            "speaker",
        ),
        ({"conversation": json.dumps({"history": [{"speaker": "bot", "text": "x"}]})}, "no human"),
        ({**GOOD, "stream": True}, "unknown field 'stream'"),
        ({**GOOD, "temperature": "hot"}, "must be a number"),
    ],
)
async def test_bad_bodies_are_400_with_a_json_error(served, body, error) -> None:
    status, text = await post(served, body)
    assert status == 400
    assert error in json.loads(text)["error"]
    assert served[0].replies == []


async def test_writes_split_characters_and_events_and_coalesce_events(served, monkeypatch) -> None:
    writes: List[bytes] = []
    original = emulator_kit.write_awkwardly

    async def recording(response: Any, data: bytes, **kwargs: Any) -> None:
        writes.extend(split_bytes(data, kwargs["sizes"]))
        await original(response, data, **kwargs)

    monkeypatch.setattr(emulator_kit, "write_awkwardly", recording)
    status, _ = await post(served, GOOD)
    assert status == 200
    assert any(_splits_a_character(piece) for piece in writes)
    assert any(not piece.endswith(b"\n\n") and b"data:" in piece for piece in writes)
    assert writes[0].count(b"data:") >= 2  # several events in one write
    assert writes[-1].endswith(b"}\n\ndata: [DONE]\n\n")
    assert len(writes) > 50


def test_write_sizes_cut_every_multibyte_character_in_the_middle() -> None:
    data = "ab✓c — 日本 🎉".encode()
    pieces = split_bytes(data, write_sizes(data))
    assert b"".join(pieces) == data
    characters = [c.encode() for c in "✓—日本🎉"]
    assert not any(c in piece for piece in pieces for c in characters)


def _splits_a_character(piece: bytes) -> bool:
    try:
        piece.decode()
    except UnicodeDecodeError:
        return True
    return False


async def test_scripted_status_carries_body_and_retry_after() -> None:
    app = create_app(status=429, error_body="slow down", retry_after="3")
    async with run_emulator(app) as emulator, aiohttp.ClientSession() as session:
        async with session.post(emulator.url + "/api/converse-edge", json=GOOD) as response:
            assert (response.status, await response.text()) == (429, "slow down")
            assert response.headers["Retry-After"] == "3"


async def test_recorded_headers_are_looked_up_case_insensitively(served) -> None:
    # Header names arrive in whatever case the client (and aiohttp's version) sends them.
    emulator, session = served
    headers = {"x-chatplug-probe": "1", "sec-fetch-mode": "cors"}
    async with session.post(
        emulator.url + "/api/converse-edge", json=GOOD, headers=headers
    ) as response:
        await response.read()
    (sent,) = emulator.app[REQUESTS]
    assert sent["headers"]["X-Chatplug-Probe"] == sent["headers"]["x-chatplug-probe"] == "1"
    assert sent["headers"]["Sec-Fetch-Mode"] == "cors"
