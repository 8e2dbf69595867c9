"""Cold start: fresh processes, median of several runs, interleaved round by round with the
interpreter's own start (``python -c pass``) so that every figure has its floor beside it.

Measured: ``chatplug --version``, ``chatplug plugins`` and ``chatplug models`` (every
installed plugin), against ``python -c pass``, ``import chatplug`` and, for reference,
``import click`` (the CLI's own floor), ``import aiohttp`` and ``import openai``.

Bytecode caching is left on (``PYTHONDONTWRITEBYTECODE`` removed from the environment),
as on a user's machine: the first, unmeasured run writes the ``.pyc`` files.  Besides the
wall time (``median_ms``, ``min_ms``, ``max_ms``), each row has the CPU time the process
itself used (``cpu_median_ms``: user + system), which other work on a shared machine
disturbs less.

    python bench/coldstart.py [--runs 15]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple


def environment() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("CHATPLUG_PLUGINS", None)  # "all plugins": whatever is installed
    return env


def _children_cpu() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: List[str], env: Dict[str, str]) -> Tuple[float, float]:
    """Seconds one fresh process of ``argv`` takes from start to exit, and its CPU seconds."""
    cpu = _children_cpu()
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start, _children_cpu() - cpu


def summary(samples: List[Tuple[float, float]]) -> Dict[str, float]:
    wall = [sample[0] for sample in samples]
    return {
        "median_ms": statistics.median(wall) * 1000,
        "min_ms": min(wall) * 1000,
        "max_ms": max(wall) * 1000,
        "cpu_median_ms": statistics.median(sample[1] for sample in samples) * 1000,
    }


def command_time(argv: List[str], runs: int = 5) -> Dict[str, float]:
    env = environment()
    run_once(argv, env)  # the first run warms the OS cache and writes .pyc files
    return summary([run_once(argv, env) for _ in range(runs)])


def aiohttp_imported_by_import_chatplug() -> bool:
    code = "import sys, chatplug; print('aiohttp' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment()
    )
    return out.stdout.strip() == "True"


def chatplug_command() -> str:
    beside = Path(sys.executable).parent / "chatplug"  # the console script of this venv
    return str(beside) if beside.exists() else shutil.which("chatplug") or "chatplug"


def measure(runs: int = 5) -> Dict[str, Dict[str, float]]:
    chatplug = chatplug_command()
    rows = {
        "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
        "python -c 'import chatplug'": [sys.executable, "-c", "import chatplug"],
        "python -c 'import click' (the CLI's own floor)": [sys.executable, "-c", "import click"],
        "chatplug --version": [chatplug, "--version"],
        "chatplug plugins": [chatplug, "plugins"],
        "chatplug models (all plugins)": [chatplug, "models"],
        "python -c 'import aiohttp' (reference)": [sys.executable, "-c", "import aiohttp"],
        "python -c 'import openai' (reference)": [sys.executable, "-c", "import openai"],
    }
    env = environment()
    samples: Dict[str, List[Tuple[float, float]]] = {name: [] for name in rows}
    for argv in rows.values():  # warm the OS cache and write the .pyc files, unmeasured
        run_once(argv, env)
    for _ in range(runs):  # interleaved: one run of each command per round
        for name, argv in rows.items():
            samples[name].append(run_once(argv, env))
    return {name: summary(values) for name, values in samples.items()}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="rounds (default 15)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure(args.runs)
    if args.json:
        import json

        print(json.dumps(figures, indent=2))
        return
    floor = figures["python -c pass (interpreter floor)"]
    header = ("median", "min", "max", "-floor", "cpu", "-floor")
    print(f"{'command':<50} " + " ".join(f"{title:>6}" for title in header))
    for name, row in figures.items():
        print(
            f"{name:<50} {row['median_ms']:7.1f} {row['min_ms']:6.1f} {row['max_ms']:6.1f}"
            f" {row['median_ms'] - floor['median_ms']:+7.1f} {row['cpu_median_ms']:6.1f}"
            f" {row['cpu_median_ms'] - floor['cpu_median_ms']:+7.1f}"
        )
    print(
        f"(ms; wall time, then CPU time (user + system) of the process; medians of "
        f"{args.runs} interleaved rounds; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
