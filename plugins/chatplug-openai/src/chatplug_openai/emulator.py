"""An emulator of the OpenAI chat completions API (streaming and not), under ``/v1``.

``create_app()`` returns an :class:`aiohttp.web.Application` serving
``POST /v1/chat/completions`` and ``GET /v1/models`` the way OpenAI does: Bearer auth,
OpenAI-shaped error bodies (400 for a malformed request, 401 for a bad key, 404 for an
unknown model), ``chat.completion.chunk`` Server-Sent Events written in awkward pieces
(role first, content deltas, ``finish_reason``, a ``usage`` chunk when
``stream_options.include_usage`` is set, ``data: [DONE]``), or one ``chat.completion``
JSON with ``"stream": false``.  The official ``openai`` SDK talks to it unchanged.

Auth: with ``keys`` only ``Authorization: Bearer <one of keys>`` passes; else with
``require_key=True`` any non-empty Bearer key passes; by default (neither) a request
without ``Authorization`` or with any non-empty Bearer key passes.  A malformed
``Authorization`` header is always refused.

The reply is deterministic and reflects the conversation: it quotes the last user message
and counts the user turns, with multi-byte characters.  Each content delta is one
"token"; ``max_tokens`` cuts the reply with ``finish_reason: "length"``.
``fast=N`` replaces it with N tiny deltas written at once (for benchmarks).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from aiohttp import web
from chatplug.emulation import BASE_PATH, record_reply, write_awkwardly

from .catalogue import OPENAI_MODELS

#: every request the emulator received: {"path", "headers" (lower-case names), "body"}
#: (not kept in ``fast`` mode)
REQUESTS = web.AppKey("chatplug_openai.requests", list)
#: how many streamed responses were cut short by the client
DISCONNECTS = web.AppKey("chatplug_openai.disconnects", list)
ROLES = ("system", "user", "assistant", "tool", "developer", "function")
CREATED = 1_700_000_000
DEFAULT_MODELS: Tuple[str, ...] = tuple(model for model, _ in OPENAI_MODELS)
ANY_MODEL: Tuple[str, ...] = ()


def reply_pieces(messages: Sequence[Dict[str, Any]]) -> List[str]:
    """The deterministic reply to a conversation, as content deltas."""
    users = [m for m in messages if m.get("role") == "user"]
    last = users[-1].get("content", "") if users else ""
    if not isinstance(last, str):  # content parts: keep the text ones
        last = " ".join(part.get("text", "") for part in last if isinstance(part, dict))
    return [
        "Héllo",
        " from",
        " the",
        " émulator",
        " ✓",
        f" turn {len(users)}:",
        " «",
        last,
        "»",
        " — ",
        "日本語",
        " 🚀",
    ]


def _error(
    status: int, message: str, kind: str, code: Optional[str] = None, param: Optional[str] = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status)


def _mask(key: str) -> str:
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "***"


class _Emulator:
    def __init__(
        self,
        keys: Optional[Sequence[str]],
        require_key: bool,
        models: Sequence[str],
        fast: Optional[int],
        delay: float,
        awkward: bool,
    ) -> None:
        self.keys = frozenset(keys) if keys is not None else None
        self.require_key = require_key or keys is not None
        self.models = tuple(models)
        self.fast = fast
        self.delay = delay
        self.awkward = awkward
        self._fast_cache: Dict[Tuple[str, bool], Tuple[bytes, str]] = {}

    # checks ----------------------------------------------------------------------

    def auth(self, request: web.Request) -> Optional[web.Response]:
        header = request.headers.get("Authorization")
        if header is None:
            if not self.require_key:
                return None
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            )
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            )
        if self.keys is not None and key not in self.keys:
            return _error(
                401,
                f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        return None

    def validate(self, body: Any) -> Optional[web.Response]:
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.", "invalid_request_error")
        model = body.get("model")
        if not model:
            return _error(400, "you must provide a model parameter", "invalid_request_error")
        if not isinstance(model, str):
            return _error(400, "Invalid type for 'model'.", "invalid_request_error", param="model")
        messages = body.get("messages")
        if messages is None:
            return _error(
                400,
                "Missing required parameter: 'messages'.",
                "invalid_request_error",
                "missing_required_parameter",
                "messages",
            )
        if not isinstance(messages, list) or not messages:
            return _error(
                400,
                "Invalid 'messages': expected a non-empty array.",
                "invalid_request_error",
                "invalid_value",
                "messages",
            )
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ROLES:
                return _error(
                    400,
                    f"Invalid value for 'messages[{index}].role'.",
                    "invalid_request_error",
                    "invalid_value",
                    f"messages[{index}].role",
                )
            content = message.get("content")
            if not isinstance(content, (str, list)) and not (
                content is None and role == "assistant"
            ):
                return _error(
                    400,
                    f"Invalid type for 'messages[{index}].content'.",
                    "invalid_request_error",
                    "invalid_type",
                    f"messages[{index}].content",
                )
        for name in ("temperature", "top_p"):
            value = body.get(name)
            if value is not None and (
                not isinstance(value, (int, float)) or value < 0 or value > 2
            ):
                return _error(
                    400,
                    f"Invalid '{name}': {value!r}.",
                    "invalid_request_error",
                    "invalid_value",
                    name,
                )
        if body.get("stream_options") is not None and not body.get("stream"):
            return _error(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "invalid_request_error",
                param="stream_options",
            )
        if self.models and model not in self.models:
            return _error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        return None

    # handlers --------------------------------------------------------------------

    async def models_handler(self, request: web.Request) -> web.Response:
        refused = self.auth(request)
        if refused is not None:
            return refused
        data = [
            {"id": model, "object": "model", "created": CREATED, "owned_by": "chatplug-emulator"}
            for model in (self.models or DEFAULT_MODELS)
        ]
        return web.json_response({"object": "list", "data": data})

    async def chat_handler(self, request: web.Request) -> web.StreamResponse:
        refused = self.auth(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return _error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        if self.fast is None:  # benchmarks run thousands of requests: keep nothing
            request.app[REQUESTS].append(
                {
                    "path": request.path_qs,
                    "headers": {name.lower(): value for name, value in request.headers.items()},
                    "body": body,
                }
            )
        invalid = self.validate(body)
        if invalid is not None:
            return invalid
        model = body["model"]
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if self.fast is not None and stream:
            return await self.fast_stream(request, model, include_usage)
        pieces = reply_pieces(body["messages"])
        finish = "stop"
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if isinstance(limit, int) and 0 < limit < len(pieces):
            pieces, finish = pieces[:limit], "length"
        text = "".join(pieces)
        usage = {
            "prompt_tokens": sum(
                len(str(m.get("content") or "").split()) for m in body["messages"]
            ),
            "completion_tokens": len(pieces),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        record_reply(request, text)
        if not stream:
            return web.json_response(
                {
                    "id": "chatcmpl-emulator",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": finish,
                            "logprobs": None,
                        }
                    ],
                    "usage": usage,
                }
            )
        return await self.stream(request, model, pieces, finish, usage if include_usage else None)

    async def stream(
        self,
        request: web.Request,
        model: str,
        pieces: Sequence[str],
        finish: str,
        usage: Optional[Dict[str, int]],
    ) -> web.StreamResponse:
        response = _sse_response()
        await response.prepare(request)
        created = int(time.time())
        head = {
            "id": "chatcmpl-emulator",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_emulator",
        }

        def chunk(delta: Dict[str, Any], reason: Optional[str] = None) -> bytes:
            event = {
                **head,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
                ],
            }
            if usage is not None:
                event["usage"] = None
            return _event(event)

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in pieces]
        events.append(chunk({}, finish))
        if usage is not None:
            events.append(_event({**head, "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        try:
            for data in events:
                if self.awkward:
                    await write_awkwardly(response, data)
                else:
                    await response.write(data)
                if self.delay:
                    await asyncio.sleep(self.delay)
        except (ConnectionResetError, asyncio.CancelledError):
            request.app[DISCONNECTS].append(request.path)
            raise
        await response.write_eof()
        return response

    async def fast_stream(
        self, request: web.Request, model: str, include_usage: bool
    ) -> web.StreamResponse:
        cached = self._fast_cache.get((model, include_usage))
        if cached is None:
            cached = self._fast_body(model, include_usage)
            self._fast_cache[(model, include_usage)] = cached
        data, text = cached
        record_reply(request, text)
        response = _sse_response()
        await response.prepare(request)
        await response.write(data)
        await response.write_eof()
        return response

    def _fast_body(self, model: str, include_usage: bool) -> Tuple[bytes, str]:
        assert self.fast is not None
        head = {
            "id": "chatcmpl-fast",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
        }
        pieces = [f"t{index % 10} " for index in range(self.fast)]
        parts = [
            _event(
                {
                    **head,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                        }
                    ],
                }
            )
        ]
        parts += [
            _event(
                {
                    **head,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
            )
            for piece in pieces
        ]
        parts.append(
            _event({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        )
        if include_usage:
            parts.append(
                _event(
                    {
                        **head,
                        "choices": [],
                        "usage": {
                            "prompt_tokens": 1,
                            "completion_tokens": self.fast,
                            "total_tokens": self.fast + 1,
                        },
                    }
                )
            )
        parts.append(b"data: [DONE]\n\n")
        return b"".join(parts), "".join(pieces)


def _event(event: Dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


def _sse_response() -> web.StreamResponse:
    return web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
        }
    )


def create_app(
    *,
    keys: Optional[Sequence[str]] = None,
    require_key: bool = False,
    models: Optional[Sequence[str]] = DEFAULT_MODELS,
    fast: Optional[int] = None,
    delay: float = 0.0,
    awkward: bool = True,
) -> web.Application:
    """The emulator app (mounted under ``/v1``; ``app[BASE_PATH] == "/v1"``).

    ``keys``: the accepted API keys (``None``: see ``require_key``); ``require_key``:
    refuse requests without a key; ``models``: the served model ids (``None`` or empty:
    any model); ``fast``: stream that many tiny deltas in one write, as fast as possible;
    ``delay``: seconds to sleep between events; ``awkward``: write each event in uneven
    tiny pieces (splitting UTF-8 characters and events).
    """
    emulator = _Emulator(keys, require_key, models or ANY_MODEL, fast, delay, awkward)
    app = web.Application()
    app[BASE_PATH] = "/v1"
    app[REQUESTS] = []
    app[DISCONNECTS] = []
    app.router.add_post("/v1/chat/completions", emulator.chat_handler)
    app.router.add_get("/v1/models", emulator.models_handler)
    return app
