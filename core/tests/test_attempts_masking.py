"""Errors raised through the attempt loop never show credentials."""

from __future__ import annotations

from typing import Any, AsyncIterator, List

import pytest
from chatplug import AsyncClient, ModelInfo, PluginError, Registry, hookimpl


class Leaky:
    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo("m", "leaky", default=True)]

    @hookimpl
    async def stream_completion(self, request: Any, session: Any) -> AsyncIterator[str]:
        raise RuntimeError("GET https://api.example/v1?key=sk-secret-123 failed")
        yield ""  # pragma: no cover


async def test_a_secret_query_parameter_in_a_plugin_error_is_masked() -> None:
    registry = Registry(discover=False)
    registry.register("leaky", Leaky())
    async with AsyncClient(registry=registry, config=False, retry=1) as client:
        with pytest.raises(PluginError) as caught:
            await client.complete("hi")
    assert "sk-secret-123" not in str(caught.value)
    assert "api.example" in str(caught.value)
