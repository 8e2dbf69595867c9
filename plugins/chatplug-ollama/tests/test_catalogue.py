"""The catalogue: built-in models without the network, the opt-in refresh and its cache."""

from __future__ import annotations

import json
from pathlib import Path

import chatplug_ollama
import pytest
from chatplug import Registry, UpstreamHTTPError
from chatplug.emulation import EmulatorThread
from chatplug_ollama import async_refresh_models, cache_path, clear_cache, refresh_models
from chatplug_ollama.emulator import create_app

from .conftest import StartEmulator

SERVED = {"llama3.2:latest": ["tools"], "qwen3:8b": ["tools", "thinking"], "llava:7b": ["vision"]}


def test_the_built_in_catalogue_is_self_hosted_with_llama_as_default() -> None:
    models = chatplug_ollama.list_models()
    assert [m.id for m in models if m.default] == ["llama3.2"]
    assert all(m.upstream == "self-hosted" and m.provider == "ollama" for m in models)
    assert all({"json_object", "json_schema", "usage"} <= m.capabilities for m in models)


def test_capabilities_follow_what_each_model_can_do() -> None:
    models = {m.id: m.capabilities for m in chatplug_ollama.list_models()}
    assert "tools" in models["llama3.2"] and "images" not in models["llama3.2"]
    assert "reasoning" in models["qwen3"]
    assert "images" in models["gemma3"] and "tools" not in models["gemma3"]


def test_the_entry_point_loads_the_ollama_provider() -> None:
    provider = Registry(enabled=["ollama"]).provider("ollama")
    assert provider.plugin is chatplug_ollama
    assert provider.default_model.id == "llama3.2"


def test_refresh_caches_the_servers_models_and_capabilities(clean_env: Path) -> None:
    with EmulatorThread(create_app(models=SERVED)) as emulator:
        names = refresh_models("ollama", emulator.url)
    assert names == list(SERVED)
    assert cache_path("ollama").parent.parent == clean_env
    cached = json.loads(cache_path("ollama").read_text())["models"]
    assert cached[1] == {"id": "qwen3:8b", "capabilities": ["completion", "tools", "thinking"]}


async def test_list_models_then_lists_exactly_the_servers_models(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(models=SERVED)
    await async_refresh_models("ollama", emulator.url)
    models = {m.id: m for m in chatplug_ollama.list_models()}
    assert list(models) == list(SERVED)
    assert models["llama3.2:latest"].aliases == ("llama3.2",)
    assert models["llama3.2:latest"].default
    assert "reasoning" in models["qwen3:8b"].capabilities
    assert "images" in models["llava:7b"].capabilities
    assert models["qwen3:8b"].metadata["source"] == "cache"


async def test_clear_cache_brings_back_the_built_in_catalogue(
    start_emulator: StartEmulator,
) -> None:
    emulator = await start_emulator(models=SERVED)
    await async_refresh_models("ollama", emulator.url)
    assert clear_cache("ollama")
    assert chatplug_ollama.list_models()[0].id == "llama3.2"
    assert not clear_cache("ollama")


async def test_a_failed_refresh_keeps_no_cache(start_emulator: StartEmulator) -> None:
    emulator = await start_emulator()
    with pytest.raises(UpstreamHTTPError, match="404"):
        await async_refresh_models("ollama", emulator.url + "/nowhere")
    assert not cache_path("ollama").exists()


def test_cache_path_refuses_a_provider_id_that_is_not_a_file_name() -> None:
    with pytest.raises(ValueError, match="invalid provider id"):
        cache_path("../etc")
