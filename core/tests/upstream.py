"""A local SSE upstream on 127.0.0.1 for the core's tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

from aiohttp import web
from chatplug.emulation import write_awkwardly

REPLY = ["Héllo", ", ", "wörld ", "✓ "]


def expected(prompt: str) -> str:
    """The answer :class:`Upstream` streams for ``prompt`` (with the echo plugin)."""
    return "".join(REPLY) + prompt


class Upstream:
    """Streams ``REPLY`` plus the prompt as SSE; records requests and peers."""

    def __init__(self, *, pieces: List[str] | None = None, delay: float = 0.0) -> None:
        self.pieces = pieces if pieces is not None else REPLY
        self.delay = delay
        self.requests: List[Dict[str, Any]] = []
        self.peers: List[Any] = []
        self._closed_early: asyncio.Event | None = None
        self.app = web.Application()
        self.app.router.add_post("/chat", self.chat)

    @property
    def closed_early(self) -> asyncio.Event:
        """Set when the client hung up mid-stream (created in the server's loop: Python 3.9)."""
        if self._closed_early is None:
            self._closed_early = asyncio.Event()
        return self._closed_early

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(
            {"body": body, "headers": dict(request.headers), "path": request.path_qs}
        )
        self.peers.append(
            request.transport.get_extra_info("peername") if request.transport else None
        )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        pieces = [*self.pieces, body["prompt"]]
        data = b"".join(
            b"data: " + json.dumps({"text": piece}, ensure_ascii=False).encode() + b"\n\n"
            for piece in pieces
        )
        try:
            await write_awkwardly(response, data, delay=self.delay)
            await response.write(b"data: [DONE]\n\n")
        except ConnectionResetError:  # the client hung up: what some tests wait for
            self.closed_early.set()
            return response
        except asyncio.CancelledError:
            self.closed_early.set()
            raise
        return response
