"""``chatplug logs``: list, search, show and count the logged exchanges; switch logging.

The command line of :mod:`chatplug.history` (the store, its queries and the recorder).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Sequence

import click

from ..history import Exchange, LogsError, LogStore, UsageStats, logs_path, parse_since
from .output import json_text, table

EXCERPT = 100


def _since(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[datetime]:
    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


_since_option = click.option(
    "--since",
    callback=_since,
    metavar="WHEN",
    help="Only exchanges since then: 30m, 2h, 1d, 2w ago, or an ISO date/time.",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _one_line(text: str, limit: int = EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _local_time(created_at: str) -> str:
    moment = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _tokens(exchange: Exchange) -> str:
    if exchange.input_tokens is None and exchange.output_tokens is None:
        return ""
    mark = "~" if exchange.usage_estimated else ""
    return f"{mark}{exchange.input_tokens or 0}+{exchange.output_tokens or 0} tokens"


def _summary(exchange: Exchange) -> List[str]:
    status = exchange.error_type or exchange.finish_reason or ""
    head = [exchange.id, _local_time(exchange.created_at), exchange.qualified_model, status]
    head += [_tokens(exchange), f"[{exchange.source}, conversation {exchange.conversation_id}]"]
    lines = ["  ".join(part for part in head if part)]
    if exchange.prompt:
        lines.append(f"  > {_one_line(exchange.prompt)}")
    if exchange.failed:
        lines.append(f"  ! {exchange.error_type}: {_one_line(exchange.error_message or '')}")
        if exchange.answer:
            lines.append(
                f"  partial ({len(exchange.answer)} characters): {_one_line(exchange.answer)}"
            )
    elif exchange.answer:
        lines.append(f"  < {_one_line(exchange.answer)}")
    elif exchange.tool_calls:
        names = ", ".join(str(call["function"].get("name")) for call in exchange.tool_calls)
        lines.append(f"  < tool calls: {names}")
    return lines


def _print_json(value: Any) -> None:
    click.echo(json_text(value))


@click.group("logs", invoke_without_command=True)
@click.option(
    "-n",
    "count",
    metavar="N",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many exchanges.",
)
@_json_option
@click.option("-m", "--model", help="Only this model (its id, as logged).")
@click.option("-p", "--provider", help="Only this provider.")
@_since_option
@click.option("--cid", "conversation_id", metavar="ID", help="Only this conversation.")
@click.option("-q", "--query", metavar="TEXT", help="Search prompts and answers, best first.")
@click.pass_context
def logs_command(
    ctx: click.Context,
    count: int,
    as_json: bool,
    model: Optional[str],
    provider: Optional[str],
    since: Optional[datetime],
    conversation_id: Optional[str],
    query: Optional[str],
) -> None:
    """List the latest logged exchanges, newest first; -q searches them.

    Search needs every word of TEXT in the prompt or the answer; end a word with * to
    match its beginning (-q 'pars*').  The database is $CHATPLUG_LOGS_DB, or see
    'chatplug logs path'.
    """
    if ctx.invoked_subcommand is not None:
        return
    filters: Dict[str, Any] = {"provider": provider, "model": model, "since": since}
    with LogStore() as store:
        if not store.enabled:
            click.echo("Logging is off; 'chatplug logs on' switches it on.", err=True)
        if query is not None:
            found = store.search(query, count, conversation_id=conversation_id, **filters)
        else:
            found = store.latest(count, conversation_id=conversation_id, **filters)
    if as_json:
        _print_json([exchange.as_dict() for exchange in found])
        return
    if not found:
        click.echo(
            "Nothing found." if query or any(filters.values()) else "No exchanges logged yet."
        )
    for index, exchange in enumerate(found):
        if index:
            click.echo("")
        click.echo("\n".join(_summary(exchange)))


def _show(exchange: Exchange) -> Iterator[str]:
    yield f"id:           {exchange.id}"
    yield f"conversation: {exchange.conversation_id}"
    yield f"time:         {_local_time(exchange.created_at)} ({exchange.created_at})"
    yield f"source:       {exchange.source}" + (
        f" (key {exchange.key_name})" if exchange.key_name else ""
    )
    yield f"model:        {exchange.qualified_model}"
    yield f"finish:       {exchange.finish_reason or '-'}"
    if exchange.input_tokens is not None or exchange.output_tokens is not None:
        usage = f"usage:        {exchange.input_tokens or 0} in"
        usage += f" ({exchange.cached_tokens} cached)" if exchange.cached_tokens else ""
        usage += f", {exchange.output_tokens or 0} out"
        usage += f" ({exchange.reasoning_tokens} reasoning)" if exchange.reasoning_tokens else ""
        yield usage + (" (estimated)" if exchange.usage_estimated else "")
    timings = [
        f"first chunk {value} ms" if name == "first" else f"total {value} ms"
        for name, value in (("first", exchange.first_chunk_ms), ("total", exchange.total_ms))
        if value is not None
    ]
    if timings:
        yield f"timings:      {', '.join(timings)}"
    if exchange.options:
        yield f"options:      {json_text(exchange.options, indent=None)}"
    if exchange.failed:
        yield f"error:        {exchange.error_type}: {exchange.error_message}"
    earlier = f" (after {exchange.prior_messages} earlier)" if exchange.prior_messages else ""
    yield f"\n--- messages{earlier}"
    for message in exchange.messages:
        content = message.get("content")
        text = content if isinstance(content, str) else json_text(content, indent=None)
        yield f"{message.get('role', '?')}: {text}"
    if exchange.reasoning:
        yield "\n--- reasoning"
        yield exchange.reasoning
    if exchange.answer or not exchange.tool_calls:
        yield "\n--- partial answer" if exchange.failed else "\n--- answer"
        yield exchange.answer
    if exchange.tool_calls:
        yield "\n--- tool calls"
        yield json_text(exchange.tool_calls)


@logs_command.command("show")
@click.argument("exchange_id", metavar="ID")
@_json_option
def show_command(exchange_id: str, as_json: bool) -> None:
    """Print one exchange in full."""
    with LogStore() as store:
        exchange = store.get(exchange_id)
    if exchange is None:
        raise LogsError(
            f"no logged exchange has the id {exchange_id!r}",
            hint="'chatplug logs' lists the latest ones with their ids.",
        )
    if as_json:
        _print_json(exchange.as_dict())
    else:
        click.echo("\n".join(_show(exchange)))


def _stats_row(label: Sequence[str], numbers: Sequence[int]) -> List[str]:
    return [*label, *(f"{number:,}" for number in numbers)]


@logs_command.command("stats")
@_since_option
@_json_option
def stats_command(since: Optional[datetime], as_json: bool) -> None:
    """Exchanges, errors and tokens per provider and model."""
    with LogStore() as store:
        rows: List[UsageStats] = store.stats(since)
    if as_json:
        _print_json([row.as_dict() for row in rows])
        return
    if not rows:
        click.echo("No exchanges logged" + (" in this period." if since else " yet."))
        return
    fields = (
        "exchanges",
        "errors",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "reasoning_tokens",
    )
    cells = [
        _stats_row([row.provider or "?", row.model or "?"], [getattr(row, f) for f in fields])
        for row in rows
    ]
    totals = [sum(getattr(row, f) for row in rows) for f in fields]
    cells.append(_stats_row(["total", ""], totals))
    headers = ["PROVIDER", "MODEL", "EXCHANGES", "ERRORS", "INPUT", "OUTPUT", "CACHED", "REASONING"]
    click.echo(table(headers, cells))
    estimated = sum(row.estimated for row in rows)
    without = sum(row.without_usage for row in rows)
    if estimated:
        click.echo(f"{estimated} exchange(s) with estimated usage.")
    if without:
        click.echo(f"{without} exchange(s) without usage (not counted in the tokens).")


@logs_command.command("path")
def path_command() -> None:
    """Print where the logs database is ($CHATPLUG_LOGS_DB overrides it)."""
    click.echo(str(logs_path()))


def _switch(enabled: bool) -> None:
    with LogStore() as store:
        store.set_enabled(enabled)
    click.echo(f"Logging is {'on' if enabled else 'off'} ({logs_path()}).")


@logs_command.command("on")
def on_command() -> None:
    """Log chats again (the default)."""
    _switch(True)


@logs_command.command("off")
def off_command() -> None:
    """Stop logging chats (until 'chatplug logs on')."""
    _switch(False)
