"""Run every benchmark side by side in one run; write docs/benchmarks.md, .json and the chart.

``nox -s bench`` runs this.  ``--quick`` uses small sizes (a smoke test of the harness,
about a minute; its figures are not the published ones).  ``--compare-with REV`` adds the
text path of this tree against another version's, side by side (``versions.py``: a git
revision such as ``ec9d6af``, the 0.1 release, built into a cached venv; or a Python
interpreter or venv).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional

import coldstart
import hotpath
import latency
import saturation
import throughput
import versions as compare_versions
from common import HERE, Series, spread, upstream
from throughput import FLOOR, LINES, OURS, SDK

DOCS = HERE.parent / "docs"
CANDIDATES = ("bare", "chatplug")


def concurrency(
    base: str, streams: int, chunks: int, runs: int, hold_ms: int
) -> Dict[str, Dict[str, Any]]:
    """Unpaced runs (wall time, CPU, peak memory) and held runs (memory per open stream),
    each candidate in its own process, interleaved."""

    def one(name: str, *extra: str) -> Dict[str, Any]:
        argv = [sys.executable, str(HERE / "concurrency.py"), name, base, str(streams), str(chunks)]
        out = subprocess.run([*argv, *extra], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    rows: Dict[str, List[Dict[str, Any]]] = {name: [] for name in CANDIDATES}
    held: Dict[str, List[Dict[str, Any]]] = {name: [] for name in CANDIDATES}
    for index in range(runs):
        for name in CANDIDATES if index % 2 == 0 else CANDIDATES[::-1]:
            rows[name].append(one(name))
    for _ in range(max(1, runs // 2)):
        for name in CANDIDATES:
            held[name].append(one(name, str(hold_ms)))
    summary = {}
    for name in CANDIDATES:
        summary[name] = {
            "wall_s": spread([row["wall_s"] for row in rows[name]]),
            "cpu_s": spread([row["cpu_s"] for row in rows[name]]),
            "peak_kib_per_stream": spread([row["peak_kib_per_stream"] for row in rows[name]]),
            "open_kib_per_stream": spread(
                [row["open_kib_per_stream"] for row in held[name] if row["open_kib_per_stream"]]
            ),
            "errors": sum(row["errors"] for row in rows[name] + held[name]),
            "first_error": next(
                (row["first_error"] for row in rows[name] + held[name] if row["first_error"]), None
            ),
            "runs": len(rows[name]),
        }
    return summary


def _summary(script: Path, quick: bool, timeout: int) -> Dict[str, Any]:
    """Run ``script`` (with ``--quick`` when ``quick``): the last JSON line it prints, with
    its exit code when that is not 0."""
    args = [sys.executable, str(script)] + (["--quick"] if quick else [])
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(out.stdout.strip().splitlines()):
        if line.startswith("{"):
            summary: Dict[str, Any] = json.loads(line)
            if out.returncode != 0:
                summary["exit_code"] = out.returncode
            return summary
    return {"error": (out.stderr or out.stdout)[-500:] or f"exit code {out.returncode}"}


def server_load(quick: bool) -> Optional[Dict[str, Any]]:
    """``load_server.py`` (the server helper's): it prints one JSON summary line."""
    script = HERE / "load_server.py"
    if not script.exists():
        return None
    return _summary(script, quick, timeout=420)


def saturation_load(quick: bool) -> Dict[str, Any]:
    """``saturation.py``: N concurrent streams from a fast upstream, direct vs through the
    server (one process, and worker processes); one JSON summary line."""
    return _summary(HERE / "saturation.py", quick, timeout=600)


def redis_costs(quick: bool) -> Dict[str, Any]:
    """``redis_cost.py``: what the Redis store and limiter add to a request (needs the
    ``chatplug[redis]`` extra and a ``redis-server`` executable)."""
    from chatplug.testing.redis import available

    if not available():
        return {"error": "not measured: redis-server is not installed"}
    try:
        import redis_cost
    except ImportError as error:
        return {"error": f"not measured: {error} (pip install 'chatplug[redis]')"}
    return redis_cost.measure(2_000, 1.0) if quick else redis_cost.measure()


def _redis_section(redis: Dict[str, Any]) -> List[str]:
    if "error" in redis:
        return [redis["error"]]
    import redis_cost

    return redis_cost.section(redis)


def versions() -> Dict[str, str]:
    names = ["chatplug", "chatplug-vitalentum", "aiohttp", "openai", "pluggy"]
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def chart(series: List[Series], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(series, key=lambda item: item.median)
    names = [item.name for item in ordered]
    medians = [item.median / 1000 for item in ordered]
    errors = [
        [m - min(item.values) / 1000 for m, item in zip(medians, ordered)],
        [max(item.values) / 1000 - m for m, item in zip(medians, ordered)],
    ]
    colors = ["#d9534f" if item.name == OURS else "#7a8b99" for item in ordered]
    figure, axis = plt.subplots(figsize=(10, 3.8))
    axis.barh(names, medians, xerr=errors, color=colors, capsize=3)
    axis.set_xlabel("thousand chunks per second (median; bars: min to max), higher is better")
    axis.set_title("One stream of OpenAI-style SSE chunks from a local upstream (loopback)")
    axis.set_xlim(0, max(max(item.values) for item in ordered) / 1000 * 1.22)
    for index, (value, item) in enumerate(zip(medians, ordered)):
        axis.text(max(item.values) / 1000, index, f"  {value:,.0f}k", va="center")
    axis.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def _targets(report: Dict[str, Any]) -> List[Any]:
    tp = {row["name"]: row for row in report["throughput"]}
    ours, floor, lines, sdk = (tp[name]["median"] for name in (OURS, FLOOR, LINES, SDK))
    conc, lat, cold = report["concurrency"], report["latency"], report["coldstart"]
    mine, bare = conc["chatplug"], conc["bare"]
    added = lat["added_ms"]["median"]
    version_ms = cold["chatplug --version"]["median_ms"]
    plugins_ms = cold["chatplug plugins"]["median_ms"]
    models_ms = cold["chatplug models (all plugins)"]["median_ms"]
    peak = mine["peak_kib_per_stream"]["median"]
    return [
        ("throughput vs (a) lines + json.loads", f"{ours / lines:.2f}x", ">= 1.5x",
         ours / lines >= 1.5),
        ("throughput vs (b) the floor", f"floor / chatplug = {floor / ours:.2f}", "<= 1.3",
         floor / ours <= 1.3),
        ("throughput vs (c) openai SDK", f"{ours / sdk:.1f}x", ">= 15x", ours / sdk >= 15),
        (f"{report['streams']:,} streams: wall time vs bare (median)",
         f"{mine['wall_s']['median']:.2f} s vs {bare['wall_s']['median']:.2f} s", "<= bare",
         mine["wall_s"]["median"] <= bare["wall_s"]["median"]),
        (f"{report['streams']:,} streams: peak memory per stream (median)",
         f"{peak:.1f} KiB (bare: {bare['peak_kib_per_stream']['median']:.1f} KiB)", "<= 40 KiB",
         peak <= 40),
        (f"{report['streams']:,} streams: errors", str(mine["errors"]), "0", mine["errors"] == 0),
        ("time to first chunk vs bare (median of round medians)", f"+{added:.3f} ms",
         "<= +0.1 ms", added <= 0.1),
        ("cold `chatplug --version`", f"{version_ms:.0f} ms", "< 80 ms", version_ms < 80),
        ("cold `chatplug plugins`", f"{plugins_ms:.0f} ms", "< 80 ms", plugins_ms < 80),
        ("cold `chatplug models` (all plugins)", f"{models_ms:.0f} ms", "< 120 ms",
         models_ms < 120),
        ("`import chatplug` leaves aiohttp unloaded", str(not report["aiohttp_on_import"]),
         "True", not report["aiohttp_on_import"]),
        *_redis_target(report.get("redis") or {}),
        *_compare_targets(report.get("compare")),
    ]  # fmt: skip


def _redis_target(redis: Dict[str, Any]) -> List[Any]:
    if "error" in redis or not redis:
        return []
    added = redis["before the first chunk"]["added_p50_ms"]
    return [("Redis store + limiter: added p50 before the first chunk (loopback)",
             f"+{added:.3f} ms", "< 0.3 ms", added < 0.3)]  # fmt: skip


def _compare_targets(compare: Optional[Dict[str, Any]]) -> List[Any]:
    """The text path against the other version: within 5%, as each round's own ratio."""
    if not compare or "figures" not in compare:
        return []
    figures, old = compare["figures"], compare["old"]["label"]
    rows = []
    for key, what, higher in (
        ("throughput", "throughput", True),
        ("ttfc", "time to first chunk", False),
    ):
        ratio = figures[key]["round_ratios"]["median"]
        ok = ratio >= 0.95 if higher else ratio <= 1.05
        wanted = ">= 0.95x" if higher else "<= 1.05x"
        rows.append(
            (f"text path {what} vs {old} (median of round ratios)", f"{ratio:.3f}x", wanted, ok)
        )
    return rows


def _server_section(server: Optional[Dict[str, Any]]) -> List[str]:
    if server is None:
        return ["Not measured: `bench/load_server.py` is missing."]
    if "direct" not in server or "server" not in server:
        return ["The load test failed:", "", "```", json.dumps(server, indent=2)[:1500], "```"]
    direct, loaded = server["direct"], server["server"]
    ratio = loaded["chunks_per_s"] / direct["chunks_per_s"] if direct["chunks_per_s"] else 0
    rows = [
        f"`bench/load_server.py`: {server['streams']:,} concurrent streams of "
        f"{server['chunks_per_stream']} chunks, {server['pace_ms']} ms apart (a paced upstream "
        f"like a real model), started over {server.get('ramp_s', '?')} s; through "
        "`chatplug serve` (OpenAI-compatible endpoint, Vitalentum plugin) against the same "
        "streams taken directly from the upstream with `AsyncClient`.",
        "",
        "| | streams ok | errors | chunks/s | TTFC p50 | TTFC p99 | wall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, row in (("direct (AsyncClient)", direct), ("through `chatplug serve`", loaded)):
        rows.append(
            f"| {label} | {row['streams_ok']:,} | {row['errors']} | {row['chunks_per_s']:,} | "
            f"{row['ttfc_ms']['p50']} ms | {row['ttfc_ms']['p99']} ms | {row['wall_s']} s |"
        )
    rows += [
        "",
        f"Throughput through the server relative to direct: **{ratio:.2f}x** "
        f"(added time to first chunk: p50 {server['added_ttfc_ms']['p50']} ms, "
        f"p99 {server['added_ttfc_ms']['p99']} ms; server CPU "
        f"{loaded.get('server_cpu_us_per_chunk', '?')} us per chunk).",
    ]
    unpaced = server.get("unpaced")
    if unpaced:
        rows.append(
            f"Unpaced (the upstream writing as fast as it can), through the server: "
            f"{unpaced['chunks_per_s']:,} chunks/s, server CPU "
            f"{unpaced.get('server_cpu_us_per_chunk', '?')} us per chunk."
        )
    rows += ["", "<details><summary>Full summary</summary>", "", "```json",
             json.dumps(server, indent=2), "```", "", "</details>"]  # fmt: skip
    return rows


def _compare_section(report: Dict[str, Any]) -> List[str]:
    compare = report.get("compare")
    if compare is None:
        return [
            "## Another version: the text path",
            "",
            "Not measured in this run: `nox -s bench -- --compare-with ec9d6af` compares the "
            "text path with 0.1's (`bench/versions.py`).",
        ]
    if "figures" not in compare:
        return ["## Another version: the text path", "", *compare_versions.section(compare, "")]
    old, new = compare["old"]["label"], compare["new"]["label"]
    return [
        f"## {old} vs {new}: the text path",
        "",
        *compare_versions.section(compare, report["compare_command"]),
    ]


def render(report: Dict[str, Any]) -> str:
    tp = {row["name"]: row for row in report["throughput"]}
    ours = tp[OURS]["median"]
    conc, lat, cold = report["concurrency"], report["latency"], report["coldstart"]
    mode = "quick mode: a smoke test, not the figures" if report["quick"] else "full run"
    out = [
        "# Benchmarks",
        "",
        f"Generated by `nox -s bench` (`python bench/run.py`) on {report['date']} ({mode}, "
        f"{report['elapsed_s']:.0f} s).",
        f"Machine: {report['machine']}; load average at the start {report['load_start']}, "
        f"at the end {report['load_end']} (other work was running).",
        f"Python {report['python']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items())
        + ".",
        "",
        "All candidates run side by side in one run against the same local upstream "
        "(`bench/upstream.py`: a separate process writing pre-encoded OpenAI-style SSE as "
        "fast as it can, loopback, no TLS), interleaved round by round; every figure is the "
        "median of several runs with min and max.  The bare aiohttp candidates send the "
        "plugin's exact request (same headers and body), so a difference is the framework's. "
        "The machine has 2 cores shared with other work: ratios mean more than absolute "
        "figures.",
        "",
        "![throughput](benchmarks.png)",
        "",
        "## Targets",
        "",
        "| target | measured | wanted | |",
        "|---|---|---|---|",
        *[
            f"| {name} | {value} | {want} | {'met' if ok else '**not met**'} |"
            for name, value, want, ok in _targets(report)
        ],
        "",
        f"## Streaming throughput ({report['chunks']:,} chunks, one stream)",
        "",
        "| candidate | median chunks/s | min | max | runs | vs chatplug | CPU per chunk |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(report["throughput"], key=lambda r: -r["median"]):
        out.append(
            f"| {row['name']} | {row['median']:,.0f} | {row['min']:,.0f} | {row['max']:,.0f} "
            f"| {row['runs']} | {row['median'] / ours:.2f}x | {row['cpu_us_per_chunk']:.2f} us |"
        )
    out += [
        "",
        f"The SDK streams {report['sdk_chunks']:,} chunks per run (a rate; it is 10x slower). "
        "CPU per chunk is the client process's CPU time over the run divided by the chunks.",
        "",
        f"## Concurrency ({report['streams']:,} concurrent streams of "
        f"{report['stream_chunks']} chunks, one process each)",
        "",
        "| candidate | wall time (median) | min | max | CPU | peak memory per stream "
        "(median, min-max) | memory per open stream | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in conc.items():
        label = "bare aiohttp, one shared session" if name == "bare" else "chatplug AsyncClient"
        peak, held = row["peak_kib_per_stream"], row["open_kib_per_stream"]
        held_text = f"{held['median']:.1f} KiB" if held["median"] is not None else "-"
        out.append(
            f"| {label} | {row['wall_s']['median']:.2f} s | {row['wall_s']['min']:.2f} s "
            f"| {row['wall_s']['max']:.2f} s | {row['cpu_s']['median']:.2f} s "
            f"| {peak['median']:.1f} KiB ({peak['min']:.1f}-{peak['max']:.1f}) | {held_text} "
            f"| {row['errors']} |"
        )
    out += [
        "",
        "Peak memory per stream: (peak RSS of the run - RSS after one warm-up stream) / streams. "
        f"Each stream's body is {report['stream_chunks']} events of about 150 bytes "
        f"(~{report['stream_chunks'] * 150 / 1024:.0f} KiB), written at once by the upstream: "
        "asyncio reads every ready socket into aiohttp's buffers before any consumer runs, so "
        "most of the peak is the bodies themselves, for both candidates. Memory per open "
        f"stream: the upstream holds every stream {report['hold_ms']} ms after its first "
        "event; RSS added per stream once all are open (the cost of an open stream without "
        "its body in buffers).  What chatplug keeps per open stream beyond bare aiohttp "
        "(tracemalloc): the client's and the plugin's generators with their frames, the "
        "`open_stream` context manager, the `CompletionRequest`, the `Stream`, the "
        "first-byte timer: about 4 KiB.",
        "",
        f"## Latency ({report['latency_streams']} sequential short streams each, "
        "time to first chunk)",
        "",
        "Both candidates in one event loop, alternating stream by stream, in rounds.",
        "",
        "| candidate | median | p99 | round medians (min-max) |",
        "|---|---:|---:|---:|",
    ]
    for name, row in lat.items():
        if name == "added_ms":
            continue
        rounds = row["round_median_ms"]
        out.append(
            f"| {name} | {row['median_ms']:.3f} ms | {row['p99_ms']:.3f} ms "
            f"| {rounds['min']:.3f}-{rounds['max']:.3f} ms |"
        )
    added = lat["added_ms"]
    out += [
        "",
        f"Added by chatplug, per round (median of the round's chatplug streams minus the "
        f"bare ones): median {added['median']:.3f} ms, min {added['min']:.3f} ms, max "
        f"{added['max']:.3f} ms.",
        "",
        *_compare_section(report),
        "",
        f"## Cold start (fresh process, median of {report['cold_runs']})",
        "",
        "| command | median | min | max |",
        "|---|---:|---:|---:|",
        *[
            f"| `{name}` | {row['median_ms']:.0f} ms | {row['min_ms']:.0f} ms "
            f"| {row['max_ms']:.0f} ms |"
            for name, row in cold.items()
        ],
        "",
        f"`import chatplug` imports aiohttp: {report['aiohttp_on_import']}.",
        "",
        "## Where the time goes (per chunk, without the network)",
        "",
        f"`bench/hotpath.py`: the upstream's exact body ({report['hotpath_chunks']:,} events) "
        "fed in 64 KiB blocks through each layer; best of several repeats, nanoseconds per "
        "chunk.",
        "",
        "| layer | ns per chunk |",
        "|---|---:|",
        *[f"| {name} | {value:,} |" for name, value in report["hotpath"].items()],
        "",
        PROFILE_NOTES,
        "",
        "## Server (`chatplug serve` under load)",
        "",
        *_server_section(report.get("server")),
        "",
        "## Server at saturation (a fast upstream)",
        "",
        *saturation.section(report.get("saturation") or {"error": "not measured"}),
        "",
        "## Shared state in Redis (added cost per request)",
        "",
        *_redis_section(report.get("redis") or {"error": "not measured"}),
        "",
        "Raw results: `docs/benchmarks.json`.",
        "",
    ]
    return "\n".join(out)


PROFILE_NOTES = """\
What a chunk costs, from profiles (cProfile, and instruction counts under valgrind's
callgrind, which a busy machine does not disturb): parsing the JSON of the chunk is most
of it (about 19,000 of the ~26,000 instructions of the whole plugin path per chunk), the
SSE split about 5,600, the two async-generator layers (plugin, client) about 2,000.
The bare floor spends ~36,000: `json.loads` on `bytes` detects the encoding and decodes
first, and `json.loads` runs two whitespace regex matches per call.  chatplug's decoder
splits the 64 KiB block at blank lines and takes each one-line `data:` event whole
(no per-line work), `chatplug.decoders.parse_json` calls the C scanner directly (no
regex), the plugin reads `choices[0].delta.content` without checks when the chunk has
the usual shape (the checks run only otherwise), and `async for` over a `Stream` drives
the client's generator directly (no Python `__anext__` per chunk).  No per-chunk object
is created beyond the text piece the user receives and the JSON value it comes from.

Per stream (5-chunk streams over loopback, callgrind): in 0.1, bare aiohttp with a
minimal request cost ~620,000 instructions and chatplug ~800,000 (~885,000 before its
decoder and client work); the side-by-side section above has 0.1 and 0.2 measured in
the same run.  What chatplug adds: resolving the request (messages, candidates, route:
~46,000 instructions in 0.1), the completion generator with its first-byte timer
(~45,000), and the plugin's request itself (browser headers and the history as a JSON
string, ~75,000: the same work in the bare candidates here, which send the same
request).  Contract 0.2 adds ~27,000 to the first piece (the typed request fields, the
capability check, the stream's event state), of which building the 24-field frozen
`CompletionRequest` through its own `__init__` alone was ~40,000 before it was built in
one step (~9,000).  Cold start, in instructions (callgrind, byte code cached,
a venv of 103 distributions): `chatplug plugins` runs ~275 million (~335 before it was
answered without click), of which the interpreter ~37, `typing` ~42, `importlib.metadata`
~119 (its import) plus ~22 to read the entry points of the installed distributions and
~8 for the plugins' metadata headers and the report, and chatplug's own modules ~47 (the
package, discovery, registry, configuration, circuit breaker and the command line's
click-free modules): click is not imported, and a missing configuration file loads
neither the parser nor the tables' dataclasses.  `chatplug --version` (~265 million) does
not import the registry."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument(
        "--compare-with",
        metavar="REV",
        help="also the text path against this version: a git revision (ec9d6af: 0.1), "
        "a Python interpreter or a venv",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write (default: docs/, or a temporary folder with --quick)",
    )
    args = parser.parse_args()
    quick = args.quick
    out_dir: Path = args.out or (Path(tempfile.gettempdir()) / "chatplug-bench" if quick else DOCS)
    started = time.perf_counter()
    chunks = 20_000 if quick else 200_000
    sdk_chunks = 5_000 if quick else 50_000
    streams, stream_chunks = (100, 50) if quick else (1000, 200)
    latency_streams = 50 if quick else 500
    hold_ms = 1000 if quick else 3000
    report: Dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "quick": quick,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "load_start": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "versions": versions(),
        "chunks": chunks,
        "sdk_chunks": sdk_chunks,
        "streams": streams,
        "stream_chunks": stream_chunks,
        "latency_streams": latency_streams,
        "hold_ms": hold_ms,
    }
    with upstream() as base:
        print("throughput...", flush=True)
        series = throughput.measure(
            base, chunks, rounds=2 if quick else 5, slow_rounds=1 if quick else 3,
            sdk_chunks=sdk_chunks,
        )  # fmt: skip
        report["throughput"] = [item.row() for item in series]
        print("concurrency...", flush=True)
        report["concurrency"] = concurrency(
            base, streams, stream_chunks, runs=1 if quick else 5, hold_ms=hold_ms
        )
        print("latency...", flush=True)
        report["latency"] = latency.measure(base, latency_streams, rounds=2 if quick else 5)
        if args.compare_with:
            print(f"against {args.compare_with}...", flush=True)
            report["compare_command"] = "nox -s bench -- " + " ".join(sys.argv[1:])
            try:
                report["compare"] = compare_versions.compare(
                    args.compare_with, compare_versions.TREE, base, quick
                )
            except (OSError, RuntimeError, subprocess.SubprocessError) as error:
                report["compare"] = {"error": f"{type(error).__name__}: {error}"}
    print("hot path...", flush=True)
    report["hotpath_chunks"] = 20_000 if quick else 100_000
    report["hotpath"] = hotpath.measure(report["hotpath_chunks"], repeats=2 if quick else 5)
    print("cold start...", flush=True)
    report["cold_runs"] = 2 if quick else 5
    report["coldstart"] = coldstart.measure(report["cold_runs"])
    report["aiohttp_on_import"] = coldstart.aiohttp_imported_by_import_chatplug()
    print("server...", flush=True)
    report["server"] = server_load(quick)
    print("saturation...", flush=True)
    report["saturation"] = saturation_load(quick)
    print("redis cost...", flush=True)
    report["redis"] = redis_costs(quick)
    report["load_end"] = round(os.getloadavg()[0], 2)
    report["elapsed_s"] = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        chart(series, out_dir / "benchmarks.png")
    except ImportError:  # matplotlib (installed by `nox -s bench`)
        print("matplotlib is not installed: no chart", file=sys.stderr)
    (out_dir / "benchmarks.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "benchmarks.md").write_text(render(report))
    print((out_dir / "benchmarks.md").read_text())
    print(f"written to {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
