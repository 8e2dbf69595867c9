"""The opt-in model refresh: GET {base_url}/models, cached on disk, read by list_models."""

from __future__ import annotations

import json
from pathlib import Path

import chatplug_openai
import pytest
from chatplug import AuthenticationError
from chatplug.emulation import EmulatorThread, run_emulator
from chatplug_openai import OpenAICompatible, async_refresh_models, cache_path, refresh_models
from chatplug_openai.emulator import create_app

KEY = "sk-refresh-key-987654321"


def test_refresh_models_caches_the_ids_in_the_cache_dir(clean_env: Path) -> None:
    with EmulatorThread(create_app(keys=[KEY], models=["llama3.2", "qwen2.5"])) as emulator:
        ids = refresh_models("ollama", emulator.url, KEY)
    assert ids == ["llama3.2", "qwen2.5"]
    path = cache_path("ollama")
    assert path.parent.parent == clean_env
    assert json.loads(path.read_text())["models"] == ids


async def test_list_models_reads_the_cache_for_its_provider() -> None:
    async with run_emulator(create_app(models=["m-a", "m-b"])) as emulator:
        await async_refresh_models("lan", emulator.url, api_key_env="")
    models = OpenAICompatible("lan").list_models()
    assert [m.id for m in models] == ["m-a", "m-b"]
    assert models[0].default


async def test_refresh_of_openai_keeps_chat_models_and_static_default() -> None:
    served = ["gpt-4o-mini", "gpt-5", "text-embedding-3-small", "whisper-1", "o3"]
    async with run_emulator(create_app(models=served)) as emulator:
        ids = await async_refresh_models("openai", emulator.url)
    assert ids == ["gpt-4o-mini", "gpt-5", "o3"]
    models = {m.id: m for m in chatplug_openai.list_models()}
    assert {"gpt-5", "o3"} <= set(models)
    assert "whisper-1" not in models
    assert models["gpt-4o-mini"].default


async def test_refresh_uses_the_provider_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    async with run_emulator(create_app(keys=[KEY])) as emulator:
        assert await async_refresh_models("openai", emulator.url)


async def test_refresh_refused_key_is_auth_error_without_the_key() -> None:
    async with run_emulator(create_app(keys=["sk-other"])) as emulator:
        with pytest.raises(AuthenticationError) as caught:
            await async_refresh_models("openai", emulator.url, KEY)
    assert KEY not in str(caught.value)
    assert not cache_path("openai").exists()


def test_configured_models_come_first_and_the_first_is_default() -> None:
    models = OpenAICompatible("vllm", models=["b", "a"]).list_models()
    assert [(m.id, m.default, m.provider) for m in models] == [
        ("b", True, "vllm"),
        ("a", False, "vllm"),
    ]


def test_provider_without_models_or_cache_has_a_placeholder() -> None:
    models = OpenAICompatible("empty").list_models()
    assert [m.id for m in models] == ["default"]


def test_cache_path_refuses_a_provider_id_that_is_not_a_file_name() -> None:
    with pytest.raises(ValueError, match="invalid provider id"):
        cache_path("../etc")
