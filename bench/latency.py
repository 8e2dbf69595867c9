"""Latency: time to first chunk over many sequential short streams, shared session each.

Both candidates live in one event loop (bare aiohttp with one shared session, and one
chatplug ``AsyncClient``) and alternate stream by stream, so that a change in the
machine's load hits both alike.  The bare candidate sends the plugin's exact request.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any, Awaitable, Callable, Dict, List

from common import PATH, spread, vitalentum_body, vitalentum_headers

BARE = "bare aiohttp (shared session)"
OURS = "chatplug (AsyncClient, Vitalentum plugin)"


async def _run(base: str, streams: int, chunks: int, rounds: int) -> Dict[str, List[List[float]]]:
    import aiohttp
    import chatplug

    url = f"{base}/n/{chunks}{PATH}"
    headers = vitalentum_headers(base)
    registry = chatplug.Registry(enabled=["vitalentum"])
    base_urls = {"vitalentum": f"{base}/n/{chunks}"}

    async with (
        aiohttp.ClientSession() as session,
        chatplug.AsyncClient(registry=registry, base_urls=base_urls, config=False) as client,
    ):

        async def bare() -> float:
            start = time.perf_counter()
            first = 0.0
            buffer = b""
            async with session.post(url, json=vitalentum_body("hi"), headers=headers) as response:
                async for block in response.content.iter_any():
                    events = (buffer + block).split(b"\n\n")
                    buffer = events.pop()
                    for event in events:
                        data = event[6:]
                        if data == b"[DONE]":
                            break
                        text = json.loads(data)["choices"][0]["delta"].get("content")
                        if text and not first:
                            first = time.perf_counter() - start
            assert first
            return first

        async def ours() -> float:
            start = time.perf_counter()
            first = 0.0
            async for _text in client.stream("hi", provider="vitalentum"):
                if not first:
                    first = time.perf_counter() - start
            assert first
            return first

        runners: Dict[str, Callable[[], Awaitable[float]]] = {BARE: bare, OURS: ours}
        for _ in range(20):  # warm up: connections, imports, caches
            for runner in runners.values():
                await runner()
        samples: Dict[str, List[List[float]]] = {name: [] for name in runners}
        per_round = max(1, streams // rounds)
        for round_index in range(rounds):
            for rows in samples.values():
                rows.append([])
            for index in range(per_round):
                order = list(runners) if (index + round_index) % 2 == 0 else list(runners)[::-1]
                for name in order:
                    samples[name][-1].append(await runners[name]())
        return samples


def measure(base: str, streams: int = 500, chunks: int = 5, rounds: int = 5) -> Dict[str, Any]:
    """Per candidate: median and p99 over every stream, and the spread of round medians."""
    samples = asyncio.run(_run(base, streams, chunks, rounds))
    out: Dict[str, Any] = {}
    for name, per_round in samples.items():
        flat = sorted(value for row in per_round for value in row)
        medians = [statistics.median(row) * 1000 for row in per_round]
        out[name] = {
            "median_ms": statistics.median(flat) * 1000,
            "p99_ms": flat[max(0, int(len(flat) * 0.99) - 1)] * 1000,
            "round_median_ms": spread(medians),
            "streams": len(flat),
        }
    gaps = [
        statistics.median(ours) * 1000 - statistics.median(bare) * 1000
        for ours, bare in zip(samples[OURS], samples[BARE])
    ]
    out["added_ms"] = spread(gaps)
    return out


if __name__ == "__main__":
    from common import upstream

    with upstream() as url:
        print(json.dumps(measure(url), indent=2))
