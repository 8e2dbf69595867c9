"""The ``chatplug`` click group: the lazy sub-commands, ``--version`` and ``--debug``, and
chatplug's error handling around every command (:mod:`chatplug.cli` is the package's face;
``chatplug.cli.main`` is this group)."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import click

from . import COMMANDS
from .errors import (
    EXIT_OK,
    debug_enabled,
    exit_code_for,
    print_config_warnings_plainly,
    safe_line,
    set_debug,
)

#: the package whose modules are always there (the others are looked up before import)
_PACKAGE = __name__.rpartition(".")[0]


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
        return module.startswith(f"{_PACKAGE}.") or _module_exists(module)

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
    from .inventory import version_text

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
