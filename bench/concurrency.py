"""Concurrency: many simultaneous streams through one AsyncClient vs one bare aiohttp session.

Each candidate runs in a fresh subprocess so that its memory is its own:
``python concurrency.py CANDIDATE BASE STREAMS CHUNKS [HOLD_MS]`` prints a JSON line with
the wall time, CPU time, errors and the peak resident memory added per stream (peak RSS
of the whole run minus the RSS after one warm-up stream, divided by the number of
streams).  With ``HOLD_MS`` the upstream pauses every stream for that long after its
first event: ``open_kib_per_stream`` is then the resident memory added per stream while
all of them are open at once (each has its first chunk, none has finished), the cost of
an open stream without its body sitting in buffers.  The bare candidate sends the
plugin's exact request.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any, Awaitable, Callable, Dict, Optional

from common import PATH, vitalentum_body, vitalentum_headers

FirstChunk = Callable[[], None]


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024


async def bare(base: str, streams: int, chunks: int, hold: Optional[int]) -> Dict[str, Any]:
    import aiohttp

    prefix = f"{base}/n/{chunks}" + (f"/h/{hold}" if hold else "")
    url, headers = prefix + PATH, vitalentum_headers(base)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(first_chunk: FirstChunk) -> int:
            count = 0
            buffer = b""
            body = vitalentum_body("hi")
            async with session.post(url, json=body, headers=headers) as response:
                async for block in response.content.iter_any():
                    events = (buffer + block).split(b"\n\n")
                    buffer = events.pop()
                    for event in events:
                        data = event[6:]
                        if data == b"[DONE]":
                            return count
                        if json.loads(data)["choices"][0]["delta"].get("content"):
                            count += 1
                            if count == 1:
                                first_chunk()
            return count

        return await run(one, streams, chunks)


async def chatplug_client(
    base: str, streams: int, chunks: int, hold: Optional[int]
) -> Dict[str, Any]:
    import chatplug

    registry = chatplug.Registry(enabled=["vitalentum"])
    prefix = f"{base}/n/{chunks}" + (f"/h/{hold}" if hold else "")
    async with chatplug.AsyncClient(
        registry=registry, base_urls={"vitalentum": prefix}, config=False
    ) as client:

        async def one(first_chunk: FirstChunk) -> int:
            count = 0
            async for _ in client.stream("hi", provider="vitalentum"):
                count += 1
                if count == 1:
                    first_chunk()
            return count

        return await run(one, streams, chunks)


async def run(
    one: Callable[[FirstChunk], Awaitable[int]], streams: int, chunks: int
) -> Dict[str, Any]:
    await one(lambda: None)  # warm up: imports, first connection
    baseline = rss_kib()
    opened = [0]
    open_rss = [0]

    def first_chunk() -> None:
        opened[0] += 1
        if opened[0] == streams:  # every stream is open and has its first chunk
            open_rss[0] = rss_kib()

    start, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(
        *(one(first_chunk) for _ in range(streams)), return_exceptions=True
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    errors = [r for r in results if not isinstance(r, int) or r != chunks]
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "errors": len(errors),
        "first_error": repr(errors[0]) if errors else None,
        "peak_kib_per_stream": max(0, peak - baseline) / streams,
        "open_kib_per_stream": max(0, open_rss[0] - baseline) / streams if open_rss[0] else None,
    }


CANDIDATES = {"bare": bare, "chatplug": chatplug_client}

if __name__ == "__main__":
    name, base, streams, chunks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    hold = int(sys.argv[5]) if len(sys.argv) > 5 else None
    print(json.dumps(asyncio.run(CANDIDATES[name](base, streams, chunks, hold))))
