"""A tiny provider plugin for the CLI tests: provider ``clitest`` and its emulator.

Installed by the tests as a dist-info on PYTHONPATH (see ``conftest.py``).  The emulator's
reply reflects the conversation: ``turn N: <last user message>`` plus the model, the
system prompt and the options it received.  Special prompts drive the failure cases:
``/status N`` answers HTTP N, ``/cut`` drops the connection after some text, ``/stall``
never answers, ``/slow`` streams a tick every 50 ms for a minute, ``/flood`` streams
lines as fast as the reader takes them.  ``/tool`` makes the plugin itself answer with
one tool call and no text (finish ``tool_calls``), as a contract 0.2 plugin may.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Dict, List, Union

from aiohttp import web
from chatplug import CompletionRequest, ModelInfo, hookimpl, open_stream
from chatplug.decoders import iter_text
from chatplug.emulation import record_reply, write_awkwardly
from chatplug.events import Event, Finish, ToolCallDelta

#: nothing listens there: without --emulate (or a base_url) the upstream is unreachable
DEFAULT_URL = "http://127.0.0.1:9"


@hookimpl
def list_models() -> List[ModelInfo]:
    return [
        ModelInfo("echo-1", "clitest", aliases=("echo",), default=True),
        ModelInfo("echo-2", "clitest"),
    ]


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: Any
) -> AsyncIterator[Union[str, Event]]:
    if request.messages[-1]["content"] == "/tool":
        yield ToolCallDelta(0, "call_1", "lookup", '{"city": ')
        yield ToolCallDelta(0, arguments='"Paris"}')
        yield Finish("tool_calls")
        return
    body = {
        "model": request.model,
        "messages": list(request.messages),
        "options": dict(request.options),
    }
    url = request.url(DEFAULT_URL, "/chat")
    async with open_stream(session, request, "POST", url, json=body) as response:
        async for text in iter_text(response):
            yield text


async def _chat(request: web.Request) -> web.StreamResponse:
    body: Dict[str, Any] = await request.json()
    messages = body["messages"]
    last = messages[-1]["content"]
    if last.startswith("/status "):
        status = int(last.split()[1])
        return web.Response(status=status, text=f"emulated failure {status}")
    if last.startswith("/stall"):
        await asyncio.sleep(60)
    response = web.StreamResponse(headers={"content-type": "text/plain; charset=utf-8"})
    await response.prepare(request)
    if last.startswith("/slow"):
        for tick in range(1200):
            await response.write(f"tick {tick}\n".encode())
            await asyncio.sleep(0.05)
        return response
    if last.startswith("/cut"):  # some text, then the connection drops mid-body
        await response.write(b"partial answer")
        await asyncio.sleep(0.2)
        assert request.transport is not None
        request.transport.close()
        return response
    if last.startswith("/flood"):
        line = ("flood " * 20 + "\n").encode()
        for _ in range(200_000):
            await response.write(line * 50)
            await asyncio.sleep(0)
        return response
    turn = sum(1 for message in messages if message["role"] == "user")
    system = [m["content"] for m in messages if m["role"] == "system"]
    reply = (
        f"turn {turn}: {last} ✓ [model={body['model']}"
        f" system={system[0] if system else '-'}"
        f" options={json.dumps(body['options'], sort_keys=True)}]"
    )
    record_reply(request, reply)
    await write_awkwardly(response, reply.encode())
    await response.write_eof()
    return response


def emulator() -> web.Application:
    app = web.Application()
    app.router.add_post("/chat", _chat)
    return app
