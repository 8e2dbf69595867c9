"""Fault injection: a scripted upstream relaying the plugin's requests to its emulator.

The relay forwards every request to the emulator and may alter the emulator's answer to
the streaming request (the last request of a completion is taken as the streaming one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, List, Optional, Tuple

from .answers import respond
from .subject import PROXY_HEADER, ConformanceFailure, Subject

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

    from ...client import AsyncClient
    from ...emulation import RunningEmulator
    from ...stream import Completion
    from ..upstream import RecordedRequest, Reply, ScriptedUpstream

Alter = Callable[["RecordedRequest", "Reply"], "Reply"]
#: headers that belong to one hop, not to the relayed message
HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass
class Altered:
    """What a check runs with while the streaming reply is altered: a client, the base URL
    that reaches the emulator through the relay, the relay's upstream and the emulator."""

    client: "AsyncClient"
    base_url: str
    upstream: "ScriptedUpstream"
    emulator: "RunningEmulator"


Body = Callable[[Altered], Awaitable[None]]


class Recorder:
    """Counts the requests an emulator app received (and whether they came via the proxy)."""

    def __init__(self) -> None:
        self.requests: List[Tuple[str, str, bool]] = []

    def install(self, app: "web.Application") -> "web.Application":
        from aiohttp import web

        @web.middleware
        async def record(request: web.Request, handler: Any) -> Any:
            self.requests.append((request.method, request.path_qs, PROXY_HEADER in request.headers))
            return await handler(request)

        app.middlewares.append(record)
        return app


class Relay:
    """A scripted-upstream handler forwarding every request to an emulator.

    ``alter(request, reply)`` may change the emulator's reply (for the streaming request).
    ``prefix``: the path prefix expected in front of every request (stripped).
    """

    def __init__(
        self,
        target: str,
        *,
        prefix: str = "",
        alter: Optional[Alter] = None,
        stream_key: Optional[Tuple[str, str]] = None,
    ) -> None:
        self.target = target.rstrip("/")
        self.prefix = prefix
        self.alter = alter
        self.stream_key = stream_key
        self.exchanges: List[Tuple["RecordedRequest", "Reply"]] = []
        self.outside: List[str] = []
        self.altered = 0

    async def __call__(self, request: "RecordedRequest") -> "Reply":
        import aiohttp

        from ..upstream import LENGTH, Reply

        target = request.target
        if self.prefix:
            if not target.startswith(self.prefix + "/"):
                self.outside.append(request.target)
                return Reply.error(404, f"not under the base URL's path {self.prefix}")
            target = target[len(self.prefix) :]
        headers = [(k, v) for k, v in request.raw_headers if k.lower() not in HOP_HEADERS]
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            async with session.request(
                request.method,
                self.target + target,
                headers=headers,
                data=request.body or None,
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            ) as response:
                body = await response.read()
                kept = {
                    k: v
                    for k, v in response.headers.items()
                    if k.lower() not in HOP_HEADERS and k.lower() not in ("date", "server")
                }
                status = response.status
        reply = Reply(status=status, chunks=[body] if body else [], headers=kept, framing=LENGTH)
        self.exchanges.append((request, reply))
        if self.alter is not None and status < 400 and self.stream_key == request_key(request):
            self.altered += 1
            return self.alter(request, reply)
        return reply


def request_key(request: "RecordedRequest") -> Tuple[str, str]:
    return (request.method.upper(), request.path)


def base_path(emulator: "RunningEmulator") -> str:
    """The path part of the emulator's base URL (e.g. ``/v1``)."""
    return emulator.url[len(emulator.root) :]


@dataclass
class Reference:
    """One completion relayed to the emulator unaltered: the streaming request's key, the
    emulator's reply to it, and the answer the plugin made of it."""

    key: Tuple[str, str]
    reply: "Reply"
    completion: "Completion"


async def reference_exchange(subject: Subject, what: str) -> Reference:
    """Relay one completion to the emulator; the last request is the streaming one."""
    from ...emulation import run_emulator
    from ..upstream import ScriptedUpstream

    async with run_emulator(subject.app()) as emulator:
        relay = Relay(emulator.root)
        async with ScriptedUpstream(handler=relay) as upstream:
            async with subject.client() as client:
                base_url = upstream.url + base_path(emulator)
                completion = await respond(
                    client, subject, what + " (relaying to the emulator)", base_url=base_url
                )
    if not relay.exchanges:
        raise ConformanceFailure(f"{what}: the plugin sent no request to the base_url it was given")
    request, reply = relay.exchanges[-1]
    return Reference(request_key(request), reply, completion)


async def find_stream_key(subject: Subject, what: str) -> Tuple[str, str]:
    """The method and path of the streaming request (see :func:`reference_exchange`)."""
    return (await reference_exchange(subject, what)).key


async def with_altered_stream(
    subject: Subject,
    alter: Alter,
    body: Body,
    what: str,
    key: Optional[Tuple[str, str]] = None,
) -> None:
    """Run ``body(Altered(...))`` with the streaming reply altered by ``alter`` (``key``:
    the streaming request, when a :func:`reference_exchange` already found it)."""
    from ...emulation import run_emulator
    from ..upstream import ScriptedUpstream

    if key is None:
        key = await find_stream_key(subject, what)
    async with run_emulator(subject.app()) as emulator:
        relay = Relay(emulator.root, alter=alter, stream_key=key)
        async with ScriptedUpstream(handler=relay) as upstream:
            async with subject.client() as client:
                await body(Altered(client, upstream.url + base_path(emulator), upstream, emulator))
            if not relay.altered:
                raise ConformanceFailure(
                    f"{what}: the plugin did not repeat the request {key[0]} {key[1]} that "
                    "streamed its first answer, so the fault could not be injected"
                )
