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
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

import click

from .errors import (
    DEBUG_ENV,
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    T,
    debug_enabled,
    exit_code_for,
    print_config_warnings_plainly,
    report_error,
    run_guarded,
    safe_line,
    set_debug,
    silence_stdout,
)

if TYPE_CHECKING:  # pragma: no cover
    from .chat import RESERVED_OPTIONS, chat_command, join_prompt, parse_option_value
    from .emulate import EMULATOR_SHUTDOWN
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


def _module_exists(dotted: str) -> bool:
    """Whether module ``dotted`` is installed, found without importing it or its parents."""
    from importlib.machinery import PathFinder

    parts = dotted.split(".")
    top = sys.modules.get(parts[0])
    search: Optional[List[str]] = list(getattr(top, "__path__", []) or [])
    for part in parts[1:]:
        if not search:
            return False
        spec = PathFinder.find_spec(part, search)
        if spec is None:
            return False
        search = list(spec.submodule_search_locations or [])
    return True


def _unavailable(name: str, reason: str) -> click.Command:
    def callback(args: Sequence[str]) -> None:
        raise click.ClickException(f"the {name!r} command is not available: {reason}")

    return click.Command(
        name,
        callback=callback,
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
        help=f"(not available: {reason})",
    )


class ChatplugGroup(click.Group):
    """A click group whose commands are imported only when used, with chatplug's error
    handling around every command."""

    def __init__(
        self,
        *args: Any,
        lazy_commands: Optional[Mapping[str, Tuple[str, str, str]]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: Dict[str, Tuple[str, str, str]] = dict(lazy_commands or {})

    def _lazy_available(self, name: str) -> bool:
        module = self.lazy_commands[name][0]
        return module.startswith(f"{__name__}.") or _module_exists(module)

    def list_commands(self, ctx: click.Context) -> List[str]:
        lazy = [name for name in self.lazy_commands if name not in self.commands]
        return sorted([*self.commands, *(name for name in lazy if self._lazy_available(name))])

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        command = self.commands.get(cmd_name)
        if command is not None or cmd_name not in self.lazy_commands:
            return command
        module_name, attribute, _ = self.lazy_commands[cmd_name]
        if not self._lazy_available(cmd_name):
            return _unavailable(cmd_name, f"module {module_name} is not installed")
        try:
            module = importlib.import_module(module_name)
            command = getattr(module, attribute)
        except Exception as error:
            if debug_enabled():
                raise
            return _unavailable(
                cmd_name,
                f"importing {module_name}.{attribute} failed: "
                f"{type(error).__name__}: {safe_line(str(error))}",
            )
        if not isinstance(command, click.Command):
            return _unavailable(cmd_name, f"{module_name}.{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, without importing the lazy commands."""
        rows: List[Tuple[str, str]] = []
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None:
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
            else:
                rows.append((name, self.lazy_commands[name][2]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        print_config_warnings_plainly()
        try:
            return super().invoke(ctx)
        except BaseException as error:
            code = exit_code_for(error)
            if code is None:
                raise
            ctx.exit(code)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from .listing import version_text

    click.echo(version_text())
    ctx.exit(EXIT_OK)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        set_debug()


@click.group(
    cls=ChatplugGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the versions of chatplug, of its plugin contract and of the installed "
    "plugins, and exit.",
)
@click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="Print tracebacks of errors (also CHATPLUG_DEBUG=1).",
)
def main() -> None:
    """chatplug: one streaming chat API over many LLM chat providers.

    \b
    Examples:
      chatplug chat --emulate -p vitalentum "Hello"   (offline, against the emulator)
      chatplug chat -m gpt-4o "Hello"
      cat notes.txt | chatplug chat "summarise"
      chatplug models --json
    """


#: names kept importable from ``chatplug.cli``, loaded from their module on first access
_ELSEWHERE: Dict[str, str] = {
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
    "run_guarded",
    "silence_stdout",
    "stream_answer",
    "version_text",
]
