"""Streaming throughput: one stream of N SSE chunks, chatplug against the alternatives.

Candidates, measured in one process against the same local upstream, interleaved round
by round: (a) bare aiohttp reading lines + json.loads, (b) bare aiohttp ``iter_any`` +
splitting + json.loads (the floor), (c) the official ``openai`` SDK, (d) chatplug's
``AsyncClient`` with the Vitalentum plugin.  The bare candidates send the plugin's exact
request.  Each run is a fresh event loop, session and client (as a short script would
do), timed from the start to the last chunk; CPU time is recorded too (the client's
process only: it is what a shared machine disturbs least).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Awaitable, Callable, Dict, List

from common import PATH, Series, vitalentum_body, vitalentum_headers

Runner = Callable[[str, int], Awaitable[int]]


async def bare_lines(base: str, chunks: int) -> int:
    import aiohttp

    count = 0
    url = f"{base}/n/{chunks}{PATH}"
    headers = vitalentum_headers(base)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=vitalentum_body("hi"), headers=headers) as response:
            async for line in response.content:
                if line.startswith(b"data: "):
                    data = line[6:].rstrip()
                    if data == b"[DONE]":
                        break
                    if json.loads(data)["choices"][0]["delta"].get("content"):
                        count += 1
    return count


async def bare_iter_any(base: str, chunks: int) -> int:
    import aiohttp

    count = 0
    buffer = b""
    url = f"{base}/n/{chunks}{PATH}"
    headers = vitalentum_headers(base)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=vitalentum_body("hi"), headers=headers) as response:
            async for block in response.content.iter_any():
                events = (buffer + block).split(b"\n\n")
                buffer = events.pop()
                for event in events:
                    if event.startswith(b"data: "):
                        data = event[6:]
                        if data == b"[DONE]":
                            return count
                        if json.loads(data)["choices"][0]["delta"].get("content"):
                            count += 1
    return count


async def openai_sdk(base: str, chunks: int) -> int:
    from openai import AsyncOpenAI

    count = 0
    url = f"{base}/n/{chunks}/v1"
    async with AsyncOpenAI(base_url=url, api_key="bench", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
    return count


async def chatplug_client(base: str, chunks: int) -> int:
    import chatplug

    registry = chatplug.Registry(enabled=["vitalentum"])
    count = 0
    base_urls = {"vitalentum": f"{base}/n/{chunks}"}
    async with chatplug.AsyncClient(registry=registry, base_urls=base_urls, config=False) as client:
        async for _ in client.stream("hi", provider="vitalentum"):
            count += 1
    return count


OURS = "chatplug (Vitalentum plugin, AsyncClient)"
LINES = "(a) bare aiohttp: lines + json.loads"
FLOOR = "(b) bare aiohttp: iter_any + split + json.loads (floor)"
SDK = "(c) openai SDK (AsyncOpenAI)"
CANDIDATES: Dict[str, Runner] = {
    OURS: chatplug_client,
    LINES: bare_lines,
    FLOOR: bare_iter_any,
    SDK: openai_sdk,
}


def measure(base: str, chunks: int, rounds: int, slow_rounds: int, sdk_chunks: int) -> List[Series]:
    """``rounds`` interleaved rounds; the SDK (10x slower) runs ``slow_rounds`` times on
    ``sdk_chunks`` chunks (a rate: the stream's length does not change it)."""
    series = {name: Series(name, "chunks/s") for name in CANDIDATES}
    for runner in CANDIDATES.values():  # warm up: imports, caches (not measured)
        asyncio.run(runner(base, 1000))
    for round_index in range(rounds):
        for name, runner in CANDIDATES.items():
            size = chunks
            if runner is openai_sdk:
                if round_index >= slow_rounds:
                    continue
                size = sdk_chunks
            start, cpu = time.perf_counter(), time.process_time()
            count = asyncio.run(runner(base, size))
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            if count != size:
                raise RuntimeError(f"{name} streamed {count} chunks, expected {size}")
            series[name].values.append(size / elapsed)
            series[name].cpu_us.append(cpu / size * 1e6)
    return list(series.values())


if __name__ == "__main__":
    import sys

    from common import upstream

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with upstream() as url:
        for item in measure(url, size, rounds=3, slow_rounds=1, sdk_chunks=size // 4):
            print(json.dumps(item.row()))
