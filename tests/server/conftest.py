"""Fixtures: the scripted provider's upstream, and the real server as a subprocess.

The scripted provider (``fakeplugin/chatplug_servertest.py``) is made installable for
the server subprocess by a ``.dist-info`` written into a temporary directory that goes
on ``PYTHONPATH``, so the server discovers it through its entry points like any plugin.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import AsyncIterator, Dict, Iterator

import pytest
from chatplug.emulation import EmulatorThread, RunningEmulator

HERE = Path(__file__).parent
FAKEPLUGIN = HERE / "fakeplugin"

if str(FAKEPLUGIN) not in sys.path:
    sys.path.insert(0, str(FAKEPLUGIN))

import chatplug_servertest  # noqa: E402
from server_harness import ServerProcess, plugin_environment, start_server  # noqa: E402


@pytest.fixture(scope="session")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """Environment for a server subprocess that loads only the scripted providers."""
    return plugin_environment(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def upstream() -> Iterator[RunningEmulator]:
    """The scripted upstream, in a background thread of the test process."""
    with EmulatorThread(chatplug_servertest.emulator()) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(plugin_env: Dict[str, str], upstream: RunningEmulator) -> Iterator[ServerProcess]:
    """One server for a module's tests: short timeouts, no retries, no API key."""
    process = start_server(plugin_env, upstream, "--timeout", "3", "--retries", "0")
    yield process
    process.stop()


@pytest.fixture
async def scripted_server() -> AsyncIterator[str]:
    """``create_app`` over the in-process scripted provider (``scripted_events``), served on
    127.0.0.1 in the test's loop: its base URL."""
    import scripted_events
    from chatplug import AsyncClient
    from chatplug.emulation import run_emulator
    from chatplug.server import create_app

    scripted_events.RECEIVED.clear()
    async with AsyncClient(registry=scripted_events.registry(), config=False, retry=1) as client:
        async with run_emulator(create_app(client, api_key="", access_log=False)) as served:
            yield served.root
