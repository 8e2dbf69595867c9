"""``create_app`` in-process (caller-owned client, settings from the environment) and
``chatplug serve`` options (port in use, --loop)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict

import aiohttp
import chatplug_servertest
import openai
import pytest
from aiohttp import web
from chatplug import AsyncClient, Registry, RetryPolicy
from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.server import ServerSettings, create_app
from chatplug.server.app import DEFAULT_RETRIES, STATE, server_retry
from server_harness import start_server


async def serve_app(app: web.Application) -> "tuple[web.AppRunner, str]":
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def test_app_uses_and_leaves_open_a_caller_owned_client() -> None:
    registry = Registry(discover=False)
    registry.register("servertest", chatplug_servertest)
    async with run_emulator(chatplug_servertest.emulator()) as upstream:
        client = AsyncClient(
            registry=registry, base_urls={"servertest": upstream.url}, config=False
        )
        async with client:
            runner, url = await serve_app(create_app(client, api_key="", access_log=False))
            try:
                async with aiohttp.ClientSession() as session:
                    body = {"model": "echo", "messages": [{"role": "user", "content": "hey"}]}
                    async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                        assert response.status == 200
                        answer = await response.json()
                    async with session.get(f"{url}/v1/models") as response:
                        ids = {model["id"] for model in (await response.json())["data"]}
            finally:
                await runner.cleanup()
            assert answer["choices"][0]["message"]["content"].startswith("Hello from echo: hey")
            assert ids == {"servertest/echo", "servertest/other", "echo", "other"}
            session = client._session
            assert session is not None and not session.closed  # the app left it open


def test_settings_come_from_the_environment() -> None:
    settings = ServerSettings.from_env(
        {
            "CHATPLUG_API_KEY": "k",
            "CHATPLUG_SERVER_TIMEOUT": "2.5",
            "CHATPLUG_SERVER_RETRIES": "0",
            "CHATPLUG_SERVER_MAX_BODY": "2048",
            "CHATPLUG_SERVER_ACCESS_LOG": "off",
        }
    )
    assert settings == ServerSettings(
        api_key="k", timeout=2.5, retries=0, max_body=2048, access_log=False
    )


def test_invalid_environment_setting_names_the_variable() -> None:
    with pytest.raises(ValueError, match="CHATPLUG_SERVER_TIMEOUT"):
        ServerSettings.from_env({"CHATPLUG_SERVER_TIMEOUT": "soon"})


async def test_api_key_from_the_environment_protects_create_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATPLUG_API_KEY", "from-env")
    registry = Registry(discover=False)
    registry.register("servertest", chatplug_servertest)
    runner, url = await serve_app(create_app(registry=registry, access_log=False))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/v1/models") as response:
                assert response.status == 401
            headers = {"Authorization": "Bearer from-env"}
            async with session.get(f"{url}/v1/models", headers=headers) as response:
                assert response.status == 200
    finally:
        await runner.cleanup()


def test_port_in_use_exits_1_with_a_message(plugin_env: Dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "chatplug", "serve", "--port", str(port)],
            env=plugin_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_serve_on_uvloop_answers(plugin_env: Dict[str, str], upstream: RunningEmulator) -> None:
    pytest.importorskip("uvloop")
    process = start_server(plugin_env, upstream, "--loop", "uvloop")
    try:
        with openai.OpenAI(base_url=f"{process.url}/v1", api_key="x", max_retries=0) as client:
            completion = client.chat.completions.create(
                model="servertest/echo", messages=[{"role": "user", "content": "hi"}]
            )
        assert completion.choices[0].message.content.startswith("Hello from echo")
    finally:
        assert process.stop() == 0


async def started_client_retry(monkeypatch: pytest.MonkeyPatch, config: str) -> RetryPolicy:
    """The retry policy of the client an app creates on startup, under ``config``."""
    monkeypatch.setenv("CHATPLUG_CONFIG", config)
    registry = Registry(discover=False)
    registry.register("servertest", chatplug_servertest)
    app = create_app(registry=registry, api_key="", access_log=False)
    runner, _ = await serve_app(app)
    try:
        client = app[STATE].client
        assert client is not None
        return client.retry
    finally:
        await runner.cleanup()


async def test_the_server_retry_policy_applies_when_nothing_configures_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert await started_client_retry(monkeypatch, "") == server_retry(DEFAULT_RETRIES)


async def test_the_configured_retry_beats_the_server_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "chatplug.toml"
    path.write_text("[defaults.retry]\nattempts = 6\n")
    assert (await started_client_retry(monkeypatch, str(path))).attempts == 6
