"""Small pieces of terminal output shared by the commands: tables, dim text, JSON."""

from __future__ import annotations

import os
from typing import IO, Any, Sequence

DIM, UNDIM = "\x1b[2m", "\x1b[22m"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``headers`` and ``rows`` as left-aligned columns two spaces apart."""
    lines = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines
    )


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no real stream, or a closed one
        return False


def styled(stream: IO[str]) -> bool:
    """Whether ``stream`` gets ANSI styles: a terminal, and ``NO_COLOR`` not set."""
    return not os.environ.get("NO_COLOR") and is_terminal(stream)


def dim(text: str, stream: IO[str]) -> str:
    """``text`` dimmed for ``stream`` when it is a terminal, as it is otherwise."""
    return f"{DIM}{text}{UNDIM}" if text and styled(stream) else text


def json_text(value: Any, *, indent: Any = 2) -> str:
    """``value`` as JSON, non-ASCII characters kept as they are."""
    import json

    return json.dumps(value, indent=indent, ensure_ascii=False, default=str)
