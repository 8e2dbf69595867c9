"""The plugin through chatplug's clients: entry point, catalogue, AsyncClient, Client."""

from __future__ import annotations

from pathlib import Path

import chatplug_openai
import pytest
from chatplug import AsyncClient, AuthenticationError, Client, ModelInfo, Registry
from chatplug.emulation import EmulatorThread, RunningEmulator, run_emulator
from chatplug_openai import OpenAICompatible
from chatplug_openai.catalogue import write_cache
from chatplug_openai.emulator import REQUESTS, create_app


def test_entry_point_loads_the_openai_provider() -> None:
    registry = Registry(enabled=["openai"])
    provider = registry.provider("openai")
    assert provider.plugin is chatplug_openai
    assert provider.default_model.id == "gpt-4o-mini"
    assert {"gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o3-mini"} <= {m.id for m in provider.models()}


def test_list_models_is_static_and_all_models_belong_to_openai() -> None:
    models = chatplug_openai.list_models()
    assert all(isinstance(m, ModelInfo) and m.provider == "openai" for m in models)
    assert [m.id for m in models if m.default] == ["gpt-4o-mini"]


def test_list_models_includes_refreshed_models_from_the_cache(clean_env: Path) -> None:
    write_cache("openai", ["gpt-4o", "gpt-5-preview"], "https://api.openai.com/v1")
    models = {m.id: m for m in chatplug_openai.list_models()}
    assert models["gpt-5-preview"].metadata["source"] == "cache"
    assert models["gpt-4o-mini"].default
    assert list(models).count("gpt-4o") == 1


async def test_async_client_streams_from_the_emulator(emulator: RunningEmulator) -> None:
    async with AsyncClient(registry=Registry(enabled=["openai"])) as client:
        stream = client.stream("Salut ✓", model="openai/gpt-4o", base_url=emulator.url)
        pieces = [piece async for piece in stream]
    assert "".join(pieces) == emulator.replies[-1]
    assert "«Salut ✓»" in emulator.replies[-1]
    assert stream.provider == "openai" and stream.model == "gpt-4o"


async def test_async_client_base_urls_and_options(emulator: RunningEmulator) -> None:
    registry = Registry(enabled=["openai"])
    async with AsyncClient(registry=registry, base_urls={"openai": emulator.url}) as client:
        text = await client.complete(
            [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
            provider="openai",
            temperature=0.3,
            system="Be nice.",
        )
    assert "turn 2" in text
    body = emulator.app[REQUESTS][-1]["body"]
    assert body["temperature"] == 0.3
    assert body["messages"][0] == {"role": "system", "content": "Be nice."}


async def test_async_client_reports_auth_error_with_the_env_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-bad-key-000000000000")
    async with run_emulator(create_app(keys=["sk-good"])) as emulator:
        async with AsyncClient(registry=Registry(enabled=["openai"]), retry=1) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.complete("hi", provider="openai", base_url=emulator.url)
    assert "OPENAI_API_KEY" in (caught.value.hint or "")
    assert "sk-bad-key-000000000000" not in str(caught.value)


def test_sync_client_streams_from_the_emulator() -> None:
    with EmulatorThread(create_app()) as emulator:
        with Client(registry=Registry(enabled=["openai"])) as client:
            pieces = list(client.stream("Hej", provider="openai", base_url=emulator.url))
    assert "".join(pieces) == emulator.replies[-1]
    assert len(pieces) > 5


async def test_openai_compatible_serves_another_provider_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    async with run_emulator(create_app(models=["llama3.2", "qwen2.5"])) as emulator:
        registry = Registry(discover=False)
        registry.register(
            "ollama",
            OpenAICompatible("ollama", base_url=emulator.url, models=["llama3.2", "qwen2.5"]),
        )
        async with AsyncClient(registry=registry) as client:
            text = await client.complete("hi", model="ollama/qwen2.5")
    assert text == emulator.replies[-1]
    request = emulator.app[REQUESTS][-1]
    assert request["body"]["model"] == "qwen2.5"
    assert "authorization" not in request["headers"]
    assert [m.id for m in registry.models("ollama") if m.default] == ["llama3.2"]


async def test_virtual_provider_from_the_registry_uses_its_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = Registry(enabled=["openai", "local"])
    if not hasattr(registry, "add_virtual_provider"):
        pytest.skip("this core has no virtual providers")
    monkeypatch.setenv("LOCAL_TOKEN", "tok-123456789")
    async with run_emulator(create_app(keys=["tok-123456789"], models=["m1"])) as emulator:
        registry.add_virtual_provider(
            "local", "openai", models=["m1"], settings={"api_key_env": "LOCAL_TOKEN"}
        )
        async with AsyncClient(registry=registry, base_urls={"local": emulator.url}) as client:
            text = await client.complete("hi", model="local/m1")
    assert text == emulator.replies[-1]
    assert emulator.app[REQUESTS][-1]["headers"]["authorization"] == "Bearer tok-123456789"


def _write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


async def test_provider_declared_in_chatplug_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-reach-ollama")
    async with run_emulator(create_app(models=["llama3.2", "qwen2.5"])) as emulator:
        config = _write_config(
            tmp_path / "chatplug.toml",
            "[providers.ollama-v1]\n"
            'plugin = "openai"\n'
            f'base_url = "{emulator.url}"\n'
            'api_key_env = ""\n'
            'models = ["llama3.2", "qwen2.5"]\n'
            'headers = { "X-Title" = "chatplug" }\n',
        )
        registry = Registry(enabled=["openai", "ollama-v1"])
        async with AsyncClient(config=config, registry=registry) as client:
            assert [m.id for m in client.models("ollama-v1")] == ["llama3.2", "qwen2.5"]
            text = await client.complete("hi", model="ollama-v1/llama3.2")
    assert text == emulator.replies[-1]
    headers = emulator.app[REQUESTS][-1]["headers"]
    assert "authorization" not in headers
    assert headers["x-title"] == "chatplug"


async def test_wrongly_typed_setting_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    from chatplug.errors import ConfigError

    config = _write_config(
        tmp_path / "chatplug.toml",
        '[providers.groq]\nplugin = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'api_key_env = 42\nmodels = ["llama-3.3-70b-versatile"]\n',
    )
    with pytest.raises(ConfigError, match="api_key_env"):
        async with AsyncClient(config=config, registry=Registry(enabled=["openai", "groq"])) as c:
            await c.complete("hi", model="groq/llama-3.3-70b-versatile")
