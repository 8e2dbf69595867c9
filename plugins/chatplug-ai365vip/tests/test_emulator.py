"""The emulator enforces the protocol and streams awkwardly, like the real service."""

from __future__ import annotations

from typing import Any, Awaitable, Dict

import pytest
from chatplug.emulation import RunningEmulator
from chatplug.testing import RawAnswer, raw_request, record_writes
from chatplug_ai365vip.emulator import last_user_turn

MODEL = {"id": "gpt-4o", "name": "GPT-4o", "maxLength": 3000, "tokenLimit": 2048}
GOOD: Dict[str, Any] = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Hi ✓"}],
    "key": "",
    "prompt": "You are a helpful assistant.",
    "temperature": 1,
}


def post(emulator: RunningEmulator, body: Any, path: str = "/api/chat") -> Awaitable[RawAnswer]:
    return raw_request(emulator.url + path, body)


async def test_valid_request_streams_plain_text(emulator: Any) -> None:
    running = await emulator()
    answer = await post(running, GOOD)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.text == running.replies[-1]
    assert answer.text == "Hello from the AI365VIP emulator ✓ — you said: Hi ✓ (turn 1, GPT-4o)"


def test_last_user_turn_of_a_rendered_prompt() -> None:
    prompt = "System: be nice\nUser: one\nAssistant: two\nUser: thrée\nAssistant:"
    assert last_user_turn(prompt) == ("thrée", 2)
    assert last_user_turn("just one message") == ("just one message", 1)


async def test_wrong_path_is_404(emulator: Any) -> None:
    assert (await post(await emulator(), GOOD, "/api/chat/")).status == 404


async def test_wrong_method_is_405(emulator: Any) -> None:
    running = await emulator()
    assert (await raw_request(running.url + "/api/chat", method="GET")).status == 405


def without(name: str) -> Dict[str, Any]:
    return {key: value for key, value in GOOD.items() if key != name}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "must be JSON"),
        ('"text"', "JSON object"),  # a JSON document, not an object
        (without("model"), "'model'"),
        ({**GOOD, "model": {**MODEL, "tokenLimit": "2048"}}, "'model.tokenLimit'"),
        ({**GOOD, "model": {**MODEL, "id": "gpt-5"}}, "unknown model 'gpt-5'"),
        ({**GOOD, "model": {**MODEL, "name": "GPT-3.5"}}, "model name 'GPT-3.5'"),
        (without("messages"), "'messages'"),
        ({**GOOD, "messages": [{"role": "bot", "content": "x"}]}, "each message"),
        ({**GOOD, "messages": [{"role": "assistant", "content": "x"}]}, "last message"),
        (without("key"), "'key'"),
        (without("prompt"), "'prompt'"),
        ({**GOOD, "temperature": "1"}, "'temperature'"),
    ],
)
async def test_bad_bodies_are_400_with_a_short_error(emulator: Any, body: Any, error: str) -> None:
    running = await emulator()
    answer = await post(running, body)
    assert answer.status == 400
    assert answer.text.startswith("Error: ") and error in answer.text
    assert running.replies == []


async def test_writes_cut_every_multibyte_character(emulator: Any, monkeypatch: Any) -> None:
    writes = record_writes(monkeypatch)
    answer = await post(await emulator(), GOOD)
    assert answer.status == 200
    assert b"".join(writes) == answer.body
    for character in "✓—":
        assert not any(character.encode() in piece for piece in writes)


async def test_scripted_status_still_rejects_a_bad_request_with_400(emulator: Any) -> None:
    assert (await post(await emulator(status=500), without("key"))).status == 400
