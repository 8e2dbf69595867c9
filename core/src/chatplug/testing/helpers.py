"""Clients bound to one plugin, and emulators started on 127.0.0.1."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Optional, Union

from ..registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

    from ..client import AsyncClient, Client
    from ..emulation import AppFactory, RunningEmulator


def make_registry(provider: str, plugin: Optional[object] = None) -> Registry:
    """A registry holding only ``provider``.

    Without ``plugin`` the installed entry point of that name is loaded (whatever else is
    installed, or ``CHATPLUG_PLUGINS`` says, is ignored); with ``plugin`` (a module, class
    or instance holding hook implementations) it is registered in-process instead.
    """
    if plugin is None:
        return Registry(enabled=[provider])
    registry = Registry(discover=False)
    registry.register(provider, plugin)
    return registry


def make_client(provider: str, plugin: Optional[object] = None, **kwargs: Any) -> "AsyncClient":
    """An :class:`~chatplug.AsyncClient` that sees only ``provider`` (see :func:`make_registry`).

    ``kwargs`` go to the client (``base_urls``, ``proxy``, ``timeout``, ``retry``...).
    The user's configuration file and ``CHATPLUG_*`` settings are ignored (``config=False``)
    unless ``config=`` is given, so that tests are hermetic.
    Use it as ``async with make_client("acme") as client:``.
    """
    from ..client import AsyncClient

    kwargs.setdefault("providers", [provider])
    kwargs.setdefault("config", False)
    return AsyncClient(registry=make_registry(provider, plugin), **kwargs)


def make_sync_client(provider: str, plugin: Optional[object] = None, **kwargs: Any) -> "Client":
    """The synchronous :class:`~chatplug.Client` twin of :func:`make_client`."""
    from ..client import Client

    kwargs.setdefault("providers", [provider])
    kwargs.setdefault("config", False)
    return Client(registry=make_registry(provider, plugin), **kwargs)


def _app(emulator: Union[str, "AppFactory", "web.Application"]) -> "web.Application":
    from aiohttp import web

    from ..emulation import emulator_factory

    if isinstance(emulator, web.Application):
        return emulator
    factory = emulator_factory(emulator) if isinstance(emulator, str) else emulator
    return factory()


@contextlib.asynccontextmanager
async def start_emulator(
    emulator: Union[str, "AppFactory", "web.Application"],
) -> AsyncIterator["RunningEmulator"]:
    """Serve an emulator on 127.0.0.1 in the running loop.

    ``emulator`` is a provider id (its registered ``chatplug.emulators`` factory), a
    factory, or an app.  ``async with start_emulator("acme") as emu:`` gives ``emu.url``
    (the base URL to pass as ``base_url``) and ``emu.replies`` (the replies it streamed).
    """
    from ..emulation import run_emulator

    async with run_emulator(_app(emulator)) as running:
        yield running


@contextlib.contextmanager
def emulator_thread(
    emulator: Union[str, "AppFactory", "web.Application"],
) -> Iterator["RunningEmulator"]:
    """:func:`start_emulator` from a background thread, for synchronous code."""
    from ..emulation import EmulatorThread

    with EmulatorThread(_app(emulator)) as running:
        yield running
