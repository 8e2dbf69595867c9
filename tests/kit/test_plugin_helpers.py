"""The kit's helpers for a plugin's tests: hook calls, raw requests, subprocesses, fixtures.

The fixture makers (``clean_environment``, ``running_emulator``) are checked in a plugin's
test folder run by pytest in a subprocess, as a plugin author runs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, AsyncIterator, List, Optional

import aiohttp
import pytest
from aiohttp import web
from chatplug import CompletionRequest, Timeout
from chatplug.emulation import run_emulator
from chatplug.emulator_kit import (
    Faults,
    emulator_app,
    read_logged_json,
    stream_body,
)
from chatplug.events import Finish, StreamItem
from chatplug.testing import (
    collect_items,
    completion_request,
    of_type,
    parse_chunks,
    raw_request,
    record_writes,
    run_cli,
    sent_request,
    split_bytes,
    text_of,
    write_distribution,
)
from chatplug.testing.hooks import HELLO
from chatplug.testing.processes import cli_environment

pytest_plugins = ["pytester"]


def create_app(**faults: Any) -> web.Application:
    """``POST /echo`` streams ``echo ✓ <q>`` in the kit's awkward pieces."""

    async def echo(request: web.Request) -> web.StreamResponse:
        body = await read_logged_json(request)
        response = web.StreamResponse()
        await response.prepare(request)
        await stream_body(request, response, f"echo ✓ {body['q']}".encode())
        return response

    app = emulator_app(Faults(**faults))
    app.router.add_post("/echo", echo)
    return app


async def stream_completion(
    request: CompletionRequest, session: aiohttp.ClientSession
) -> AsyncIterator[StreamItem]:
    """A hook that answers the prompt's words back, then finishes."""
    for word in request.prompt.split():
        yield word
    yield Finish("stop")


# --------------------------------------------------------------------------- hook calls


def test_completion_request_is_what_the_core_hands_a_plugin() -> None:
    request = completion_request("http://x", provider="acme", model="m", temperature=0.5)
    assert (request.provider, request.model, request.base_url) == ("acme", "m", "http://x")
    assert request.messages == HELLO and request.prompt == "Hi ✓"  # the default rendering
    assert request.timeout == Timeout.coerce(20.0) and request.temperature == 0.5


def test_completion_request_renders_the_prompt_of_a_conversation() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    request = completion_request(messages=messages, provider="acme", model="m", timeout=5)
    assert request.prompt == "System: Be brief.\nUser: Hi\nAssistant:"
    assert request.timeout == Timeout.coerce(5)


async def test_collect_items_gathers_what_the_hook_yields() -> None:
    request = completion_request(provider="acme", model="m", prompt="Grüße ✓ Welt")
    items = await collect_items(stream_completion, request)
    assert items == ["Grüße", "✓", "Welt", Finish("stop")]
    assert text_of(items) == "Grüße✓Welt"
    assert of_type(items, Finish) == [Finish("stop")]


class Lines:
    """An incremental parser of lines: each line is an item; ``END`` ends the stream."""

    def __init__(self) -> None:
        self.done = False
        self.rest = b""
        self.fed: List[bytes] = []

    def feed(self, chunk: bytes) -> List[StreamItem]:
        self.fed.append(chunk)
        *lines, self.rest = (self.rest + chunk).split(b"\n")
        items: List[StreamItem] = []
        for line in lines:
            self.done = self.done or line == b"END"
            if not self.done:
                items.append(line.decode())
        return items

    def close(self) -> Optional[List[StreamItem]]:
        return [Finish("stop")] if self.done else None


def test_parse_chunks_feeds_every_chunk_then_closes() -> None:
    body = "Grüße\n✓\nEND\nafter\n".encode()
    parser = Lines()
    items = parse_chunks(parser, split_bytes(body, [1, 2]))
    assert items == ["Grüße", "✓", Finish("stop")]
    assert parser.fed == split_bytes(body, [1, 2])  # also what follows the end marker
    assert parse_chunks(Lines(), [b"a\nb"]) == ["a"]  # close() gave None


# --------------------------------------------------------------------------- raw requests


async def test_raw_request_sends_json_and_reads_the_whole_answer() -> None:
    async with run_emulator(create_app()) as emulator:
        answer = await raw_request(emulator.url + "/echo", {"q": "Grüße"})
        assert (answer.status, answer.text) == (200, "echo ✓ Grüße")
        sent = sent_request(emulator)
    assert sent["body"] == {"q": "Grüße"}
    assert sent["headers"]["Content-Type"] == "application/json"


async def test_raw_request_sends_bytes_as_they_are() -> None:
    async with run_emulator(create_app()) as emulator:
        answer = await raw_request(emulator.url + "/echo", b"{oops", method="PUT")
        assert answer.status == 405
        assert (await raw_request(emulator.url + "/nowhere")).status == 404


async def test_record_writes_collects_the_pieces_an_emulator_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes = record_writes(monkeypatch)
    async with run_emulator(create_app()) as emulator:
        answer = await raw_request(emulator.url + "/echo", {"q": "Grüße"})
    assert b"".join(writes) == answer.body
    assert len(writes) > 3 and not any("✓".encode() in piece for piece in writes)


# --------------------------------------------------------------------------- subprocesses


def test_the_cli_environment_leaves_out_the_users_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "CHATPLUG_CONFIG": "/home/me/chatplug.toml",
        "CHATPLUG_API_KEY": "secret",
        "https_proxy": "http://127.0.0.1:9",
        "ACME_API_KEY": "k",
    }.items():
        monkeypatch.setenv(name, value)
    env = cli_environment("acme", tmp_path, unset=["ACME_API_KEY"])
    assert (env["CHATPLUG_PLUGINS"], env["CHATPLUG_CONFIG"], env["HOME"]) == (
        "acme",
        "",
        str(tmp_path),
    )
    assert not {"CHATPLUG_API_KEY", "https_proxy", "ACME_API_KEY"} & set(env)


def test_run_cli_runs_chatplug_with_only_the_named_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    write_distribution(
        site,
        "chatplug-kit-cli",
        {"chatplug.providers": {"kit-cli": "chatplug_kit_cli"}},
        modules={"chatplug_kit_cli": "from chatplug import hookimpl\n"},
    )
    monkeypatch.setenv("CHATPLUG_PLUGINS", "something-else")
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    done = run_cli(["plugins"], plugins="kit-cli", home=tmp_path, PYTHONPATH=path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("NAME")) + 1 :]
    rows = [line.split() for line in table if line.strip()]
    assert [row[0] for row in rows if "disabled" not in row] == ["kit-cli"]


# --------------------------------------------------------------------------- fixture makers
APP = """
from aiohttp import web
from chatplug.emulator_kit import emulator_app, read_logged_json

def create_app():
    async def echo(request):
        body = await read_logged_json(request)
        return web.Response(text="echo ✓ " + body["q"])

    app = emulator_app()
    app.router.add_post("/echo", echo)
    return app
"""

CONFTEST = """
from chatplug.testing import clean_environment, running_emulator
from test_plugin_helpers_app import create_app

clean_env = clean_environment("KIT_API_KEY", cache=True)
emulator = running_emulator(create_app)
"""
TESTS = """
import os
import pytest
from chatplug.testing import raw_request

def test_the_environment_is_clean(clean_env):
    for name in ("KIT_API_KEY", "HTTPS_PROXY", "CHATPLUG_PLUGINS"):
        assert name not in os.environ
    assert os.environ["CHATPLUG_CONFIG"] == ""
    assert os.environ["CHATPLUG_CACHE_DIR"] == str(clean_env)

@pytest.mark.asyncio
async def test_the_healthy_emulator_runs_for_the_test(emulator):
    answer = await raw_request(emulator.url + "/echo", {"q": "hi"})
    assert (answer.status, answer.text) == (200, "echo ✓ hi")
"""


def test_clean_environment_and_running_emulator_in_a_plugins_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "KIT_API_KEY": "leak",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "CHATPLUG_PLUGINS": "x",
    }.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_plugin_helpers_app=APP)
    pytester.makeini("[pytest]\nasyncio_mode = strict\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_kit=TESTS)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
