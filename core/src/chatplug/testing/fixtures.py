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

Two more fixture makers for a conftest::

    clean_env = clean_environment("ACME_API_KEY", cache=True)  # autouse
    emulator = running_emulator(create_app)  # the healthy emulator, running for the test

- :func:`clean_environment`: no API keys, proxies, ``CHATPLUG_PLUGINS`` or configuration
  file from the environment (with ``cache=True``, a private ``CHATPLUG_CACHE_DIR``).
- :func:`running_emulator`: ``create_app()`` on 127.0.0.1 for the test.

:func:`record_writes` (``writes = record_writes(monkeypatch)``) collects the pieces that
emulators built on :mod:`chatplug.emulator_kit` write, to check how awkwardly they split.
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
    Iterator,
    List,
    NamedTuple,
    Optional,
)

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from aiohttp import web

    from ..client import AsyncClient
    from ..emulation import RunningEmulator
    from ..registry import Registry

#: seconds ``wait_until`` waits by default: generous, for a loaded machine
WAIT = 10.0
#: the ``emulator`` fixture of :func:`plugin_fixtures`: ``await start(**faults)``
StartEmulator = Callable[..., Awaitable["RunningEmulator"]]
#: the proxy variables :func:`clean_environment` removes
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


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


def clean_environment(*variables: str, cache: bool = False) -> Any:
    """An autouse fixture: the test sees none of ``variables`` (API keys), no proxy
    variables, no ``CHATPLUG_PLUGINS`` and no configuration file (``CHATPLUG_CONFIG=""``).

    With ``cache=True`` ``CHATPLUG_CACHE_DIR`` is a directory of the test's own (the
    fixture's value; ``None`` otherwise).
    """

    @pytest.fixture(autouse=True)
    def clean_env(
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Optional["Path"]]:
        for name in (*variables, *PROXY_VARIABLES, "CHATPLUG_PLUGINS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("CHATPLUG_CONFIG", "")
        directory = None
        if cache:
            directory = request.getfixturevalue("tmp_path") / "cache"
            monkeypatch.setenv("CHATPLUG_CACHE_DIR", str(directory))
        yield directory

    return clean_env


def running_emulator(create_app: Callable[[], "web.Application"]) -> Any:
    """A fixture: ``create_app()`` running on 127.0.0.1 for the test (a
    :class:`~chatplug.emulation.RunningEmulator`)."""

    @_async_fixture()
    async def emulator() -> AsyncIterator["RunningEmulator"]:
        from ..emulation import run_emulator

        async with run_emulator(create_app()) as running:
            yield running

    return emulator


def record_writes(monkeypatch: pytest.MonkeyPatch) -> List[bytes]:
    """The pieces :func:`chatplug.emulator_kit.stream_body` writes from now on, in order
    (for the test; ``monkeypatch`` undoes it)."""
    from .. import emulator_kit
    from ..emulation import write_awkwardly as original
    from .replies import split_bytes

    writes: List[bytes] = []

    async def recording(response: Any, data: bytes, **options: Any) -> None:
        writes.extend(split_bytes(data, options["sizes"]))
        await original(response, data, **options)

    monkeypatch.setattr(emulator_kit, "write_awkwardly", recording)
    return writes
