"""Helpers of the tests of ``chatplug serve`` processes sharing one Redis.

The processes load the scripted providers of ``tests/server/fakeplugin`` (``servertest``
and ``servertwo``, plain text over ``POST /chat``), each pointed at its own scripted
upstream by the configuration file, which also holds the ``[server]`` table.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import aiohttp
from server_harness import ServerProcess, plugin_environment, serve_args

BODY = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
Result = Tuple[int, Dict[str, str], Any]


def serve_env(tmp_path: Path, first: str, second: str, server_table: str = "") -> Dict[str, str]:
    """The environment of serve processes whose configuration file sends ``servertest`` to
    ``first`` and ``servertwo`` to ``second`` (tried in that order), plus ``server_table``."""
    env = plugin_environment(tmp_path / "site")
    config = tmp_path / "chatplug.toml"
    config.write_text(
        '[defaults]\nproviders = ["servertest", "servertwo"]\n'
        f'[providers.servertest]\nbase_url = "{first}"\n'
        f'[providers.servertwo]\nbase_url = "{second}"\n' + server_table,
        encoding="utf-8",
    )
    env["CHATPLUG_CONFIG"] = str(config)
    env.pop("CHATPLUG_REDIS_URL", None)
    return env


def start_servers(env: Dict[str, str], count: int, *extra: str) -> List[ServerProcess]:
    """``count`` serve processes on free ports, started together, all ready."""
    servers = [ServerProcess(serve_args("--port", "0", *extra), env) for _ in range(count)]
    try:
        for server in servers:
            server.wait_ready()
    except BaseException:
        stop_all(servers)
        raise
    return servers


def stop_all(servers: Sequence[ServerProcess]) -> None:
    for server in servers:
        server.stop()


async def post(session: aiohttp.ClientSession, url: str, key: str = "", body: Any = None) -> Result:
    """``POST /v1/chat/completions``: the status, the headers and the JSON body."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with session.post(
        url + "/v1/chat/completions", json=body or BODY, headers=headers
    ) as response:
        return response.status, dict(response.headers), await response.json()


async def post_all(urls: Sequence[str], count: int, key: str = "") -> List[Result]:
    """``count`` requests at once, spread over ``urls`` in turn."""
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(
            *[post(session, urls[i % len(urls)], key) for i in range(count)]
        )


async def get(url: str, path: str) -> Tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url + path) as response:
            return response.status, await response.text()


async def until_ready(url: str, timeout: float = 15.0) -> float:
    """Seconds until ``/health/ready`` answers 200."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while (await get(url, "/health/ready"))[0] != 200:
        assert loop.time() - started < timeout, "the server did not become ready again"
        await asyncio.sleep(0.1)
    return loop.time() - started


async def until_workers(url: str, count: int, timeout: float = 30.0) -> None:
    """Until ``count`` different processes answered ``/health`` (every worker accepts)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    seen = set()
    connector = aiohttp.TCPConnector(force_close=True)  # a new connection: any worker
    async with aiohttp.ClientSession(connector=connector) as session:
        while len(seen) < count:
            assert loop.time() - started < timeout, f"only {len(seen)} workers answered"
            async with session.get(url + "/health") as response:
                seen.add((await response.json())["pid"])
