"""``chatplug serve`` processes sharing a real Redis: the breaker, per-key limits, secrets
kept out of logs, metrics and Redis, and the conversation log written by several at once."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from chatplug.history import LogStore
from chatplug.redis_store import RedisBackend
from chatplug.testing import Reply, ScriptedUpstream
from chatplug.testing.redis import RedisServer
from servekit import get, post, post_all, serve_env, start_servers, stop_all

KEY = "sk-shared-team-0123456789"
LITERAL = "sk-literal-in-file-000000"
TEAM = '[[server.keys]]\nname = "team"\nkey_env = "TEAM_KEY"\nrpm = 30\n'


async def test_a_breaker_opened_through_one_instance_makes_the_other_skip_the_provider(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with ScriptedUpstream(Reply.error(500)) as broken, ScriptedUpstream(Reply.text("fine")) as ok:
        env = serve_env(tmp_path, broken.url, ok.url)
        a, b = start_servers(env, 2, "--redis", redis_server.url, "--retries", "0")
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(3):  # the threshold: 3 consecutive failures, through A
                    status, _, answer = await post(session, a.url or "")
                    assert status == 200 and answer["model"] == "servertwo/echo"
                assert len(broken.requests) == 3
                status, _, answer = await post(session, b.url or "")
        finally:
            stop_all([a, b])
        assert status == 200 and answer["choices"][0]["message"]["content"] == "fine"
        assert len(broken.requests) == 3  # B skipped servertest without contacting it
        assert len(ok.requests) == 4


async def test_a_30_rpm_key_hit_100_times_through_4_processes_lets_exactly_30_through(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with ScriptedUpstream(Reply.text("fine")) as upstream:
        env = dict(serve_env(tmp_path, upstream.url, upstream.url, TEAM), TEAM_KEY=KEY)
        servers = start_servers(env, 4, "--redis", redis_server.url, "--no-access-log")
        try:
            results = await post_all([s.url or "" for s in servers], 100, KEY)
        finally:
            stop_all(servers)
    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == 30 and statuses.count(429) == 70
    for status, headers, body in results:
        if status == 429:
            assert 1 <= int(headers["Retry-After"]) <= 60
            assert body["error"]["code"] == "key_rate_limit_exceeded"
    assert len(upstream.requests) == 30


async def test_keys_appear_in_no_log_metric_or_redis_value_only_their_names_do(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    table = TEAM.replace("rpm = 30", "rpm = 2") + (
        f'[[server.keys]]\nname = "literal"\nkey = "{LITERAL}"\ntpm = 1000\n'
    )
    with ScriptedUpstream(Reply.text("fine")) as upstream:
        env = dict(serve_env(tmp_path, upstream.url, upstream.url, table), TEAM_KEY=KEY)
        (server,) = start_servers(env, 1, "--redis", redis_server.url)
        try:
            async with aiohttp.ClientSession() as session:
                statuses = [(await post(session, server.url or "", KEY))[0] for _ in range(3)]
                statuses.append((await post(session, server.url or "", LITERAL))[0])
                statuses.append((await post(session, server.url or "", KEY + "x"))[0])
            _, metrics = await get(server.url or "", "/metrics")
            backend = RedisBackend(redis_server.url)
            try:
                names = await backend.client().keys("*")
                values = [repr(await backend.client().dump(name)) for name in names]
            finally:
                await backend.aclose()
        finally:
            stop_all([server])
    assert statuses == [200, 200, 429, 200, 401]
    logs = "\n".join(server.lines)
    assert '"key": "team"' in logs and '"key": "literal"' in logs
    assert 'key="team"' in metrics and 'key="literal"' in metrics
    assert any(b"{team}" in name for name in names)  # the limits live in Redis, by name
    for where, text in {"logs": logs, "metrics": metrics, "redis": f"{names} {values}"}.items():
        assert KEY not in text and LITERAL not in text, where


async def test_log_db_keeps_every_exchange_of_two_processes_writing_at_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    table = '[[server.keys]]\nname = "team"\nkey_env = "TEAM_KEY"\n'
    path = tmp_path / "served.db"
    with ScriptedUpstream(Reply.text("logged answer")) as upstream:
        env = dict(serve_env(tmp_path, upstream.url, upstream.url, table), TEAM_KEY=KEY)
        servers = start_servers(
            env, 2, "--redis", redis_server.url, "--log-db", str(path), "--no-access-log"
        )
        try:
            results = await post_all([s.url or "" for s in servers], 120, KEY)
        finally:
            stop_all(servers)  # a graceful stop writes what is still pending
    assert [status for status, _, _ in results] == [200] * 120
    rows = LogStore(path).latest(1000)
    assert len(rows) == 120
    assert {(row.source, row.key_name, row.answer, row.error_type) for row in rows} == {
        ("serve", "team", "logged answer", None)
    }
    for server in servers:
        assert not [line for line in server.lines if "logs database" in line]
