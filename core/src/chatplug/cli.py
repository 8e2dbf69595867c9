"""The ``chatplug`` command line.

``chatplug plugins`` / ``models`` / ``chat`` live here; ``serve``, ``new-plugin``, ``check``
and ``config`` are loaded from their own modules only when invoked (see
:data:`LAZY_COMMANDS`), so that a quick command never imports aiohttp, asyncio or a plugin
it does not need.

Errors: every :class:`~chatplug.ChatplugError` is printed on stderr as ``Error: ...`` and
``Hint: ...`` (a traceback only with ``--debug``) and the command exits with the error's
``exit_code``; Ctrl-C exits 130 and a closed pipe (``| head``) exits 141, both quietly.
Other modules reuse this behaviour through :func:`run_guarded` and :func:`report_error`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

import click

from . import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .client import AsyncClient
    from .registry import PluginInfo, Registry

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
DEBUG_ENV = "CHATPLUG_DEBUG"
HISTORY_ENV = "CHATPLUG_HISTORY_FILE"
PROMPT = "> "
#: seconds an --emulate emulator gets to finish requests still in flight at exit
EMULATOR_SHUTDOWN = 1.0

#: sub-commands implemented elsewhere: name -> (module, attribute, one-line help)
LAZY_COMMANDS: Dict[str, Tuple[str, str, str]] = {
    "serve": ("chatplug.server", "serve_command", "Serve an OpenAI-compatible HTTP API."),
    "new-plugin": (
        "chatplug.scaffold",
        "new_plugin_command",
        "Create the skeleton of a new provider plugin.",
    ),
    "check": (
        "chatplug.testing.conformance.command",
        "check_command",
        "Run the conformance suite against an installed plugin.",
    ),
    "config": ("chatplug.config", "config_command", "Show or edit the configuration."),
}

#: option names that ``-o`` may not set (they have their own flags)
RESERVED_OPTIONS = frozenset({"model", "provider", "proxy", "base_url", "timeout", "retry"})


# errors ---------------------------------------------------------------------------------


class _State:
    debug = False


_state = _State()


def _debug_enabled(debug: Optional[bool] = None) -> bool:
    if debug is not None:
        return debug
    return _state.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _style(text: str, **styles: Any) -> str:
    """Colours for a terminal (click drops them elsewhere), unless NO_COLOR is set."""
    return text if os.environ.get("NO_COLOR") else click.style(text, **styles)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def report_error(error: BaseException, *, debug: Optional[bool] = None) -> int:
    """Print ``error`` on stderr as ``Error: ...`` (and ``Hint: ...``); return its exit code.

    A :class:`~chatplug.ChatplugError` exits with its ``exit_code``; anything else is a
    bug (exit 1).  The traceback is printed only in debug mode (``--debug`` or
    ``CHATPLUG_DEBUG=1``).
    """
    from .errors import ChatplugError

    if _debug_enabled(debug):
        import traceback

        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    if isinstance(error, ChatplugError):
        message, hint, code = str(error), error.hint, error.exit_code
    else:
        message = f"unexpected {type(error).__name__}: {error}"
        hint = "This is a bug in chatplug or in a plugin; rerun with --debug for the traceback."
        code = EXIT_FAILURE
    click.echo(f"{_style('Error:', fg='red', bold=True)} {_one_line(message)}", err=True)
    if hint:
        click.echo(f"{_style('Hint:', fg='yellow')} {_one_line(hint)}", err=True)
    return code


def silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout: nothing to flush
        pass


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


# the group ------------------------------------------------------------------------------


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


def _print_config_warnings_plainly() -> None:
    """Show configuration warnings as one ``Warning:`` line, not Python's warning format."""
    import warnings

    original = warnings.showwarning

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if category.__name__ == "ConfigWarning":
            click.echo(f"Warning: {message}", err=True)
        else:
            original(message, category, *args, **kwargs)

    if getattr(original, "__name__", "") != "show":
        warnings.showwarning = show


class ChatplugGroup(click.Group):
    """A click group whose extra commands are imported only when used, with chatplug's
    error handling around every command."""

    def __init__(
        self,
        *args: Any,
        lazy_commands: Optional[Mapping[str, Tuple[str, str, str]]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: Dict[str, Tuple[str, str, str]] = dict(lazy_commands or {})

    def _lazy_available(self, name: str) -> bool:
        return _module_exists(self.lazy_commands[name][0])

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
        import importlib

        try:
            module = importlib.import_module(module_name)
            command = getattr(module, attribute)
        except Exception as error:
            if _debug_enabled():
                raise
            return _unavailable(
                cmd_name,
                f"importing {module_name}.{attribute} failed: "
                f"{type(error).__name__}: {_one_line(str(error))}",
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
        _print_config_warnings_plainly()
        try:
            return super().invoke(ctx)
        except BaseException as error:
            code = exit_code_for(error)
            if code is None:
                raise
            ctx.exit(code)


# --version ------------------------------------------------------------------------------


def version_text() -> str:
    """The core's version and each installed plugin distribution's (metadata only)."""
    from .registry import ENTRY_POINT_GROUP, entry_points

    python = ".".join(str(part) for part in sys.version_info[:3])
    lines = [f"chatplug {__version__} (Python {python})"]
    dists: Dict[str, Tuple[str, List[str]]] = {}
    for entry in entry_points(ENTRY_POINT_GROUP):
        dist = getattr(entry, "dist", None)
        name = dist.metadata["Name"] if dist is not None else entry.value.split(":")[0]
        version = dist.version if dist is not None else "unknown"
        dists.setdefault(name, (version, []))[1].append(entry.name)
    if dists:
        lines.append("plugins:")
        for name in sorted(dists, key=str.lower):
            version, providers = dists[name]
            lines.append(f"  {name} {version} (providers: {', '.join(providers)})")
    else:
        lines.append("plugins: none installed")
    return "\n".join(lines)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(version_text())
    ctx.exit(EXIT_OK)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _state.debug = True


@click.group(
    cls=ChatplugGroup,
    lazy_commands=LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the versions of chatplug and of the installed plugins, and exit.",
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


# plugins --------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _registry() -> "Registry":
    """The registry the configuration describes (virtual providers, disabled ones)."""
    from .config import load_config

    return load_config().registry()


def _check_plugins(registry: "Registry") -> Dict[str, int]:
    """Load every enabled plugin and validate its catalogue; model counts by provider."""
    from .errors import PluginLoadError
    from .registry import FAILED

    counts: Dict[str, int] = {}
    for provider in registry.load_all():
        try:
            counts[provider.name] = len(provider.models())
        except PluginLoadError as error:
            provider.info.status, provider.info.error = FAILED, error.message
    return counts


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option(
    "--check", is_flag=True, help="Import and validate every plugin (exit 15 if one fails)."
)
def plugins_command(as_json: bool, check: bool) -> None:
    """List the installed provider plugins.

    Reads installed metadata without importing any plugin, so every enabled plugin is
    "available"; with --check each one is imported and validated ("loaded" or "failed",
    with the error).  Plugins left out by CHATPLUG_PLUGINS are "disabled".
    """
    from .health import CircuitBreaker
    from .registry import AVAILABLE, FAILED, LOADED

    registry = _registry()
    counts = _check_plugins(registry) if check else {}
    infos: List[PluginInfo] = registry.plugins()
    breaker = CircuitBreaker()

    def health(info: PluginInfo) -> Optional[str]:
        return breaker.describe(info.name) if info.status in (AVAILABLE, LOADED) else None

    if as_json:
        items = []
        for info in infos:
            item = info.as_dict()
            item["health"] = health(info)
            if check:
                item["models"] = counts.get(info.name)
            items.append(item)
        import json

        click.echo(json.dumps(items, indent=2))
    elif not infos:
        click.echo("No provider plugins installed; try 'pip install chatplug-vitalentum'.")
    else:
        headers = ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "HEALTH"]
        if check:
            headers.append("MODELS")
        rows = []
        for info in infos:
            row = [info.name, info.distribution or "-", info.version or "-", info.status]
            row.append(health(info) or "-")
            if check:
                row.append(str(counts.get(info.name, "-")))
            rows.append(row)
        click.echo(_table(headers, rows))
        for info in infos:
            if info.error:
                click.echo(f"{info.name}: {_one_line(info.error)}")
    failed = [info.name for info in infos if info.status == FAILED]
    if check and failed:
        from .errors import PluginLoadError

        raise PluginLoadError(
            f"{len(failed)} plugin(s) failed to load: {', '.join(failed)}",
            hint="See the errors above; reinstall the plugin, "
            "or leave it out with CHATPLUG_PLUGINS.",
        )


# models ---------------------------------------------------------------------------------


def _warn_failed_plugins(registry: "Registry") -> None:
    from .registry import FAILED

    for info in registry.plugins():
        if info.status == FAILED:
            click.echo(
                f"Warning: plugin {info.name!r} failed to load: {_one_line(info.error or '')}",
                err=True,
            )


@main.command("models")
@click.option("-p", "--provider", help="Only this provider's models.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def models_command(provider: Optional[str], as_json: bool) -> None:
    """List every model of every provider, with its aliases; * marks each default."""
    registry = _registry()
    models = registry.models(provider)
    if not provider:
        _warn_failed_plugins(registry)
    if as_json:
        items = [
            {
                "id": model.id,
                "provider": model.provider,
                "qualified_id": model.qualified_id,
                "aliases": list(model.aliases),
                "default": model.default,
                "name": model.name,
                "metadata": dict(model.metadata),
            }
            for model in models
        ]
        import json

        click.echo(json.dumps(items, indent=2, default=str, ensure_ascii=False))
        return
    if not models:
        click.echo("No models: no provider plugin is installed or enabled.")
        return
    rows = [
        [
            model.qualified_id,
            "*" if model.default else "",
            ", ".join(model.aliases),
        ]
        for model in models
    ]
    click.echo(_table(["MODEL", "DEFAULT", "ALIASES"], rows))


# chat -----------------------------------------------------------------------------------


def parse_option_value(value: str) -> Any:
    """``-o`` values: booleans, ``none``/``null``, integers and floats; else the string."""
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


@dataclass
class ChatSettings:
    """What ``chatplug chat`` was asked for."""

    model: Optional[str] = None
    provider: Optional[str] = None
    system: Optional[str] = None
    options: Dict[str, Any] = field(default_factory=dict)
    proxy: Optional[str] = None
    timeout: Optional[float] = None
    stream: bool = True
    as_json: bool = False
    emulate: bool = False


def _read_stdin() -> Optional[str]:
    """Piped stdin (``None`` when stdin is a terminal or absent)."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return None
    try:
        if stdin.isatty():
            return None
    except ValueError:
        return None
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:
        return stdin.read()
    # bytes that are not text (a binary file piped by mistake) must not crash the command
    return buffer.read().decode(stdin.encoding or "utf-8", errors="replace")  # type: ignore[no-any-return]


def join_prompt(piped: Optional[str], argument: Optional[str]) -> Optional[str]:
    """Piped text first, then the argument (``cat notes.txt | chatplug chat "summarise"``)."""
    parts = [part.strip("\n") for part in (piped, argument) if part and part.strip()]
    return "\n\n".join(parts) if parts else None


def _conversation(settings: ChatSettings) -> List[Dict[str, str]]:
    return [{"role": "system", "content": settings.system}] if settings.system else []


def _quiet_emulator_logs() -> None:
    """The emulator's server logs (e.g. a handler writing to a client that left after
    Ctrl-C or a closed pipe) are noise on the user's terminal; --debug keeps them."""
    import logging

    logging.getLogger("aiohttp").addHandler(logging.NullHandler())


def _emulator_app(registry: "Registry", provider: str) -> Any:
    """The emulator app of ``provider``; a provider declared in the configuration on top
    of an installed plugin (``plugin = "openai"``) uses that plugin's emulator."""
    from .emulation import emulator_factory
    from .errors import ChatplugError, ProviderNotFoundError
    from .registry import EMULATOR_GROUP, entry_points

    serving = provider
    for info in registry.plugins():
        if info.name == provider and info.value.endswith(" (virtual)"):
            serving = info.value[: -len(" (virtual)")]
    try:
        return emulator_factory(serving)()
    except ProviderNotFoundError:
        available = ", ".join(entry.name for entry in entry_points(EMULATOR_GROUP)) or "none"
        raise ChatplugError(
            f"the provider {provider!r} ships no emulator; providers with one: {available}",
            provider=None,
            hint="Leave out --emulate to talk to the real upstream, or pick one of those.",
        ) from None


@contextlib.asynccontextmanager
async def open_chat_client(
    settings: ChatSettings,
) -> AsyncIterator[Tuple["AsyncClient", Optional[str], Optional[str]]]:
    """The client for ``settings`` and the (provider, model) to ask.

    With ``--emulate`` the provider's emulator runs on 127.0.0.1 in this loop and the
    provider's base_url points at it; the provider is then always named explicitly so
    that nothing falls back to a real upstream.
    """
    from .client import AsyncClient

    proxy = settings.proxy
    if settings.emulate and proxy is None:
        proxy = ""  # the emulator is on 127.0.0.1: never through a configured proxy
    client = AsyncClient(proxy=proxy, timeout=settings.timeout)
    provider, model = settings.provider, settings.model
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(client)
        if settings.emulate:
            from .emulation import run_emulator

            if provider is None and model is None:
                raise click.UsageError(
                    "--emulate needs a provider: pass -p/--provider or -m provider/model"
                )
            found, info = client.registry.candidates(model, provider)[0]
            provider, model = found.name, info.id
            if not _debug_enabled():
                _quiet_emulator_logs()
            app = _emulator_app(client.registry, provider)
            emulator = await stack.enter_async_context(
                run_emulator(app, shutdown_timeout=EMULATOR_SHUTDOWN)
            )
            client.base_urls[provider] = emulator.url
        yield client, provider, model


class _Answer:
    """The text of one answer, as it arrives."""

    def __init__(self) -> None:
        self.pieces: List[str] = []
        self.provider: Optional[str] = None
        self.model: Optional[str] = None
        self.first_chunk: Optional[float] = None
        self.total: Optional[float] = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)


async def stream_answer(
    client: "AsyncClient",
    messages: Sequence[Mapping[str, str]],
    provider: Optional[str],
    model: Optional[str],
    settings: ChatSettings,
    answer: _Answer,
    out: Optional[Any] = None,
) -> _Answer:
    """Stream one answer into ``answer``, writing each piece to ``out`` as it arrives."""
    import asyncio

    loop = asyncio.get_running_loop()
    started = loop.time()
    stream = client.stream(list(messages), model=model, provider=provider, **settings.options)
    async with stream:
        async for piece in stream:
            if answer.first_chunk is None:
                answer.first_chunk = loop.time() - started
                answer.provider, answer.model = stream.provider, stream.model
            answer.pieces.append(piece)
            if out is not None:
                out.write(piece)
                out.flush()
    answer.total = loop.time() - started
    return answer


async def _chat_once(settings: ChatSettings, prompt: str) -> _Answer:
    messages = [*_conversation(settings), {"role": "user", "content": prompt}]
    answer = _Answer()
    out = sys.stdout if settings.stream and not settings.as_json else None
    try:
        async with open_chat_client(settings) as (client, provider, model):
            await stream_answer(client, messages, provider, model, settings, answer, out)
    except BrokenPipeError:
        raise
    except BaseException:
        if out is not None and answer.pieces:  # end the partial line before the error
            with contextlib.suppress(Exception):
                _finish_line(answer.text)
        raise
    return answer


def _finish_line(text: str) -> None:
    if text and not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()


def _print_answer(settings: ChatSettings, answer: _Answer) -> None:
    if settings.as_json:
        import json

        payload = {
            "text": answer.text,
            "provider": answer.provider,
            "model": answer.model,
            "timings": {
                "first_chunk": _seconds(answer.first_chunk),
                "total": _seconds(answer.total),
            },
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    if not settings.stream:
        sys.stdout.write(answer.text)
    _finish_line(answer.text)


def _seconds(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 4)


def history_path() -> Path:
    """Where the interactive chat keeps its line history (``CHATPLUG_HISTORY_FILE``, or
    the user's data directory)."""
    override = os.environ.get(HISTORY_ENV)
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "chatplug" / "chat_history"


class _LineHistory:
    """readline line editing and a persistent history, when readline is available."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.readline: Any = None
        try:
            import readline
        except ImportError:  # pragma: no cover - Windows without pyreadline
            return
        self.readline = readline
        readline.set_history_length(1000)
        try:
            readline.read_history_file(str(path))
        except (OSError, ValueError):
            pass

    def save(self) -> None:
        if self.readline is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.readline.write_history_file(str(self.path))
        except OSError:
            pass


def _interactive(settings: ChatSettings) -> None:
    """The chat loop on a terminal: one conversation, ``exit``/Ctrl-D to leave, Ctrl-C
    stops the answer being streamed."""
    import asyncio
    import signal

    from .errors import ChatplugError

    history = _LineHistory(history_path())
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    try:
        client, provider, model = loop.run_until_complete(
            stack.enter_async_context(open_chat_client(settings))
        )
        who = provider or "the first available provider"
        click.echo(
            f"Chatting with {who}{f' ({model})' if model else ''}. "
            "Type 'exit' or press Ctrl-D to leave, Ctrl-C to stop an answer.",
            err=True,
        )
        messages = _conversation(settings)
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                click.echo("", err=True)
                break
            except KeyboardInterrupt:
                click.echo("", err=True)
                continue
            text = line.strip()
            if not text:
                continue
            if text.lower() in ("exit", "quit", "/exit", "/quit"):
                break
            messages.append({"role": "user", "content": text})
            answer = _Answer()
            task = loop.create_task(
                stream_answer(client, messages, provider, model, settings, answer, sys.stdout)
            )
            handler_installed = False
            try:
                loop.add_signal_handler(signal.SIGINT, task.cancel)
                handler_installed = True
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
                pass
            try:
                loop.run_until_complete(task)
            except (asyncio.CancelledError, KeyboardInterrupt):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        loop.run_until_complete(task)
                _finish_line(answer.text)
                click.echo("[answer stopped]", err=True)
            except ChatplugError as error:
                _finish_line(answer.text)
                report_error(error)
            else:
                _finish_line(answer.text)
            finally:
                if handler_installed:
                    loop.remove_signal_handler(signal.SIGINT)
            if answer.text:
                messages.append({"role": "assistant", "content": answer.text})
            else:
                messages.pop()
    finally:
        history.save()
        try:
            loop.run_until_complete(stack.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


@main.command("chat")
@click.argument("prompt", required=False)
@click.option("-m", "--model", help="Model: provider/model, a bare id, or an alias.")
@click.option("-p", "--provider", help="Provider id (see 'chatplug plugins').")
@click.option("-s", "--system", help="System prompt.")
@click.option(
    "-o",
    "--option",
    "options",
    type=(str, str),
    multiple=True,
    metavar="KEY VALUE",
    help="Provider option, e.g. -o temperature 0.2 (repeatable; numbers and true/false parsed).",
)
@click.option("--proxy", help="HTTP(S) or SOCKS proxy URL for the upstream requests.")
@click.option("--timeout", type=float, metavar="SECONDS", help="Connect/first-byte/idle timeout.")
@click.option("--no-stream", is_flag=True, help="Print the answer once it is complete.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object: text, provider, model, timings (seconds).",
)
@click.option(
    "--emulate",
    is_flag=True,
    help="Run the provider's bundled emulator on 127.0.0.1 and talk to it (offline).",
)
def chat_command(
    prompt: Optional[str],
    model: Optional[str],
    provider: Optional[str],
    system: Optional[str],
    options: Sequence[Tuple[str, str]],
    proxy: Optional[str],
    timeout: Optional[float],
    no_stream: bool,
    as_json: bool,
    emulate: bool,
) -> None:
    """Chat with a model: stream the answer to PROMPT as it arrives.

    Piped stdin is read as (the start of) the prompt: cat notes.txt | chatplug chat
    "summarise".  With no prompt on a terminal, starts an interactive chat that keeps
    the conversation.
    """
    parsed: Dict[str, Any] = {}
    for key, value in options:
        if key in RESERVED_OPTIONS:
            raise click.BadParameter(
                f"{key!r} has its own flag (--{key.replace('_', '-')})", param_hint="-o"
            )
        parsed[key] = parse_option_value(value)
    settings = ChatSettings(
        model=model,
        provider=provider,
        system=system,
        options=parsed,
        proxy=proxy,
        timeout=timeout,
        stream=not no_stream,
        as_json=as_json,
        emulate=emulate,
    )
    text = join_prompt(_read_stdin(), prompt)
    if text is None:
        stdin = sys.stdin
        if stdin is not None and not stdin.closed and stdin.isatty():
            if as_json:
                raise click.UsageError("--json needs a prompt: pass PROMPT or pipe it on stdin")
            _interactive(settings)
            return
        raise click.UsageError("no prompt: pass PROMPT, or pipe the text on stdin")
    import asyncio

    answer = asyncio.run(_chat_once(settings, text))
    _print_answer(settings, answer)


__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERRUPTED",
    "LAZY_COMMANDS",
    "ChatSettings",
    "ChatplugGroup",
    "exit_code_for",
    "history_path",
    "join_prompt",
    "main",
    "open_chat_client",
    "parse_option_value",
    "report_error",
    "run_guarded",
    "stream_answer",
    "version_text",
]
