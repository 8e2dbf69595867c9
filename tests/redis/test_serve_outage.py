"""``chatplug serve`` when its Redis goes away: requests keep succeeding on per-process
state, one warning per outage, back to shared state by itself; ``/health/ready`` follows."""

from __future__ import annotations

from pathlib import Path
from typing import List

import aiohttp
from chatplug.testing import Reply, ScriptedUpstream
from chatplug.testing.redis import RedisServer, free_port
from servekit import get, post, serve_env, start_servers, stop_all, until_ready
from server_harness import ServerProcess

KEY = "sk-outage-team-0123456789"
#: a limited key: every request asks the limiter, in Redis when it is up
TEAM = '[[server.keys]]\nname = "team"\nkey_env = "TEAM_KEY"\nrpm = 1000\n'


def outage_warnings(server: ServerProcess) -> List[str]:
    return [line for line in server.lines if "is unreachable" in line]


async def statuses(url: str, count: int) -> List[int]:
    async with aiohttp.ClientSession() as session:
        return [(await post(session, url, KEY))[0] for _ in range(count)]


async def test_redis_stopped_mid_run_and_restarted_fails_no_request(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with ScriptedUpstream(Reply.text("fine")) as upstream:
        env = dict(serve_env(tmp_path, upstream.url, upstream.url, TEAM), TEAM_KEY=KEY)
        (server,) = start_servers(env, 1, "--redis", redis_server.url)
        url = server.url or ""
        try:
            before = await statuses(url, 5)
            redis_server.stop()
            during = await statuses(url, 30)
            assert (await get(url, "/health/ready"))[0] == 503
            redis_server.start()
            await until_ready(url)
            after = await statuses(url, 5)
        finally:
            stop_all([server])
    assert before + during + after == [200] * 40
    (warning,) = outage_warnings(server)
    assert f"Redis at {redis_server.url} is unreachable" in warning
    assert "per-process state" in warning


async def test_redis_absent_at_start_is_served_without_and_used_once_it_comes(
    tmp_path: Path,
) -> None:
    redis_server = RedisServer(free_port())  # not started yet
    with ScriptedUpstream(Reply.text("fine")) as upstream:
        env = dict(serve_env(tmp_path, upstream.url, upstream.url, TEAM), TEAM_KEY=KEY)
        (server,) = start_servers(env, 1, "--redis", redis_server.url)
        url = server.url or ""
        try:
            assert await statuses(url, 10) == [200] * 10
            assert (await get(url, "/health/ready"))[0] == 503
            with redis_server:
                await until_ready(url)
                assert await statuses(url, 3) == [200] * 3
        finally:
            stop_all([server])
    assert len(outage_warnings(server)) == 1


async def test_the_ready_probe_follows_redis_and_the_live_probe_does_not(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with ScriptedUpstream(Reply.text("fine")) as upstream:
        env = serve_env(tmp_path, upstream.url, upstream.url)
        (server,) = start_servers(env, 1, "--redis", redis_server.url)
        url = server.url or ""
        try:
            ready = [await get(url, "/health/ready")]
            redis_server.stop()
            ready.append(await get(url, "/health/ready"))
            live = await get(url, "/health/live")
            redis_server.start()
            await until_ready(url)
        finally:
            stop_all([server])
    assert [status for status, _ in ready] == [200, 503]
    assert '"redis": {"ok": false' in ready[1][1] and redis_server.url in ready[1][1]
    assert live[0] == 200
