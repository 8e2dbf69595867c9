"""Two versions of chatplug side by side: the text path of one against the other's.

Each version lives in its own virtual environment; every measurement runs in a fresh
process of that environment (``versions.py worker ...``, this same file: it uses only the
API both versions share), against one local upstream, old and new interleaved round by
round (old/new, then new/old) so that a change in the machine's load hits both alike.

- **throughput**: one long stream through ``AsyncClient`` and the Vitalentum plugin
  (``throughput.chatplug_client``), chunks per second and CPU per chunk; each process also
  runs the bare floor (``throughput.bare_iter_any``) alternately, so ``chatplug / floor``
  is a second figure that a loaded machine disturbs less;
- **time to first chunk**: ``latency.measure`` (5-chunk streams, chatplug and bare aiohttp
  alternating stream by stream in one event loop): the median, and what chatplug adds;
- **instructions** (valgrind's callgrind, when installed): per chunk of a long stream, per
  5-chunk stream, and from ``client.stream(...)`` to the first text piece (callgrind's
  collection switched on and off around it by a tiny C helper, built when a C compiler
  and ``valgrind/callgrind.h`` are there).  Each is the difference of two runs of different
  sizes, so that start-up and imports cancel out.  Deterministic: the machine's load does
  not change them.

``python versions.py --old ec9d6af`` builds the old version from git (``core`` and
``plugins/chatplug-vitalentum`` of that revision, in a cached venv, with the same Python
and the same aiohttp, yarl, multidict... as the new one) and compares it with the
interpreter running this script; ``--old`` and ``--new`` also take a Python interpreter
or a venv.  Prints one JSON object, and with ``--markdown`` the table.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = Path(tempfile.gettempdir()) / "chatplug-bench-versions"
#: what the old version is built from (a plugin of that revision, on that core)
SOURCES = ("core", "plugins/chatplug-vitalentum")
#: pinned in the built venv to the new interpreter's versions: only chatplug differs
PINNED = (
    "aiohttp",
    "aiohappyeyeballs",
    "aiosignal",
    "attrs",
    "frozenlist",
    "multidict",
    "propcache",
    "yarl",
    "pluggy",
    "click",
    "platformdirs",
    "typing-extensions",
)
OLD, NEW = "old", "new"
#: ``--new`` default: this working tree, built into a venv like the old version's
TREE = "tree"
#: callgrind's counts (``instruction_counts``) and their figures
INSTRUCTIONS = {
    "chunk": "instructions_per_chunk",
    "first": "instructions_to_first_chunk",
    "stream": "instructions_per_stream",
}
TOGGLE_C = """#include <valgrind/callgrind.h>
void toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
"""


# -- the workers (run inside each version's venv) -------------------------------------


def _worker(argv: Sequence[str]) -> None:
    """``worker throughput BASE CHUNKS RUNS``, ``worker latency BASE STREAMS``, and for
    callgrind ``worker long BASE CHUNKS``, ``worker short BASE STREAMS [TOGGLE_LIBRARY]``."""
    import chatplug
    import latency
    import throughput

    kind, base, size = argv[0], argv[1], int(argv[2])
    out: Dict[str, Any] = {"chatplug": chatplug.__version__}
    if kind == "throughput":
        asyncio.run(throughput.chatplug_client(base, 1000))  # warm up: imports, caches
        asyncio.run(throughput.bare_iter_any(base, 1000))
        runners = {"chatplug": throughput.chatplug_client, "floor": throughput.bare_iter_any}
        for name in runners:
            out[name] = []
        for index in range(int(argv[3])):
            for name in runners if index % 2 == 0 else list(runners)[::-1]:
                start, cpu = time.perf_counter(), time.process_time()
                count = asyncio.run(runners[name](base, size))
                elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
                if count != size:
                    raise RuntimeError(f"{name} streamed {count} chunks, expected {size}")
                out[name].append([size / elapsed, cpu / size * 1e6])
    elif kind == "latency":
        result = latency.measure(base, streams=size, chunks=5, rounds=1)
        out["median_ms"] = result[latency.OURS]["median_ms"]
        out["bare_ms"] = result[latency.BARE]["median_ms"]
        out["added_ms"] = result["added_ms"]["median"]
    elif kind == "long":
        asyncio.run(throughput.chatplug_client(base, 10))
        out["chunks"] = asyncio.run(throughput.chatplug_client(base, size))
    elif kind == "short":
        toggle: Optional[Callable[[], None]] = None
        if len(argv) > 3:
            import ctypes

            toggle = ctypes.CDLL(argv[3]).toggle
        out["chunks"] = asyncio.run(_short_streams(base, size, toggle))
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(out))


async def _short_streams(base: str, streams: int, toggle: Optional[Callable[[], None]]) -> int:
    """``streams`` sequential 5-chunk streams on one client, after 20 to warm up; with
    ``toggle``, callgrind collects from each ``client.stream(...)`` to its first piece."""
    import chatplug

    registry = chatplug.Registry(enabled=["vitalentum"])
    base_urls = {"vitalentum": f"{base}/n/5"}
    count = 0
    async with chatplug.AsyncClient(registry=registry, base_urls=base_urls, config=False) as client:
        for index in range(20 + streams):
            measured = toggle is not None and index >= 20
            if measured:
                toggle()  # type: ignore[misc]
            async for _text in client.stream("hi", provider="vitalentum"):
                if measured:
                    toggle()  # type: ignore[misc]
                    measured = False
                count += 1
    return count


# -- the versions ------------------------------------------------------------------------


def _run_json(argv: Sequence[str], timeout: float = 900) -> Dict[str, Any]:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=HERE)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _describe(python: str) -> Dict[str, Any]:
    """The versions of chatplug and of :data:`PINNED` in ``python``'s environment."""
    code = (
        "import json, sys\nfrom importlib import metadata\nfound = {}\n"
        f"for name in {[*PINNED, 'chatplug', 'chatplug-vitalentum']!r}:\n"
        "    try:\n        found[name] = metadata.version(name)\n"
        "    except metadata.PackageNotFoundError:\n        pass\n"
        "print(json.dumps({'python_version': sys.version.split()[0], 'packages': found}))"
    )
    return _run_json([python, "-c", code])


def interpreter(spec: str, reference: str) -> Dict[str, Any]:
    """``spec`` as a Python interpreter: ``tree`` (this working tree), a git revision of
    this repository, each built into a venv of its own like ``reference``'s; or an
    interpreter, or a venv, used as it is."""
    path = Path(spec)
    if path.is_dir() and (path / "bin" / "python").exists():
        path = path / "bin" / "python"
    if path.is_file():
        python, where = str(path), None
    elif spec == TREE:
        head = _git("rev-parse", "--short", "HEAD")
        changed = _git("status", "--porcelain", "--", *SOURCES)
        where = f"this tree: {head}{' with changes' if changed else ''}"
        home = CACHE / f"tree-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:12]}"
        python = _build(ROOT, home, reference, True)
    else:
        revision = _git("rev-parse", "--verify", f"{spec}^{{commit}}")
        where = revision[:7]
        home = CACHE / revision[:12]
        if not (home / "ready").exists():
            shutil.rmtree(home, ignore_errors=True)
            (home / "src").mkdir(parents=True)
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", revision, *SOURCES],
                capture_output=True,
                check=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(home / "src")], input=archive, check=True)
        python = _build(home / "src", home, reference, False)
    found = _describe(python)
    label = f"chatplug {found['packages'].get('chatplug')}" + (f" ({where})" if where else "")
    return {"python": python, "label": label, "source": where or python, **found}


def _git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    out.check_returncode()
    return out.stdout.strip()


def _build(source: Path, home: Path, reference: str, again: bool) -> str:
    """A venv in ``home`` with ``core`` and the Vitalentum plugin from ``source`` and
    nothing else but their dependencies, pinned to ``reference``'s versions: both versions
    get the same environment (the plugins and packages installed change what discovering
    the plugins costs).  Built once (``again``: chatplug reinstalled on every call)."""
    python = home / "venv" / "bin" / "python"
    ready = home / "ready"
    if ready.exists() and python.exists() and not again:
        return str(python)
    packages = [str(source / item) for item in SOURCES]
    wanted = _describe(reference)["packages"]
    packages += [f"{name}=={version}" for name, version in wanted.items() if name in PINNED]
    venv = str(home / "venv")
    print(f"building {venv}...", file=sys.stderr, flush=True)
    uv = shutil.which("uv")
    fresh = not python.exists()
    if uv:
        if fresh:
            subprocess.run([uv, "venv", "-q", "-p", _base_python(reference), venv], check=True)
        again_flags = [
            f"--reinstall-package={name}" for name in ("chatplug", "chatplug-vitalentum")
        ]
        command = [uv, "pip", "install", "-q", "--python", str(python), *again_flags]
    else:
        if fresh:
            subprocess.run([_base_python(reference), "-m", "venv", venv], check=True)
        command = [str(python), "-m", "pip", "install", "-q", "--force-reinstall"]
    subprocess.run([*command, *packages], check=True)
    ready.write_text(str(source) + "\n")
    return str(python)


def _base_python(reference: str) -> str:
    """The interpreter behind ``reference`` (a venv's python is a link to it)."""
    code = "import sys; print(getattr(sys, '_base_executable', sys.executable))"
    out = subprocess.run([reference, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() or reference


# -- instructions -----------------------------------------------------------------------


def _toggle_library() -> Optional[str]:
    """The helper that switches callgrind's collection (built once), or ``None`` without a
    C compiler or valgrind's header."""
    library = CACHE / "callgrind_toggle.so"
    if library.exists():
        return str(library)
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    source = CACHE / "callgrind_toggle.c"
    source.write_text(TOGGLE_C)
    built = subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(source)],
        capture_output=True,
    )
    return str(library) if built.returncode == 0 else None


def _instructions(python: str, argv: Sequence[str], at_start: bool = True) -> int:
    """Instructions the process ran (callgrind's total; with ``at_start`` false, only those
    collected between the worker's toggles)."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        f"--collect-atstart={'yes' if at_start else 'no'}",
        python,
        str(HERE / "versions.py"),
        "worker",
        *argv,
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=HERE)
    if out.returncode != 0:
        raise RuntimeError(f"callgrind failed:\n{out.stderr[-2000:]}")
    for line in out.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError(f"no instruction count in callgrind's output:\n{out.stderr[-2000:]}")


def instruction_counts(python: str, base: str, chunks: int) -> Dict[str, Any]:
    """Per chunk, per 5-chunk stream and (with the toggle helper) to the first piece."""
    small, large = 2_000, max(4_000, chunks // 10)
    few, many = 20, 220

    def per_item(argv: List[str], low: int, high: int, at_start: bool = True) -> float:
        low_count, high_count = (
            _instructions(python, [*argv[:2], str(size), *argv[2:]], at_start)
            for size in (low, high)
        )
        return (high_count - low_count) / (high - low)

    out: Dict[str, Any] = {
        "chunk": per_item(["long", base], small, large),
        "stream": per_item(["short", base], few, many),
        "sizes": {"long_chunks": [small, large], "short_streams": [few, many]},
    }
    library = _toggle_library()
    if library is not None:
        out["first"] = per_item(["short", base, library], few, many, at_start=False)
    return out


# -- the comparison ---------------------------------------------------------------------


def _spread(values: List[float]) -> Dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _figure(old: List[float], new: List[float], unit: str, paired: bool = True) -> Dict[str, Any]:
    """Both versions' spread, the ratio of the medians and (``paired``) each round's ratio."""
    entry: Dict[str, Any] = {"unit": unit, "old": _spread(old), "new": _spread(new)}
    entry["ratio"] = entry["new"]["median"] / entry["old"]["median"]
    if paired:  # the drift between rounds cancels out
        entry["round_ratios"] = _spread([n / o for n, o in zip(new, old)])
    return entry


def measure(
    old: Dict[str, Any],
    new: Dict[str, Any],
    base: str,
    *,
    rounds: int = 10,
    chunks: int = 200_000,
    runs: int = 2,
    streams: int = 300,
    callgrind: Optional[bool] = None,
) -> Dict[str, Any]:
    """Both versions, interleaved; every figure per version and new / old."""
    pythons = {OLD: old["python"], NEW: new["python"]}
    script = str(HERE / "versions.py")
    rows: Dict[str, List[Dict[str, float]]] = {OLD: [], NEW: []}
    for index in range(rounds):
        order = (OLD, NEW) if index % 2 == 0 else (NEW, OLD)
        found: Dict[str, Dict[str, float]] = {}
        for name in order:
            row = _run_json(
                [pythons[name], script, "worker", "throughput", base, str(chunks), str(runs)]
            )
            found[name] = {
                "throughput": statistics.median(item[0] for item in row["chatplug"]),
                "cpu": statistics.median(item[1] for item in row["chatplug"]),
                "floor": statistics.median(item[0] for item in row["floor"]),
            }
        for name in order[::-1]:
            found[name].update(
                _run_json([pythons[name], script, "worker", "latency", base, str(streams)])
            )
        for name in order:
            rows[name].append(found[name])
        print(f"  round {index + 1}/{rounds} done", file=sys.stderr, flush=True)

    def column(name: str, key: str) -> List[float]:
        return [row[key] for row in rows[name]]

    figures = {
        "throughput": _figure(column(OLD, "throughput"), column(NEW, "throughput"), "chunks/s"),
        "throughput_vs_floor": _figure(
            [row["throughput"] / row["floor"] for row in rows[OLD]],
            [row["throughput"] / row["floor"] for row in rows[NEW]],
            "x floor",
        ),
        "cpu_per_chunk": _figure(column(OLD, "cpu"), column(NEW, "cpu"), "us"),
        "ttfc": _figure(column(OLD, "median_ms"), column(NEW, "median_ms"), "ms"),
        "ttfc_added": _figure(column(OLD, "added_ms"), column(NEW, "added_ms"), "ms"),
    }
    result: Dict[str, Any] = {
        "old": {key: old[key] for key in ("label", "source", "python", "packages")},
        "new": {key: new[key] for key in ("label", "source", "python", "packages")},
        "rounds": rounds,
        "chunks": chunks,
        "runs_per_round": runs,
        "latency_streams": streams,
        "figures": figures,
    }
    if callgrind is None:
        callgrind = shutil.which("valgrind") is not None
    if callgrind:
        print("  callgrind...", file=sys.stderr, flush=True)
        counts = {name: instruction_counts(pythons[name], base, chunks) for name in (OLD, NEW)}
        for key, figure in INSTRUCTIONS.items():
            if key in counts[OLD] and key in counts[NEW]:
                figures[figure] = _figure(
                    [counts[OLD][key]], [counts[NEW][key]], "instructions", paired=False
                )
        result["callgrind"] = counts[NEW]["sizes"]
    return result


# -- the report -------------------------------------------------------------------------

LABELS = {
    "throughput": "throughput, one stream (chunks/s)",
    "throughput_vs_floor": "throughput / the bare floor's, same process",
    "cpu_per_chunk": "CPU per chunk (us)",
    "ttfc": "time to first chunk, 5-chunk streams (ms)",
    "ttfc_added": "time to first chunk added over bare aiohttp (ms)",
    "instructions_per_chunk": "instructions per chunk (callgrind)",
    "instructions_to_first_chunk": "instructions from `stream()` to the first piece (callgrind)",
    "instructions_per_stream": "instructions per 5-chunk stream (callgrind)",
}


def _number(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.3f}"
    if unit in ("us", "x floor"):
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _cell(spread: Dict[str, float], unit: str) -> str:
    text = _number(spread["median"], unit)
    if spread["min"] != spread["max"]:
        text += f" ({_number(spread['min'], unit)}-{_number(spread['max'], unit)})"
    return text


def section(result: Dict[str, Any], command: str) -> List[str]:
    """The Markdown of a comparison (a section of docs/benchmarks.md)."""
    if "figures" not in result:
        return ["The comparison failed:", "", "```", str(result.get("error"))[:1500], "```"]
    old, new = result["old"]["label"], result["new"]["label"]
    rows = [
        f"`{command}`: {old} against {new}, each in its own venv (same Python, same aiohttp "
        f"and other dependencies), a fresh process per measurement, {result['rounds']} rounds "
        "interleaved old/new then new/old against one local upstream.  Throughput: "
        f"{result['runs_per_round']} streams of {result['chunks']:,} chunks per process "
        "(`AsyncClient` and the Vitalentum plugin), alternating with the bare floor "
        "(aiohttp `iter_any` + split + `json.loads`) in the same process.  Time to first "
        f"chunk: {result['latency_streams']} 5-chunk streams per process, chatplug and bare "
        "aiohttp alternating stream by stream.  Medians over the rounds (min-max); "
        '"new / old" is the ratio of the medians, then the median (min-max) of each '
        "round's own ratio.",
        "",
        f"| figure | {old} | {new} | new / old | per round |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, entry in result["figures"].items():
        unit = entry["unit"]
        paired = entry.get("round_ratios")
        per_round = (
            f"{paired['median']:.3f} ({paired['min']:.3f}-{paired['max']:.3f})" if paired else "-"
        )
        rows.append(
            f"| {LABELS.get(key, key)} | {_cell(entry['old'], unit)} "
            f"| {_cell(entry['new'], unit)} | {entry['ratio']:.3f} | {per_round} |"
        )
    sizes = result.get("callgrind")
    if sizes:
        rows += [
            "",
            "Instructions: valgrind's callgrind, the client process only; per chunk from one "
            f"stream of {sizes['long_chunks'][1]:,} chunks less one of "
            f"{sizes['long_chunks'][0]:,}, per stream (and to the first piece) from "
            f"{sizes['short_streams'][1]} sequential 5-chunk streams less "
            f"{sizes['short_streams'][0]}: start-up, imports and warm-up cancel out.  They do "
            "not move with the machine's load; the wall-clock figures above do (this machine "
            "has 2 cores shared with other work): read those through the per-round ratios.",
        ]
    return rows


def compare(
    old_spec: str,
    new_spec: str,
    base: str,
    quick: bool = False,
    rounds: Optional[int] = None,
    callgrind: Optional[bool] = None,
) -> Dict[str, Any]:
    """Resolve (or build) both versions and measure them."""
    new = interpreter(new_spec, sys.executable)
    old = interpreter(old_spec, sys.executable)
    if quick:
        sizes = {"chunks": 20_000, "runs": 1, "streams": 100}
        return measure(old, new, base, rounds=rounds or 2, callgrind=bool(callgrind), **sizes)
    return measure(old, new, base, rounds=rounds or 10, callgrind=callgrind)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        _worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", required=True, help="git revision, interpreter or venv")
    parser.add_argument(
        "--new", default=TREE, help="the same, or 'tree': this working tree (the default)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default: 10, quick 2)")
    parser.add_argument(
        "--callgrind",
        action=argparse.BooleanOptionalAction,
        help="count instructions (default: when valgrind is installed, not with --quick)",
    )
    parser.add_argument("--markdown", action="store_true", help="also print the table")
    args = parser.parse_args()
    from common import upstream

    with upstream() as base:
        result = compare(args.old, args.new, base, args.quick, args.rounds, args.callgrind)
    print(json.dumps(result, indent=2))
    if args.markdown:
        command = "python bench/versions.py " + " ".join(sys.argv[1:])
        print("\n".join(section(result, command)))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the workers inherit it: same dict layouts
    main()
