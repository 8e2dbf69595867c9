"""A fast local upstream for benchmarks: pre-encoded SSE bodies written as fast as possible.

Run as a separate process (``python bench/upstream.py PORT``) so that the client side is
measured alone.  It answers any POST (Vitalentum's ``/api/converse-edge`` and OpenAI's
``/v1/chat/completions`` alike) with N OpenAI-style chunk events then ``data: [DONE]``,
HTTP/1.1 chunked, keep-alive.  N comes from a ``/n/N`` path prefix (so a plugin's base URL
``http://127.0.0.1:PORT/n/200000`` selects it), default 200.  A further ``/h/MS`` prefix
(``/n/200/h/3000/...``) holds the stream for MS milliseconds after the first event (to
measure streams that are open at once).  ``GET`` answers a model list.
"""

from __future__ import annotations

import asyncio
import json
import sys
from functools import lru_cache
from urllib.parse import urlsplit

BLOCK = 64 * 1024


def event(index: int) -> bytes:
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-3.5-turbo",
        "choices": [{"index": 0, "delta": {"content": f"tok{index % 10} "}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


@lru_cache(maxsize=16)
def body(chunks: int, start: int = 0) -> bytes:
    """The chunked-encoded response body for events ``start`` to ``chunks`` (and its end)."""
    events = [event(i) for i in range(10)]
    data = b"".join(events[i % 10] for i in range(start, chunks)) + b"data: [DONE]\n\n"
    out = bytearray()
    for start in range(0, len(data), BLOCK):
        piece = data[start : start + BLOCK]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
)
MODELS = json.dumps(
    {"object": "list", "data": [{"id": "gpt-3.5-turbo", "object": "model"}]}
).encode()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            url = urlsplit(target)
            if method == "GET":
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(MODELS) + MODELS
                )
            else:
                parts = url.path.split("/")
                chunks = int(parts[2]) if len(parts) > 2 and parts[1] == "n" else 200
                writer.write(HEAD)
                if len(parts) > 4 and parts[3] == "h" and chunks > 0:
                    first = event(0)
                    writer.write(b"%x\r\n" % len(first) + first + b"\r\n")
                    await writer.drain()
                    await asyncio.sleep(int(parts[4]) / 1000)
                    writer.write(body(chunks, 1))
                else:
                    writer.write(body(chunks))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    except KeyboardInterrupt:
        pass
