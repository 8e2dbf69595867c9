"""Shared benchmark plumbing: the upstream process, the request, repeated measurements."""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

HERE = Path(__file__).parent
PATH = "/api/converse-edge"


@contextlib.contextmanager
def upstream() -> Iterator[str]:
    """Start ``upstream.py`` in its own process; yield its base URL."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "upstream.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = int(line.split()[1])
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def vitalentum_headers(base: str) -> Dict[str, str]:
    """The headers the Vitalentum plugin sends: bare candidates send the same request,
    so that a difference is the framework's, not a smaller request's."""
    from chatplug_vitalentum import request_headers

    return request_headers(base)


def vitalentum_body(prompt: str) -> Dict[str, Any]:
    """The body the Vitalentum plugin sends for one user message (built per request)."""
    history = [{"speaker": "human", "text": prompt}]
    return {
        "conversation": json.dumps({"history": history}, ensure_ascii=False),
        "temperature": 0.7,
    }


@dataclass
class Series:
    """Repeated measurements of one figure (and, optionally, CPU time per item)."""

    name: str
    unit: str
    values: List[float] = field(default_factory=list)
    cpu_us: List[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def row(self) -> Dict[str, object]:
        row: Dict[str, object] = {
            "name": self.name,
            "unit": self.unit,
            "median": self.median,
            "min": min(self.values),
            "max": max(self.values),
            "runs": len(self.values),
        }
        if self.cpu_us:
            row["cpu_us_per_chunk"] = statistics.median(self.cpu_us)
        return row


def spread(values: List[float]) -> Dict[str, Optional[float]]:
    """Median, min and max of ``values``."""
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}
