"""Load test of ``chatplug serve``: 1,000 concurrent streams vs calling the upstream directly.

Three processes: the paced upstream (``load_upstream.py``), the server
(``python -m chatplug.server`` with the Vitalentum plugin pointed at the upstream) and this
client (one event loop).  Phases:

- ``idle``: streams one at a time, direct (chatplug ``AsyncClient`` with the same plugin,
  to the upstream) and through the server: the server's added latency to first chunk
  without load;
- ``direct`` and ``server``: ``--streams`` paced streams (default 1,000, each ``--chunks``
  events ``--pace`` ms apart) started over ``--ramp`` seconds, so that all of them are open
  at once; each side first runs an unmeasured warm-up at the same concurrency (pooled
  connections, as in a long-running process).  ``added_ttfc_ms`` compares the two;
- ``unpaced``: the same number of streams through the server, the upstream writing as
  fast as it can: the server's chunk throughput and CPU time.

Prints one JSON summary on stdout; exits 1 when any stream failed.  ``--quick`` is a smoke
run (50 streams).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
import chatplug
from chatplug import AsyncClient, Registry

HERE = Path(__file__).parent
PROVIDER = "vitalentum"


def percentile(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value * 1000, 2)


class Process:
    """A child process whose first matching output line says where it listens."""

    def __init__(self, args: List[str], env: Dict[str, str], marker: str, stream: str) -> None:
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
            stderr=subprocess.PIPE if stream == "stderr" else None,
            text=True,
        )
        pipe = self.proc.stdout if stream == "stdout" else self.proc.stderr
        assert pipe is not None
        self.lines: List[str] = []
        self.value: Optional[str] = None
        ready = threading.Event()

        def read() -> None:
            for line in pipe:
                self.lines.append(line.rstrip("\n"))
                if self.value is None and marker in line:
                    self.value = line.split(marker, 1)[1].strip()
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        ready.wait(60)
        if self.value is None:
            self.stop()
            raise RuntimeError(f"{args} did not start:\n" + "\n".join(self.lines))

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Result:
    def __init__(self) -> None:
        self.ttfc: List[float] = []
        self.totals: List[float] = []
        self.chunks = 0
        self.errors: List[str] = []
        self.active = 0
        self.peak = 0
        self.wall = 0.0

    def first_chunk(self, started: float) -> None:
        """A stream's first chunk arrived: its time to first chunk, and one more open."""
        self.ttfc.append(time.perf_counter() - started)
        self.active += 1
        self.peak = max(self.peak, self.active)

    def summary(self) -> Dict[str, Any]:
        return {
            "streams_ok": len(self.totals),
            "errors": len(self.errors),
            "first_error": self.errors[0] if self.errors else None,
            "ttfc_ms": {
                "p50": ms(percentile(self.ttfc, 50)),
                "p90": ms(percentile(self.ttfc, 90)),
                "p99": ms(percentile(self.ttfc, 99)),
                "max": ms(max(self.ttfc) if self.ttfc else None),
            },
            "stream_total_ms_p50": ms(percentile(self.totals, 50)),
            "peak_concurrent_streams": self.peak,
            "wall_s": round(self.wall, 3),
            "content_chunks": self.chunks,
            "chunks_per_s": round(self.chunks / self.wall) if self.wall else None,
            "streams_per_s": round(len(self.totals) / self.wall, 1) if self.wall else None,
        }


def prompt(chunks: int, pace: int) -> List[Dict[str, str]]:
    return [{"role": "user", "content": f"load test chunks={chunks} pace={pace}"}]


async def direct_one(client: AsyncClient, result: Result, chunks: int, pace: int) -> None:
    started = time.perf_counter()
    first = True
    count = 0
    try:
        async with client.stream(prompt(chunks, pace), provider=PROVIDER) as stream:
            async for _ in stream:
                count += 1
                if first:
                    result.first_chunk(started)
                    first = False
    except Exception as error:
        result.errors.append(f"{type(error).__name__}: {error}")
        return
    finally:
        if not first:
            result.active -= 1
    result.chunks += count
    result.totals.append(time.perf_counter() - started)


async def server_one(
    session: aiohttp.ClientSession, url: str, result: Result, chunks: int, pace: int
) -> None:
    body = {"model": f"{PROVIDER}/gpt-3.5-turbo", "messages": prompt(chunks, pace), "stream": True}
    started = time.perf_counter()
    first = True
    count = 0
    done = False
    try:
        async with session.post(url, json=body) as response:
            if response.status != 200:
                text = await response.text()
                result.errors.append(f"HTTP {response.status}: {text[:200]}")
                return
            async for line in response.content:
                if not line.startswith(b"data: "):
                    continue
                if line.startswith(b"data: [DONE]"):
                    done = True
                    break
                if line.startswith(b'data: {"error"'):
                    result.errors.append(line.decode()[:200])
                    return
                if b'"content":"' in line and b'"content":""' not in line:
                    count += 1
                    if first:
                        result.first_chunk(started)
                        first = False
    except Exception as error:
        result.errors.append(f"{type(error).__name__}: {error}")
        return
    finally:
        if not first:
            result.active -= 1
    if not done:
        result.errors.append("the stream ended without [DONE]")
        return
    result.chunks += count
    result.totals.append(time.perf_counter() - started)


async def ramped(coroutines: List[Any], ramp: float) -> None:
    """Start the coroutines evenly over ``ramp`` seconds (all at once when 0)."""
    if ramp <= 0:
        await asyncio.gather(*coroutines)
        return
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = []
    for index, coroutine in enumerate(coroutines):
        delay = started + index * ramp / len(coroutines) - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(coroutine))
    await asyncio.gather(*tasks)


async def run_direct(
    upstream: str, streams: int, chunks: int, pace: int, sequential: bool, ramp: float = 0.0
) -> Result:
    result = Result()
    client = AsyncClient(
        base_urls={PROVIDER: upstream},
        registry=Registry(enabled=[PROVIDER]),
        retry=1,
        config=False,
    )
    async with client:
        # warm up at the same concurrency: plugin import, pooled connections
        await asyncio.gather(
            *[direct_one(client, Result(), 2, 0) for _ in range(streams if not sequential else 1)]
        )
        started = time.perf_counter()
        if sequential:
            for _ in range(streams):
                await direct_one(client, result, chunks, pace)
        else:
            await ramped([direct_one(client, result, chunks, pace) for _ in range(streams)], ramp)
        result.wall = time.perf_counter() - started
    return result


async def run_server(
    server: str, streams: int, chunks: int, pace: int, sequential: bool, ramp: float = 0.0
) -> Result:
    result = Result()
    url = f"{server}/v1/chat/completions"
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # warm up at the same concurrency: the server's and this client's connection pools
        await asyncio.gather(
            *[
                server_one(session, url, Result(), 2, 0)
                for _ in range(streams if not sequential else 1)
            ]
        )
        started = time.perf_counter()
        if sequential:
            for _ in range(streams):
                await server_one(session, url, result, chunks, pace)
        else:
            await ramped(
                [server_one(session, url, result, chunks, pace) for _ in range(streams)], ramp
            )
        result.wall = time.perf_counter() - started
    return result


def added(server: Result, direct: Result) -> Dict[str, Optional[float]]:
    out: Dict[str, Optional[float]] = {}
    for q in (50, 99):
        a, b = percentile(server.ttfc, q), percentile(direct.ttfc, q)
        out[f"p{q}"] = None if a is None or b is None else ms(a - b)
    return out


def server_ttfc(lines: List[str], chunks: int) -> Dict[str, Optional[float]]:
    """Time to first chunk as the server logged it (arrival to first upstream piece)."""
    values = []
    for line in lines:
        if line.startswith("{") and '"ttfc_ms"' in line:
            entry = json.loads(line)
            if entry["ttfc_ms"] is not None and entry["chunks"] >= chunks // 2:
                values.append(entry["ttfc_ms"] / 1000)
    return {"p50": ms(percentile(values, 50)), "p99": ms(percentile(values, 99))}


def cpu(seconds: float, result: Result) -> Dict[str, Any]:
    """The server's CPU time for a phase, in all and per content chunk."""
    per_chunk = seconds / result.chunks * 1e6 if result.chunks else None
    return {
        "server_cpu_s": round(seconds, 2),
        "server_cpu_us_per_chunk": None if per_chunk is None else round(per_chunk, 1),
    }


def start() -> Tuple[Process, Process]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    upstream = Process([sys.executable, str(HERE / "load_upstream.py")], env, "PORT ", "stdout")
    upstream_url = f"http://127.0.0.1:{upstream.value}"
    try:
        server = start_server(upstream_url, env)
    except BaseException:
        upstream.stop()
        raise
    return upstream, server


def start_server(upstream_url: str, env: Dict[str, str]) -> Process:
    server_env = dict(env, CHATPLUG_PLUGINS=PROVIDER, CHATPLUG_CONFIG="")
    server_env.pop("CHATPLUG_API_KEY", None)
    return Process(
        [
            sys.executable,
            "-m",
            "chatplug.server",
            "--port",
            "0",
            "--retries",
            "0",
            "--base-url",
            f"{PROVIDER}={upstream_url}",
            "--grace",
            "5",
        ],
        server_env,
        "listening on ",
        "stderr",
    )


async def measure(
    args: argparse.Namespace, upstream_url: str, server_url: str, server: Process
) -> Dict[str, Any]:
    idle_direct = await run_direct(upstream_url, args.idle, 5, 0, sequential=True)
    idle_server = await run_server(server_url, args.idle, 5, 0, sequential=True)
    n, chunks, pace, ramp = args.streams, args.chunks, args.pace, args.ramp
    direct = await run_direct(upstream_url, n, chunks, pace, False, ramp)
    cpu_before = server.cpu_seconds()
    first_line = len(server.lines)
    loaded = await run_server(server_url, n, chunks, pace, False, ramp)
    cpu_loaded = server.cpu_seconds() - cpu_before
    await asyncio.sleep(0.5)  # the access log is written from a background thread
    logged = server_ttfc(server.lines[first_line:], chunks)
    cpu_before = server.cpu_seconds()
    unpaced = await run_server(server_url, n, chunks, 0, False)
    cpu_unpaced = server.cpu_seconds() - cpu_before
    errors = sum(len(r.errors) for r in (idle_direct, idle_server, direct, loaded, unpaced))
    return {
        "benchmark": "load_server",
        "chatplug": chatplug.__version__,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "provider": PROVIDER,
        "streams": args.streams,
        "chunks_per_stream": args.chunks,
        "pace_ms": args.pace,
        "idle": {
            "requests": args.idle,
            "direct_ttfc_ms_p50": ms(percentile(idle_direct.ttfc, 50)),
            "server_ttfc_ms_p50": ms(percentile(idle_server.ttfc, 50)),
            "added_ttfc_ms": added(idle_server, idle_direct),
            "errors": len(idle_direct.errors) + len(idle_server.errors),
        },
        "ramp_s": ramp,
        "direct": direct.summary(),
        "server": dict(loaded.summary(), **cpu(cpu_loaded, loaded)),
        "added_ttfc_ms": added(loaded, direct),
        "server_log_ttfc_ms": logged,
        "unpaced": dict(unpaced.summary(), **cpu(cpu_unpaced, unpaced)),
        "errors": errors,
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--pace", type=int, default=200, help="milliseconds between chunks")
    parser.add_argument(
        "--ramp", type=float, default=2.0, help="seconds over which the streams start"
    )
    parser.add_argument("--idle", type=int, default=50, help="sequential requests per side")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 streams")
    args = parser.parse_args(argv)
    if args.quick:
        args.streams, args.chunks, args.idle, args.ramp = 50, 10, 10, 0.2
    upstream, server = start()
    try:
        summary = asyncio.run(
            measure(args, f"http://127.0.0.1:{upstream.value}", server.value or "", server)
        )
    finally:
        server.stop()
        upstream.stop()
    print(json.dumps(summary))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
