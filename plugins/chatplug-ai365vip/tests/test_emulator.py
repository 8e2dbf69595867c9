"""The emulator enforces the protocol and streams awkwardly, like the real service."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Dict, List, Tuple

import aiohttp
import pytest
from chatplug import emulator_kit
from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.testing import split_bytes
from chatplug_ai365vip.emulator import REQUESTS, create_app, last_user_turn, write_sizes

MODEL = {"id": "gpt-4o", "name": "GPT-4o", "maxLength": 3000, "tokenLimit": 2048}
GOOD: Dict[str, Any] = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Hi ✓"}],
    "key": "",
    "prompt": "You are a helpful assistant.",
    "temperature": 1,
}


@pytest.fixture
async def served() -> AsyncIterator[Tuple[RunningEmulator, aiohttp.ClientSession]]:
    async with run_emulator(create_app()) as emulator, aiohttp.ClientSession() as session:
        yield emulator, session


async def post(served: Any, body: Any, *, path: str = "/api/chat") -> Tuple[int, str]:
    emulator, session = served
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    async with session.post(emulator.url + path, data=data, headers=headers) as response:
        return response.status, await response.text()


async def test_valid_request_streams_plain_text(served) -> None:
    emulator, session = served
    async with session.post(emulator.url + "/api/chat", json=GOOD) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        text = await response.text()
    assert text == emulator.replies[-1]
    assert text == "Hello from the AI365VIP emulator ✓ — you said: Hi ✓ (turn 1, GPT-4o)"


def test_last_user_turn_of_a_rendered_prompt() -> None:
    prompt = "System: be nice\nUser: one\nAssistant: two\nUser: thrée\nAssistant:"
    assert last_user_turn(prompt) == ("thrée", 2)
    assert last_user_turn("just one message") == ("just one message", 1)


async def test_wrong_path_is_404(served) -> None:
    status, _ = await post(served, GOOD, path="/api/chat/")
    assert status == 404


async def test_wrong_method_is_405(served) -> None:
    emulator, session = served
    async with session.get(emulator.url + "/api/chat") as response:
        assert response.status == 405


def without(name: str) -> Dict[str, Any]:
    return {key: value for key, value in GOOD.items() if key != name}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "must be JSON"),
        ("text", "JSON object"),
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
async def test_bad_bodies_are_400_with_a_short_error(served, body, error) -> None:
    status, text = await post(served, body)
    assert status == 400
    assert text.startswith("Error: ") and error in text
    assert served[0].replies == []


async def test_writes_cut_every_multibyte_character(served, monkeypatch) -> None:
    writes: List[bytes] = []
    original = emulator_kit.write_awkwardly

    async def recording(response: Any, data: bytes, **kwargs: Any) -> None:
        writes.extend(split_bytes(data, kwargs["sizes"]))
        await original(response, data, **kwargs)

    monkeypatch.setattr(emulator_kit, "write_awkwardly", recording)
    status, text = await post(served, GOOD)
    assert status == 200
    assert b"".join(writes) == text.encode()
    for character in "✓—":
        assert not any(character.encode() in piece for piece in writes)


def test_write_sizes_cover_the_data_in_small_pieces() -> None:
    data = "ab✓c — 日本 🎉 and some more plain text".encode()
    sizes = write_sizes(data)
    assert sum(sizes) == len(data)
    assert max(sizes) <= 13


async def test_scripted_status_carries_body_and_retry_after() -> None:
    app = create_app(status=429, error_body="Too many requests", retry_after="3")
    async with run_emulator(app) as emulator, aiohttp.ClientSession() as session:
        async with session.post(emulator.url + "/api/chat", json=GOOD) as response:
            assert (response.status, await response.text()) == (429, "Too many requests")
            assert response.headers["Retry-After"] == "3"


async def test_scripted_status_still_rejects_a_bad_request_with_400() -> None:
    async with run_emulator(create_app(status=500)) as emulator:
        async with aiohttp.ClientSession() as session:
            async with session.post(emulator.url + "/api/chat", json=without("key")) as response:
                assert response.status == 400


async def test_recorded_headers_are_looked_up_case_insensitively(served) -> None:
    # Header names arrive in whatever case the client (and aiohttp's version) sends them.
    emulator, session = served
    headers = {"x-chatplug-probe": "1", "sec-fetch-mode": "cors"}
    async with session.post(emulator.url + "/api/chat", json=GOOD, headers=headers) as response:
        await response.read()
    (sent,) = emulator.app[REQUESTS]
    assert sent["headers"]["X-Chatplug-Probe"] == sent["headers"]["x-chatplug-probe"] == "1"
    assert sent["headers"]["Sec-Fetch-Mode"] == "cors"
