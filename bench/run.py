"""Run every benchmark side by side in one run; write docs/benchmarks.md and the chart.

``nox -s bench`` runs this.  ``--quick`` uses smaller sizes (a smoke test, not figures).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List

import coldstart
import latency
import throughput
from common import HERE, Series, upstream

DOCS = HERE.parent / "docs"
FLOOR = "bare aiohttp: iter_any + split + json.loads (floor)"
LINES = "bare aiohttp: lines + json.loads"
SDK = "openai SDK (AsyncOpenAI)"
OURS = "chatplug (Vitalentum plugin, AsyncClient)"


def concurrency(base: str, streams: int, chunks: int, runs: int) -> Dict[str, Dict[str, Any]]:
    results: Dict[str, List[Dict[str, Any]]] = {"bare": [], "chatplug": []}
    for _ in range(runs):
        for name in results:
            out = subprocess.run(
                [sys.executable, str(HERE / "concurrency.py"), name, base, str(streams), str(chunks)],
                capture_output=True, text=True, check=True,
            )
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary = {}
    for name, rows in results.items():
        walls = [row["wall_s"] for row in rows]
        summary[name] = {
            "wall_s": statistics.median(walls),
            "wall_min": min(walls),
            "wall_max": max(walls),
            "errors": sum(row["errors"] for row in rows),
            "first_error": next((row["first_error"] for row in rows if row["first_error"]), None),
            "peak_kib_per_stream": statistics.median(row["peak_kib_per_stream"] for row in rows),
        }
    return summary


def server_load(quick: bool) -> Dict[str, Any] | None:
    script = HERE / "load_server.py"
    if not script.exists():
        return None
    args = [sys.executable, str(script)] + (["--quick"] if quick else [])
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout)[-500:]}
    for line in reversed(out.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": "no JSON summary printed"}


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
    figure, axis = plt.subplots(figsize=(9, 3.6))
    axis.barh(names, medians, xerr=errors, color=colors, capsize=3)
    axis.set_xlabel("thousand chunks per second (median, min-max), higher is better")
    axis.set_title("One stream of SSE chunks from a local upstream")
    for index, value in enumerate(medians):
        axis.text(value, index, f" {value:,.0f}k", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def render(report: Dict[str, Any]) -> str:
    tp = {row["name"]: row for row in report["throughput"]}
    ours, floor, lines, sdk = (tp[name]["median"] for name in (OURS, FLOOR, LINES, SDK))
    conc, lat, cold = report["concurrency"], report["latency"], report["coldstart"]
    lat_bare, lat_ours = lat["bare aiohttp (shared session)"], lat["chatplug"]
    plugins_ms = cold["chatplug plugins"]["median_ms"]
    models_ms = cold["chatplug models (all plugins)"]["median_ms"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    targets = [
        ("throughput vs (a) lines + json.loads", f"{ours / lines:.2f}x", ">= 1.5x", ours / lines >= 1.5),
        ("throughput vs (b) the floor", f"floor is {floor / ours:.2f}x ours", "<= 1.3x", floor / ours <= 1.3),
        ("throughput vs (c) openai SDK", f"{ours / sdk:.1f}x", ">= 15x", ours / sdk >= 15),
        ("1,000 streams: wall time vs bare", f"{conc['chatplug']['wall_s']:.2f}s vs {conc['bare']['wall_s']:.2f}s",
         "<= bare", conc["chatplug"]["wall_s"] <= conc["bare"]["wall_s"]),
        ("1,000 streams: peak memory per stream", f"{conc['chatplug']['peak_kib_per_stream']:.1f} KiB",
         "<= 40 KiB", conc["chatplug"]["peak_kib_per_stream"] <= 40),
        ("1,000 streams: errors", str(conc["chatplug"]["errors"]), "0", conc["chatplug"]["errors"] == 0),
        ("time to first chunk vs bare (median)",
         f"+{lat_ours['median_ms'] - lat_bare['median_ms']:.3f} ms", "<= +0.1 ms",
         lat_ours["median_ms"] - lat_bare["median_ms"] <= 0.1),
        ("cold `chatplug plugins`", f"{plugins_ms:.0f} ms", "< 80 ms", plugins_ms < 80),
        ("cold `chatplug models`", f"{models_ms:.0f} ms", "< 150 ms", models_ms < 150),
        ("`import chatplug` leaves aiohttp unloaded", str(not report["aiohttp_on_import"]), "True",
         not report["aiohttp_on_import"]),
    ]
    out = [
        "# Benchmarks",
        "",
        f"Generated by `nox -s bench` on {report['date']} ({'quick mode: not figures' if report['quick'] else 'full run'}).",
        f"Machine: {report['machine']}. Python {report['python']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".",
        "Every figure is the median of several runs, with min and max; all candidates run side by side in one",
        "run against the same local upstream (a separate process writing pre-encoded SSE as fast as it can,",
        "loopback, no TLS). Ratios matter more than absolute numbers: the machine may be shared.",
        "",
        "![throughput](benchmarks.png)",
        "",
        "## Targets",
        "",
        "| target | measured | wanted | |",
        "|---|---|---|---|",
        *[f"| {name} | {value} | {want} | {verdict(ok)} |" for name, value, want, ok in targets],
        "",
        f"## Streaming throughput ({report['chunks']:,} chunks, one stream)",
        "",
        "| candidate | median chunks/s | min | max | runs | vs chatplug |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(report["throughput"], key=lambda r: -r["median"]):
        out.append(
            f"| {row['name']} | {row['median']:,.0f} | {row['min']:,.0f} | {row['max']:,.0f} | {row['runs']} "
            f"| {row['median'] / ours:.2f}x |"
        )
    out += [
        "",
        f"## Concurrency ({report['streams']:,} concurrent streams of {report['stream_chunks']} chunks)",
        "",
        "| candidate | wall time (median) | min | max | errors | peak memory per stream |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in conc.items():
        label = "bare aiohttp, one shared session" if name == "bare" else "chatplug AsyncClient"
        out.append(
            f"| {label} | {row['wall_s']:.2f}s | {row['wall_min']:.2f}s | {row['wall_max']:.2f}s | "
            f"{row['errors']} | {row['peak_kib_per_stream']:.1f} KiB |"
        )
    out += [
        "",
        f"## Latency ({report['latency_streams']} sequential short streams, time to first chunk)",
        "",
        "| candidate | median | p99 |",
        "|---|---:|---:|",
        *[f"| {name} | {row['median_ms']:.3f} ms | {row['p99_ms']:.3f} ms |" for name, row in lat.items()],
        "",
        "## Cold start (fresh process, median of 5)",
        "",
        "| command | median | min | max |",
        "|---|---:|---:|---:|",
        *[f"| `{name}` | {row['median_ms']:.0f} ms | {row['min_ms']:.0f} ms | {row['max_ms']:.0f} ms |"
          for name, row in cold.items()],
        "",
        f"`import chatplug` imports aiohttp: {report['aiohttp_on_import']}.",
        "",
        "## Server (`chatplug serve` under load)",
        "",
    ]
    server = report.get("server")
    if server is None:
        out.append("Not measured: `bench/load_server.py` is missing.")
    else:
        out += ["```json", json.dumps(server, indent=2), "```"]
    out += ["", "Raw results: `docs/benchmarks.json`.", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    args = parser.parse_args()
    quick = args.quick
    chunks = 20_000 if quick else 200_000
    streams, stream_chunks = (100, 50) if quick else (1000, 200)
    latency_streams = 50 if quick else 500
    report: Dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "quick": quick,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "versions": versions(),
        "chunks": chunks,
        "streams": streams,
        "stream_chunks": stream_chunks,
        "latency_streams": latency_streams,
    }
    with upstream() as base:
        print("throughput...", flush=True)
        series = throughput.measure(base, chunks, rounds=2 if quick else 5, slow_rounds=1 if quick else 3)
        report["throughput"] = [item.row() for item in series]
        print("concurrency...", flush=True)
        report["concurrency"] = concurrency(base, streams, stream_chunks, runs=1 if quick else 3)
        print("latency...", flush=True)
        report["latency"] = latency.measure(base, latency_streams)
    print("cold start...", flush=True)
    report["coldstart"] = coldstart.measure()
    report["aiohttp_on_import"] = coldstart.aiohttp_imported_by_import_chatplug()
    print("server...", flush=True)
    report["server"] = server_load(quick)
    DOCS.mkdir(exist_ok=True)
    chart(series, DOCS / "benchmarks.png")
    (DOCS / "benchmarks.json").write_text(json.dumps(report, indent=2) + "\n")
    (DOCS / "benchmarks.md").write_text(render(report))
    print((DOCS / "benchmarks.md").read_text())


if __name__ == "__main__":
    main()
