"""A plugin's own tests with the kit: the plugin installed for a test, and its fixtures.

``write_distribution`` installs a plugin (module and dist-info) that the kit finds through
its entry points, as it finds a pip-installed one.  The ``plugin_fixtures`` tests write a
plugin's test folder (a conftest and test modules) and run pytest on it in a subprocess,
as a plugin author runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from chatplug.registry import EMULATOR_GROUP, entry_points
from chatplug.testing import make_registry, wait_until, write_distribution

pytest_plugins = ["pytester"]

PLUGIN = """
import json
from aiohttp import web
from chatplug import ModelInfo, hookimpl, open_stream
from chatplug.decoders import iter_text
from chatplug.emulator_kit import Faults, emulator_app, read_logged_json, scripted_error

@hookimpl
def list_models():
    return [ModelInfo("echo", "kit-echo", default=True)]

@hookimpl
async def stream_completion(request, session):
    url = request.url("http://127.0.0.1:9", "/echo")
    async with open_stream(session, request, "POST", url, json={"q": request.prompt}) as resp:
        async for text in iter_text(resp):
            yield text

def create_app(**faults):
    async def echo(request):
        body = await read_logged_json(request)
        return scripted_error(request) or web.Response(text="echo: " + body["q"])

    app = emulator_app(Faults(**faults))
    app.router.add_post("/echo", echo)
    return app
"""
CONFTEST = """
from chatplug.testing import plugin_fixtures
from chatplug_kit_echo import create_app

emulator, client, registry, wait_until = plugin_fixtures("kit-echo", create_app)
"""
ENTRY_POINTS = {
    "chatplug.providers": {"kit-echo": "chatplug_kit_echo"},
    "chatplug.emulators": {"kit-echo": "chatplug_kit_echo:create_app"},
}
INI = "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"


# --------------------------------------------------------------------------- write_distribution


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "chatplug_kit_echo", raising=False)
    return site


def test_the_written_provider_is_discovered_through_its_entry_point(site: Path) -> None:
    modules = {"chatplug_kit_echo": PLUGIN}
    write_distribution(site, "chatplug-kit-echo", ENTRY_POINTS, modules=modules)
    provider = make_registry("kit-echo").provider("kit-echo")
    assert [model.id for model in provider.models()] == ["echo"]
    assert "kit-echo" in [entry.name for entry in entry_points(EMULATOR_GROUP)]


def test_the_metadata_names_the_distribution_and_its_version(site: Path) -> None:
    info = write_distribution(site, "chatplug-kit-echo", ENTRY_POINTS, version="2.5")
    assert info.name == "chatplug_kit_echo-2.5.dist-info"
    code = (
        "from importlib.metadata import distribution\n"
        "print(distribution('chatplug-kit-echo').version)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site)},
        timeout=60,
    )
    assert done.stdout.strip() == "2.5", done.stderr


# --------------------------------------------------------------------------- plugin_fixtures


@pytest.fixture
def plugin_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A plugin's test folder, the plugin installed (module and dist-info) on PYTHONPATH."""
    site = pytester.path / "site"
    write_distribution(
        site, "chatplug-kit-echo", ENTRY_POINTS, modules={"chatplug_kit_echo": PLUGIN}
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    pytester.makeini(INI)  # strict: the kit's async fixtures need no asyncio_mode = "auto"
    pytester.makeconftest(CONFTEST)
    return pytester


def test_the_emulator_and_client_fixtures_serve_the_plugin(plugin_tests: pytest.Pytester) -> None:
    plugin_tests.makepyfile(
        """
        import pytest
        from chatplug import UpstreamHTTPError
        from chatplug.emulator_kit import REQUESTS

        @pytest.mark.asyncio
        async def test_answer(emulator, client, registry):
            running = await emulator()
            assert await client(running.url).complete("hi") == "echo: hi"
            assert [model.id for model in registry.provider("kit-echo").models()] == ["echo"]

        @pytest.mark.asyncio
        async def test_a_scripted_fault(emulator, client):
            running = await emulator(status=503, error_body="down")
            with pytest.raises(UpstreamHTTPError) as caught:
                await client(running.url).complete("hi")
            assert (caught.value.status, caught.value.body) == (503, "down")
            assert len(running.app[REQUESTS]) == 1  # no retries
        """
    )
    plugin_tests.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_emulators_stop_and_clients_close_after_each_test(plugin_tests: pytest.Pytester) -> None:
    plugin_tests.makepyfile(
        """
        import socket
        import pytest

        LEFT = {}

        @pytest.mark.asyncio
        async def test_first(emulator, client):
            running = await emulator()
            made = client(running.url)
            await made.complete("hi")
            LEFT.update(port=int(running.url.rsplit(":", 1)[1]), session=made.session)

        def test_then_nothing_is_left():
            assert LEFT["session"].closed
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", LEFT["port"]), timeout=5)
        """
    )
    plugin_tests.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_conftest_may_take_and_rename_single_fixtures(plugin_tests: pytest.Pytester) -> None:
    plugin_tests.makeconftest(
        """
        from chatplug.testing import plugin_fixtures

        wait_for = plugin_fixtures("kit-echo").wait_until
        """
    )
    plugin_tests.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        async def test_polls(wait_for):
            assert await wait_for(lambda: True)

        def test_only_what_was_taken(request):
            with pytest.raises(pytest.FixtureLookupError):
                request.getfixturevalue("client")
        """
    )
    plugin_tests.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


async def test_wait_until_fails_when_the_condition_never_holds() -> None:
    with pytest.raises(AssertionError, match=r"condition not met within 0\.1s"):
        await wait_until(lambda: False, 0.1)


async def test_wait_until_returns_once_the_condition_holds() -> None:
    calls = []
    assert await wait_until(lambda: calls.append(1) or len(calls) > 3)
    assert len(calls) == 4
