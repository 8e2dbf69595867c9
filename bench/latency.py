"""Latency: time to first chunk over many sequential short streams, shared session each."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Dict, List

from throughput import PAYLOAD


async def bare(base: str, streams: int, chunks: int) -> List[float]:
    import aiohttp

    samples = []
    async with aiohttp.ClientSession() as session:
        for _ in range(streams):
            start = time.perf_counter()
            first = None
            async with session.post(f"{base}/n/{chunks}/api/converse-edge", json=PAYLOAD) as response:
                buffer = b""
                async for block in response.content.iter_any():
                    events = (buffer + block).split(b"\n\n")
                    buffer = events.pop()
                    for event in events:
                        data = event[6:]
                        if data == b"[DONE]":
                            break
                        text = json.loads(data)["choices"][0]["delta"].get("content")
                        if text and first is None:
                            first = time.perf_counter() - start
            assert first is not None
            samples.append(first)
    return samples


async def chatplug_client(base: str, streams: int, chunks: int) -> List[float]:
    import chatplug

    registry = chatplug.Registry(enabled=["vitalentum"])
    samples = []
    async with chatplug.AsyncClient(
        registry=registry, base_urls={"vitalentum": f"{base}/n/{chunks}"}
    ) as client:
        for _ in range(streams):
            start = time.perf_counter()
            first = None
            async for _text in client.stream("hi", provider="vitalentum"):
                if first is None:
                    first = time.perf_counter() - start
            assert first is not None
            samples.append(first)
    return samples


def measure(base: str, streams: int = 500, chunks: int = 5) -> Dict[str, Dict[str, float]]:
    out = {}
    for name, runner in (("bare aiohttp (shared session)", bare), ("chatplug", chatplug_client)):
        asyncio.run(runner(base, 20, chunks))  # warm up
        samples = asyncio.run(runner(base, streams, chunks))
        out[name] = {
            "median_ms": statistics.median(samples) * 1000,
            "p99_ms": sorted(samples)[int(len(samples) * 0.99) - 1] * 1000,
        }
    return out
