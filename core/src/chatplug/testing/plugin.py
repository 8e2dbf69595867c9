"""The chatplug pytest plugin (registered through the ``pytest11`` entry point).

Fixtures (every server binds 127.0.0.1 and runs in a background thread, so they work in
synchronous and asynchronous tests alike; all are stopped at the end of the test):

- ``chatplug_client(provider, plugin=None, **kwargs)``: an :class:`~chatplug.AsyncClient`
  that sees only ``provider`` (use it as ``async with chatplug_client("acme") as client``).
- ``chatplug_sync_client(provider, plugin=None, **kwargs)``: the same as a synchronous
  :class:`~chatplug.Client` (closed at teardown).
- ``chatplug_emulator(provider_or_factory)``: a running emulator (``.url``, ``.replies``).
- ``scripted_upstream(*replies, handler=None)``: a running
  :class:`~chatplug.testing.ScriptedUpstream`.
- ``forward_proxy``: a running :class:`~chatplug.testing.ForwardProxy` (``.url``,
  ``.requests``).

Option: ``pytest --chatplug PROVIDER`` (repeatable) adds the conformance suite of that
installed provider to the run, one test per check.

This module imports nothing heavy at import time: pytest loads it in every session.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Optional

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from ..client import AsyncClient, Client
    from ..emulation import RunningEmulator
    from .conformance import Check
    from .proxy import ForwardProxy
    from .upstream import Reply, ScriptedUpstream


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatplug", "chatplug plugin conformance")
    group.addoption(
        "--chatplug",
        action="append",
        default=[],
        metavar="PROVIDER",
        help="run the chatplug conformance suite against the installed provider PROVIDER",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chatplug_conformance: a chatplug conformance check")


class ConformanceItem(pytest.Item):
    """One conformance check of one provider, added by ``--chatplug PROVIDER``."""

    def __init__(self, *, provider: str, check: "Check", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.provider = provider
        self.check = check
        self.add_marker("chatplug_conformance")

    def runtest(self) -> None:
        from .conformance import ConformanceFailure, run_check

        result = run_check(self.check, self.provider)
        if not result.passed:
            raise ConformanceFailure(result.message)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        from .conformance import ConformanceFailure

        if isinstance(excinfo.value, ConformanceFailure):
            return f"conformance check {self.check.name!r} failed: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> Any:
        return self.path, None, f"chatplug conformance {self.provider}: {self.check.name}"


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: List[pytest.Item]
) -> None:
    providers = config.getoption("chatplug", default=[]) or []
    if not providers:
        return
    from .conformance import CHECKS

    for provider in providers:
        for check in CHECKS:
            items.append(
                ConformanceItem.from_parent(
                    session,
                    name=f"chatplug-conformance[{provider}-{check.name}]",
                    provider=provider,
                    check=check,
                )
            )


@pytest.fixture
def chatplug_client() -> Callable[..., "AsyncClient"]:
    """Factory: ``chatplug_client("acme", **kwargs)`` -> an AsyncClient for one provider."""
    from .helpers import make_client

    def factory(provider: str, plugin: Optional[object] = None, **kwargs: Any) -> "AsyncClient":
        return make_client(provider, plugin, **kwargs)

    return factory


@pytest.fixture
def chatplug_sync_client() -> Iterator[Callable[..., "Client"]]:
    """Factory: ``chatplug_sync_client("acme", **kwargs)`` -> a Client, closed after the test."""
    from .helpers import make_sync_client

    clients: List["Client"] = []

    def factory(provider: str, plugin: Optional[object] = None, **kwargs: Any) -> "Client":
        client = make_sync_client(provider, plugin, **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def chatplug_emulator() -> Iterator[Callable[..., "RunningEmulator"]]:
    """Factory: ``chatplug_emulator("acme")`` (or a factory / app) -> a running emulator."""
    from .helpers import emulator_thread

    with contextlib.ExitStack() as stack:

        def start(emulator: Any) -> "RunningEmulator":
            return stack.enter_context(emulator_thread(emulator))

        yield start


@pytest.fixture
def scripted_upstream() -> Iterator[Callable[..., "ScriptedUpstream"]]:
    """Factory: ``scripted_upstream(Reply.error(500), ...)`` -> a running ScriptedUpstream."""
    from .upstream import ScriptedUpstream

    with contextlib.ExitStack() as stack:

        def start(*replies: "Reply", handler: Any = None) -> "ScriptedUpstream":
            upstream: ScriptedUpstream = stack.enter_context(
                ScriptedUpstream(*replies, handler=handler)
            )
            return upstream

        yield start


@pytest.fixture
def forward_proxy() -> Iterator["ForwardProxy"]:
    """A running forward HTTP proxy on 127.0.0.1 (``.url``, ``.requests``)."""
    from .proxy import ForwardProxy

    with ForwardProxy() as proxy:
        yield proxy
