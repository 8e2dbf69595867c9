"""The emulator enforces the protocol and streams awkwardly, like the real service."""

from __future__ import annotations

import json
from typing import Any, Awaitable

import pytest
from chatplug.emulation import RunningEmulator
from chatplug.testing import RawAnswer, raw_request, record_writes
from chatplug_vitalentum import EventStream
from chatplug_vitalentum.emulator import reply_text

GOOD = {
    "conversation": json.dumps({"history": [{"speaker": "human", "text": "Hi ✓"}]}),
    "temperature": 0.7,
}


def post(
    emulator: RunningEmulator, body: Any, path: str = "/api/converse-edge"
) -> Awaitable[RawAnswer]:
    return raw_request(emulator.url + path, body)


async def test_valid_request_streams_sse_ending_with_done(emulator: Any) -> None:
    running = await emulator()
    answer = await post(running, GOOD)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/event-stream")
    assert answer.body.endswith(b"data: [DONE]\n\n")
    assert b": keep-alive" in answer.body and b"event: ping" in answer.body
    parser = EventStream()
    texts = parser.feed(answer.body)
    assert parser.done
    assert "".join(texts) == running.replies[-1]
    assert running.replies[-1] == "Hello from the Vitalentum emulator ✓ — you said: Hi ✓ (turn 1)"


def test_reply_counts_human_turns_and_quotes_the_last() -> None:
    history = [
        {"speaker": "human", "text": "one"},
        {"speaker": "bot", "text": "two"},
        {"speaker": "human", "text": "thrée"},
    ]
    assert reply_text(history).endswith("you said: thrée (turn 2)")


async def test_wrong_path_is_404(emulator: Any) -> None:
    assert (await post(await emulator(), GOOD, "/api/converse")).status == 404


async def test_wrong_method_is_405(emulator: Any) -> None:
    running = await emulator()
    assert (await raw_request(running.url + "/api/converse-edge", method="GET")).status == 405


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
async def test_bad_bodies_are_400_with_a_json_error(emulator: Any, body: Any, error: str) -> None:
    running = await emulator()
    answer = await post(running, body)
    assert answer.status == 400
    assert error in answer.json()["error"]
    assert running.replies == []


async def test_writes_split_characters_and_events_and_coalesce_events(
    emulator: Any, monkeypatch: Any
) -> None:
    writes = record_writes(monkeypatch)
    assert (await post(await emulator(), GOOD)).status == 200
    assert any(_splits_a_character(piece) for piece in writes)
    assert any(not piece.endswith(b"\n\n") and b"data:" in piece for piece in writes)
    assert writes[0].count(b"data:") >= 2  # several events in one write
    assert writes[-1].endswith(b"}\n\ndata: [DONE]\n\n")
    assert len(writes) > 50


def _splits_a_character(piece: bytes) -> bool:
    try:
        piece.decode()
    except UnicodeDecodeError:
        return True
    return False
