"""An emulator of the OpenAI chat completions API (streaming and not), under ``/v1``.

``create_app()`` returns an :class:`aiohttp.web.Application` serving
``POST /v1/chat/completions`` and ``GET /v1/models`` the way OpenAI does: Bearer auth,
OpenAI-shaped error bodies (400 for a request OpenAI would refuse, see
:mod:`chatplug_openai.emulator_requests`; 401 for a bad key; 404 for an unknown model),
``chat.completion.chunk`` Server-Sent Events written in awkward pieces (role first, then
reasoning, text or tool-call deltas, ``finish_reason``, a ``usage`` chunk with empty
``choices`` when ``stream_options.include_usage`` is set, ``data: [DONE]``), or one
``chat.completion`` JSON with ``"stream": false``.  The official ``openai`` SDK talks to it
unchanged.

Auth: with ``keys`` only ``Authorization: Bearer <one of keys>`` passes; else with
``require_key=True`` any non-empty Bearer key passes; by default (neither) a request
without ``Authorization`` or with any non-empty Bearer key passes.  A malformed
``Authorization`` header is always refused.

The answer is deterministic and reflects the request (:mod:`chatplug_openai.emulator_answers`
says how to make it call tools, reason, answer in JSON or stop at ``length``): by
default it quotes the last user message and counts the user turns, with multi-byte
characters.  ``fast=N`` replaces it with N tiny deltas written at once (for benchmarks).
``python -m chatplug_openai.emulator --port 8000`` serves it on its own (listen backlog
1024).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from aiohttp import web
from chatplug.emulation import (
    BASE_PATH,
    emulator_parser,
    record_reply,
    run_standalone,
    write_awkwardly,
)
from chatplug.emulation import LISTEN_BACKLOG as BACKLOG
from chatplug.emulator_kit import DISCONNECTS as DISCONNECTS
from chatplug.emulator_kit import INVALID, MISSING, ApiKeys, emulator_app, log_request
from chatplug.emulator_kit import REQUESTS as REQUESTS

from .catalogue import OPENAI_MODELS
from .emulator_answers import Answer, build_answer, reply_pieces
from .emulator_requests import ROLES, ApiError, check_request

CREATED = 1_700_000_000
DEFAULT_MODELS: Tuple[str, ...] = tuple(model for model, _ in OPENAI_MODELS)
ANY_MODEL: Tuple[str, ...] = ()
__all__ = [
    "ANY_MODEL",
    "BACKLOG",
    "DEFAULT_MODELS",
    "DISCONNECTS",
    "REQUESTS",
    "ROLES",
    "create_app",
    "main",
    "reply_pieces",
]


def _error(status: int, message: str, kind: str, code: Optional[str] = None) -> web.Response:
    return _refusal(ApiError(message, status=status, kind=kind, code=code))


def _refusal(error: ApiError) -> web.Response:
    return web.json_response(error.body, status=error.status)


def _mask(key: str) -> str:
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "***"


class _Emulator:
    def __init__(
        self,
        keys: ApiKeys,
        models: Sequence[str],
        fast: Optional[int],
        delay: float,
        awkward: bool,
    ) -> None:
        self.keys = keys
        self.models = tuple(models)
        self.fast = fast
        self.delay = delay
        self.awkward = awkward
        self._fast_cache: Dict[Tuple[str, bool], Tuple[bytes, str]] = {}

    # checks ----------------------------------------------------------------------

    def auth(self, request: web.Request) -> Optional[web.Response]:
        header = request.headers.get("Authorization")
        key: Optional[str] = None
        if header is not None:
            scheme, _, key = header.partition(" ")
            key = key.strip() if scheme.lower() == "bearer" else ""
        problem = self.keys.check(key)
        if problem == MISSING or (problem == INVALID and not key):  # none, or malformed
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            )
        if problem == INVALID:
            return _error(
                401,
                f"Incorrect API key provided: {_mask(key or '')}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        return None

    def validate(self, body: Any) -> Optional[web.Response]:
        try:
            check_request(body)
        except ApiError as error:
            return _refusal(error)
        if self.models and body["model"] not in self.models:
            return _error(
                404,
                f"The model `{body['model']}` does not exist or you do not have access to it.",
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
            body = json.loads(await request.read())
        except ValueError:
            return _error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        if self.fast is None:  # benchmarks run thousands of requests: keep nothing
            log_request(request, body)
        invalid = self.validate(body)
        if invalid is not None:
            return invalid
        model = body["model"]
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if self.fast is not None and stream:
            return await self.fast_stream(request, model, include_usage)
        answer = build_answer(body)
        record_reply(request, answer.text)
        if not stream:
            return web.json_response(_completion(model, answer))
        return await self.stream(request, model, answer, include_usage)

    async def stream(
        self, request: web.Request, model: str, answer: Answer, include_usage: bool
    ) -> web.StreamResponse:
        response = _sse_response()
        await response.prepare(request)
        try:
            for data in _events(model, answer, include_usage):
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


def _message(answer: Answer) -> Dict[str, Any]:
    message: Dict[str, Any] = {
        "role": "assistant",
        "content": answer.text if answer.content or not answer.calls else None,
        "refusal": None,
    }
    if answer.reasoning:
        message["reasoning_content"] = "".join(answer.reasoning)
    if answer.calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in answer.calls
        ]
    return message


def _completion(model: str, answer: Answer) -> Dict[str, Any]:
    """The ``chat.completion`` object of a non-streamed answer."""
    return {
        "id": "chatcmpl-emulator",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": _message(answer),
                "finish_reason": answer.finish,
                "logprobs": None,
            }
        ],
        "usage": answer.usage(),
        "system_fingerprint": "fp_emulator",
    }


def _events(model: str, answer: Answer, include_usage: bool) -> List[bytes]:
    """The server-sent events streaming ``answer``, ``data: [DONE]`` included."""
    head = {
        "id": "chatcmpl-emulator",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_emulator",
    }

    def chunk(delta: Dict[str, Any], reason: Optional[str] = None) -> bytes:
        event = {
            **head,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
        }
        if include_usage:
            event["usage"] = None
        return _event(event)

    first = "" if answer.content or not answer.calls else None
    events = [chunk({"role": "assistant", "content": first, "refusal": None})]
    events += [chunk({"reasoning_content": piece}) for piece in answer.reasoning]
    events += [chunk({"content": piece}) for piece in answer.content]
    for index, call in enumerate(answer.calls):
        opening = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [opening]}))
        events += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in call.pieces
        ]
    events.append(chunk({}, answer.finish))
    if include_usage:
        events.append(_event({**head, "choices": [], "usage": answer.usage()}))
    events.append(b"data: [DONE]\n\n")
    return events


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
    keys_accepted = ApiKeys(keys, require_key)
    emulator = _Emulator(keys_accepted, models or ANY_MODEL, fast, delay, awkward)
    app = emulator_app()  # the request log (not kept in ``fast`` mode), the disconnects
    app[BASE_PATH] = "/v1"
    app.router.add_post("/v1/chat/completions", emulator.chat_handler)
    app.router.add_get("/v1/models", emulator.models_handler)
    return app


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``python -m chatplug_openai.emulator [--host H] [--port P] [--key K] [--any-model]``."""
    parser = emulator_parser("An offline OpenAI chat completions API.", port=8000)
    parser.add_argument("--key", action="append", help="an accepted API key (repeatable)")
    parser.add_argument("--any-model", action="store_true", help="serve any model id")
    options = parser.parse_args(argv)
    app = create_app(keys=options.key, models=None if options.any_model else DEFAULT_MODELS)
    run_standalone(app, "OpenAI emulator", options.host, options.port)


if __name__ == "__main__":  # pragma: no cover
    main()
