"""``chatplug serve`` puts a provider behind a self-hosted mirror by configuration alone."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from chatplug import Registry
from chatplug.testing import write_distribution

PLUGIN_SOURCE = """
from chatplug import ModelInfo, hookimpl, open_stream

CHATPLUG_SETTINGS = {"api_key_env": str}

@hookimpl
def list_models():
    return [ModelInfo("small", "cfgecho", default=True)]

@hookimpl
async def stream_completion(request, session):
    url = request.url("http://127.0.0.1:9", "/chat")
    body = {"model": request.model, "options": dict(request.options)}
    async with open_stream(session, request, "POST", url, json=body) as response:
        async for chunk in response.content.iter_any():
            yield chunk.decode()
"""


def install_plugin(site: Path) -> None:
    """``chatplug_cfgecho`` as an installed distribution (module + dist-info) in ``site``."""
    write_distribution(
        site,
        "chatplug-cfgecho",
        {"chatplug.providers": {"cfgecho": "chatplug_cfgecho"}},
        version="1.0",
        modules={"chatplug_cfgecho": textwrap.dedent(PLUGIN_SOURCE)},
    )


async def _read_listening(process: Any) -> str:
    assert process.stderr is not None
    seen = []
    while True:
        line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
        if not line:
            raise AssertionError("chatplug serve exited: " + "".join(seen))
        seen.append(line)
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return found.group(1)


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await serve(env)`` runs ``chatplug serve --port 0`` and returns its URL."""
    processes = []

    async def start(env: Dict[str, str]) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chatplug",
            "serve",
            "--port",
            "0",
            "--no-access-log",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        processes.append(process)
        return await _read_listening(process)

    yield start
    for process in processes:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()


async def test_chatplug_serve_takes_a_providers_base_url_from_the_file(
    tmp_path: Path, upstreams: Any, serve: Any, isolated_env: Path
) -> None:
    mirror = await upstreams("mirror")
    install_plugin(tmp_path / "site")
    isolated_env.write_text(
        f'[providers.cfgecho]\nbase_url = "{mirror.url}/v1"\noptions = {{temperature = 0.3}}\n'
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")]),
        "CHATPLUG_PLUGINS": "cfgecho",
        "CHATPLUG_CONFIG": str(isolated_env),
    }
    env.pop("CHATPLUG_API_KEY", None)
    url = await serve(env)
    body = {"model": "cfgecho/small", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v1/chat/completions", json=body) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
    assert answer["choices"][0]["message"]["content"] == "mirror|/v1/chat|small"
    assert mirror.requests[0]["body"]["options"]["temperature"] == 0.3


async def test_create_app_serves_a_virtual_provider_from_the_file(
    registry: Registry,
    upstreams: Any,
    write_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatplug.server import create_app

    monkeypatch.delenv("CHATPLUG_API_KEY", raising=False)
    mirror = await upstreams("self-hosted")
    write_config(
        f'[providers.mirror]\nplugin = "echo"\nbase_url = "{mirror.url}"\nmodels = ["m7"]\n'
    )
    app = create_app(registry=registry, api_key="", access_log=False)
    async with TestClient(TestServer(app)) as client:
        models = await (await client.get("/v1/models")).json()
        assert "mirror/m7" in {item["id"] for item in models["data"]}
        body = {"model": "mirror/m7", "messages": [{"role": "user", "content": "hi"}]}
        response = await client.post("/v1/chat/completions", json=body)
        assert response.status == 200, await response.text()
        answer = await response.json()
    assert answer["choices"][0]["message"]["content"] == "self-hosted|/chat|m7"
