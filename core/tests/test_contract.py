"""The stream rules of contract 0.2, enforced by the core: each violation is a PluginError
naming the plugin; nothing is retried after reasoning or a tool call reached the caller."""

from __future__ import annotations

from typing import Any, List

import pytest
from chatplug import (
    AllProvidersFailedError,
    AsyncClient,
    Client,
    PluginError,
    RetryPolicy,
    UpstreamConnectionError,
)
from chatplug.events import (
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    ToolCallDelta,
    Usage,
)

from .conftest import ScriptedPlugin, scripted_registry

VIOLATIONS = {
    "bytes": (["a", b"b"], "yielded bytes"),
    "dict": ([{"text": "a"}], "yielded dict"),
    "None": (["a", None], "yielded NoneType"),
    "a plain tuple": ([("a", 1)], "yielded tuple"),
    "text after finish": (["a", Finish("stop"), "b"], "text after the Finish"),
    "reasoning after finish": ([Finish("stop"), ReasoningDelta("r")], "ReasoningDelta after"),
    "tool call after finish": (
        ["a", Finish("stop"), ToolCallDelta(0, "c", "f")],
        "ToolCallDelta after",
    ),
    "a second finish": (["a", Finish("stop"), Finish("length")], "a second Finish"),
    "an unknown finish reason": (["a", Finish("done")], "unknown finish reason 'done'"),
    "a new tool call without id": ([ToolCallDelta(0, None, "f", "{}")], "carries no id and name"),
    "a new tool call without name": ([ToolCallDelta(0, "c", None, "{}")], "carries no id"),
    "a tool call whose id changed": (
        [ToolCallDelta(0, "c", "f"), ToolCallDelta(0, "d", arguments="{}")],
        "changed its id",
    ),
    "a tool call whose name changed": (
        [ToolCallDelta(0, "c", "f"), ToolCallDelta(0, name="g")],
        "changed its name",
    ),
    "a negative tool call index": ([ToolCallDelta(-1, "c", "f")], "index -1"),
    "tool call arguments not a string": ([ToolCallDelta(0, "c", "f", {"a": 1})], "not a str"),
    "negative usage": (["a", Usage(-1, 2)], "input_tokens -1"),
    "non-int usage": (["a", Usage(1, 2.5)], "output_tokens 2.5"),
    "bool usage": (["a", Usage(True, 2)], "input_tokens True"),
    "negative cached tokens": (["a", Usage(1, 2, cached_input_tokens=-3)], "cached_input"),
    "reasoning not a string": ([ReasoningDelta(b"r")], "malformed ReasoningDelta"),
    "metadata id not a string": ([ResponseMetadata(id=7)], "malformed ResponseMetadata"),
}


@pytest.mark.parametrize("items, message", VIOLATIONS.values(), ids=list(VIOLATIONS))
async def test_a_contract_violation_is_a_plugin_error_naming_the_plugin(
    items: List[Any], message: str
) -> None:
    registry = scripted_registry(ScriptedPlugin("acme", items))
    async with AsyncClient(registry=registry, config=False) as client:
        with pytest.raises(PluginError) as raised:
            await client.respond("hi")
    assert raised.value.provider == "acme"
    assert "contract violation" in str(raised.value) and message in str(raised.value)


def test_the_sync_client_raises_the_same_violation() -> None:
    registry = scripted_registry(ScriptedPlugin("acme", ["a", b"b"]))
    with Client(registry=registry, config=False) as client:
        with pytest.raises(PluginError, match=r"contract violation.*bytes") as raised:
            client.respond("hi")
    assert raised.value.provider == "acme"


async def test_usage_and_metadata_may_follow_the_finish() -> None:
    items = ["a", Finish("stop"), Usage(1, 1), ResponseMetadata("r", "m")]
    registry = scripted_registry(ScriptedPlugin("acme", items))
    async with AsyncClient(registry=registry, config=False) as client:
        completion = await client.respond("hi")
    assert (completion.usage, completion.response) == (Usage(1, 1), ResponseMetadata("r", "m"))


async def test_a_str_subclass_is_text() -> None:
    class Text(str):
        pass

    registry = scripted_registry(ScriptedPlugin("acme", [Text("a"), "b", Text("c")]))
    async with AsyncClient(registry=registry, config=False) as client:
        pieces = [piece async for piece in client.stream("hi")]
    assert pieces == ["a", "b", "c"] and all(type(piece) is str for piece in pieces)


def lost(first: Any) -> ScriptedPlugin:
    """A plugin that yields ``first``, then loses its connection (a retryable error)."""
    return ScriptedPlugin("acme", [first], error=UpstreamConnectionError("reset"))


@pytest.mark.parametrize(
    "first", [ToolCallDelta(0, "c", "f", "{"), ReasoningDelta("hmm")], ids=["tool", "reasoning"]
)
async def test_nothing_is_retried_or_falls_back_after_a_tool_call_or_reasoning(
    first: Any,
) -> None:
    plugin, backup = lost(first), ScriptedPlugin("backup", ["fine"])
    registry = scripted_registry(plugin, backup)
    retry = RetryPolicy(attempts=3, backoff=0.0, jitter=0.0)
    async with AsyncClient(registry=registry, config=False, retry=retry) as client:
        with pytest.raises(UpstreamConnectionError) as raised:
            await client.respond("hi", model="m")
    assert (len(plugin.requests), backup.requests) == (1, [])
    assert raised.value.partial_length == 0


async def test_a_failure_after_only_usage_is_still_retried() -> None:
    plugin = ScriptedPlugin("acme", [Usage(1, 0)], error=UpstreamConnectionError("reset"))
    retry = RetryPolicy(attempts=2, backoff=0.0, jitter=0.0)
    registry = scripted_registry(plugin)
    async with AsyncClient(registry=registry, config=False, retry=retry) as client:
        with pytest.raises(UpstreamConnectionError):
            await client.respond("hi")
    assert len(plugin.requests) == 2


async def test_a_violation_before_anything_reached_the_caller_falls_back() -> None:
    broken, backup = ScriptedPlugin("acme", [None]), ScriptedPlugin("backup", ["fine"])
    async with AsyncClient(registry=scripted_registry(broken, backup), config=False) as client:
        completion = await client.respond("hi", model="m")
    assert (completion.text, completion.provider) == ("fine", "backup")


async def test_when_every_candidate_breaks_the_contract_each_is_named() -> None:
    one, two = ScriptedPlugin("one", [b"x"]), ScriptedPlugin("two", [{"a": 1}])
    async with AsyncClient(registry=scripted_registry(one, two), config=False) as client:
        with pytest.raises(AllProvidersFailedError) as raised:
            await client.respond("hi", model="m")
    assert set(raised.value.errors) == {"one", "two"}
