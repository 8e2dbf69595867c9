"""Fixtures for the core's tests: plugins installed through real entry points, local upstreams."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Sequence

import pytest
from chatplug.testing import write_distribution

if TYPE_CHECKING:
    from chatplug import CompletionRequest, ModelInfo, Registry

Install = Callable[..., Path]


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Install a provider plugin as a real distribution (module + dist-info) on ``sys.path``.

    ``install_plugin("acme", source)`` writes module ``chatplug_acme`` with ``source`` and an
    ``entry_points.txt`` registering it under ``chatplug.providers``
    (``chatplug.testing.write_distribution``); importlib-metadata discovers it exactly as it
    discovers a pip-installed plugin.
    """
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    modules: List[str] = []

    def install(
        name: str,
        source: str,
        *,
        module: str = "",
        value: str = "",
        version: str = "1.2.3",
        extra_entry_points: Dict[str, Dict[str, str]] | None = None,
    ) -> Path:
        module = module or "chatplug_" + name.replace("-", "_")
        groups = {"chatplug.providers": {name: value or module}}
        groups.update(extra_entry_points or {})
        write_distribution(
            site,
            f"chatplug-{name}",
            groups,
            version=version,
            modules={module: textwrap.dedent(source)},
        )
        modules.append(module)
        return site / f"{module}.py"

    yield install
    for module in modules:
        sys.modules.pop(module, None)


ECHO_PLUGIN = """
import json
from chatplug import ModelInfo, hookimpl, open_stream
from chatplug.decoders import SSEDecoder

URL = "http://127.0.0.1:9"  # the plugin's own default, never used in tests

@hookimpl
def list_models():
    return [
        ModelInfo("small", "{name}", default=True),
        ModelInfo("large", "{name}", aliases=("big", "small-16k")),
        ModelInfo("small-16k", "{name}"),
    ]

@hookimpl
async def stream_completion(request, session):
    body = {{"model": request.model, "prompt": request.prompt, "options": dict(request.options)}}
    url = request.url(URL, "/chat")
    async with open_stream(session, request, "POST", url, json=body) as response:
        decoder = SSEDecoder()
        async for chunk in response.content.iter_any():
            for data in decoder.feed(chunk):
                if data == "[DONE]":
                    return
                yield json.loads(data)["text"]
"""


def echo_plugin(name: str) -> str:
    """Source of a plugin written only against the public contract (SSE upstream)."""
    return ECHO_PLUGIN.format(name=name)


@pytest.fixture
def acme(install_plugin: Install) -> "Registry":
    """A registry that sees only ``acme``: the echo plugin installed through an entry point."""
    from chatplug import Registry

    install_plugin("acme", echo_plugin("acme"))
    return Registry(enabled=["acme"])


class ScriptedPlugin:
    """An in-process provider plugin whose ``stream_completion`` yields ``items`` as given
    (text, events, or anything a broken plugin might yield), then raises ``error`` if set.

    ``requests`` records every request it received (none: nothing reached the upstream).
    """

    def __init__(
        self,
        name: str,
        items: "Sequence[Any]" = ("Hello",),
        *,
        models: "Sequence[ModelInfo]" = (),
        error: "BaseException | None" = None,
    ) -> None:
        from chatplug import ModelInfo

        self.name = name
        self.items = list(items)
        self.models = list(models) or [ModelInfo("m", name, default=True)]
        self.error = error
        self.requests: "List[CompletionRequest]" = []

    def list_models(self) -> "List[ModelInfo]":
        return self.models

    async def stream_completion(self, request: "CompletionRequest", session: Any) -> Any:
        self.requests.append(request)
        for item in self.items:
            yield item
        if self.error is not None:
            raise self.error


def scripted_registry(*plugins: ScriptedPlugin) -> "Registry":
    """A registry of in-process scripted plugins (no entry points)."""
    from chatplug import Registry, hookimpl

    registry = Registry(discover=False)
    for plugin in plugins:
        hooks = type(
            plugin.name,
            (),
            {
                "list_models": hookimpl(staticmethod(plugin.list_models)),
                "stream_completion": hookimpl(staticmethod(plugin.stream_completion)),
            },
        )
        registry.register(plugin.name, hooks)
    return registry
