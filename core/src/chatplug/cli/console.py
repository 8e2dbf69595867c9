"""What the command line writes without click, shared by the click commands and by
:mod:`~chatplug.cli.quick`: messages on one line with their credentials masked,
configuration warnings as one ``Warning:`` line, a quiet exit after a broken pipe."""

from __future__ import annotations

import os
import sys
from typing import Any

#: the command line's exit codes besides a :class:`~chatplug.ChatplugError`'s own
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def one_line(text: str) -> str:
    """``text`` on one line (runs of white space, newlines included, become one space)."""
    return " ".join(str(text).split())


def safe_line(text: str) -> str:
    """``text`` on one line with its credentials masked: how the command line shows any
    message it did not write itself."""
    from ..masking import mask_text

    return mask_text(one_line(text))


def silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout: nothing to flush
        pass


def print_config_warnings_plainly() -> None:
    """Show configuration warnings as one ``Warning:`` line, not Python's warning format."""
    import warnings

    original = warnings.showwarning

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if category.__name__ == "ConfigWarning":
            sys.stderr.write(f"Warning: {message}\n")
            sys.stderr.flush()
        else:
            original(message, category, *args, **kwargs)

    if getattr(original, "__name__", "") != "show":
        warnings.showwarning = show
