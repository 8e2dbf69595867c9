"""Helpers of the Redis tests: worker processes sharing one Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

WORKER = Path(__file__).with_name("worker.py")


def run_workers(*commands: List[str]) -> List[str]:
    """Run ``worker.py`` once per command, all at the same time; their outputs, in order."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    processes = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for command in commands
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outputs.append(out.strip())
    return outputs
