"""The emulator scaffold (request log, fault script, awkward writes) through a tiny emulator."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from chatplug.emulation import AWKWARD_SIZES, RunningEmulator
from chatplug.emulator_kit import (
    DISCONNECTS,
    FAULTS,
    INVALID,
    MISSING,
    REQUESTS,
    STREAM_ENDS,
    ApiKeys,
    Faults,
    emulator_app,
    read_logged_json,
    scripted_error,
    stream_body,
    write_sizes,
)
from chatplug.testing import plugin_fixtures, split_bytes, wait_until

BODY = "Grüße ✓ — ".encode() * 12


def create_app(**faults: Any) -> web.Application:
    """The smallest scriptable emulator: ``POST /chat`` streams ``BODY``."""

    async def chat(request: web.Request) -> web.StreamResponse:
        if await read_logged_json(request) is None:
            return web.Response(status=400, text="not JSON")
        failure = scripted_error(request)
        if failure is not None:
            return failure
        data = BODY[: len(BODY) // 2] if request.app[FAULTS].truncate else BODY
        response = web.StreamResponse()
        await response.prepare(request)
        await stream_body(request, response, data)
        return response

    app = emulator_app(Faults(**faults))
    app.router.add_post("/chat", chat)
    return app


Start = Callable[..., Awaitable[RunningEmulator]]
Session = aiohttp.ClientSession


#: ``await emulator(**faults)``: the tiny emulator, running until the test ends
emulator = plugin_fixtures("tiny", create_app).emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def post(
    session: aiohttp.ClientSession, running: RunningEmulator, **kwargs: Any
) -> "aiohttp.client._RequestContextManager":
    kwargs.setdefault("json", {"prompt": "hi"})
    return session.post(running.url + "/chat?x=1", **kwargs)


async def test_every_request_is_logged_with_its_body_and_headers(
    emulator: Start, session: Session
) -> None:
    running = await emulator()
    async with post(session, running, headers={"x-probe": "1"}) as response:
        await response.read()
    [logged] = running.app[REQUESTS]
    assert (logged["method"], logged["path"], logged["query"]) == ("POST", "/chat", {"x": "1"})
    assert logged["body"] == {"prompt": "hi"}
    assert logged["headers"]["X-Probe"] == logged["headers"]["x-probe"] == "1"
    assert logged["peer"][0] == "127.0.0.1"


async def test_a_body_that_is_not_json_is_logged_as_none(emulator: Start, session: Session) -> None:
    running = await emulator()
    async with post(session, running, json=None, data=b"{oops") as response:
        assert response.status == 400
    assert running.app[REQUESTS][0]["body"] is None


async def test_the_healthy_emulator_streams_the_whole_body(
    emulator: Start, session: Session
) -> None:
    running = await emulator()
    async with post(session, running) as response:
        assert (response.status, await response.read()) == (200, BODY)
    assert running.app[STREAM_ENDS] == ["complete"]
    assert running.app[DISCONNECTS] == []


async def test_a_scripted_status_carries_its_body_and_retry_after(
    emulator: Start, session: Session
) -> None:
    running = await emulator(status=429, error_body="slow down", retry_after="3")
    async with post(session, running) as response:
        assert (response.status, await response.text()) == (429, "slow down")
        assert response.headers["Retry-After"] == "3"


async def test_a_scripted_status_without_a_body_says_so(emulator: Start, session: Session) -> None:
    running = await emulator(status=503)
    async with post(session, running) as response:
        assert (response.status, await response.text()) == (503, "scripted failure")
        assert "Retry-After" not in response.headers


async def test_truncate_is_the_emulators_cut_ended_cleanly(
    emulator: Start, session: Session
) -> None:
    running = await emulator(truncate=True)
    async with post(session, running) as response:
        assert await response.read() == BODY[: len(BODY) // 2]


async def test_drop_resets_the_connection_after_the_data(emulator: Start, session: Session) -> None:
    running = await emulator(drop=True)
    async with post(session, running) as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert running.app[STREAM_ENDS] == ["dropped"]


async def test_a_client_leaving_early_is_logged_as_a_disconnect(
    emulator: Start, session: Session
) -> None:
    running = await emulator(delay=0.01)
    async with post(session, running) as response:
        await response.content.readany()
    await wait_until(lambda: running.app[STREAM_ENDS])
    assert running.app[STREAM_ENDS] == ["disconnected"]
    assert running.app[DISCONNECTS] == ["/chat"]


async def test_delay_spaces_the_writes(emulator: Start, session: Session) -> None:
    running = await emulator(delay=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with post(session, running) as response:
        assert await response.read() == BODY
    assert loop.time() - started >= 0.01 * (len(write_sizes(BODY)) - 1)


def test_an_unknown_fault_is_refused() -> None:
    with pytest.raises(TypeError):
        create_app(explode=True)


def test_write_sizes_cut_every_multibyte_character_in_the_middle() -> None:
    data = "ab✓c — 日本 🎉".encode()
    pieces = split_bytes(data, write_sizes(data))
    assert b"".join(pieces) == data
    assert not any(c.encode() in piece for piece in pieces for c in "✓—日本🎉")


def test_write_sizes_cover_the_data_in_small_pieces() -> None:
    data = "ab✓c — 日本 🎉 and some more plain text".encode()
    sizes = write_sizes(data)
    assert sum(sizes) == len(data)
    assert max(sizes) <= max(AWKWARD_SIZES)


def test_write_sizes_coalesce_the_head_and_the_tail() -> None:
    data = b"head-part|" + "middle ✓ ".encode() * 5 + b"|tail-part"
    pieces = split_bytes(data, write_sizes(data, head=10, tail=10))
    assert (pieces[0], pieces[-1]) == (b"head-part|", b"|tail-part")
    assert b"".join(pieces) == data
    assert max(len(piece) for piece in pieces[1:-1]) < 14


@pytest.mark.parametrize(
    ("keys", "require_key", "key", "verdict"),
    [
        (None, False, None, None),  # by default no key passes...
        (None, False, "any", None),  # ...and so does any key
        (None, False, "", INVALID),  # but not an empty one
        (None, True, None, MISSING),
        (None, True, "any", None),
        (["k1"], False, "k1", None),  # keys imply that a key is required
        (["k1"], False, "k2", INVALID),
        (["k1"], False, None, MISSING),
    ],
)
def test_api_keys_check_a_key_against_the_policy(
    keys: Any, require_key: bool, key: Any, verdict: Any
) -> None:
    assert ApiKeys(keys, require_key).check(key) == verdict
