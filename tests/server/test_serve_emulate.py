"""``chatplug serve --emulate`` (a subprocess): the whole server offline, every provider
answered by its emulator; and ``chatplug emulate PROVIDER`` on its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Dict, Iterator, List, Tuple

import openai
import pytest
from chatplug import Registry
from chatplug.server.emulators import installed_emulators
from server_harness import ServerProcess, start_server_with

SEED_PROVIDERS = ("ai365vip", "aichatonline", "openai", "vitalentum")


def offline_env() -> Dict[str, str]:
    env = dict(os.environ, CHATPLUG_CONFIG="", PYTHONUNBUFFERED="1")
    for name in list(env):
        if name.endswith("_BASE_URL") or name.endswith("_API_KEY") or name == "CHATPLUG_PLUGINS":
            env.pop(name)
    return env


def default_models() -> List[Tuple[str, str]]:
    registry = Registry(enabled=None)
    models = []
    for provider in installed_emulators():
        catalogue = registry.models(provider)
        models.append((provider, next((m for m in catalogue if m.default), catalogue[0]).id))
    return models


@pytest.fixture(scope="module")
def offline_server() -> Iterator[ServerProcess]:
    process = start_server_with(offline_env(), "--emulate")
    yield process
    process.stop()


def sdk(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=30)


def test_the_seed_providers_are_emulated(offline_server: ServerProcess) -> None:
    line = offline_server.wait_for_line("emulating")
    assert all(provider in line for provider in SEED_PROVIDERS)


@pytest.mark.parametrize("provider, model", default_models())
def test_every_provider_answers_the_openai_sdk_offline(
    offline_server: ServerProcess, provider: str, model: str
) -> None:
    with sdk(offline_server) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=f"{provider}/{model}", messages=[{"role": "user", "content": "hi offline"}]
        )
    assert raw.headers["x-chatplug-provider"] == provider
    assert raw.parse().choices[0].message.content


def test_named_providers_only_are_emulated() -> None:
    process = start_server_with(offline_env(), "--emulate", "vitalentum")
    try:
        line = process.wait_for_line("emulating")
        assert line.endswith("emulating vitalentum (offline)")
        with sdk(process) as client:
            answer = client.chat.completions.create(
                model="vitalentum/gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}]
            )
        assert answer.choices[0].message.content
    finally:
        process.stop()


def test_a_provider_without_an_emulator_is_an_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chatplug", "serve", "--port", "0", "--emulate", "nope"],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "no emulator for 'nope'" in result.stderr
    assert "listening" not in result.stderr


def test_chatplug_emulate_serves_one_emulator_on_its_own() -> None:
    process = ServerProcess(
        [sys.executable, "-m", "chatplug", "emulate", "openai", "--port", "0"],
        offline_env(),
        ready=re.compile(r"emulator on (http://\S+)"),
    ).wait_ready()
    try:
        assert process.url is not None and process.url.endswith("/v1")
        client = openai.OpenAI(base_url=process.url, api_key="unused", max_retries=0)
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert "«hi»" in (answer.choices[0].message.content or "")
    finally:
        assert process.stop() == 0
