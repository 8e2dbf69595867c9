"""A scripted provider for the server tests: ``servertest`` and ``servertwo``.

Its upstream (``emulator()``) answers ``POST /chat`` with plain text; the prompt picks
a scenario:

- ``status:NNN``: answer HTTP NNN (429 with ``Retry-After: 30``);
- ``empty``: 200 with no text;
- ``slow-first``: wait 6 s before answering (the tests' server times out after 3 s);
- ``forever:TOKEN``: stream ``tick`` every 50 ms until the client goes away, then
  record ``TOKEN`` in ``app[CLOSED]``;
- ``break-after:N``: send N pieces, then cut the connection mid-body;
- ``count:N:DELAY``: N pieces ``"<i> "``, DELAY seconds apart;
- ``options``: the JSON of the options the provider received;
- anything else: ``"Hello from <model>: <prompt> — ünïcødé ✓"`` in awkward pieces.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Dict, List

from aiohttp import web
from chatplug import CompletionRequest, ModelInfo, hookimpl, open_stream
from chatplug.decoders import iter_text
from chatplug.emulation import record_reply, write_awkwardly

CLOSED = web.AppKey("servertest.closed", dict)
DEFAULT_URL = "http://127.0.0.1:9"  # nothing listens there: tests always pass a base URL


def _models(provider: str, ids: List[str]) -> List[ModelInfo]:
    return [ModelInfo(model, provider, default=index == 0) for index, model in enumerate(ids)]


async def _stream(request: CompletionRequest, session: Any) -> AsyncIterator[str]:
    payload = {"model": request.model, "prompt": request.prompt, "options": dict(request.options)}
    url = request.url(DEFAULT_URL, "/chat")
    async with open_stream(session, request, "POST", url, json=payload) as response:
        async for text in iter_text(response):
            yield text


@hookimpl
def list_models() -> List[ModelInfo]:
    return _models("servertest", ["echo", "other"])


@hookimpl
async def stream_completion(request: CompletionRequest, session: Any) -> AsyncIterator[str]:
    async for text in _stream(request, session):
        yield text


class Second:
    """The second provider, ``servertwo``: shares the model id ``echo`` with the first."""

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return _models("servertwo", ["echo", "solo"])

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: Any
    ) -> AsyncIterator[str]:
        async for text in _stream(request, session):
            yield text


second = Second()


async def _chat(request: web.Request) -> web.StreamResponse:
    body: Dict[str, Any] = await request.json()
    prompt: str = body["prompt"]
    if prompt.startswith("status:"):
        status = int(prompt.split(":")[1])
        headers = {"Retry-After": "30"} if status == 429 else {}
        return web.Response(status=status, text=f"scripted {status}", headers=headers)
    if prompt == "slow-first":
        await asyncio.sleep(6)
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await response.prepare(request)
    if prompt == "empty":
        await response.write_eof()
        return response
    if prompt.startswith("forever:"):
        token = prompt.split(":", 1)[1]
        try:
            while True:
                await response.write(b"tick ")
                await asyncio.sleep(0.05)
        except (ConnectionError, asyncio.CancelledError):
            request.app[CLOSED][token] = True
            raise
    if prompt.startswith("break-after:"):
        for index in range(int(prompt.split(":")[1])):
            await response.write(f"piece{index} ".encode())
            await asyncio.sleep(0.02)
        assert request.transport is not None
        request.transport.close()
        return response
    if prompt.startswith("count:"):
        _, count, delay = prompt.split(":")
        for index in range(int(count)):
            await response.write(f"{index} ".encode())
            await asyncio.sleep(float(delay))
        await response.write_eof()
        return response
    if prompt == "options":
        text = json.dumps(body["options"], sort_keys=True)
    else:
        text = f"Hello from {body['model']}: {prompt} — ünïcødé ✓"
    record_reply(request, text)
    await write_awkwardly(response, text.encode())
    await response.write_eof()
    return response


def emulator() -> web.Application:
    app = web.Application()
    app[CLOSED] = {}
    app.router.add_post("/chat", _chat)
    return app
