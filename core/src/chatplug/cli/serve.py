"""``chatplug serve``: the command line over :mod:`chatplug.server` (aiohttp is imported
only when the server runs)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import click

from ..net import is_loopback
from ..server.runner import DEFAULT_GRACE, loop_runner, serve, shared_metrics_directory
from .params import Seconds

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

#: what a bare ``--emulate`` stands for: every installed emulator
EVERY_EMULATOR = "*"


def parse_base_urls(values: Sequence[str]) -> Dict[str, str]:
    """``PROVIDER=URL`` pairs as a dict (a click parameter error when malformed)."""
    urls: Dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise click.BadParameter(
                f"expected PROVIDER=URL, got {value!r}", param_hint="--base-url"
            )
        urls[name.strip()] = url.strip()
    return urls


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port, printed at startup).",
)
@click.option(
    "--api-key",
    envvar="CHATPLUG_API_KEY",
    default=None,
    metavar="KEY",
    help="Require 'Authorization: Bearer KEY' on every /v1 request (env CHATPLUG_API_KEY).",
)
@click.option(
    "--insecure-public",
    is_flag=True,
    help="Allow listening on a non-loopback address without an API key.",
)
@click.option(
    "--grace",
    default=DEFAULT_GRACE,
    show_default=True,
    envvar="CHATPLUG_SERVER_GRACE",
    type=Seconds(zero=True),
    help="Seconds running requests may take to finish after SIGTERM/SIGINT; then they are "
    "cut (0: at once; env CHATPLUG_SERVER_GRACE).",
)
@click.option(
    "--base-url",
    "base_urls",
    multiple=True,
    metavar="PROVIDER=URL",
    help="Send a provider's requests to URL (repeatable; also CHATPLUG_<PROVIDER>_BASE_URL).",
)
@click.option(
    "--timeout",
    type=Seconds(),
    default=None,
    help="Seconds to wait for the upstream's first chunk and between chunks.",
)
@click.option(
    "--retries",
    type=click.IntRange(0),
    default=None,
    help="Retries of a failing upstream before answering an error [default: 2].",
)
@click.option(
    "--max-body",
    type=click.IntRange(1024),
    default=None,
    metavar="BYTES",
    help="Largest accepted request body [default: 8 MiB].",
)
@click.option(
    "--keepalive",
    type=Seconds(),
    default=None,
    help="Seconds an idle keep-alive connection stays open [default: 75].",
)
@click.option(
    "--head-timeout",
    type=Seconds(),
    default=None,
    help="Seconds a request line and headers may take to arrive [default: 15].",
)
@click.option(
    "--body-timeout",
    type=Seconds(),
    default=None,
    help="Seconds a request body may take to arrive [default: 60].",
)
@click.option(
    "--write-timeout",
    type=Seconds(),
    default=None,
    help="Seconds a client may stop reading before it is disconnected [default: 30].",
)
@click.option(
    "--loop",
    type=click.Choice(["auto", "asyncio", "uvloop"]),
    default="asyncio",
    show_default=True,
    help="Event loop: asyncio's own, uvloop (pip install uvloop), or auto (uvloop if installed).",
)
@click.option(
    "--access-log/--no-access-log",
    default=None,
    help="One JSON line per request on stderr [default: on].",
)
@click.option(
    "--emulate",
    "emulate",
    multiple=True,
    is_flag=False,
    flag_value=EVERY_EMULATOR,
    metavar="[PROVIDER]",
    help="Answer from the providers' emulators on 127.0.0.1, offline: every installed "
    "emulator, or PROVIDER's (repeatable).",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Processes serving the port (gunicorn's aiohttp worker when gunicorn is installed, "
    "else SO_REUSEPORT processes).",
)
# -- shared state and the conversation log (chatplug.server.operations) --
@click.option(
    "--redis",
    "redis_url",
    default=None,
    metavar="URL",
    help="Share provider health and key limits through Redis (env CHATPLUG_REDIS_URL, "
    "or redis_url in [server]) [default: per process].",
)
@click.option(
    "--log-db",
    default=None,
    metavar="PATH",
    help="Log every exchange served to this SQLite database, with the key's name "
    "(env CHATPLUG_SERVER_LOG_DB) [default: off].",
)
def serve_command(
    host: str,
    port: int,
    api_key: Optional[str],
    insecure_public: bool,
    grace: float,
    base_urls: Tuple[str, ...],
    timeout: Optional[float],
    retries: Optional[int],
    max_body: Optional[int],
    access_log: Optional[bool],
    keepalive: Optional[float],
    head_timeout: Optional[float],
    body_timeout: Optional[float],
    write_timeout: Optional[float],
    loop: str,
    emulate: Tuple[str, ...],
    workers: int,
    redis_url: Optional[str],
    log_db: Optional[str],
) -> None:
    """Serve the OpenAI API (/v1/models, /v1/chat/completions) over every provider."""
    if workers > 1:
        shared_metrics_directory()  # before prometheus-client loads (with the app)
    from ..server.operations import OperationsSettings, check_settings

    api_key = api_key or None
    if api_key is not None:
        from ..server.state import validate_api_key

        try:
            validate_api_key(api_key, "the API key (--api-key or CHATPLUG_API_KEY)")
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--api-key'") from None
    operations = OperationsSettings.resolve(redis_url=redis_url, log_db=log_db)
    check_settings(operations)  # here, not in each worker
    keyless = api_key is None and not operations.keys
    if keyless and not is_loopback(host) and not insecure_public:
        raise click.UsageError(
            f"refusing to listen on {host!r} without an API key: anyone on the network could "
            "use it. Pass --api-key (or set CHATPLUG_API_KEY), declare [[server.keys]] in "
            "chatplug.toml, or pass --insecure-public."
        )
    urls = parse_base_urls(base_urls)

    from ..server.app import create_app
    from ..server.state import ServerSettings

    limits: Dict[str, Any] = {
        "keepalive": keepalive,
        "head_timeout": head_timeout,
        "body_timeout": body_timeout,
        "write_timeout": write_timeout,
    }
    try:  # a CHATPLUG_SERVER_* variable that is not a valid value is a usage error
        settings = ServerSettings.from_env()
        settings = replace(settings, **{k: v for k, v in limits.items() if v is not None})
    except ValueError as error:
        raise click.UsageError(str(error)) from None

    def make_app(emulated: Mapping[str, str]) -> "web.Application":
        return create_app(
            api_key=api_key or "",
            base_urls={**urls, **emulated},  # an emulated provider goes to its emulator
            timeout=timeout,
            retries=retries,
            max_body=max_body,
            access_log=access_log,
            settings=settings,
            operations=operations,
        )

    if keyless and not is_loopback(host):
        click.echo(f"warning: serving {host} without authentication (--insecure-public)", err=True)
    try:
        run = loop_runner(loop)
    except ImportError as error:
        raise click.UsageError(f"--loop {loop}: {error}") from None
    providers = _emulated(emulate)
    try:
        if workers > 1:
            _serve_workers(make_app, providers, workers, host, port, grace, loop)
        else:
            run(_serve_one(make_app, providers, host, port, grace))
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None


def _emulated(emulate: Sequence[str]) -> List[str]:
    """The providers ``--emulate`` names (every installed emulator for a bare --emulate)."""
    if not emulate:
        return []
    from ..discovery import enabled_from_env
    from ..server.emulators import emulated_providers

    named = [name for name in emulate if name != EVERY_EMULATOR]
    enabled = enabled_from_env()
    providers = emulated_providers(named or None, sorted(enabled) if enabled else None)
    if not providers:
        raise click.UsageError("--emulate: no installed provider ships an emulator")
    return providers


def _announce(providers: Sequence[str]) -> None:
    if providers:
        click.echo(f"chatplug serve: emulating {', '.join(providers)} (offline)", err=True)


AppFactory = Callable[[Mapping[str, str]], "web.Application"]


async def _serve_one(
    make_app: AppFactory,
    providers: Sequence[str],
    host: str,
    port: int,
    grace: float,
) -> None:
    from ..server.emulators import running_emulators
    from ..server.heap import settle_after_startup

    async with running_emulators(providers) as emulated:
        _announce(providers)
        await serve(settle_after_startup(make_app(emulated)), host, port, grace)


def _serve_workers(
    make_app: AppFactory,
    providers: Sequence[str],
    workers: int,
    host: str,
    port: int,
    grace: float,
    loop: str,
) -> None:
    from functools import partial

    from ..server.emulators import EmulatorProcess
    from ..server.workers import run_workers

    with EmulatorProcess(providers) as emulated:
        _announce(providers)
        run_workers(partial(make_app, emulated), workers, host, port, grace, loop=loop)
