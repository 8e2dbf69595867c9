"""A client that goes away mid-stream cancels the upstream request at once."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import chatplug_servertest
from chatplug.emulation import RunningEmulator
from server_harness import ServerProcess, wait_for_entry, wait_upstream_closed


async def test_client_disconnect_mid_stream_closes_the_upstream_connection(
    server: ServerProcess, upstream: RunningEmulator
) -> None:
    token = "disconnect-1"
    body = {
        "model": "servertest/echo",
        "messages": [{"role": "user", "content": f"forever:{token}"}],
        "stream": True,
    }
    session = aiohttp.ClientSession()
    try:
        response = await session.post(f"{server.url}/v1/chat/completions", json=body)
        assert response.status == 200
        received = b""
        while received.count(b"tick") < 3:
            received += await response.content.readany()
        assert token not in upstream.app[chatplug_servertest.CLOSED]
        response.close()  # drop the connection mid-stream
    finally:
        await session.close()
    assert await wait_upstream_closed(upstream, token) < 3.0
    entry = wait_for_entry(server, lambda e: e["status"] == 499 and e["chunks"] >= 1)
    assert entry["provider"] == "servertest"


async def test_client_disconnect_before_the_first_chunk_closes_the_upstream_connection(
    server: ServerProcess, upstream: RunningEmulator
) -> None:
    token = "disconnect-2"
    body = {
        "model": "servertest/echo",
        "messages": [{"role": "user", "content": f"forever:{token}"}],
        "stream": False,  # the server reads the whole answer first: it never ends
    }
    async with aiohttp.ClientSession() as session:
        request = asyncio.ensure_future(
            session.post(f"{server.url}/v1/chat/completions", data=json.dumps(body))
        )
        await asyncio.sleep(0.5)  # the upstream is streaming to the server by now
        assert token not in upstream.app[chatplug_servertest.CLOSED]
        request.cancel()
        try:
            await request
        except asyncio.CancelledError:
            pass
    assert await wait_upstream_closed(upstream, token) < 3.0
