"""Cold start: fresh processes, median of several runs.

Bytecode caching is left on (``PYTHONDONTWRITEBYTECODE`` removed from the environment),
as on a user's machine: the first, unmeasured run writes the ``.pyc`` files.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List


def environment() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("CHATPLUG_PLUGINS", None)  # "all plugins": whatever is installed
    return env


def command_time(argv: List[str], runs: int = 5) -> Dict[str, float]:
    samples = []
    env = environment()
    for _ in range(runs + 1):  # the first run warms the OS cache and writes .pyc files
        start = time.perf_counter()
        subprocess.run(
            argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        samples.append(time.perf_counter() - start)
    samples = samples[1:]
    return {
        "median_ms": statistics.median(samples) * 1000,
        "min_ms": min(samples) * 1000,
        "max_ms": max(samples) * 1000,
    }


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
        "python -c 'import click, dataclasses, pathlib' (the CLI's own floor)": [
            sys.executable,
            "-c",
            "import click, dataclasses, pathlib",
        ],
        "chatplug plugins": [chatplug, "plugins"],
        "chatplug models (all plugins)": [chatplug, "models"],
        "python -c 'import aiohttp' (reference)": [sys.executable, "-c", "import aiohttp"],
        "python -c 'import openai' (reference)": [sys.executable, "-c", "import openai"],
    }
    samples: Dict[str, List[float]] = {name: [] for name in rows}
    for _ in range(runs):  # interleaved: one run of each command per round
        for name, argv in rows.items():
            samples[name].append(command_time(argv, runs=1)["median_ms"])
    out = {}
    for name, values in samples.items():
        out[name] = {
            "median_ms": statistics.median(values),
            "min_ms": min(values),
            "max_ms": max(values),
        }
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
