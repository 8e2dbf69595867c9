"""The request handlers: health, the model list, and chat completions."""

from __future__ import annotations

import os

from aiohttp import web

from .. import __version__
from .api_errors import ApiError
from .chat_completions import chat_completions
from .state import STATE

__all__ = ["chat_completions", "health", "list_models", "retrieve_model"]


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
