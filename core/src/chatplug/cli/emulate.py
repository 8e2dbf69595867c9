"""``--emulate``: the provider's bundled emulator on 127.0.0.1, in the chat's event loop,
and the client pointed at it."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Optional, Tuple

import click

from .errors import debug_enabled

if TYPE_CHECKING:  # pragma: no cover
    from ..client import AsyncClient
    from ..registry import Registry

#: seconds an --emulate emulator gets to finish requests still in flight at exit
EMULATOR_SHUTDOWN = 1.0
_VIRTUAL = " (virtual)"


def _quiet_emulator_logs() -> None:
    """The emulator's server logs (e.g. a handler writing to a client that left after
    Ctrl-C or a closed pipe) are noise on the user's terminal; --debug keeps them."""
    import logging

    logging.getLogger("aiohttp").addHandler(logging.NullHandler())


def emulator_app(registry: "Registry", provider: str) -> Any:
    """The emulator app of ``provider``; a provider declared in the configuration on top
    of an installed plugin (``plugin = "openai"``) uses that plugin's emulator."""
    from ..emulation import emulator_factory
    from ..errors import ChatplugError, ProviderNotFoundError
    from ..registry import EMULATOR_GROUP, entry_points

    serving = provider
    for info in registry.plugins():
        if info.name == provider and info.value.endswith(_VIRTUAL):
            serving = info.value[: -len(_VIRTUAL)]
    try:
        return emulator_factory(serving)()
    except ProviderNotFoundError:
        available = ", ".join(entry.name for entry in entry_points(EMULATOR_GROUP)) or "none"
        raise ChatplugError(
            f"the provider {provider!r} ships no emulator; providers with one: {available}",
            provider=None,
            hint="Leave out --emulate to talk to the real upstream, or pick one of those.",
        ) from None


async def attach_emulator(
    stack: contextlib.AsyncExitStack,
    client: "AsyncClient",
    provider: Optional[str],
    model: Optional[str],
) -> Tuple[str, str]:
    """Start the emulator of the provider that serves (``provider``, ``model``) for as long
    as ``stack`` is open and send ``client``'s requests for it there; returns the provider
    and model, both named explicitly so that nothing falls back to a real upstream."""
    from ..emulation import run_emulator

    if provider is None and model is None:
        raise click.UsageError(
            "--emulate needs a provider: pass -p/--provider or -m provider/model"
        )
    found, info = client.registry.candidates(model, provider)[0]
    if not debug_enabled():
        _quiet_emulator_logs()
    app = emulator_app(client.registry, found.name)
    emulator = await stack.enter_async_context(
        run_emulator(app, shutdown_timeout=EMULATOR_SHUTDOWN)
    )
    client.base_urls[found.name] = emulator.url
    return found.name, info.id
