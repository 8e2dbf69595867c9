"""Named keys, their per-process limits, metrics, probes and the conversation log, through
``create_app`` served on 127.0.0.1 (the Redis-backed versions are in ``tests/redis``)."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional, Sequence, Tuple

import aiohttp
import chatplug_servertest
import pytest
from chatplug import AsyncClient, ModelInfo, Registry, hookimpl
from chatplug.config import Config
from chatplug.config.server import ServerKey
from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.events import Usage
from chatplug.history import LogStore
from chatplug.server import create_app
from chatplug.server.operations import OperationsSettings
from chatplug.testing.redis import free_port
from server_harness import wait_upstream_closed

KEY_A, KEY_B, UNNAMED = "sk-team-a-0123456789", "sk-team-b-9876543210", "sk-unnamed-5555"
TEAM_A = ServerKey("team-a", key=KEY_A, rpm=3)
TEAM_B = ServerKey("team-b", key=KEY_B)
CHAT = "/v1/chat/completions"
ACCESS = "chatplug.server.access"


class Reporting:
    """A 0.2 provider that reports the upstream's usage: 400 tokens in, 200 out."""

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo("counted", "reporting", default=True)]

    @hookimpl
    async def stream_completion(self, request: Any, session: Any) -> AsyncIterator[Any]:
        yield "counted answer"
        yield Usage(400, 200)


@asynccontextmanager
async def serving(
    upstream: RunningEmulator,
    keys: Sequence[ServerKey] = (TEAM_A, TEAM_B),
    api_key: str = "",
    **settings: Any,
) -> AsyncIterator[str]:
    """``create_app`` over the scripted providers and ``reporting``, on a free port: its URL."""
    registry = Registry(discover=False)
    registry.register("servertest", chatplug_servertest)
    registry.register("reporting", Reporting())
    client = AsyncClient(
        registry=registry, base_urls={"servertest": upstream.url}, config=False, retry=1
    )
    operations = OperationsSettings(keys=tuple(keys), **settings)
    async with client:
        app = create_app(client, api_key=api_key, access_log=True, operations=operations)
        async with run_emulator(app) as served:
            yield served.root


async def call(
    url: str,
    key: Optional[str] = KEY_A,
    prompt: str = "hi",
    model: str = "servertest/echo",
    path: str = CHAT,
    header: str = "Authorization",
) -> Tuple[int, Dict[str, str], Dict[str, Any]]:
    headers = {} if key is None else {header: f"Bearer {key}" if header == "Authorization" else key}
    if path == CHAT:
        body: Dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    else:
        body = {"model": model, "input": prompt}
    async with aiohttp.ClientSession() as session:
        async with session.post(url + path, json=body, headers=headers) as response:
            return response.status, dict(response.headers), await response.json()


async def get(url: str, path: str, key: Optional[str] = None) -> Tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as session:
        async with session.get(url + path, headers=headers) as response:
            return response.status, await response.text()


@asynccontextmanager
async def streaming(
    url: str, prompt: str, key: str = KEY_B
) -> AsyncIterator[aiohttp.ClientResponse]:
    """A streamed chat request to ``servertest/echo`` with ``key``: its response, open."""
    body = {
        "model": "servertest/echo",
        "stream": True,
        "messages": [{"role": "user", "content": prompt}],
    }
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {key}"}
        async with session.post(url + CHAT, json=body, headers=headers) as response:
            yield response


def access_lines(caplog: pytest.LogCaptureFixture) -> List[Dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS]


# -- keys ---------------------------------------------------------------------------------


async def test_a_named_key_is_served_and_logged_by_name_never_by_value(
    upstream: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, ACCESS)
    async with serving(upstream) as url:
        status, _, answer = await call(url, KEY_B)
    assert status == 200 and answer["choices"][0]["message"]["content"].startswith("Hello")
    (line,) = access_lines(caplog)
    assert line["key"] == "team-b" and line["status"] == 200
    assert KEY_B not in caplog.text


async def test_an_unknown_key_is_refused(upstream: RunningEmulator) -> None:
    async with serving(upstream) as url:
        for key in (None, KEY_A[:-1], KEY_A + "x", ""):
            status, headers, body = await call(url, key)
            assert status == 401 and body["error"]["code"] == "invalid_api_key"
            assert headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_named_key_works_as_x_api_key_too(upstream: RunningEmulator) -> None:
    async with serving(upstream) as url:
        status, _, _ = await call(url, KEY_B, header="x-api-key")
    assert status == 200


async def test_the_unnamed_api_key_works_beside_named_keys_without_limits(
    upstream: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, ACCESS)
    async with serving(upstream, api_key=UNNAMED) as url:
        statuses = [(await call(url, UNNAMED))[0] for _ in range(5)]  # team-a allows 3
        assert (await call(url, KEY_A))[0] == 200
    assert statuses == [200] * 5
    assert [line["key"] for line in access_lines(caplog)] == [None] * 5 + ["team-a"]


async def test_the_model_list_needs_a_key_but_is_not_counted(upstream: RunningEmulator) -> None:
    async with serving(upstream) as url:
        assert (await get(url, "/v1/models"))[0] == 401
        for _ in range(5):
            assert (await get(url, "/v1/models", KEY_A))[0] == 200
        assert (await call(url, KEY_A))[0] == 200  # the rpm of 3 is untouched


async def test_a_post_to_no_endpoint_needs_a_key_but_is_not_counted(
    upstream: RunningEmulator,
) -> None:
    async with serving(upstream) as url:
        assert (await call(url, None, path="/v1/nothing"))[0] == 401
        for _ in range(5):
            assert (await call(url, KEY_A, path="/v1/nothing"))[0] == 404
        assert (await call(url, KEY_A))[0] == 200
        _, metrics = await get(url, "/metrics")
    assert 'chatplug_requests_total{key="team-a",model="echo",provider="servertest"} 1.0' in metrics
    assert "http_404" not in metrics and "invalid_api_key" not in metrics


# -- limits --------------------------------------------------------------------------------


async def test_a_key_over_its_rpm_gets_429_with_retry_after_in_the_openai_shape(
    upstream: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, ACCESS)
    async with serving(upstream) as url:
        results = [await call(url, KEY_A) for _ in range(5)]
        other = await call(url, KEY_B)  # limits are per key
    assert [status for status, _, _ in results] == [200, 200, 200, 429, 429]
    _, headers, body = results[3]
    assert 55 <= int(headers["Retry-After"]) <= 60
    assert body["error"]["type"] == "rate_limit_error"
    assert body["error"]["code"] == "key_rate_limit_exceeded"
    assert (
        "'team-a'" in body["error"]["message"]
        and "3 requests per minute" in body["error"]["message"]
    )
    assert other[0] == 200
    refused = [line for line in access_lines(caplog) if line["status"] == 429]
    assert [line["key"] for line in refused] == ["team-a", "team-a"]


async def test_tpm_counts_the_usage_the_plugin_reports(upstream: RunningEmulator) -> None:
    key = ServerKey("team-a", key=KEY_A, tpm=1000)  # each answer reports 600 tokens
    async with serving(upstream, keys=[key]) as url:
        statuses = []
        for _ in range(3):
            statuses.append((await call(url, model="reporting/counted"))[0])
            await asyncio.sleep(0.05)  # the tokens are counted just after the answer
    assert statuses == [200, 200, 429]  # the request that crosses tpm completes


async def test_tpm_estimates_the_tokens_of_a_plugin_that_reports_none(
    upstream: RunningEmulator,
) -> None:
    key = ServerKey("team-a", key=KEY_A, tpm=20)  # about 4 characters a token
    async with serving(upstream, keys=[key]) as url:
        first = await call(url, prompt="x" * 40)  # 10 tokens in, the answer ~20 more
        await asyncio.sleep(0.05)
        second = await call(url)
    assert first[0] == 200 and second[0] == 429


# -- metrics and probes ----------------------------------------------------------------------


async def test_metrics_count_requests_errors_and_tokens_by_key_name(
    upstream: RunningEmulator,
) -> None:
    async with serving(upstream) as url:
        for _ in range(4):
            await call(url, KEY_A, model="reporting/counted")  # the 4th is over the rpm
        await call(url, None)
        await call(url, KEY_B, path="/v1/responses")
        await call(url, KEY_B, prompt="status:500")  # one failure of servertest: its breaker
        status, text = await get(url, "/metrics")
    assert status == 200
    assert 'chatplug_requests_total{key="team-a",model="counted",provider="reporting"} 3.0' in text
    tokens = (
        'chatplug_tokens_total{direction="%s",key="team-a",model="counted",provider="reporting"}'
    )
    assert f"{tokens % 'in'} 1200.0" in text and f"{tokens % 'out'} 600.0" in text
    assert 'error="key_rate_limit_exceeded",key="team-a"' in text
    assert 'error="upstream_http_error",key="team-b",model="-",provider="servertest"' in text
    assert 'error="invalid_api_key",key="-"' in text
    assert 'chatplug_requests_total{key="team-b",model="echo",provider="servertest"} 1.0' in text
    assert 'chatplug_first_chunk_seconds_count{model="counted",provider="reporting"} 3.0' in text
    assert 'chatplug_breaker_failures{provider="servertest"} 1.0' in text
    assert "chatplug_active_streams 0.0" in text
    assert KEY_A not in text and KEY_B not in text


async def test_the_live_probe_answers(upstream: RunningEmulator) -> None:
    async with serving(upstream) as url:
        status, text = await get(url, "/health/live")
    assert status == 200 and json.loads(text)["status"] == "ok"


async def test_the_ready_probe_answers_once_plugins_are_loaded(upstream: RunningEmulator) -> None:
    async with serving(upstream) as url:
        status, text = await get(url, "/health/ready")
    assert status == 200
    assert json.loads(text)["checks"] == {"plugins": {"ok": True, "loaded": 2}}


async def test_the_ready_probe_fails_while_the_configured_redis_is_unreachable(
    upstream: RunningEmulator,
) -> None:
    async with serving(upstream, redis_url=f"redis://127.0.0.1:{free_port()}/0") as url:
        status, text = await get(url, "/health/ready")
        served = await call(url, KEY_A)  # requests are still served (per-process state)
    assert status == 503
    body = json.loads(text)
    assert body["status"] == "unready" and body["checks"]["redis"]["ok"] is False
    assert served[0] == 200


# -- the conversation log ------------------------------------------------------------------


async def test_log_db_keeps_each_exchange_served_with_its_key_name(
    upstream: RunningEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "serve.db"
    async with serving(upstream, log_db=str(path)) as url:
        await call(url, KEY_B, prompt="first")
        await call(url, KEY_A, prompt="second", path="/v1/responses")
    rows = sorted(LogStore(path).latest(10), key=lambda row: row.created_at)
    assert [(row.source, row.key_name, row.provider, row.model) for row in rows] == [
        ("serve", "team-b", "servertest", "echo"),
        ("serve", "team-a", "servertest", "echo"),
    ]
    assert rows[0].answer.startswith("Hello from echo: first")
    assert rows[0].messages == [{"role": "user", "content": "first"}]
    assert rows[0].usage_estimated and rows[0].output_tokens
    assert rows[0].first_chunk_ms is not None and rows[0].error_type is None


async def test_log_db_keeps_the_partial_text_of_a_failed_answer(
    upstream: RunningEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "serve.db"
    async with serving(upstream, log_db=str(path)) as url:
        async with streaming(url, "break-after:2") as response:
            assert response.status == 200
            await response.read()
    (row,) = LogStore(path).latest(10)
    assert row.answer == "piece0 piece1 " and row.error_type and row.key_name == "team-b"


async def test_log_db_and_metrics_record_a_client_that_went_away(
    upstream: RunningEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "serve.db"
    async with serving(upstream, log_db=str(path)) as url:
        async with streaming(url, "forever:operations") as response:
            await response.content.readuntil(b"tick")  # then hang up
        await wait_upstream_closed(upstream, "operations")
        _, metrics = await get(url, "/metrics")
    (row,) = LogStore(path).latest(10)
    assert row.error_type == "ClientClosedError" and row.answer.startswith("tick")
    assert 'error="client_closed",key="team-b"' in metrics


async def test_log_db_records_the_reported_usage(upstream: RunningEmulator, tmp_path: Path) -> None:
    path = tmp_path / "serve.db"
    async with serving(upstream, log_db=str(path)) as url:
        await call(url, KEY_B, model="reporting/counted")
    (row,) = LogStore(path).latest(10)
    assert (row.input_tokens, row.output_tokens, row.usage_estimated) == (400, 200, False)


# -- settings --------------------------------------------------------------------------------


def test_the_redis_url_flag_beats_the_environment_which_beats_the_file() -> None:
    config = Config.from_dict({"server": {"redis_url": "redis://file:6379"}})
    env = {"CHATPLUG_REDIS_URL": "redis://env:6379"}

    def resolve(flag: Optional[str], environ: Dict[str, str]) -> Optional[str]:
        return OperationsSettings.resolve(redis_url=flag, environ=environ, config=config).redis_url

    assert resolve("redis://flag:6379", env) == "redis://flag:6379"
    assert resolve(None, env) == "redis://env:6379"
    assert resolve(None, {}) == "redis://file:6379"
    assert OperationsSettings.resolve(environ={}, config=Config()).redis_url is None


def test_the_log_db_flag_beats_the_environment() -> None:
    env = {"CHATPLUG_SERVER_LOG_DB": "/tmp/env.db"}
    assert OperationsSettings.resolve(
        log_db="/tmp/flag.db", environ=env, config=Config()
    ).log_db == ("/tmp/flag.db")
    assert OperationsSettings.resolve(environ=env, config=Config()).log_db == "/tmp/env.db"
    assert OperationsSettings.resolve(environ={}, config=Config()).log_db is None
