"""``--api-key`` / ``CHATPLUG_API_KEY`` and the refusal to listen publicly without one."""

from __future__ import annotations

import subprocess
from typing import Dict, Iterator, Optional

import aiohttp
import openai
import pytest
from chatplug.emulation import RunningEmulator
from server_harness import ServerProcess, serve_args, start_server

KEY = "sk-test-0123456789"
BODY = {"model": "servertest/echo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def keyed_server(plugin_env: Dict[str, str], upstream: RunningEmulator) -> Iterator[ServerProcess]:
    env = dict(plugin_env, CHATPLUG_API_KEY=KEY)  # the key from the environment
    process = start_server(env, upstream)
    yield process
    process.stop()


async def status_of(
    url: str, method: str = "POST", path: str = "/v1/chat/completions", auth: Optional[str] = None
) -> int:
    headers = {"Authorization": auth} if auth is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url + path, json=BODY, headers=headers) as response:
            if response.status == 401:
                error = (await response.json())["error"]
                assert error["code"] == "invalid_api_key"
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
            return response.status


async def test_request_without_a_key_is_401(keyed_server: ServerProcess) -> None:
    assert await status_of(keyed_server.url or "") == 401


async def test_request_with_a_wrong_key_is_401(keyed_server: ServerProcess) -> None:
    assert await status_of(keyed_server.url or "", auth=f"Bearer {KEY}x") == 401


async def test_request_with_a_non_bearer_scheme_is_401(keyed_server: ServerProcess) -> None:
    assert await status_of(keyed_server.url or "", auth=f"Basic {KEY}") == 401


async def test_model_list_needs_the_key_too(keyed_server: ServerProcess) -> None:
    assert await status_of(keyed_server.url or "", "GET", "/v1/models") == 401
    assert await status_of(keyed_server.url or "", "GET", "/v1/models", f"Bearer {KEY}") == 200


async def test_request_with_the_key_is_served(keyed_server: ServerProcess) -> None:
    assert await status_of(keyed_server.url or "", auth=f"Bearer {KEY}") == 200


async def test_health_needs_no_key(keyed_server: ServerProcess) -> None:
    assert await status_of(keyed_server.url or "", "GET", "/health") == 200


def test_openai_sdk_with_the_key_works(keyed_server: ServerProcess) -> None:
    with openai.OpenAI(base_url=f"{keyed_server.url}/v1", api_key=KEY, max_retries=0) as client:
        completion = client.chat.completions.create(**BODY)  # type: ignore[call-overload]
    assert completion.choices[0].message.content.startswith("Hello from echo")


def test_openai_sdk_with_a_wrong_key_raises_authentication_error(
    keyed_server: ServerProcess,
) -> None:
    with (
        openai.OpenAI(base_url=f"{keyed_server.url}/v1", api_key="wrong", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.models.list()


def test_public_address_without_a_key_is_refused(plugin_env: Dict[str, str]) -> None:
    result = subprocess.run(
        serve_args("--host", "0.0.0.0", "--port", "0"),
        env=plugin_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--insecure-public" in result.stderr
    assert "listening" not in result.stderr


def test_public_address_with_insecure_public_starts(
    plugin_env: Dict[str, str], upstream: RunningEmulator
) -> None:
    process = start_server(plugin_env, upstream, "--host", "0.0.0.0", "--insecure-public")
    try:
        assert any("without authentication" in line for line in process.lines)
    finally:
        assert process.stop() == 0


def test_public_address_with_a_key_starts(
    plugin_env: Dict[str, str], upstream: RunningEmulator
) -> None:
    process = start_server(plugin_env, upstream, "--host", "0.0.0.0", "--api-key", KEY)
    assert process.stop() == 0
