"""Streaming throughput: one stream of N SSE chunks, chatplug against the alternatives.

Candidates, measured in one process against the same local upstream, interleaved round
by round: (a) bare aiohttp reading lines + json.loads, (b) bare aiohttp ``iter_any`` +
splitting + json.loads (the floor), (c) the official ``openai`` SDK, (d) chatplug's
``AsyncClient`` with the Vitalentum plugin.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Awaitable, Callable, Dict, List

from common import Series

PAYLOAD = {"conversation": json.dumps({"history": [{"speaker": "human", "text": "hi"}]})}
Runner = Callable[[str, int], Awaitable[int]]


async def bare_lines(base: str, chunks: int) -> int:
    import aiohttp

    count = 0
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/n/{chunks}/api/converse-edge", json=PAYLOAD) as response:
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
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/n/{chunks}/api/converse-edge", json=PAYLOAD) as response:
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
    async with AsyncOpenAI(base_url=f"{base}/n/{chunks}/v1", api_key="bench", max_retries=0) as client:
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
    async with chatplug.AsyncClient(
        registry=registry, base_urls={"vitalentum": f"{base}/n/{chunks}"}
    ) as client:
        async for _ in client.stream("hi", provider="vitalentum"):
            count += 1
    return count


CANDIDATES: Dict[str, Runner] = {
    "chatplug (Vitalentum plugin, AsyncClient)": chatplug_client,
    "bare aiohttp: lines + json.loads": bare_lines,
    "bare aiohttp: iter_any + split + json.loads (floor)": bare_iter_any,
    "openai SDK (AsyncOpenAI)": openai_sdk,
}


def measure(base: str, chunks: int, rounds: int, slow_rounds: int) -> List[Series]:
    series = {name: Series(name, "chunks/s") for name in CANDIDATES}
    for round_index in range(rounds):
        for name, runner in CANDIDATES.items():
            if runner is openai_sdk and round_index >= slow_rounds:
                continue
            start = time.perf_counter()
            count = asyncio.run(runner(base, chunks))
            elapsed = time.perf_counter() - start
            if count != chunks:
                raise RuntimeError(f"{name} streamed {count} chunks, expected {chunks}")
            series[name].values.append(chunks / elapsed)
    return list(series.values())


if __name__ == "__main__":
    import sys

    from common import upstream

    chunks = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with upstream() as base:
        for item in measure(base, chunks, rounds=3, slow_rounds=1):
            print(json.dumps(item.row()))
