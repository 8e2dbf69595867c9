"""Cold start: fresh processes, median of several runs."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from typing import Dict, List


def command_time(argv: List[str], runs: int = 5) -> Dict[str, float]:
    samples = []
    for _ in range(runs + 1):  # the first run warms the OS cache and .pyc files
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    samples = samples[1:]
    return {"median_ms": statistics.median(samples) * 1000, "min_ms": min(samples) * 1000,
            "max_ms": max(samples) * 1000}


def aiohttp_imported_by_import_chatplug() -> bool:
    code = "import sys, chatplug; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def measure() -> Dict[str, Dict[str, float]]:
    chatplug = shutil.which("chatplug") or "chatplug"
    rows = {
        "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
        "python -c 'import chatplug'": [sys.executable, "-c", "import chatplug"],
        "chatplug plugins": [chatplug, "plugins"],
        "chatplug models (all plugins)": [chatplug, "models"],
        "python -c 'import aiohttp' (reference)": [sys.executable, "-c", "import aiohttp"],
        "python -c 'import openai' (reference)": [sys.executable, "-c", "import openai"],
    }
    return {name: command_time(argv) for name, argv in rows.items()}
