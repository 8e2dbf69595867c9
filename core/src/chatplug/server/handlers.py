"""The request handlers: health, the model list, and chat completions."""

from __future__ import annotations

import os
import time

from aiohttp import web

from .. import __version__
from ..errors import ChatplugError
from .access import RECORD_KEY, AccessRecord
from .observe import track
from .protocol import ApiError, completion_object, parse_chat_request, parse_json_body
from .sse import stream_events
from .state import STATE


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    providers = []
    if state.client is not None:
        providers = [
            {"name": info.name, "status": info.status, "health": getattr(info, "health", None)}
            for info in state.client.providers()
            if info.status != "disabled"
        ]
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "providers": providers,
            "models": len(state.models),
            "active_streams": state.active_streams,
            "pid": os.getpid(),
        }
    )


async def list_models(request: web.Request) -> web.Response:
    return web.Response(body=request.app[STATE].models_body, content_type="application/json")


async def retrieve_model(request: web.Request) -> web.Response:
    model = request.match_info["model"]
    found = request.app[STATE].models.get(model)
    if found is None:
        raise ApiError(404, f"unknown model {model!r}", code="model_not_found", param="model")
    return web.json_response(found)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    record: AccessRecord = request[RECORD_KEY]
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise ApiError(
            413, f"the request body is too large: {error.text}", code="request_too_large"
        ) from None
    chat = parse_chat_request(parse_json_body(raw))
    record.stream = chat.stream
    state = request.app[STATE]
    assert state.client is not None
    stream = state.client.stream(chat.messages, model=chat.model, **chat.options)
    track(request, stream, chat.messages, chat.options)
    state.active_streams += 1
    try:
        async with stream:
            try:
                first = await stream.__anext__()
            except StopAsyncIteration:  # pragma: no cover - the client raises instead
                first = ""
            except ChatplugError as error:
                record.provider = error.provider
                raise
            record.first_chunk = time.monotonic()
            record.provider, record.model = stream.provider, stream.model
            record.chunks, record.chars = 1, len(first)
            model = f"{stream.provider}/{stream.model}"
            if chat.stream:
                return await stream_events(request, record, chat, stream, model, first)
            pieces = [first]
            async for piece in stream:
                pieces.append(piece)
                record.chunks += 1
            text = "".join(pieces)
            record.chars = len(text)
            return web.json_response(completion_object(model, text, chat.messages))
    finally:
        state.active_streams -= 1
