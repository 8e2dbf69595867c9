"""Fixtures: the emulator (scriptable, in the test's loop) and clients bound to this plugin.

The scripted upstream and the forward proxy are the core kit's fixtures
(``scripted_upstream``, ``forward_proxy`` from :mod:`chatplug.testing`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Awaitable, Callable, Optional

import pytest
from chatplug import AsyncClient
from chatplug.emulation import RunningEmulator, run_emulator
from chatplug.testing import make_client
from chatplug_vitalentum.emulator import create_app

PROVIDER = "vitalentum"


@pytest.fixture
async def emulator() -> AsyncIterator[Callable[..., Awaitable[RunningEmulator]]]:
    """``await emulator(**script)``: start the plugin's emulator (see ``create_app``)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**script: Any) -> RunningEmulator:
            return await stack.enter_async_context(run_emulator(create_app(**script)))

        yield start


@pytest.fixture
async def client() -> AsyncIterator[Callable[..., AsyncClient]]:
    """``client(base_url, **kwargs)``: an AsyncClient bound to this plugin alone, no retries."""
    async with contextlib.AsyncExitStack() as stack:

        def make(base_url: Optional[str] = None, **kwargs: Any) -> AsyncClient:
            kwargs.setdefault("retry", 1)
            kwargs.setdefault("timeout", 10)
            instance = make_client(
                PROVIDER, base_urls={PROVIDER: base_url} if base_url else None, **kwargs
            )
            stack.push_async_callback(instance.aclose)
            return instance

        yield make


async def _wait_until(condition: Callable[[], Any], seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[None]]:
    """``await wait_until(condition)``: poll until true (generous bound for a slow machine)."""
    return _wait_until
