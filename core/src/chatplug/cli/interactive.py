"""The interactive chat on a terminal: one conversation, readline line editing with a
persistent history, ``exit``/Ctrl-D to leave, Ctrl-C to stop the answer being streamed."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from .errors import report_error
from .session import (
    Answer,
    ChatSettings,
    conversation,
    finish_line,
    open_chat_client,
    stream_answer,
)

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


def run_interactive(settings: ChatSettings) -> None:
    """The chat loop on a terminal (see the module docstring)."""
    import asyncio
    import signal

    from ..errors import ChatplugError

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
        messages = conversation(settings)
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
                finish_line(answer.text)
                click.echo("[answer stopped]", err=True)
            except ChatplugError as error:
                finish_line(answer.text)
                report_error(error)
            else:
                finish_line(answer.text)
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
