"""The handlers of ``POST /v1/responses`` (the OpenAI Responses API) and ``POST /v1/messages``
(the Anthropic Messages API): each is a dialect of :func:`~.translation.answer`."""

from __future__ import annotations

from aiohttp import web

from .anthropic_request import parse_messages_request
from .anthropic_stream import MessagesEncoder
from .responses_request import parse_responses_request
from .responses_stream import ResponsesEncoder
from .translation import Dialect, answer

RESPONSES = Dialect(parse_responses_request, ResponsesEncoder)
MESSAGES = Dialect(parse_messages_request, MessagesEncoder)


async def create_response(request: web.Request) -> web.StreamResponse:
    return await answer(request, RESPONSES)


async def create_message(request: web.Request) -> web.StreamResponse:
    return await answer(request, MESSAGES)
