"""``--emulate``: the provider's bundled emulator on 127.0.0.1, in the chat's event loop,
and the URL to send that provider's requests to."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

from .errors import debug_enabled

if TYPE_CHECKING:  # pragma: no cover
    from ..client import AsyncClient

#: seconds an --emulate emulator gets to finish requests still in flight at exit
EMULATOR_SHUTDOWN = 1.0


class Emulated(NamedTuple):
    """Who the emulator stands in for, and where it listens."""

    provider: str
    model: str
    base_url: str


def _quiet_emulator_logs() -> None:
    """The emulator's server logs (e.g. a handler writing to a client that left after
    Ctrl-C or a closed pipe) are noise on the user's terminal; --debug keeps them."""
    import logging

    logging.getLogger("aiohttp").addHandler(logging.NullHandler())


def emulator_app(serving: str, provider: Optional[str] = None) -> Any:
    """The emulator app of the installed plugin ``serving``; ``provider`` (when another
    name, e.g. a provider declared in the configuration with ``plugin = "openai"``) is the
    name errors give."""
    from ..emulation import emulator_factory
    from ..errors import ChatplugError, ProviderNotFoundError
    from ..registry import EMULATOR_GROUP, entry_points

    try:
        return emulator_factory(serving)()
    except ProviderNotFoundError:
        available = ", ".join(entry.name for entry in entry_points(EMULATOR_GROUP)) or "none"
        raise ChatplugError(
            f"the provider {provider or serving!r} ships no emulator; providers with one: "
            f"{available}",
            provider=None,
            hint="Leave out --emulate to talk to the real upstream, or pick one of those.",
        ) from None


async def attach_emulator(
    stack: contextlib.AsyncExitStack,
    client: "AsyncClient",
    provider: Optional[str],
    model: Optional[str],
) -> Emulated:
    """Start the emulator of the provider that would serve (``provider``, ``model``) (the
    client's first choice) for as long as ``stack`` is open.  The provider and model come
    back named explicitly, so that nothing falls back to a real upstream."""
    from ..emulation import run_emulator

    resolved = client.resolve(model, provider)[0]
    if not debug_enabled():
        _quiet_emulator_logs()
    app = emulator_app(resolved.info.serving, resolved.provider)
    emulator = await stack.enter_async_context(
        run_emulator(app, shutdown_timeout=EMULATOR_SHUTDOWN)
    )
    return Emulated(resolved.provider, resolved.model.id, emulator.url)
