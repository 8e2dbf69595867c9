"""``chatplug emulate PROVIDER``: one provider's emulator on its own, until Ctrl-C."""

from __future__ import annotations

import click

from ..net import is_loopback


@click.command("emulate")
@click.argument("provider")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
def emulate_command(provider: str, host: str, port: int) -> None:
    """Run PROVIDER's emulator (an offline stand-in for its upstream) and print its base URL.

    Point a client or chatplug at it: --base-url PROVIDER=URL, or
    CHATPLUG_<PROVIDER>_BASE_URL=URL.
    """
    import asyncio

    from ..server.emulators import emulated_providers, serve_emulator

    emulated_providers([provider])  # a clear error for a provider without an emulator
    if not is_loopback(host):
        click.echo(f"warning: the {provider} emulator listens on {host}", err=True)
    try:
        asyncio.run(serve_emulator(provider, host, port))
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
