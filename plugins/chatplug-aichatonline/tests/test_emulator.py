"""The emulator validates requests like the real service and streams a reflecting reply."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

import aiohttp
import pytest
from chatplug.emulation import RunningEmulator
from chatplug_aichatonline.emulator import (
    CHAT_PATH,
    STREAM_ENDS,
    UNIQUE_ID_PATH,
    create_app,
    reply_text,
)


async def issue(session: aiohttp.ClientSession, emulator: RunningEmulator) -> str:
    async with session.get(emulator.url + UNIQUE_ID_PATH, params={"canvas": "-abc"}) as response:
        assert response.status == 200
        document = await response.json()
    assert isinstance(document["data"], str)
    return document["data"]  # type: ignore[no-any-return]


async def post(
    session: aiohttp.ClientSession,
    emulator: RunningEmulator,
    body: Any,
    unique_id: Optional[str],
    *,
    raw: bool = False,
) -> aiohttp.ClientResponse:
    headers: Dict[str, str] = {"Content-Type": "application/json"}
    if unique_id is not None:
        headers["UniqueId"] = unique_id
    data = body if raw else json.dumps(body)
    response = await session.post(emulator.url + CHAT_PATH, data=data, headers=headers)
    await response.read()
    return response


GOOD = {"conversationId": "c1", "prompt": "hi"}


async def test_unique_id_without_canvas_is_400(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(emulator.url + UNIQUE_ID_PATH) as response:
        assert response.status == 400


async def test_unique_ids_are_distinct(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    assert await issue(session, emulator) != await issue(session, emulator)


async def test_a_wrong_path_is_404(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    unique_id = await issue(session, emulator)
    async with session.post(
        emulator.url + "/aichatonline/api/chat/gpt4", json=GOOD, headers={"UniqueId": unique_id}
    ) as response:
        assert response.status == 404


async def test_a_get_on_the_chat_endpoint_is_405(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(emulator.url + CHAT_PATH) as response:
        assert response.status == 405


async def test_chat_without_unique_id_is_401(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    response = await post(session, emulator, GOOD, None)
    assert response.status == 401
    assert emulator.replies == []


async def test_chat_with_an_unknown_unique_id_is_401(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    response = await post(session, emulator, GOOD, "made-up")
    assert response.status == 401


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"prompt": "hi"}',
        b'{"conversationId": "c1"}',
        b'{"conversationId": "c1", "prompt": ""}',
        b'{"conversationId": 5, "prompt": "hi"}',
        b'{"conversationId": "c1", "prompt": ["hi"]}',
    ],
)
async def test_a_bad_body_is_400(
    emulator: RunningEmulator, session: aiohttp.ClientSession, body: bytes
) -> None:
    unique_id = await issue(session, emulator)
    response = await post(session, emulator, body, unique_id, raw=True)
    assert response.status == 400


async def test_a_good_request_streams_ndjson_with_keepalives(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    unique_id = await issue(session, emulator)
    async with session.post(
        emulator.url + CHAT_PATH, json=GOOD, headers={"UniqueId": unique_id}
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/x-ndjson")
        raw = await response.read()
    lines = raw.split(b"\n")
    assert b": keep-alive" in lines and b"ping" in lines
    texts = []
    for line in lines:
        if line.startswith(b"{"):
            data = json.loads(line)["data"]
            if "message" in data:
                texts.append(data["message"])
    assert "".join(texts) == emulator.replies[0] == reply_text("hi")
    assert emulator.app[STREAM_ENDS] == ["complete"]


def test_the_reply_quotes_a_single_message_prompt_as_turn_1() -> None:
    assert reply_text("bonjour ✓") == (
        "Hello from the AiChatOnline emulator ✓ — you said: bonjour ✓ (turn 1)"
    )


def test_the_reply_quotes_the_last_user_line_and_counts_turns() -> None:
    prompt = "System: be kind\nUser: one\nAssistant: ok\nUser: two\nAssistant:"
    assert reply_text(prompt).endswith("you said: two (turn 2)")


def test_create_app_without_arguments_is_the_normal_emulator() -> None:
    app = create_app()
    paths = {route.resource.canonical for route in app.router.routes() if route.resource}
    assert paths == {UNIQUE_ID_PATH, CHAT_PATH}
