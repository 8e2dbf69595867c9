"""``chatplug serve --workers 4 --redis URL``: one port, four processes, one limit."""

from __future__ import annotations

import re
from pathlib import Path

from chatplug.testing import Reply, ScriptedUpstream
from chatplug.testing.redis import RedisServer
from servekit import get, post_all, serve_env, start_servers, stop_all, until_workers

KEY = "sk-workers-team-0123456789"
TEAM = '[[server.keys]]\nname = "team"\nkey_env = "TEAM_KEY"\nrpm = 30\n'
TEAM_REQUESTS = re.compile(r'^chatplug_requests_total\{key="team",[^}]*\} (\S+)$', re.M)


async def test_a_30_rpm_key_hit_100_times_through_4_workers_lets_exactly_30_through(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"  # where each worker writes its metrics
    metrics_dir.mkdir()
    with ScriptedUpstream(Reply.text("fine")) as upstream:
        env = dict(
            serve_env(tmp_path, upstream.url, upstream.url, TEAM),
            TEAM_KEY=KEY,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        )
        (server,) = start_servers(
            env, 1, "--workers", "4", "--redis", redis_server.url, "--no-access-log"
        )
        try:
            await until_workers(server.url or "", 4)
            results = await post_all([server.url or ""], 100, KEY)
            _, metrics = await get(server.url or "", "/metrics")
        finally:
            stop_all([server])
    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == 30 and statuses.count(429) == 70
    assert all(int(headers["Retry-After"]) >= 1 for s, headers, _ in results if s == 429)
    assert len(list(metrics_dir.glob("counter_*.db"))) >= 2  # several workers served
    assert sum(float(value) for value in TEAM_REQUESTS.findall(metrics)) == 100
