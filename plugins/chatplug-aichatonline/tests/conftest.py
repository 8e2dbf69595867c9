"""Fixtures: this plugin's emulator, a scripted upstream answering both endpoints, and
direct calls of the plugin's hook.  The rest comes from the kit: ``registry`` and the
polling ``wait_for`` (``chatplug.testing.plugin_fixtures``), ``scripted_upstream`` and
``forward_proxy`` (the kit's pytest fixtures), all on 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional

import aiohttp
import pytest
from chatplug import CompletionRequest, Timeout
from chatplug.emulation import RunningEmulator
from chatplug.testing import (
    RecordedRequest,
    Reply,
    ScriptedUpstream,
    completion_request,
    plugin_fixtures,
)
from chatplug_aichatonline import CHAT_PATH, UNIQUE_ID_PATH, stream_completion
from chatplug_aichatonline.emulator import create_app

RunHook = Callable[..., Awaitable[List[str]]]
TIMEOUT = Timeout(connect=10, first_byte=30, idle=30, total=60)

kit = plugin_fixtures("aichatonline", create_app)
registry, start_emulator, wait_for = kit.registry, kit.emulator, kit.wait_until


@pytest.fixture
async def emulator(start_emulator: Callable[..., Awaitable[RunningEmulator]]) -> RunningEmulator:
    """The healthy emulator, running for the test."""
    return await start_emulator()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def make_request(prompt: str = "hi", **fields: Any) -> CompletionRequest:
    """A request of one user message (``fields``: ``base_url``, ``proxy``...)."""
    messages = [{"role": "user", "content": prompt}]
    return completion_request(
        messages=messages, provider="aichatonline", model="gpt-4o-mini", timeout=TIMEOUT, **fields
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


NDJSON = {"Content-Type": "application/x-ndjson"}


@dataclass
class Script:
    """A scripted upstream's answers, set by each test: getUniqueId, then chat.

    Served by the kit's ``ScriptedUpstream`` (``server``), which records every request.
    """

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
    server: Optional[ScriptedUpstream] = None

    def __call__(self, request: RecordedRequest) -> Reply:
        route = (request.method, request.path)
        if route == ("GET", UNIQUE_ID_PATH):
            headers = {"Content-Type": "application/json"}
            return Reply(self.id_status, [self.id_body], headers, framing="length")
        if route != ("POST", CHAT_PATH):
            return Reply.error(404)
        if request.headers.get("uniqueid") in self.rejected_ids:
            return Reply.json({"code": 401, "message": "UniqueId expired"}, status=401)
        if self.status != 200:
            return Reply(self.status, [self.body], self.headers, framing="length")
        if self.cut:  # a Content-Length longer than what is sent, then the connection closes
            return Reply(
                chunks=self.chunks,
                headers=NDJSON,
                framing="length",
                content_length=sum(map(len, self.chunks)) + 1000,
                end="close",
            )
        return Reply(chunks=self.chunks, headers=NDJSON)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def _requests(self, path: str) -> List[RecordedRequest]:
        assert self.server is not None
        return [request for request in self.server.requests if request.path == path]

    @property
    def gets(self) -> int:
        return len(self._requests(UNIQUE_ID_PATH))

    @property
    def posts(self) -> List[RecordedRequest]:
        return self._requests(CHAT_PATH)


@pytest.fixture
def upstream(scripted_upstream: Callable[..., ScriptedUpstream]) -> Script:
    script = Script()
    script.server = scripted_upstream(handler=script)
    return script
