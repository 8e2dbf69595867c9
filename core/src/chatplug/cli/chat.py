"""``chatplug chat``: one answer to a prompt (the argument, piped stdin, or both), or the
interactive chat on a terminal (:mod:`chatplug.cli.interactive`).

Piped stdin is read up to :data:`MAX_STDIN_BYTES` (8 MiB, the server's default request
body limit); more is a usage error (exit 2), never an unbounded read.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

import click

from .chatlog import ChatLog, note_dropped_images, open_chat_log, sendable
from .output import is_terminal, json_text
from .params import Seconds
from .request import Attachment, Schema, user_message
from .session import (
    Answer,
    ChatSettings,
    conversation,
    finish_line,
    open_chat_client,
    say_who_answered,
    stream_answer,
)

#: option names that ``-o`` may not set (they have their own flags)
RESERVED_OPTIONS = frozenset({"model", "provider", "proxy", "base_url", "timeout", "retry"})
#: the most bytes read from piped stdin
MAX_STDIN_BYTES = 8 * 1024 * 1024


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


def read_stdin(limit: int = MAX_STDIN_BYTES) -> Optional[str]:
    """Piped stdin (``None`` when stdin is a terminal or absent), at most ``limit`` bytes:
    a usage error beyond that."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return None
    try:
        if stdin.isatty():
            return None
    except ValueError:
        return None
    buffer = getattr(stdin, "buffer", None)
    data = buffer.read(limit + 1) if buffer is not None else stdin.read(limit + 1)
    if len(data) > limit:
        raise click.UsageError(
            f"stdin holds more than {limit // (1024 * 1024)} MiB, the largest prompt "
            "chatplug reads; pass a shorter text"
        )
    if isinstance(data, str):
        return data
    # bytes that are not text (a binary file piped by mistake) must not crash the command
    return data.decode(stdin.encoding or "utf-8", errors="replace")  # type: ignore[no-any-return]


def join_prompt(piped: Optional[str], argument: Optional[str]) -> Optional[str]:
    """Piped text first, then the argument (``cat notes.txt | chatplug chat "summarise"``)."""
    parts = [part.strip("\n") for part in (piped, argument) if part and part.strip()]
    return "\n\n".join(parts) if parts else None


async def _chat_once(settings: ChatSettings, prompt: str, log: ChatLog) -> Answer:
    logged = [*conversation(settings, log.history), user_message(prompt, settings.attachments)]
    messages, dropped = sendable(logged)
    note_dropped_images(dropped)
    answer = Answer()
    out = sys.stdout if settings.stream and not settings.as_json else None
    try:
        async with open_chat_client(settings) as target:
            await stream_answer(target, messages, settings, answer, out, log, logged)
    except BrokenPipeError:
        raise
    except BaseException:
        if out is not None and answer.pieces:  # end the partial line before the error
            with contextlib.suppress(Exception):
                finish_line(answer.text)
        raise
    return answer


def _json_answer(settings: ChatSettings, answer: Answer) -> Dict[str, Any]:
    payload: Dict[str, Any] = {
        "text": answer.text,
        "provider": answer.provider,
        "model": answer.model,
        "finish_reason": answer.finish_reason,
        "usage": answer.usage_json(),
        "tool_calls": answer.tool_calls_json(),
        "reasoning": answer.reasoning or None,
        "timings": {
            "first_chunk": _seconds(answer.first_chunk),
            "total": _seconds(answer.total),
        },
        "conversation_id": answer.conversation_id,
        "exchange_id": answer.exchange_id,
    }
    if settings.response_format is not None:
        import json

        try:
            payload["parsed"] = json.loads(answer.text)
        except ValueError:
            payload["parsed"] = None
    return payload


def _print_answer(settings: ChatSettings, answer: Answer) -> None:
    if settings.as_json:
        sys.stdout.write(json_text(_json_answer(settings, answer), indent=None) + "\n")
        sys.stdout.flush()
    else:
        shown = answer.text
        if not settings.stream:
            sys.stdout.write(shown)
        if not shown and answer.tool_calls:  # an answer that only calls tools
            shown = json_text(answer.tool_calls_json())
            sys.stdout.write(shown)
        finish_line(shown)
    if settings.verbose or (not settings.as_json and is_terminal(sys.stderr)):
        say_who_answered(answer)


def _seconds(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 4)


@click.command("chat")
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
@click.option(
    "-a",
    "--attach",
    "attachments",
    type=Attachment(),
    multiple=True,
    metavar="PATH_OR_URL",
    help="Send an image with the prompt: a file (at most 20 MiB) or an http(s) URL (repeatable).",
)
@click.option(
    "--schema",
    "response_format",
    type=Schema(),
    metavar="JSON",
    help="Ask for JSON matching this JSON Schema (inline, or @file.json).",
)
@click.option("--proxy", help="HTTP(S) or SOCKS proxy URL for the upstream requests.")
@click.option(
    "--timeout", type=Seconds(), metavar="SECONDS", help="Connect/first-byte/idle timeout."
)
@click.option("--no-stream", is_flag=True, help="Print the answer once it is complete.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object: text, provider, model, finish reason, usage, tool calls, "
    "reasoning, timings (seconds), log ids.",
)
@click.option("--no-reasoning", is_flag=True, help="Do not show the model's reasoning.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Say which provider and model answered (on stderr) even off a terminal.",
)
@click.option("--no-log", is_flag=True, help="Do not log this chat (see 'chatplug logs').")
@click.option(
    "-c",
    "--continue",
    "resume",
    is_flag=True,
    help="Continue the latest logged chat (its earlier turns are sent).",
)
@click.option("--cid", metavar="ID", help="Continue the logged conversation with this id.")
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
    attachments: Sequence[str],
    response_format: Optional[Dict[str, Any]],
    proxy: Optional[str],
    timeout: Optional[float],
    no_stream: bool,
    as_json: bool,
    no_reasoning: bool,
    verbose: bool,
    no_log: bool,
    resume: bool,
    cid: Optional[str],
    emulate: bool,
) -> None:
    """Chat with a model: stream the answer to PROMPT as it arrives.

    Piped stdin is read as (the start of) the prompt: cat notes.txt | chatplug chat
    "summarise" (at most 8 MiB).  With no prompt on a terminal, starts an interactive chat
    that keeps the conversation.  Chats are logged ('chatplug logs'); -c continues the
    latest one.
    """
    parsed: Dict[str, Any] = {}
    for key, value in options:
        if key in RESERVED_OPTIONS:
            raise click.BadParameter(
                f"{key!r} has its own flag (--{key.replace('_', '-')})", param_hint="-o"
            )
        parsed[key] = parse_option_value(value)
    if resume and cid is not None:
        raise click.UsageError("-c continues the latest chat, --cid a given one: pass one")
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
        reasoning=not no_reasoning,
        verbose=verbose,
        attachments=tuple(attachments),
        response_format=response_format,
    )
    text = join_prompt(read_stdin(), prompt)
    interactive = False
    if text is None:
        stdin = sys.stdin
        if not (stdin is not None and not stdin.closed and stdin.isatty()):
            raise click.UsageError("no prompt: pass PROMPT, or pipe the text on stdin")
        if as_json:
            raise click.UsageError("--json needs a prompt: pass PROMPT or pipe it on stdin")
        if attachments:
            raise click.UsageError("--attach needs a prompt: pass PROMPT or pipe it on stdin")
        interactive = True
    log = open_chat_log(log=not no_log, resume=resume, conversation_id=cid)
    try:
        if settings.provider is None and settings.model is None and log.answered_by:
            settings.provider, settings.model = log.answered_by  # who answered it so far
        if interactive:
            from .interactive import run_interactive

            run_interactive(settings, log)
            return
        import asyncio

        assert text is not None
        answer = asyncio.run(_chat_once(settings, text, log))
    finally:
        log.close()
    _print_answer(settings, answer)
