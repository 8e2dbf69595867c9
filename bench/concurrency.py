"""Concurrency: many simultaneous streams through one AsyncClient vs one bare aiohttp session.

Each candidate runs in a fresh subprocess so that its peak memory is its own:
``python concurrency.py CANDIDATE BASE STREAMS CHUNKS`` prints a JSON line with the wall
time, errors and peak resident memory added per stream.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any, Dict

from throughput import PAYLOAD


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024


async def bare(base: str, streams: int, chunks: int) -> Dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> int:
            count = 0
            buffer = b""
            async with session.post(f"{base}/n/{chunks}/api/converse-edge", json=PAYLOAD) as response:
                async for block in response.content.iter_any():
                    events = (buffer + block).split(b"\n\n")
                    buffer = events.pop()
                    for event in events:
                        data = event[6:]
                        if data == b"[DONE]":
                            return count
                        if json.loads(data)["choices"][0]["delta"].get("content"):
                            count += 1
            return count

        return await run(one, streams, chunks)


async def chatplug_client(base: str, streams: int, chunks: int) -> Dict[str, Any]:
    import chatplug

    registry = chatplug.Registry(enabled=["vitalentum"])
    async with chatplug.AsyncClient(
        registry=registry, base_urls={"vitalentum": f"{base}/n/{chunks}"}
    ) as client:

        async def one() -> int:
            count = 0
            async for _ in client.stream("hi", provider="vitalentum"):
                count += 1
            return count

        return await run(one, streams, chunks)


async def run(one: Any, streams: int, chunks: int) -> Dict[str, Any]:
    await one()  # warm up: imports, DNS, first connection
    baseline = rss_kib()
    start = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    errors = [r for r in results if not isinstance(r, int) or r != chunks]
    return {
        "wall_s": wall,
        "errors": len(errors),
        "first_error": repr(errors[0]) if errors else None,
        "peak_kib_per_stream": max(0, peak - baseline) / streams,
    }


CANDIDATES = {"bare": bare, "chatplug": chatplug_client}

if __name__ == "__main__":
    name, base, streams, chunks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(CANDIDATES[name](base, streams, chunks))))
