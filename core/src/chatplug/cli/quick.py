"""The answers the console script gives without importing click: ``chatplug --version``,
``chatplug plugins`` and ``chatplug plugins --json``.

These are the commands people run to see what is installed, and click's import is about
a quarter of their time (``bench/coldstart.py``).  The answer is exactly the click
command's (both print :mod:`~chatplug.cli.inventory`'s text).  Anything else, and any of
these that goes wrong (an invalid configuration...), goes to the click group, which
reports it as every command does: :func:`answer` returns ``None`` without having written
anything.
"""

from __future__ import annotations

import sys
import warnings
from typing import Callable, Dict, Optional, Sequence, Tuple

from .console import EXIT_BROKEN_PIPE, EXIT_OK, print_config_warnings_plainly, silence_stdout
from .inventory import configured_registry, plugins_report, version_text

ANSWERS: Dict[Tuple[str, ...], Callable[[], str]] = {
    ("--version",): version_text,
    ("plugins",): lambda: plugins_report(configured_registry(), as_json=False),
    ("plugins", "--json"): lambda: plugins_report(configured_registry(), as_json=True),
}


def answer(argv: Sequence[str]) -> Optional[int]:
    """Print the answer to ``argv`` and return the exit code, or ``None`` (nothing
    printed) when the click group must answer."""
    build = ANSWERS.get(tuple(argv))
    if build is None:
        return None
    with warnings.catch_warnings(record=True) as caught:
        try:
            text = build()
        except Exception:  # the click group reports it (and the warnings) as usual
            return None
    if caught:
        print_config_warnings_plainly()
        for warning in caught:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return EXIT_BROKEN_PIPE
    return EXIT_OK
