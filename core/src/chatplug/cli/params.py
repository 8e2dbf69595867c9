"""Parameter types shared by the commands."""

from __future__ import annotations

import math
from typing import Any, Optional

import click


class Seconds(click.ParamType):  # type: ignore[type-arg]  # generic in newer click
    """A finite number of seconds, greater than 0 (or at least 0 with ``zero=True``);
    anything else (``-1``, ``nan``, ``inf``, ``soon``) is a usage error (exit 2)."""

    name = "seconds"

    def __init__(self, *, zero: bool = False) -> None:
        self.zero = zero

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Any) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        else:
            try:
                seconds = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        bound = "at least 0" if self.zero else "greater than 0"
        if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not self.zero):
            self.fail(f"{value!r} is not a number of seconds {bound}", param, ctx)
        return seconds
