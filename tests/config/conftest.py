"""Fixtures for the configuration tests: an in-test provider plugin, labelled upstreams on
127.0.0.1 (the kit's ScriptedUpstream), a minimal SOCKS5 server and a fake HTTP proxy, and
an isolated environment."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, ClassVar, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import pytest
from chatplug import ModelInfo, Registry, hookimpl, open_stream
from chatplug.testing import RecordedRequest, Reply, ScriptedUpstream

PROXY_VARIABLES = (
    "CHATPLUG_PROXY",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
    "no_proxy",
)
PLUGIN_DEFAULT_URL = "http://127.0.0.1:9"  # discard port: never answers


class EchoPlugin:
    """A provider plugin written against the public contract: POSTs to ``{base}/chat`` and
    streams the body's text; records every request it gets."""

    CHATPLUG_SETTINGS: ClassVar[Dict[str, type]] = {"api_key_env": str, "greeting": str}

    def __init__(self, name: str = "echo") -> None:
        self.name = name
        self.requests: List[Any] = []

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo("small", self.name, default=True), ModelInfo("large", self.name)]

    @hookimpl
    async def stream_completion(self, request: Any, session: Any) -> AsyncIterator[str]:
        self.requests.append(request)
        body = {"model": request.model, "options": dict(request.options)}
        url = request.url(PLUGIN_DEFAULT_URL, "/chat")
        async with open_stream(session, request, "POST", url, json=body) as response:
            async for chunk in response.content.iter_any():
                yield chunk.decode()


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No proxy variables, no base-URL variables, and a config file path of our own."""
    import os

    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("CHATPLUG_") and name.endswith("_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHATPLUG_PLUGINS", raising=False)
    path = tmp_path / "chatplug.toml"
    monkeypatch.setenv("CHATPLUG_CONFIG", str(path))
    return path


@pytest.fixture
def write_config(isolated_env: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        isolated_env.write_text(text)
        return isolated_env

    return write


@pytest.fixture
def plugin() -> EchoPlugin:
    return EchoPlugin("echo")


@pytest.fixture
def make_plugin() -> Callable[[str], EchoPlugin]:
    return EchoPlugin


@pytest.fixture
def registry(plugin: EchoPlugin) -> Registry:
    registry = Registry(discover=False, enabled=None)
    registry.register("echo", plugin)
    return registry


class Upstream:
    """A labelled upstream (the kit's :class:`ScriptedUpstream`): answers
    ``<label>|<path>|<model>`` and records each request as ``url``, ``headers``, ``body``."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.server = ScriptedUpstream(handler=self._reply)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> List[Dict[str, Any]]:
        return [
            {
                "url": request.target if "://" in request.target else self.url + request.target,
                "headers": dict(request.raw_headers),
                "body": request.json(),
            }
            for request in self.server.requests
        ]

    def _reply(self, request: RecordedRequest) -> Reply:
        path = urlsplit(request.target).path  # an HTTP proxy gets the absolute URL
        return Reply.text(f"{self.label}|{path}|{request.json()['model']}")


@pytest.fixture
async def upstreams() -> AsyncIterator[Callable[[str], Any]]:
    """``await upstreams("file")`` starts an upstream answering ``file|<path>|<model>``."""
    started: List[Upstream] = []

    async def start(label: str) -> Upstream:
        upstream = Upstream(label)
        await upstream.server.start()
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        await upstream.server.stop()


# a minimal SOCKS5 server (RFC 1928 CONNECT, RFC 1929 username/password) ----------------


@dataclass
class Socks5Server:
    """SOCKS5 on 127.0.0.1; ``hosts`` maps names it resolves itself (like a remote DNS)."""

    username: Optional[str] = None
    password: Optional[str] = None
    hosts: Dict[str, str] = field(default_factory=dict)
    port: int = 0
    connects: List[Tuple[str, str, int]] = field(default_factory=list)  # (atyp, host, port)
    auth_failures: int = 0
    _server: Optional[asyncio.AbstractServer] = None
    _tasks: List["asyncio.Task[None]"] = field(default_factory=list)

    def url(self, scheme: str = "socks5h", credentials: Optional[str] = None) -> str:
        auth = f"{credentials}@" if credentials else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    async def start(self) -> "Socks5Server":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in self._tasks:
            task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        assert version == 5
        wanted = 0x02 if self.username is not None else 0x00
        if wanted not in methods:
            writer.write(b"\x05\xff")
            return
        writer.write(bytes([5, wanted]))
        if wanted == 0x02:
            _, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            (plen,) = await reader.readexactly(1)
            password = (await reader.readexactly(plen)).decode()
            ok = user == self.username and password == self.password
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                self.auth_failures += 1
                return
        _, command, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
            kind = "ipv4"
        elif atyp == 3:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode()
            kind = "domain"
        else:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
            kind = "ipv6"
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        self.connects.append((kind, host, port))
        target = self.hosts.get(host, host)
        if command != 1:
            writer.write(b"\x05\x07\x00\x01" + socket.inet_aton("0.0.0.0") + b"\x00\x00")
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(target, port)
        except OSError:
            writer.write(b"\x05\x05\x00\x01" + socket.inet_aton("0.0.0.0") + b"\x00\x00")
            return
        writer.write(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0))
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def socks5() -> AsyncIterator[Callable[..., Any]]:
    """``await socks5(username=..., password=..., hosts={...})`` starts a SOCKS5 server."""
    servers: List[Socks5Server] = []

    async def start(**kwargs: Any) -> Socks5Server:
        server = await Socks5Server(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def http_proxy() -> AsyncIterator[Upstream]:
    """A fake HTTP proxy: it answers ``proxy|...`` itself and records the absolute-form URL
    (and ``Proxy-Authorization``) of every request aiohttp sends through it."""
    upstream = Upstream("proxy")
    async with upstream.server:
        yield upstream
