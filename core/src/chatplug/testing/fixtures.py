"""Fixtures for a plugin's own tests: its emulator, clients bound to it, and polling.

A plugin's ``tests/conftest.py`` is one line (plus imports)::

    from chatplug.testing.fixtures import plugin_fixtures
    from chatplug_acme.emulator import create_app

    emulator, client, registry, wait_until = plugin_fixtures("acme", create_app)

Each fixture is named after the module attribute it is assigned to, so a conftest may
take only some, or rename them (``wait_for = plugin_fixtures("acme").wait_until``).

- ``emulator``: ``await emulator(**options)`` starts ``create_app(**options)`` (e.g. a
  scripted fault, see :mod:`chatplug.emulator_kit`) on 127.0.0.1 in the test's event loop
  and gives the :class:`~chatplug.emulation.RunningEmulator` (``.url``, ``.app``,
  ``.replies``); every emulator started is stopped after the test.  Without
  ``create_app`` the provider's registered emulator (``chatplug.emulators``) is used.
- ``client``: ``client(base_url=None, **kwargs)`` is an :class:`~chatplug.AsyncClient`
  that sees only this provider (``base_url`` is its base URL; no retries and a 10 s
  timeout unless ``retry=`` / ``timeout=`` say otherwise; the user's configuration is
  ignored); every client made is closed after the test.
- ``registry``: a :class:`~chatplug.Registry` holding only this provider.
- ``wait_until``: ``await wait_until(condition, seconds=10.0)`` (see :func:`wait_until`).

``emulator`` and ``client`` are async fixtures: the tests need pytest-asyncio (e.g.
``asyncio_mode = "auto"``).  The ``chatplug_*`` fixtures of the pytest plugin
(:mod:`chatplug.testing.plugin`) are their thread-based, synchronous counterparts.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    NamedTuple,
    Optional,
)

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

    from ..client import AsyncClient
    from ..emulation import RunningEmulator
    from ..registry import Registry

#: seconds ``wait_until`` waits by default: generous, for a loaded machine
WAIT = 10.0


async def wait_until(
    condition: Callable[[], Any], seconds: float = WAIT, *, interval: float = 0.01
) -> bool:
    """Poll ``condition()`` until it is true; ``True`` (so ``assert await wait_until(...)``
    reads naturally), or :class:`AssertionError` when it is still false after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {seconds:g}s")
        await asyncio.sleep(interval)
    return True


class PluginFixtures(NamedTuple):
    """The fixtures :func:`plugin_fixtures` makes (assign the ones you want in a conftest)."""

    emulator: Any
    client: Any
    registry: Any
    wait_until: Any


def _async_fixture() -> Callable[[Any], Any]:
    """``pytest_asyncio.fixture`` when installed (any mode), else ``pytest.fixture``."""
    try:
        return importlib.import_module("pytest_asyncio").fixture  # type: ignore[no-any-return]
    except ImportError:  # pragma: no cover - pytest then says that a plugin is missing
        return pytest.fixture


def plugin_fixtures(
    provider: str, create_app: Optional[Callable[..., "web.Application"]] = None
) -> PluginFixtures:
    """The fixtures of a plugin's tests, for ``provider`` and its emulator ``create_app``."""
    async_fixture = _async_fixture()

    @async_fixture
    async def emulator() -> AsyncIterator[Callable[..., Awaitable["RunningEmulator"]]]:
        from ..emulation import emulator_factory, run_emulator

        factory = create_app if create_app is not None else emulator_factory(provider)
        async with contextlib.AsyncExitStack() as stack:

            async def start(**options: Any) -> "RunningEmulator":
                return await stack.enter_async_context(run_emulator(factory(**options)))

            yield start

    @async_fixture
    async def client() -> AsyncIterator[Callable[..., "AsyncClient"]]:
        from .helpers import make_client

        async with contextlib.AsyncExitStack() as stack:

            def make(base_url: Optional[str] = None, **kwargs: Any) -> "AsyncClient":
                kwargs.setdefault("retry", 1)
                kwargs.setdefault("timeout", 10)
                base_urls = {provider: base_url} if base_url else None
                instance = make_client(provider, base_urls=base_urls, **kwargs)
                stack.push_async_callback(instance.aclose)
                return instance

            yield make

    @pytest.fixture
    def registry() -> "Registry":
        from .helpers import make_registry

        return make_registry(provider)

    @pytest.fixture
    def polling() -> Callable[..., Awaitable[bool]]:
        return wait_until

    return PluginFixtures(emulator, client, registry, polling)
