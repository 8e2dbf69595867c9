"""Fixtures: the emulator, a scripted upstream, a forward HTTP proxy, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional

import aiohttp
import pytest
from aiohttp import web
from chatplug import CompletionRequest, Registry, Timeout
from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.testing import ForwardProxy
from chatplug_aichatonline import CHAT_PATH, UNIQUE_ID_PATH, stream_completion
from chatplug_aichatonline.emulator import create_app
from multidict import CIMultiDict

RunHook = Callable[..., Awaitable[List[str]]]


@pytest.fixture
def registry() -> Registry:
    """Only this plugin, whatever else is installed in the environment."""
    return Registry(enabled=["aichatonline"])


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(create_app()) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def make_request(
    prompt: str = "hi", *, base_url: Optional[str] = None, proxy: Optional[str] = None
) -> CompletionRequest:
    return CompletionRequest(
        provider="aichatonline",
        model="gpt-4o-mini",
        messages=({"role": "user", "content": prompt},),
        prompt=prompt,
        proxy=proxy,
        base_url=base_url,
        timeout=Timeout(connect=10, first_byte=30, idle=30, total=60),
    )


@pytest.fixture(name="make_request")
def make_request_fixture() -> Callable[..., CompletionRequest]:
    return make_request


@pytest.fixture
def run_hook(session: aiohttp.ClientSession) -> RunHook:
    """Call the plugin's ``stream_completion`` directly (no core retries) and collect its text."""

    async def run(
        base_url: Optional[str],
        prompt: str = "hi",
        *,
        proxy: Optional[str] = None,
        on: Optional[aiohttp.ClientSession] = None,
    ) -> List[str]:
        request = make_request(prompt, base_url=base_url, proxy=proxy)
        items = [item async for item in stream_completion(request, on or session)]
        return [item for item in items if isinstance(item, str)]

    return run


@dataclass
class Script:
    """A scripted upstream: getUniqueId and chat answer exactly what the test sets."""

    chunks: List[bytes] = field(
        default_factory=lambda: [b'{"data":{"message":"Hi"}}\n', b'{"data":{"message":"!"}}\n']
    )
    status: int = 200
    body: bytes = b""
    headers: Dict[str, str] = field(default_factory=dict)
    id_status: int = 200
    id_body: bytes = b'{"code":200,"data":"id-1"}'
    #: chat answers 401 to these ids (before looking at ``status``)
    rejected_ids: List[str] = field(default_factory=list)
    #: cut the connection after the chunks instead of ending the body properly
    cut: bool = False
    gets: int = 0
    posts: List[Dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(UNIQUE_ID_PATH, self._unique_id)
        app.router.add_post(CHAT_PATH, self._chat)
        return app

    async def _unique_id(self, request: web.Request) -> web.Response:
        self.gets += 1
        return web.Response(
            status=self.id_status, body=self.id_body, content_type="application/json"
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.posts.append({"headers": CIMultiDict(request.headers), "body": await request.json()})
        if request.headers.get("UniqueId") in self.rejected_ids:
            return web.json_response({"code": 401, "message": "UniqueId expired"}, status=401)
        if self.status != 200:
            return web.Response(status=self.status, body=self.body, headers=self.headers)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        if self.cut:
            response.content_length = sum(map(len, self.chunks)) + 1000
        await response.prepare(request)
        for chunk in self.chunks:
            await response.write(chunk)
        if self.cut:
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[Script]:
    script = Script()
    async with run_emulator(script.app()) as running:
        script.url = running.url
        yield script


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    """The core's recording forward proxy on 127.0.0.1."""
    async with ForwardProxy() as forward:
        yield forward


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``check`` until it holds (generous: the test machine is shared and slow)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[bool]]:
    return eventually
