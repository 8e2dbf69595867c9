"""Saturation: N concurrent streams from a fast upstream, direct vs through ``chatplug serve``.

One load generator (this process, one event loop, one aiohttp session per target) starts
``--streams`` streaming chat completions at once, each ``--chunks`` content deltas, and
reads them to ``[DONE]``.  Targets, measured in one run, interleaved run by run:

- ``direct``: the upstream itself (the chatplug-openai emulator in ``fast`` mode, its own
  process, listen backlog 1024: it writes the whole pre-encoded answer at once);
- ``relay``: a bare aiohttp relay in front of it (a pooled client session, the upstream's
  blocks passed on as they come, nothing parsed): the floor of any aiohttp proxy;
- ``serve``: ``chatplug serve`` (one process) with chatplug-openai pointed at it;
- ``workers``: ``chatplug serve --workers N`` (``--workers 2`` by default).

Each target is warmed up at the same concurrency first (pooled connections, as in a
long-running client).  Per run: wall time, time to first content chunk (p50/p99), errors,
and the server's CPU time (its processes, from ``/proc``) per request.  ``--profile`` runs
one more saturation round against a one-process server under cProfile and prints where
its time goes.  Prints one JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp
from chatplug.server.workers import gunicorn_installed

HERE = Path(__file__).parent
MODEL = "gpt-4o-mini"
BACKLOG = 1024
SESSION = "session"


# processes ------------------------------------------------------------------------


class Child:
    """A child process whose stderr (or stdout) goes to a file; ``wait_for`` reads it."""

    def __init__(self, args: Sequence[str], env: Dict[str, str]) -> None:
        handle, self.log = tempfile.mkstemp(prefix="chatplug-bench-", suffix=".log")
        self.url = ""  # set by the caller once the child said where it listens
        try:
            self.proc = subprocess.Popen(
                list(args),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with its workers
            )
        finally:
            os.close(handle)

    def text(self) -> str:
        return Path(self.log).read_text(errors="replace")

    def wait_for(self, marker: str, timeout: float = 60.0) -> str:
        """The rest of the first output line containing ``marker``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if marker in line:
                    return line.split(marker, 1)[1].strip()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"no {marker!r} from the child:\n{self.text()[-2000:]}")

    def pids(self) -> List[int]:
        """The process and its descendants (gunicorn workers, worker processes)."""
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo += [int(child) for child in task.read_text().split()]
                except OSError:
                    continue
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.log)


def start_upstream(chunks: int) -> Child:
    child = Child([sys.executable, __file__, "--serve-upstream", str(chunks)], dict(os.environ))
    child.url = "http://127.0.0.1:" + child.wait_for("PORT ")
    return child


def serve_upstream(chunks: int) -> None:
    """The fast upstream: the chatplug-openai emulator, whole answers in one write."""
    from aiohttp import web
    from chatplug_openai.emulator import create_app

    async def main() -> None:
        app = create_app(fast=chunks, models=None, awkward=False)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=BACKLOG)
        await site.start()
        print(f"PORT {runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # pragma: no cover
        pass


def serve_relay(upstream: str) -> None:
    """The floor: a bare aiohttp relay (pooled client, no parsing) in front of the upstream."""
    from aiohttp import web

    async def relay(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {"Content-Type": "application/json"}
        url = upstream + "/v1/chat/completions"
        async with request.app[SESSION].post(url, data=body, headers=headers) as answer:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            async for block in answer.content.iter_any():
                await response.write(block)
            await response.write_eof()
            return response

    async def main() -> None:
        app = web.Application()
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        app.router.add_post("/v1/chat/completions", relay)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=BACKLOG).start()
        print(f"listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_relay(upstream: str) -> Child:
    child = Child([sys.executable, __file__, "--serve-relay", upstream], dict(os.environ))
    child.url = child.wait_for("listening on ")
    return child


def server_env(upstream: str) -> Dict[str, str]:
    env = dict(os.environ, CHATPLUG_PLUGINS="openai", CHATPLUG_CONFIG="", PYTHONUNBUFFERED="1")
    env["CHATPLUG_OPENAI_BASE_URL"] = upstream + "/v1"
    env["CHATPLUG_SERVER_RETRIES"] = "0"
    env.pop("CHATPLUG_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    return env


def start_server(
    upstream: str, workers: int = 1, profile: Optional[str] = None, extra: Sequence[str] = ()
) -> Child:
    """``chatplug serve`` on a free port (``--workers`` when more than one)."""
    args = [sys.executable]
    if profile:  # cProfile counting CPU time, not wall time (the machine is shared)
        args += ["-c", PROFILED, profile]
    else:
        args += ["-m", "chatplug"]
    args += ["serve", "--port", "0", "--grace", "5", *extra]
    if workers > 1:
        args += ["--workers", str(workers)]
    child = Child(args, server_env(upstream))
    child.url = child.wait_for("listening on ").split()[0]
    return child


PROFILED = """
import cProfile, runpy, sys, time
out = sys.argv.pop(1)
sys.argv[0] = "chatplug"
profile = cProfile.Profile(time.process_time)
profile.enable()
try:
    runpy.run_module("chatplug", run_name="__main__")
except SystemExit:
    pass
finally:
    profile.disable()
    profile.dump_stats(out)
"""


# the load generator ---------------------------------------------------------------


class Run:
    def __init__(self) -> None:
        self.first: List[float] = []
        self.errors: List[str] = []
        self.wall = 0.0
        self.cpu = 0.0
        self.client_cpu = 0.0
        self.upstream_cpu = 0.0

    def row(self, streams: int) -> Dict[str, Any]:
        return {
            "wall_s": round(self.wall, 3),
            "ttfc_p50_ms": percentile(self.first, 50),
            "ttfc_p99_ms": percentile(self.first, 99),
            "errors": len(self.errors),
            "first_error": self.errors[0] if self.errors else None,
            "server_cpu_s": round(self.cpu, 3),
            "server_cpu_ms_per_request": round(self.cpu / streams * 1000, 3) if self.cpu else None,
            "client_cpu_s": round(self.client_cpu, 3),
            "upstream_cpu_s": round(self.upstream_cpu, 3),
        }


def percentile(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000, 1)


def has_content(line: bytes) -> bool:
    """Whether an SSE line is a chunk with non-empty ``delta.content`` (either spacing)."""
    at = line.find(b'"content":')
    if at < 0:
        return False
    value = line[at + 10 : at + 13].lstrip()
    return value[:1] == b'"' and value[:2] != b'""'


async def one(session: aiohttp.ClientSession, url: str, model: str, chunks: int, run: Run) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    started = time.perf_counter()
    count = 0
    try:
        async with session.post(url, json=body) as response:
            if response.status != 200:
                run.errors.append(f"HTTP {response.status}: {(await response.text())[:200]}")
                return
            async for line in response.content:
                if line.startswith(b"data: [DONE]"):
                    break
                if has_content(line):
                    if not count:
                        run.first.append(time.perf_counter() - started)
                    count += 1
            else:
                run.errors.append("the stream ended without [DONE]")
                return
    except Exception as error:  # counted, the run goes on
        run.errors.append(f"{type(error).__name__}: {error}")
        return
    if count != chunks:
        run.errors.append(f"{count} content chunks instead of {chunks}")


async def saturate(
    session: aiohttp.ClientSession,
    url: str,
    model: str,
    streams: int,
    chunks: int,
    server: Optional[Child] = None,
    upstream: Optional[Child] = None,
) -> Run:
    run = Run()
    cpu = server.cpu_seconds() if server else 0.0
    upstream_cpu = upstream.cpu_seconds() if upstream else 0.0
    client_cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*[one(session, url, model, chunks, run) for _ in range(streams)])
    run.wall = time.perf_counter() - started
    run.client_cpu = time.process_time() - client_cpu
    if server is not None:
        run.cpu = server.cpu_seconds() - cpu
    if upstream is not None:
        run.upstream_cpu = upstream.cpu_seconds() - upstream_cpu
    return run


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=120)
    )


# the measurement ------------------------------------------------------------------


async def measure(args: argparse.Namespace, upstream: Child, servers: Dict[str, Child]) -> Any:
    targets: Dict[str, Tuple[str, str, Optional[Child]]] = {
        "direct": (upstream.url + "/v1/chat/completions", MODEL, None)
    }
    for name, server in servers.items():
        model = MODEL if name == "relay" else f"openai/{MODEL}"
        targets[name] = (server.url + "/v1/chat/completions", model, server)
    sessions = {name: session() for name in targets}
    runs: Dict[str, List[Run]] = {name: [] for name in targets}
    try:
        for name, (url, model, _) in targets.items():  # warm-up: pooled connections
            await saturate(sessions[name], url, model, args.streams, args.chunks)
        order = list(targets)
        for index in range(args.runs):
            for name in order if index % 2 == 0 else order[::-1]:
                url, model, child = targets[name]
                runs[name].append(
                    await saturate(
                        sessions[name], url, model, args.streams, args.chunks, child, upstream
                    )
                )
    finally:
        for item in sessions.values():
            await item.close()
    return summarize(args, runs)


def summarize(args: argparse.Namespace, runs: Dict[str, List[Run]]) -> Dict[str, Any]:
    rows: Dict[str, Any] = {}
    for name, items in runs.items():
        each = [run.row(args.streams) for run in items]
        rows[name] = {
            "wall_s": statistics.median(row["wall_s"] for row in each),
            "ttfc_p50_ms": statistics.median(row["ttfc_p50_ms"] or 0 for row in each),
            "ttfc_p99_ms": statistics.median(row["ttfc_p99_ms"] or 0 for row in each),
            "errors": sum(row["errors"] for row in each),
            "first_error": next((row["first_error"] for row in each if row["first_error"]), None),
            "server_cpu_ms_per_request": statistics.median(
                row["server_cpu_ms_per_request"] or 0 for row in each
            ),
            "client_cpu_s": statistics.median(row["client_cpu_s"] for row in each),
            "upstream_cpu_s": statistics.median(row["upstream_cpu_s"] for row in each),
            "runs": each,
        }
    direct = rows["direct"]
    for row in rows.values():
        row["wall_vs_direct"] = round(row["wall_s"] / direct["wall_s"], 2)
        row["ttfc_p50_vs_direct"] = round(row["ttfc_p50_ms"] / (direct["ttfc_p50_ms"] or 1), 2)
    return {
        "benchmark": "saturation",
        "streams": args.streams,
        "chunks": args.chunks,
        "runs": args.runs,
        "workers": args.workers,
        "workers_runner": "gunicorn" if gunicorn_installed() else "SO_REUSEPORT processes",
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "targets": rows,
        "errors": sum(row["errors"] for row in rows.values()),
    }


async def profile_round(args: argparse.Namespace, upstream: Child) -> str:
    """One warm-up and ``--runs`` saturation rounds against a server under cProfile."""
    import pstats

    out = tempfile.mktemp(prefix="chatplug-serve-", suffix=".prof")
    server = start_server(upstream.url, profile=out, extra=args.server_arg)
    try:
        async with session() as client:
            url = server.url + "/v1/chat/completions"
            for _ in range(args.runs + 1):
                await saturate(client, url, f"openai/{MODEL}", args.streams, args.chunks)
    finally:
        server.stop(signal.SIGINT)
    import io

    text = io.StringIO()
    stats = pstats.Stats(out, stream=text)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats("chatplug|aiohttp/(web_|client|connector)", 45)
    os.unlink(out)
    return text.getvalue()


def section(summary: Dict[str, Any]) -> List[str]:
    """The docs/benchmarks.md section of a summary."""
    if "targets" not in summary:
        return ["The saturation benchmark failed:", "", "```", json.dumps(summary)[:1500], "```"]
    targets = summary["targets"]
    labels = {
        "direct": "direct to the upstream",
        "relay": "through a bare aiohttp relay (the floor: no parsing)",
        "serve": "through `chatplug serve` (1 process)",
        "workers": f"through `chatplug serve --workers {summary['workers']}` "
        f"({summary.get('workers_runner', '?')})",
    }
    rows = [
        f"`bench/saturation.py`: {summary['streams']} concurrent streams of "
        f"{summary['chunks']} content deltas, all started at once by one aiohttp load "
        "generator, from a fast upstream (the chatplug-openai emulator writing each answer "
        "in one send, listen backlog 1024); medians of "
        f"{summary['runs']} runs, targets interleaved; load average "
        f"{summary['load_average_1m']} at the end.",
        "",
        "| target | wall | vs direct | first chunk p50 | vs direct | p99 | errors | "
        "server CPU per request |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in targets.items():
        cpu = row["server_cpu_ms_per_request"]
        rows.append(
            f"| {labels.get(name, name)} | {row['wall_s']:.3f} s | {row['wall_vs_direct']}x "
            f"| {row['ttfc_p50_ms']} ms | {row['ttfc_p50_vs_direct']}x | {row['ttfc_p99_ms']} ms "
            f"| {row['errors']} | {f'{cpu:.2f} ms' if cpu else '-'} |"
        )
    serve = targets.get("serve")
    if serve:
        ok = serve["wall_vs_direct"] <= 1.5 and serve["ttfc_p50_vs_direct"] <= 2
        rows += [
            "",
            "Targets for one process: wall time within 1.5x of direct, first chunk p50 within "
            f"2x, no errors: **{'met' if ok and not serve['errors'] else 'not met'}** "
            f"({serve['wall_vs_direct']}x, {serve['ttfc_p50_vs_direct']}x, "
            f"{serve['errors']} errors).",
        ]
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="0: no multi-process target")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of serve")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 streams, 1 run")
    parser.add_argument(
        "--server-arg", action="append", default=[], help="an extra option of chatplug serve"
    )
    parser.add_argument(
        "--no-relay", action="store_true", help="leave out the bare aiohttp relay (the floor)"
    )
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-relay", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return 0
    if args.serve_relay:
        serve_relay(args.serve_relay)
        return 0
    if args.quick:
        args.streams, args.runs = 50, 1
    upstream = start_upstream(args.chunks)
    servers: Dict[str, Child] = {}
    try:
        url = upstream.url
        if not args.no_relay:
            servers["relay"] = start_relay(url)
        servers["serve"] = start_server(url, extra=args.server_arg)
        if args.workers > 1:
            servers["workers"] = start_server(url, args.workers, extra=args.server_arg)
        summary = asyncio.run(measure(args, upstream, servers))
        for child in servers.values():
            child.stop()
        servers.clear()
        if args.profile:
            print(asyncio.run(profile_round(args, upstream)), file=sys.stderr)
    finally:
        for child in servers.values():
            child.stop()
        upstream.stop()
    print(json.dumps(summary))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
