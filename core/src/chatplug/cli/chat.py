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

from .params import Seconds
from .session import (
    Answer,
    ChatSettings,
    conversation,
    finish_line,
    open_chat_client,
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


async def _chat_once(settings: ChatSettings, prompt: str) -> Answer:
    messages = [*conversation(settings), {"role": "user", "content": prompt}]
    answer = Answer()
    out = sys.stdout if settings.stream and not settings.as_json else None
    try:
        async with open_chat_client(settings) as (client, provider, model):
            await stream_answer(client, messages, provider, model, settings, answer, out)
    except BrokenPipeError:
        raise
    except BaseException:
        if out is not None and answer.pieces:  # end the partial line before the error
            with contextlib.suppress(Exception):
                finish_line(answer.text)
        raise
    return answer


def _print_answer(settings: ChatSettings, answer: Answer) -> None:
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
    finish_line(answer.text)


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
@click.option("--proxy", help="HTTP(S) or SOCKS proxy URL for the upstream requests.")
@click.option(
    "--timeout", type=Seconds(), metavar="SECONDS", help="Connect/first-byte/idle timeout."
)
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
    "summarise" (at most 8 MiB).  With no prompt on a terminal, starts an interactive chat
    that keeps the conversation.
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
    text = join_prompt(read_stdin(), prompt)
    if text is None:
        stdin = sys.stdin
        if stdin is not None and not stdin.closed and stdin.isatty():
            if as_json:
                raise click.UsageError("--json needs a prompt: pass PROMPT or pipe it on stdin")
            from .interactive import run_interactive

            run_interactive(settings)
            return
        raise click.UsageError("no prompt: pass PROMPT, or pipe the text on stdin")
    import asyncio

    answer = asyncio.run(_chat_once(settings, text))
    _print_answer(settings, answer)
