"""A virtual provider declared in the file and served by the real chatplug-openai plugin,
against its emulator (skipped when the plugin is not installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from chatplug import AsyncClient, AuthenticationError, Registry

chatplug_openai = pytest.importorskip("chatplug_openai")
emulator = pytest.importorskip("chatplug_openai.emulator")


async def test_a_virtual_openai_compatible_provider_from_the_file(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatplug.emulation import run_emulator

    app = emulator.create_app(keys=["local-key"], require_key=True, models=["llama3"])
    async with run_emulator(app) as upstream:
        write_config(
            "[providers.local-llm]\n"
            'plugin = "openai"\n'
            f'base_url = "{upstream.url}"\n'
            'models = ["llama3"]\n'
            'api_key_env = "LOCAL_LLM_TEST_KEY"\n'
        )
        monkeypatch.setenv("LOCAL_LLM_TEST_KEY", "local-key")
        registry = Registry(enabled=["openai", "local-llm"])
        async with AsyncClient(registry=registry) as client:
            assert [m.qualified_id for m in client.models("local-llm")] == ["local-llm/llama3"]
            text = await client.complete("Hello there", model="local-llm/llama3")
        assert text == upstream.replies[-1]

        monkeypatch.setenv("LOCAL_LLM_TEST_KEY", "wrong-key")
        async with AsyncClient(registry=registry, retry=1) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.complete("Hello there", model="local-llm/llama3")
        assert "LOCAL_LLM_TEST_KEY" in (caught.value.hint or "")
        assert "wrong-key" not in str(caught.value)
