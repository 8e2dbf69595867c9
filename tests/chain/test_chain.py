"""Two chatplug processes in a chain: chatplug-openai pointed at ``chatplug serve``.

    test process / ``chatplug chat``  ──(OpenAI API)──►  ``chatplug serve`` subprocess
       provider "upstream" (plugin = "openai")               provider vitalentum
                                                                   │
                                      vitalentum's emulator ◄──────┘ (thread of this process)

The answer must arrive intact: equal to the reply the seed emulator recorded.  Every
upstream is on 127.0.0.1.  The server requires an API key, which the openai plugin reads
from the environment variable named in the configuration.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple

import pytest
from chatplug import AsyncClient, AuthenticationError, Registry, UpstreamHTTPError
from chatplug.emulation import EmulatorThread, RunningEmulator, emulator_factory
from chatplug.errors import ChatplugError

SEED = "vitalentum"
SEED_MODEL = "gpt-3.5-turbo"
SERVER_KEY = "chain-server-key-5f3a9c"
KEY_ENV = "CHAIN_UPSTREAM_KEY"
STARTUP_SECONDS = 90.0
LISTENING = re.compile(r"listening on (http://\S+)")
#: variables that would change what the processes do (proxies, keys, plugin filters)
UNSET = (
    *("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"),
    *("CHATPLUG_PROXY", "CHATPLUG_API_KEY", "OPENAI_API_KEY", "CHATPLUG_PLUGINS"),
)
PROMPT = "Dis bonjour en trois langues ✓ — 日本語 🚀"


class Server(NamedTuple):
    url: str
    process: "subprocess.Popen[str]"
    log: List[str]


def _seed_emulator_app() -> object:
    try:
        return emulator_factory(SEED)()
    except ChatplugError as error:
        pytest.skip(f"the seed plugin chatplug-{SEED} is not installed: {error}")


def _base_env() -> Dict[str, str]:
    env = dict(os.environ)
    for name in UNSET:
        env.pop(name, None)
    env["CHATPLUG_CONFIG"] = ""
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def seed() -> Iterator[RunningEmulator]:
    """The seed plugin's emulator, in a thread of the test process."""
    with EmulatorThread(_seed_emulator_app()) as running:  # type: ignore[arg-type]
        yield running


@pytest.fixture(scope="module")
def server(seed: RunningEmulator) -> Iterator[Server]:
    """``chatplug serve`` in its own process, serving the seed provider from its emulator."""
    env = _base_env()
    env["CHATPLUG_PLUGINS"] = SEED
    command = [
        sys.executable, "-m", "chatplug", "serve",
        "--host", "127.0.0.1", "--port", "0",
        "--api-key", SERVER_KEY,
        "--base-url", f"{SEED}={seed.url}",
        "--retries", "0",
        "--timeout", "30",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    log: List[str] = []
    found: List[str] = []
    ready = threading.Event()

    def read_stderr() -> None:  # keeps draining stderr so the server never blocks on it
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            match = LISTENING.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    ready.wait(STARTUP_SECONDS)
    if not found:
        process.kill()
        process.wait(10)
        pytest.fail("chatplug serve did not start:\n" + "".join(log[-40:]))
    try:
        yield Server(found[0], process, log)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            process.kill()
            process.wait(10)
        reader.join(10)


@pytest.fixture
def config_file(tmp_path: Path, server: Server) -> Path:
    """A chatplug.toml declaring provider "upstream": the openai plugin aimed at the server."""
    path = tmp_path / "chatplug.toml"
    path.write_text(
        "[providers.upstream]\n"
        'plugin = "openai"\n'
        f'base_url = "{server.url}/v1"\n'
        f'api_key_env = "{KEY_ENV}"\n'
        f'models = ["{SEED}/{SEED_MODEL}", "{SEED_MODEL}"]\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATPLUG_CONFIG", "")
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEY_ENV, SERVER_KEY)


def _registry() -> Registry:
    return Registry(enabled=["openai", "upstream"])


async def test_answer_arrives_intact_through_a_configured_provider(
    seed: RunningEmulator, config_file: Path
) -> None:
    async with AsyncClient(config=config_file, registry=_registry(), retry=1) as client:
        stream = client.stream(PROMPT, model=f"upstream/{SEED}/{SEED_MODEL}")
        pieces = [piece async for piece in stream]
    assert stream.provider == "upstream"
    assert "".join(pieces) == seed.replies[-1]
    assert len(pieces) > 1  # streamed through both hops, not buffered into one piece


async def test_history_and_system_prompt_cross_the_chain(
    seed: RunningEmulator, config_file: Path
) -> None:
    messages = [
        {"role": "user", "content": "Première question ✓"},
        {"role": "assistant", "content": "Première réponse"},
        {"role": "user", "content": "Deuxième question 日本"},
    ]
    async with AsyncClient(config=config_file, registry=_registry(), retry=1) as client:
        text = await client.complete(
            messages, model=f"upstream/{SEED_MODEL}", system="Réponds en français."
        )
    assert text == seed.replies[-1]


async def test_openai_provider_with_a_base_url_override(
    seed: RunningEmulator, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    async with AsyncClient(config=False, registry=Registry(enabled=["openai"]), retry=1) as client:
        text = await client.complete(
            PROMPT, model=f"openai/{SEED_MODEL}", base_url=f"{server.url}/v1"
        )
    assert text == seed.replies[-1]


async def test_wrong_key_is_an_auth_error_naming_the_variable(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "not-the-server-key-123")
    async with AsyncClient(config=config_file, registry=_registry(), retry=1) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.complete(PROMPT, model=f"upstream/{SEED_MODEL}")
    assert KEY_ENV in (caught.value.hint or "")
    assert "not-the-server-key-123" not in str(caught.value)


async def test_model_the_server_lacks_is_a_404_with_a_hint(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    async with AsyncClient(config=False, registry=Registry(enabled=["openai"]), retry=1) as client:
        with pytest.raises(UpstreamHTTPError) as caught:
            await client.complete(PROMPT, model="openai/gpt-4o", base_url=f"{server.url}/v1")
    assert caught.value.status == 404
    assert "gpt-4o" in str(caught.value)
    assert "models" in (caught.value.hint or "")


def _run_cli(
    args: List[str], env: Dict[str, str], timeout: float = 120.0
) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-m", "chatplug", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_chatplug_chat_in_its_own_process_gets_the_answer_intact(
    seed: RunningEmulator, config_file: Path
) -> None:
    env = _base_env()
    env.update(
        {
            "CHATPLUG_CONFIG": str(config_file),
            "CHATPLUG_PLUGINS": "openai,upstream",
            KEY_ENV: SERVER_KEY,
            "PYTHONIOENCODING": "utf-8",
        }
    )
    before = len(seed.replies)
    result = _run_cli(["chat", "--json", "-m", f"upstream/{SEED}/{SEED_MODEL}", PROMPT], env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(seed.replies) == before + 1
    assert answer["text"] == seed.replies[-1]
    assert answer["provider"] == "upstream"
    assert SERVER_KEY not in result.stdout + result.stderr
