"""A forward HTTP proxy on 127.0.0.1 that records what goes through it.

``with ForwardProxy() as proxy:`` (or ``async with``) then pass ``proxy=proxy.url`` to the
client; ``proxy.requests`` lists every :class:`ProxiedRequest` (``method``, ``url``: the
absolute URL, or ``host:port`` for ``CONNECT``; ``headers``).  Plain ``http://`` requests
are forwarded (one request per connection, ``Connection: close``); ``CONNECT`` is
tunnelled.  ``add_headers`` are added to every forwarded request.  The proxy only ever
connects to loopback addresses unless ``allow_any=True``.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from ._server import LoopbackServer

MAX_HEAD = 64 * 1024


@dataclass
class ProxiedRequest:
    """One request the proxy received."""

    method: str
    url: str
    headers: Dict[str, str]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ForwardProxy(LoopbackServer):
    """A minimal forward proxy (absolute-form requests and CONNECT tunnels)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_any: bool = False,
        add_headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        super().__init__(host, port)
        self.allow_any = allow_any
        self.add_headers = dict(add_headers or {})
        self.requests: List[ProxiedRequest] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        lines = head[:-4].decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await self._refuse(writer, 400, "bad request line")
            return
        headers: List[Tuple[str, str]] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        self.requests.append(ProxiedRequest(method, target, {n.lower(): v for n, v in headers}))
        if method.upper() == "CONNECT":
            tunnel_host, _, tunnel_port = target.rpartition(":")
            await self._tunnel(reader, writer, tunnel_host, int(tunnel_port or 443))
            return
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            await self._refuse(writer, 400, f"not an absolute http URL: {target}")
            return
        upstream = await self._connect(writer, parts.hostname, parts.port or 80)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        skip = {"proxy-connection", "proxy-authorization", "connection", "keep-alive"}
        out = [f"{method} {path} {version}"]
        out += [f"{name}: {value}" for name, value in headers if name.lower() not in skip]
        out += [f"{name}: {value}" for name, value in self.add_headers.items()]
        out.append("Connection: close")
        up_writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        upload = asyncio.ensure_future(self._pipe(reader, up_writer))
        try:
            try:
                response_head = await up_reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                await self._refuse(writer, 502, "the upstream closed without answering")
                return
            writer.write(self._close_connection(response_head))
            await writer.drain()
            await self._pipe(up_reader, writer, graceful=True)
        finally:
            upload.cancel()
            up_writer.transport.abort()

    @staticmethod
    def _close_connection(head: bytes) -> bytes:
        lines = head[:-4].split(b"\r\n")
        kept = [lines[0]] + [
            line
            for line in lines[1:]
            if line.split(b":", 1)[0].strip().lower() not in (b"connection", b"keep-alive")
        ]
        kept.append(b"Connection: close")
        return b"\r\n".join(kept) + b"\r\n\r\n"

    async def _connect(
        self, writer: asyncio.StreamWriter, host: str, port: int
    ) -> Optional[Tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """Connect to the target, or answer the client with the reason and return ``None``."""
        if not (self.allow_any or _is_loopback(host)):
            await self._refuse(writer, 403, f"the test proxy only reaches loopback, not {host}")
            return None
        try:
            return await asyncio.open_connection(host, port)
        except OSError as error:
            await self._refuse(writer, 502, f"cannot connect to {host}:{port}: {error}")
            return None

    async def _tunnel(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
    ) -> None:
        upstream = await self._connect(writer, host, port)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        upload = asyncio.ensure_future(self._pipe(reader, up_writer))
        try:
            await self._pipe(up_reader, writer, graceful=True)
        finally:
            upload.cancel()
            up_writer.transport.abort()

    @staticmethod
    async def _pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, graceful: bool = False
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if graceful:  # flush what is buffered, then close
                writer.close()
            else:
                writer.transport.abort()

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, status: int, message: str) -> None:
        body = message.encode()
        writer.write(
            b"HTTP/1.1 %d Proxy Error\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, len(body), body)
        )
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass

    def urls(self) -> List[str]:
        """The URLs (or ``host:port`` tunnels) requested through the proxy."""
        return [request.url for request in self.requests]

    def hosts(self) -> List[Optional[str]]:
        return [urlsplit(url).netloc if "://" in url else url for url in self.urls()]
