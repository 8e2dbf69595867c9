"""SIGTERM: running streams finish within the grace period; then the server exits."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Dict, List

import aiohttp
from chatplug.emulation import RunningEmulator
from server_harness import start_server, wait_upstream_closed


def stream_body(prompt: str) -> Dict[str, object]:
    return {
        "model": "servertest/echo",
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
    }


async def read_events(response: aiohttp.ClientResponse) -> List[bytes]:
    return [line async for line in response.content if line.startswith(b"data: ")]


async def test_sigterm_lets_a_running_stream_finish(
    plugin_env: Dict[str, str], upstream: RunningEmulator
) -> None:
    server = start_server(plugin_env, upstream, "--grace", "20")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{server.url}/v1/chat/completions", json=stream_body("count:15:0.1")
            ) as response:
                assert response.status == 200
                first = await response.content.readline()
                assert first.startswith(b"data: ")
                server.proc.send_signal(signal.SIGTERM)
                events = [first, *await read_events(response)]
        assert events[-1] == b"data: [DONE]\n"
        assert b'"finish_reason":"stop"' in events[-2]
        text = b"".join(events)
        assert all(f'"{i} "'.encode() in text for i in range(15))
        await asyncio.to_thread(server.proc.wait, 20)
        assert server.proc.returncode == 0
    finally:
        server.stop()


async def test_sigterm_refuses_new_connections_while_draining(
    plugin_env: Dict[str, str], upstream: RunningEmulator
) -> None:
    server = start_server(plugin_env, upstream, "--grace", "30")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{server.url}/v1/chat/completions", json=stream_body("count:50:0.1")
            ) as response:
                await response.content.readline()
                server.proc.send_signal(signal.SIGTERM)
                server.wait_for_line("shutting down")
                refused_while_running = False
                deadline = time.monotonic() + 4
                while time.monotonic() < deadline:
                    try:
                        async with aiohttp.ClientSession() as other:
                            async with other.get(f"{server.url}/health"):
                                pass
                    except aiohttp.ClientConnectionError:
                        refused_while_running = server.proc.poll() is None
                        break
                    await asyncio.sleep(0.05)
                assert refused_while_running
                events = await read_events(response)
        assert events[-1] == b"data: [DONE]\n"  # the running stream still finished
    finally:
        server.stop()


async def test_streams_longer_than_the_grace_period_are_cut(
    plugin_env: Dict[str, str], upstream: RunningEmulator
) -> None:
    server = start_server(plugin_env, upstream, "--grace", "1")
    token = "grace-cut"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{server.url}/v1/chat/completions", json=stream_body(f"forever:{token}")
            ) as response:
                await response.content.readline()
                started = time.monotonic()
                server.proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(server.proc.wait, 15)
                elapsed = time.monotonic() - started
        assert server.proc.returncode == 0
        assert 0.8 <= elapsed < 10
        await wait_upstream_closed(upstream, token)  # closed, not leaked
    finally:
        server.stop()
