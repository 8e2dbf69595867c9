"""The interactive chat on a terminal: one conversation (logged turn by turn), readline
line editing with a persistent history, ``exit``/Ctrl-D to leave, Ctrl-C to stop the
answer being streamed; reasoning shows dimmed on stderr, tool calls stay out."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Tuple

import click

from .errors import report_error
from .session import (
    Answer,
    ChatSettings,
    conversation,
    finish_line,
    open_chat_client,
    say_who_answered,
    stream_answer,
)

if TYPE_CHECKING:  # pragma: no cover
    from .chatlog import ChatLog

HISTORY_ENV = "CHATPLUG_HISTORY_FILE"
PROMPT = "> "


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


def run_interactive(settings: ChatSettings, log: Optional["ChatLog"] = None) -> None:
    """The chat loop on a terminal (see the module docstring); every turn is logged into
    one conversation (``log``), and ``[provider/model]`` is said when it changes."""
    import asyncio
    import signal

    from ..errors import ChatplugError
    from .chatlog import ChatLog, note_dropped_images, sendable

    log = log or ChatLog()
    history = _LineHistory(history_path())
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    try:
        target = loop.run_until_complete(stack.enter_async_context(open_chat_client(settings)))
        who = target.provider or "the first available provider"
        if log.history:
            click.echo(
                f"Continuing conversation {log.conversation_id} ({len(log.history)} messages).",
                err=True,
            )
        click.echo(
            f"Chatting with {who}{f' ({target.model})' if target.model else ''}. "
            "Type 'exit' or press Ctrl-D to leave, Ctrl-C to stop an answer.",
            err=True,
        )
        messages = conversation(settings, log.history)
        _, dropped = sendable(messages)
        note_dropped_images(dropped)
        said: Tuple[Optional[str], Optional[str]] = (target.provider, target.model)
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
            answer = Answer()
            task = loop.create_task(
                stream_answer(
                    target, sendable(messages)[0], settings, answer, sys.stdout, log, messages
                )
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
                finish_line(answer.text)
                click.echo("[answer stopped]", err=True)
            except ChatplugError as error:
                finish_line(answer.text)
                report_error(error)
            else:
                finish_line(answer.text)
                if settings.verbose or (answer.provider, answer.model) != said:
                    say_who_answered(answer)
                    said = (answer.provider, answer.model)
            finally:
                if handler_installed:
                    loop.remove_signal_handler(signal.SIGINT)
            if answer.text:  # tool calls stay out of the conversation
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
