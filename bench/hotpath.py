"""The per-chunk hot path without the network: nanoseconds per chunk of each layer.

Feeds the upstream's exact body (``upstream.event``) in 64 KiB blocks, as the socket
delivers it, through each layer alone and through the whole plugin parser, next to the
floor's ``split + json.loads``.  Best of several repeats (the least disturbed run on a
shared machine).  ``python hotpath.py [CHUNKS]`` prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, AsyncIterator, Callable, Dict, List

from upstream import event

BLOCK = 64 * 1024


def blocks(chunks: int) -> List[bytes]:
    events = [event(i) for i in range(10)]
    data = b"".join(events[i % 10] for i in range(chunks)) + b"data: [DONE]\n\n"
    return [data[start : start + BLOCK] for start in range(0, len(data), BLOCK)]


def floor(parts: List[bytes]) -> int:
    count = 0
    buffer = b""
    for block in parts:
        events = (buffer + block).split(b"\n\n")
        buffer = events.pop()
        for item in events:
            if item.startswith(b"data: "):
                data = item[6:]
                if data == b"[DONE]":
                    return count
                if json.loads(data)["choices"][0]["delta"].get("content"):
                    count += 1
    return count


def sse_only(parts: List[bytes]) -> int:
    from chatplug.decoders import SSEDecoder

    decoder = SSEDecoder()
    return sum(len(decoder.feed(block)) for block in parts) - 1


def sse_json(parts: List[bytes]) -> int:
    from chatplug.decoders import SSEDecoder, parse_json

    decoder = SSEDecoder()
    count = 0
    for block in parts:
        for data in decoder.feed(block):
            if data != "[DONE]":
                parse_json(data)
                count += 1
    return count


def plugin_parser(parts: List[bytes]) -> int:
    from chatplug.openai_chunks import ChatChunkParser

    parser = ChatChunkParser()
    return sum(len(parser.feed(block)) for block in parts) - 1  # less the response metadata


def through_layers(parts: List[bytes]) -> int:
    """The plugin parser, then two async-generator layers (plugin, client) and a consumer."""
    from chatplug.openai_chunks import ChatChunkParser

    async def plugin() -> AsyncIterator[Any]:
        parser = ChatChunkParser()
        for block in parts:
            for item in parser.feed(block):
                yield item

    async def client() -> AsyncIterator[str]:
        async for piece in plugin():
            if type(piece) is str and piece:
                yield piece

    async def consume() -> int:
        count = 0
        async for _ in client():
            count += 1
        return count

    return asyncio.run(consume())


CASES: Dict[str, Callable[[List[bytes]], int]] = {
    "floor: split + json.loads": floor,
    "SSEDecoder.feed": sse_only,
    "SSEDecoder.feed + parse_json": sse_json,
    "ChatChunkParser.feed (decode, parse, extract)": plugin_parser,
    "ChatChunkParser + 2 async-generator layers": through_layers,
}


def measure(chunks: int = 200_000, repeats: int = 5) -> Dict[str, Any]:
    parts = blocks(chunks)
    best = {name: float("inf") for name in CASES}
    for _ in range(repeats):
        for name, case in CASES.items():
            start = time.perf_counter()
            count = case(parts)
            elapsed = time.perf_counter() - start
            if count != chunks:
                raise RuntimeError(f"{name}: {count} chunks, expected {chunks}")
            best[name] = min(best[name], elapsed)
    return {name: round(seconds / chunks * 1e9) for name, seconds in best.items()}


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000), indent=2))
