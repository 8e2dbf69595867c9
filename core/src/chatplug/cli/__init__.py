"""The ``chatplug`` command line: the top floor, which nothing else in chatplug imports.

Every sub-command lives in its own module and is imported only when invoked (see
:data:`COMMANDS`), so that a quick command never imports aiohttp, asyncio or a plugin it
does not need: :mod:`~chatplug.cli.listing` (``plugins``, ``models``, ``--version``),
:mod:`~chatplug.cli.chat` (``chat``; :mod:`~chatplug.cli.interactive` for the terminal
loop, :mod:`~chatplug.cli.session` and :mod:`~chatplug.cli.emulate` under both),
:mod:`~chatplug.cli.logs` (the conversation log), :mod:`~chatplug.cli.config`,
:mod:`~chatplug.cli.serve`, :mod:`~chatplug.cli.new_plugin` and :mod:`~chatplug.cli.check`.
Errors and exit codes: :mod:`~chatplug.cli.errors`.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from .chat import RESERVED_OPTIONS, chat_command, join_prompt, parse_option_value
    from .emulate import EMULATOR_SHUTDOWN
    from .errors import (
        DEBUG_ENV,
        EXIT_BROKEN_PIPE,
        EXIT_FAILURE,
        EXIT_INTERRUPTED,
        EXIT_OK,
        EXIT_USAGE,
        T,
        exit_code_for,
        report_error,
        run_guarded,
        silence_stdout,
    )
    from .group import ChatplugGroup, main
    from .interactive import HISTORY_ENV, PROMPT, history_path
    from .listing import models_command, plugins_command, version_text
    from .session import ChatSettings, open_chat_client, stream_answer

#: every sub-command: name -> (module, attribute, one-line help), imported when invoked
COMMANDS: Dict[str, Tuple[str, str, str]] = {
    "chat": (
        "chatplug.cli.chat",
        "chat_command",
        "Chat with a model: stream the answer to PROMPT as it arrives.",
    ),
    "check": (
        "chatplug.cli.check",
        "check_command",
        "Run the conformance suite against an installed plugin.",
    ),
    "config": (
        "chatplug.cli.config",
        "config_command",
        "Show where the configuration file is and what it sets.",
    ),
    "emulate": (
        "chatplug.cli.emulator",
        "emulate_command",
        "Run a provider's emulator on its own (offline stand-in for its upstream).",
    ),
    "logs": (
        "chatplug.cli.logs",
        "logs_command",
        "List, search and count the logged chats; logs on/off.",
    ),
    "models": (
        "chatplug.cli.listing",
        "models_command",
        "List every model of every provider, with its aliases.",
    ),
    "new-plugin": (
        "chatplug.cli.new_plugin",
        "new_plugin_command",
        "Create the skeleton of a new provider plugin.",
    ),
    "plugins": ("chatplug.cli.listing", "plugins_command", "List the installed provider plugins."),
    "serve": ("chatplug.cli.serve", "serve_command", "Serve an OpenAI-compatible HTTP API."),
}
#: the same table (its name from when only some commands were loaded lazily)
LAZY_COMMANDS = COMMANDS


def run(argv: Optional[Sequence[str]] = None, prog_name: Optional[str] = None) -> Any:
    """The ``chatplug`` console script: :data:`main` (the click group), except for the
    commands :mod:`~chatplug.cli.quick` answers without importing click (``--version``,
    ``plugins`` and ``plugins --json``, when nothing goes wrong); returns the exit code."""
    from .quick import answer

    code = answer(sys.argv[1:] if argv is None else argv)
    if code is not None:
        return code
    from .group import main

    return main(args=None if argv is None else list(argv), prog_name=prog_name)


#: names kept importable from ``chatplug.cli``, loaded from their module on first access
_ELSEWHERE: Dict[str, str] = {
    "ChatplugGroup": "group",
    "main": "group",
    "DEBUG_ENV": "errors",
    "EXIT_BROKEN_PIPE": "errors",
    "EXIT_FAILURE": "errors",
    "EXIT_INTERRUPTED": "errors",
    "EXIT_OK": "errors",
    "EXIT_USAGE": "errors",
    "T": "errors",
    "exit_code_for": "errors",
    "report_error": "errors",
    "run_guarded": "errors",
    "silence_stdout": "errors",
    "RESERVED_OPTIONS": "chat",
    "chat_command": "chat",
    "join_prompt": "chat",
    "parse_option_value": "chat",
    "EMULATOR_SHUTDOWN": "emulate",
    "HISTORY_ENV": "interactive",
    "PROMPT": "interactive",
    "history_path": "interactive",
    "models_command": "listing",
    "plugins_command": "listing",
    "version_text": "listing",
    "ChatSettings": "session",
    "open_chat_client": "session",
    "stream_answer": "session",
}


def __getattr__(name: str) -> Any:
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "COMMANDS",
    "DEBUG_ENV",
    "EMULATOR_SHUTDOWN",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "HISTORY_ENV",
    "LAZY_COMMANDS",
    "PROMPT",
    "RESERVED_OPTIONS",
    "ChatSettings",
    "ChatplugGroup",
    "T",
    "chat_command",
    "exit_code_for",
    "history_path",
    "join_prompt",
    "main",
    "models_command",
    "open_chat_client",
    "parse_option_value",
    "plugins_command",
    "report_error",
    "run",
    "run_guarded",
    "silence_stdout",
    "stream_answer",
    "version_text",
]
