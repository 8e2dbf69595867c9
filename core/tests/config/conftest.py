"""Shared by the configuration's unit tests: a clean environment, a provider plugin declaring
settings, and a configuration parsed as if read from /etc/chatplug.toml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, AsyncIterator, ClassVar, Dict, List

import pytest
from chatplug import ModelInfo, Registry, hookimpl
from chatplug.config import Config

SECRET = "s3cr3t-Pa55"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        upper = name.upper()
        if upper.endswith("_PROXY") or (upper.startswith("CHATPLUG_") and "BASE_URL" in upper):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CHATPLUG_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def parse(text: str) -> Config:
    return Config.from_toml(text, path=Path("/etc/chatplug.toml"))


class Plugin:
    CHATPLUG_SETTINGS: ClassVar[Dict[str, type]] = {
        "api_key_env": str,
        "organization": str,
        "max_keys": int,
    }

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo("m1", "base", default=True), ModelInfo("m2", "base")]

    @hookimpl
    async def stream_completion(self, request: Any, session: Any) -> AsyncIterator[str]:
        yield "x"


class UndeclaredPlugin(Plugin):
    CHATPLUG_SETTINGS = None  # type: ignore[assignment]


def registry_with(plugin: object = None) -> Registry:
    registry = Registry(discover=False, enabled=None)
    registry.register("base", plugin if plugin is not None else Plugin())
    return registry
