"""How the command line reports errors, and its exit codes.

Every :class:`~chatplug.ChatplugError` is printed on stderr as ``Error: ...`` and
``Hint: ...`` (secrets masked; a traceback only with ``--debug``) and the command exits
with the error's ``exit_code``; Ctrl-C exits 130 and a closed pipe (``| head``) exits 141,
both quietly.  Code run outside the ``chatplug`` group gets the same behaviour through
:func:`run_guarded` and :func:`report_error`.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional, TypeVar

import click

from .console import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    one_line,
    print_config_warnings_plainly,
    safe_line,
    silence_stdout,
)

T = TypeVar("T")

__all__ = [
    "DEBUG_ENV",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "T",
    "debug_enabled",
    "exit_code_for",
    "one_line",
    "print_config_warnings_plainly",
    "report_error",
    "run_guarded",
    "safe_line",
    "set_debug",
    "silence_stdout",
]

DEBUG_ENV = "CHATPLUG_DEBUG"


class _State:
    debug = False


_state = _State()


def set_debug() -> None:
    """Turn debug mode on for this process (``--debug``)."""
    _state.debug = True


def debug_enabled(debug: Optional[bool] = None) -> bool:
    """Whether tracebacks are printed: ``debug`` when given, else ``--debug`` or
    ``CHATPLUG_DEBUG``."""
    if debug is not None:
        return debug
    return _state.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _style(text: str, **styles: Any) -> str:
    """Colours for a terminal (click drops them elsewhere), unless NO_COLOR is set."""
    return text if os.environ.get("NO_COLOR") else click.style(text, **styles)


def report_error(error: BaseException, *, debug: Optional[bool] = None) -> int:
    """Print ``error`` on stderr as ``Error: ...`` (and ``Hint: ...``); return its exit code.

    A :class:`~chatplug.ChatplugError` exits with its ``exit_code``; anything else is a
    bug (exit 1).  The traceback is printed only in debug mode (``--debug`` or
    ``CHATPLUG_DEBUG=1``).  Credentials in the message and the hint are masked.
    """
    from ..errors import ChatplugError

    if debug_enabled(debug):
        import traceback

        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    if isinstance(error, ChatplugError):
        message, hint, code = str(error), error.hint, error.exit_code
    else:
        message = f"unexpected {type(error).__name__}: {error}"
        hint = "This is a bug in chatplug or in a plugin; rerun with --debug for the traceback."
        code = EXIT_FAILURE
    click.echo(f"{_style('Error:', fg='red', bold=True)} {safe_line(message)}", err=True)
    if hint:
        click.echo(f"{_style('Hint:', fg='yellow')} {safe_line(hint)}", err=True)
    return code


def exit_code_for(error: BaseException, *, debug: Optional[bool] = None) -> Optional[int]:
    """Handle ``error`` the way the command line does; ``None`` means "not ours: re-raise".

    Prints :class:`~chatplug.ChatplugError` (and unexpected exceptions) with
    :func:`report_error`; Ctrl-C is 130 and a broken pipe 141, both silent.
    """
    if isinstance(error, (SystemExit, click.exceptions.Exit, click.ClickException, click.Abort)):
        return None
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, BrokenPipeError):
        silence_stdout()
        return EXIT_BROKEN_PIPE
    if isinstance(error, Exception):
        return report_error(error, debug=debug)
    return None


def run_guarded(function: Callable[[], T], *, debug: Optional[bool] = None) -> T:
    """Run ``function()``; on a chatplug error, Ctrl-C or a broken pipe, exit as the CLI does.

    For code run outside the ``chatplug`` group (commands under the group get this for
    free): ``run_guarded(lambda: asyncio.run(serve(...)))``.
    """
    try:
        return function()
    except BaseException as error:
        code = exit_code_for(error, debug=debug)
        if code is None:
            raise
        sys.exit(code)
