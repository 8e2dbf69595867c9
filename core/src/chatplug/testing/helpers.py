"""Clients bound to one plugin, and emulators started on 127.0.0.1."""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, List, Optional, Union

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


def distribution_problems(provider: str) -> List[str]:
    """What is wrong with the installed distribution that provides ``provider``.

    Checked from the installed metadata (what users get): the distribution depends on
    ``chatplug`` with a lower bound and an upper bound below the next major version of the
    contract (``chatplug>=0.1,<1``), and registers both the provider and its emulator under
    the provider id.  An empty list means nothing is wrong.
    """
    from ..registry import EMULATOR_GROUP, ENTRY_POINT_GROUP, entry_points

    providers = {entry.name: entry for entry in entry_points(ENTRY_POINT_GROUP)}
    entry = providers.get(provider)
    if entry is None:
        return [f"no installed distribution registers the provider {provider!r}"]
    dist = getattr(entry, "dist", None)
    problems = requirement_problems(list(getattr(dist, "requires", None) or []))
    emulators = {item.name: item for item in entry_points(EMULATOR_GROUP)}
    emulator = emulators.get(provider)
    if emulator is None:
        problems.append(f"no 'chatplug.emulators' entry point named {provider!r}")
    elif (
        dist is not None
        and getattr(emulator, "dist", None) is not None
        and emulator.dist.metadata["Name"] != dist.metadata["Name"]  # type: ignore[union-attr]
    ):
        problems.append("the emulator comes from another distribution than the provider")
    return problems


def requirement_problems(requires: List[str]) -> List[str]:
    """Problems with the ``chatplug`` requirement among ``requires`` (``Requires-Dist`` lines)."""
    specs = [
        line.split(";")[0][len("chatplug") :].strip()
        for line in requires
        if re.match(r"chatplug\s*(\(|[<>=!~]|$)", line.strip(), re.IGNORECASE)
    ]
    if not specs:
        return ["the distribution does not depend on 'chatplug' (the plugin contract)"]
    spec = specs[0].strip("() ")
    problems = []
    if ">=" not in spec:
        problems.append(f"the 'chatplug' requirement {spec!r} has no lower bound (>=)")
    if not re.search(r"<\s*\d", spec):
        problems.append(
            f"the 'chatplug' requirement {spec!r} has no upper bound: "
            "pin below the next major version of the contract (e.g. '<1')"
        )
    return problems
