"""docs/contract.md's complete plugin runs as printed: against scripted upstreams, and through
the whole conformance suite with an emulator of its protocol (below).  Its broken variants
show the ``parallel_tool_calls`` check failing, saying what it asked and what came back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest
from aiohttp import web
from chatplug import StreamProtocolError
from chatplug.emulation import BASE_PATH, record_reply, write_awkwardly
from chatplug.events import Finish, ResponseMetadata, ToolCall, Usage
from chatplug.testing import Reply, ScriptedUpstream, make_client
from chatplug.testing.conformance import CHECK_NAMES, CheckResult, run_conformance
from kitsource import Patch, load_source, replace

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
PROVIDER = "acme"


def example_source() -> str:
    """The python block of the section "A complete plugin" of docs/contract.md."""
    text = CONTRACT.read_text(encoding="utf-8")
    section = text[text.index("## A complete plugin") :]
    match = re.search(r"```python\n(.*?)\n```", section, re.S)
    assert match is not None, "docs/contract.md has no complete plugin"
    return match.group(1) + "\n"


@pytest.fixture
def plugin(tmp_path: Path) -> ModuleType:
    return load_source(example_source(), tmp_path, "contract_acme")


# ------------------------------------------------------------ an emulator of the Acme protocol

FIELDS = {"model", "messages", "stream", "tools", "max_tokens"}


def _problem(body: Any) -> Optional[str]:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if set(body) - FIELDS:
        return f"unknown fields: {', '.join(sorted(set(body) - FIELDS))}"
    if body.get("model") != "acme-1" or body.get("stream") is not True:
        return "model acme-1 and stream: true are required"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages must be a non-empty list"
    tools = body.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t.get("name"), str) for t in tools):
        return "tools must be a list of {name, parameters}"
    max_tokens = body.get("max_tokens", 1)
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return "max_tokens must be a positive integer"
    return None


def _answer(body: Dict[str, Any]) -> Tuple[str, List[Dict[str, Any]]]:
    """The text and the events of the answer: the text (cut to max_tokens words), a call
    of each tool named in the last user message (in the order named, arguments in two
    fragments), usage, stop."""
    question = str(body["messages"][-1].get("content", ""))
    words = re.findall(r"\S+\s*", f"Acme heard ✓ — {question}")
    limit = body.get("max_tokens", len(words))
    text = "".join(words[:limit])
    named = sorted(
        (question.index(t["name"]), t["name"])
        for t in body.get("tools", [])
        if t["name"] in question
    )
    events: List[Dict[str, Any]] = [{"id": "acme-r1", "model": body["model"]}]
    events += [{"text": text[i : i + 4]} for i in range(0, len(text), 4)]
    for index, (_, name) in enumerate(named):
        events.append({"calls": [{"index": index, "id": f"call_{index}", "name": name}]})
        events.append({"calls": [{"index": index, "arguments": '{"city": '}]})
        events.append({"calls": [{"index": index, "arguments": '"Köln ✓"}'}]})
    stop = "max_tokens" if limit < len(words) else "tool_use" if named else "end"
    events.append({"usage": {"in": len(question.split()), "out": min(limit, len(words))}})
    events.append({"stop": stop})
    return text, events


async def _chat(request: web.Request) -> web.StreamResponse:
    try:
        body = json.loads(await request.read())
    except ValueError:
        return web.json_response({"error": "the body is not JSON"}, status=400)
    problem = _problem(body)
    if problem is not None:
        return web.json_response({"error": problem}, status=400)
    text, events = _answer(body)
    record_reply(request, text)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    data = b"".join(
        b"data: " + json.dumps(e, ensure_ascii=False).encode() + b"\n\n" for e in events
    )
    await write_awkwardly(response, data + b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def create_app() -> web.Application:
    app = web.Application()
    app[BASE_PATH] = "/v1"
    app.router.add_post("/v1/chat", _chat)
    return app


# ------------------------------------------------------------------ against scripted upstreams


async def _respond(plugin: ModuleType, upstream: ScriptedUpstream, **kwargs: Any) -> Any:
    async with make_client(PROVIDER, plugin, base_urls={PROVIDER: upstream.url}, retry=1) as c:
        return await c.respond("What is the weather in Köln?", **kwargs)


async def test_text_usage_finish_and_metadata_reach_the_caller(plugin: ModuleType) -> None:
    script = Reply.sse(
        [
            {"id": "r-7", "model": "acme-1-2025"},
            {"text": "Sunny "},
            {"text": "✓"},
            {"usage": {"in": 9, "out": 2}},
            {"stop": "end"},
        ]
    )
    async with ScriptedUpstream(script) as upstream:
        answer = await _respond(plugin, upstream)
    assert answer.text == "Sunny ✓"
    assert answer.finish == Finish("stop", raw="end")
    assert answer.usage == Usage(9, 2, raw={"in": 9, "out": 2})
    assert answer.response == ResponseMetadata("r-7", "acme-1-2025")


async def test_interleaved_tool_calls_are_assembled_and_the_tools_sent(plugin: ModuleType) -> None:
    script = Reply.sse(
        [
            {"calls": [{"index": 0, "id": "c0", "name": "get_weather"}]},
            {"calls": [{"index": 1, "id": "c1", "name": "get_time", "arguments": "{}"}]},
            {"calls": [{"index": 0, "arguments": '{"city": "Köln"}'}]},
            {"stop": "tool_use"},
        ]
    )
    weather = {"type": "object", "properties": {"city": {"type": "string"}}}
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": weather}},
        {"type": "function", "function": {"name": "get_time", "parameters": {}}},
    ]
    async with ScriptedUpstream(script) as upstream:
        answer = await _respond(plugin, upstream, tools=tools, max_tokens=50)
        sent = upstream.requests[0].json()
    assert answer.text == ""
    assert answer.finish_reason == "tool_calls"
    assert answer.tool_calls == (
        ToolCall(0, "c0", "get_weather", '{"city": "Köln"}'),
        ToolCall(1, "c1", "get_time", "{}"),
    )
    assert sent["tools"] == [
        {"name": "get_weather", "parameters": weather},
        {"name": "get_time", "parameters": {}},
    ]
    assert sent["max_tokens"] == 50


async def test_the_upstreams_max_tokens_is_finish_length(plugin: ModuleType) -> None:
    script = Reply.sse([{"text": "Sun"}, {"stop": "max_tokens"}])
    async with ScriptedUpstream(script) as upstream:
        answer = await _respond(plugin, upstream, max_tokens=1)
    assert (answer.finish_reason, answer.finish.raw) == ("length", "max_tokens")


async def test_a_body_without_done_is_a_protocol_error(plugin: ModuleType) -> None:
    script = Reply.sse([{"text": "Sunny"}, {"stop": "end"}], done=False)
    async with ScriptedUpstream(script) as upstream:
        with pytest.raises(StreamProtocolError, match=r"before \[DONE\]"):
            await _respond(plugin, upstream)


# ------------------------------------------------------------------------- the conformance suite


def _run(plugin: ModuleType, only: Sequence[str] = ()) -> Dict[str, CheckResult]:
    results = run_conformance(PROVIDER, plugin=plugin, emulator=create_app, only=only)
    return {result.name: result for result in results}


def test_the_example_passes_every_check(plugin: ModuleType) -> None:
    results = _run(plugin)
    assert {name: r.message for name, r in results.items() if not r.passed} == {}
    assert list(results) == list(CHECK_NAMES)
    applied = ("final_event", "malformed_event", "parallel_tool_calls", "finish_length", "usage")
    assert [name for name in applied if results[name].message] == []  # none "not applicable"


BROKEN_TOOLS = [
    pytest.param(
        replace('yield ToolCallDelta(call["index"],', "yield ToolCallDelta(0,"),
        [
            "asked acme-1 with the tools get_weather and get_time",
            "streaming failed with PluginError",
            "contract violation: tool call 0 changed its id to 'call_1'",
        ],
        id="every call at index 0",
    ),
    pytest.param(
        replace('call.get("arguments", "")', '""'),
        ["the arguments of get_weather are '', not a JSON object"],
        id="argument fragments dropped",
    ),
    pytest.param(
        replace('"tool_use": "tool_calls"', '"tool_use": "stop"'),
        ["the finish reason is 'stop'", "(upstream: 'tool_use')"],
        id="tool_use finishes as stop",
    ),
    pytest.param(
        replace('body["tools"] = [', "_ = ["),
        [
            "a parallel tool call (asked acme-1 with the tools get_weather and get_time, the "
            "message 'Call get_weather and get_time' and parallel_tool_calls unset)",
            "the answer had no tool call, text 'Acme heard ✓ — Call get_weather and get_time'",
            "expected one call of each tool (get_weather, get_time) in one answer",
        ],
        id="tools not sent upstream",
    ),
]


@pytest.mark.parametrize(("patch", "phrases"), BROKEN_TOOLS)
def test_a_broken_tool_call_fails_parallel_tool_calls(
    tmp_path: Path, patch: Patch, phrases: List[str]
) -> None:
    broken = load_source(patch(example_source()), tmp_path, "contract_acme")
    result = _run(broken, only=["parallel_tool_calls"])["parallel_tool_calls"]
    assert not result.passed
    for phrase in phrases:
        assert phrase in result.message, result.message
