"""Whatever plugin code raises, ``BaseException`` included, is a ``PluginError`` naming the
plugin, through ``AsyncClient``; the caller's own cancellation stays a cancellation."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, List, Optional

import pytest
from chatplug import (
    AsyncClient,
    CompletionRequest,
    ModelInfo,
    PluginError,
    PluginLoadError,
    Registry,
    hookimpl,
)
from chatplug.registry import FAILED
from chatplug.testing import write_distribution

pytestmark = pytest.mark.timeout(20)

USER = [{"role": "user", "content": "hi"}]


class Answers:
    """A plugin that answers ``"fine"``."""

    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return [ModelInfo("m", self.name, default=True)]

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        yield "fine"


class Faulty(Answers):
    """A plugin raising ``fault()`` before any text, or after ``"partial "`` (``after``)."""

    def __init__(self, name: str, fault: Callable[[], BaseException], after: bool) -> None:
        super().__init__(name)
        self.fault = fault
        self.after = after

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        if self.after:
            yield "partial "
        raise self.fault()


def client_with(*plugins: Any, timeout: Optional[float] = None) -> AsyncClient:
    """A client over ``plugins`` registered in-process (``timeout``: for ``list_models``)."""
    registry = (
        Registry(discover=False)
        if timeout is None
        else Registry(discover=False, list_models_timeout=timeout)
    )
    for plugin in plugins:
        registry.register(plugin.name, plugin)
    return AsyncClient(registry=registry, retry=1)


BASE_FAULTS = {
    "SystemExit": lambda: SystemExit(3),
    "KeyboardInterrupt": KeyboardInterrupt,
    "CancelledError": asyncio.CancelledError,
    "GeneratorExit": GeneratorExit,
}


@pytest.mark.parametrize("fault", sorted(BASE_FAULTS))
async def test_a_base_exception_before_any_text_is_a_plugin_error_naming_the_plugin(
    fault: str,
) -> None:
    async with client_with(Faulty("bad", BASE_FAULTS[fault], after=False)) as client:
        with pytest.raises(PluginError) as caught:
            await client.complete(USER, model="bad/m")
    assert caught.value.provider == "bad"
    assert fault in str(caught.value)
    assert type(caught.value.__cause__).__name__ == fault


@pytest.mark.parametrize("fault", sorted(BASE_FAULTS))
async def test_a_base_exception_after_text_is_a_plugin_error_with_the_partial_length(
    fault: str,
) -> None:
    async with client_with(Faulty("bad", BASE_FAULTS[fault], after=True)) as client:
        pieces = []
        with pytest.raises(PluginError) as caught:
            async for piece in client.stream(USER, model="bad/m"):
                pieces.append(piece)
    assert pieces == ["partial "]
    assert caught.value.partial_length == len("partial ")
    assert caught.value.provider == "bad"


async def test_a_plugin_raising_system_exit_falls_back_to_the_next_provider() -> None:
    broken = Faulty("bad", BASE_FAULTS["SystemExit"], after=False)
    async with client_with(broken, Answers("good")) as client:
        stream = client.stream(USER, model="m")
        text = "".join([piece async for piece in stream])
    assert text == "fine"
    assert [name for name, _ in stream.attempts] == ["bad", "good"]


async def test_the_callers_own_cancellation_still_propagates_as_cancellation() -> None:
    started = asyncio.Event()

    class Slow(Answers):
        @hookimpl
        async def stream_completion(
            self, request: CompletionRequest, session: Any
        ) -> AsyncIterator[str]:
            started.set()
            await asyncio.sleep(30)
            yield "late"

    async with client_with(Slow("slow")) as client:
        task = asyncio.ensure_future(client.complete(USER, model="slow/m"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_plugin_ignoring_generator_exit_on_close_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Zombie(Answers):
        @hookimpl
        async def stream_completion(
            self, request: CompletionRequest, session: Any
        ) -> AsyncIterator[str]:
            try:
                yield "one"
                yield "two"
            except GeneratorExit:
                yield "zombie"

    async with client_with(Zombie("zombie")) as client:
        with caplog.at_level(logging.WARNING, logger="chatplug"):
            async with client.stream(USER, model="zombie/m") as stream:
                async for piece in stream:
                    assert piece == "one"
                    break
    assert any(
        "zombie" in record.getMessage() and "RuntimeError" in record.getMessage()
        for record in caplog.records
    )


async def test_format_prompt_raising_system_exit_is_a_plugin_error() -> None:
    class BadPrompt(Answers):
        @hookimpl
        def format_prompt(self, messages: Any, model: str) -> str:
            raise SystemExit(4)

    async with client_with(BadPrompt("prompt")) as client:
        with pytest.raises(PluginError, match="SystemExit") as caught:
            await client.complete(USER, model="prompt/m")
    assert caught.value.provider == "prompt"


@pytest.mark.parametrize("piece", [b"bytes", {"text": "dict"}], ids=["bytes", "dict"])
async def test_a_piece_that_is_not_text_is_a_plugin_error(piece: Any) -> None:
    class NotText(Answers):
        @hookimpl
        async def stream_completion(
            self, request: CompletionRequest, session: Any
        ) -> AsyncIterator[Any]:
            yield piece

    async with client_with(NotText("odd")) as client:
        with pytest.raises(PluginError, match="contract violation") as caught:
            await client.complete(USER, model="odd/m")
    assert caught.value.provider == "odd"


# --------------------------------------------------------------------------- list_models


class Catalogue(Answers):
    def __init__(self, name: str, list_models: Callable[[], List[ModelInfo]]) -> None:
        super().__init__(name)
        self._list = list_models

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return self._list()


def _exit() -> List[ModelInfo]:
    raise SystemExit(2)


def _hang() -> List[ModelInfo]:
    time.sleep(60)
    return []


async def test_list_models_raising_system_exit_marks_the_plugin_failed() -> None:
    async with client_with(Catalogue("exiter", _exit), Answers("good")) as client:
        models = client.models()
        infos = {info.name: info for info in client.providers()}
    assert [model.provider for model in models] == ["good"]
    assert infos["exiter"].status == FAILED
    assert "SystemExit" in (infos["exiter"].error or "")


async def test_a_hanging_list_models_is_given_up_after_the_time_limit() -> None:
    async with client_with(Catalogue("hangs", _hang), Answers("good"), timeout=0.5) as client:
        started = time.monotonic()
        models = client.models()
        elapsed = time.monotonic() - started
        infos = {info.name: info for info in client.providers()}
    assert elapsed < 3
    assert [model.provider for model in models] == ["good"]
    assert infos["hangs"].status == FAILED
    assert "did not return within 0.5s" in (infos["hangs"].error or "")


async def test_hanging_catalogues_share_one_time_limit() -> None:
    plugins = [Catalogue(f"hangs{index}", _hang) for index in range(4)]
    async with client_with(*plugins, Answers("good"), timeout=0.5) as client:
        started = time.monotonic()
        client.models()
        elapsed = time.monotonic() - started
    assert elapsed < 1.5  # four hanging plugins, waited for at once


async def test_a_hanging_catalogue_is_not_waited_for_twice() -> None:
    async with client_with(Catalogue("hangs", _hang), timeout=0.5) as client:
        registry = client.registry
        with pytest.raises(PluginLoadError):
            registry.provider("hangs").models()
        started = time.monotonic()
        with pytest.raises(PluginLoadError):
            registry.provider("hangs").models()
    assert time.monotonic() - started < 0.2


def test_the_list_models_time_limit_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHATPLUG_LIST_MODELS_TIMEOUT", raising=False)
    assert Registry(discover=False).list_models_timeout == 5.0
    monkeypatch.setenv("CHATPLUG_LIST_MODELS_TIMEOUT", "2.5")
    assert Registry(discover=False).list_models_timeout == 2.5
    monkeypatch.setenv("CHATPLUG_LIST_MODELS_TIMEOUT", "0")
    assert Registry(discover=False).list_models_timeout is None  # no limit


def test_a_plugin_raising_system_exit_when_imported_is_marked_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_distribution(
        tmp_path,
        "chatplug-exit-on-import",
        {"chatplug.providers": {"exiter": "chatplug_exit_on_import"}},
        modules={"chatplug_exit_on_import": "raise SystemExit('no')\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry(enabled=["exiter"])
    with pytest.raises(PluginLoadError, match="SystemExit"):
        registry.provider("exiter")
    assert {info.name: info.status for info in registry.plugins()}["exiter"] == FAILED
