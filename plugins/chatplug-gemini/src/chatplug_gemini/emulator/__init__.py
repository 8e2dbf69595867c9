"""An offline emulator of the Gemini API, for tests and ``chatplug chat --emulate -p gemini``.

``create_app()`` serves, like ``generativelanguage.googleapis.com``:

- ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``: Server-Sent Events, one
  ``GenerateContentResponse`` per event, written in awkward pieces (UTF-8 characters and
  events split across writes); without ``alt=sse`` the same objects as a streamed JSON array;
- ``POST /v1beta/models/{model}:generateContent``: one ``GenerateContentResponse``;
- ``GET /v1beta/models``: the served models;

and the same under ``/v1``.  Field names may be camelCase or snake_case, as the API takes them.

Requests are checked as the real API checks them (:mod:`.checks`) and refused in Google's
error shape ``{"error": {"code", "message", "status"}}``.  The key comes in
``x-goog-api-key`` (or ``?key=``): with ``keys`` only those pass (another one: 400
``API_KEY_INVALID``); with ``require_key=True`` any non-empty key; by default a request
without a key passes too, so that ``--emulate`` works without one.  Without a key when one
is required: 403 ``PERMISSION_DENIED``.

The answer is deterministic and reflects the request (:func:`.answer.plan_answer`): a text
reply quoting the last user text, or function calls when tools are declared and the last
user text names them (several: parallel calls) or the mode is ``ANY``; thoughts first when
``thinkingConfig.includeThoughts`` is set on a thinking model, the first answer part (or
function call) carrying a ``thoughtSignature`` the emulator checks when it comes back
(:func:`.checks.sign`); JSON for a JSON
``responseMimeType``; ``maxOutputTokens`` cuts it (``MAX_TOKENS``), ``stopSequences`` stop
it; ``usageMetadata`` counts it (and a repeated conversation prefix as cached tokens).

Faults come from the script ``app[FAULTS]`` (one entry per generate request, consumed in
order; ``None`` answers normally) or from ``[fault:<name>]`` in the last user text:
:data:`FAULT_NAMES`.  ``rate_limit:N`` waits N seconds (``Retry-After``).
``python -m chatplug_gemini.emulator --port N`` serves it alone (listen backlog 1024).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from aiohttp import web
from chatplug.emulation import emulator_main, record_reply, write_awkwardly
from chatplug.emulator_kit import INVALID, MISSING, ApiKeys, emulator_app, log_request
from chatplug.emulator_kit import REQUESTS as REQUESTS
from chatplug.emulator_kit import STREAM_ENDS as STREAM_ENDS

from .. import MODELS
from .answer import (
    Answer,
    group_parts,
    merge,
    plan_answer,
    prompt_tokens,
    streamed_text,
    texts_of,
    usage_metadata,
)
from .checks import Invalid, check_request, error_body, part_signature, sign

#: the fault script: entries are consumed one per generate request (None: a normal answer)
FAULTS = web.AppKey("chatplug_gemini.faults", list)
_EMULATOR = web.AppKey("chatplug_gemini.emulator", object)

FAULT_NAMES = (
    "rate_limit",  # 429 RESOURCE_EXHAUSTED with Retry-After and RetryInfo
    "unavailable",  # 503 UNAVAILABLE (the model is overloaded)
    "internal",  # 500 INTERNAL
    "error_mid_stream",  # half the answer, then an {"error": ...} event
    "truncate",  # half the answer, ending inside an event, no finishReason
    "disconnect",  # half the answer, then the connection is dropped
    "safety",  # half the answer, then finishReason SAFETY
    "recitation",  # half the answer, then finishReason RECITATION
    "blocked",  # promptFeedback.blockReason SAFETY, no candidates
    "malformed_function_call",  # finishReason MALFORMED_FUNCTION_CALL, no content
)
#: the faults that stop the stream halfway
CUTS = ("error_mid_stream", "truncate", "disconnect")
_TRIGGER = re.compile(r"\[fault:([a-z_]+)(?::(\d+))?\]")
DEFAULT_MODELS: Tuple[str, ...] = tuple(model for model, _, _, _ in MODELS)
KEYLESS = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
# --- the emulator --------------------------------------------------------------------


class Fault(NamedTuple):
    name: str
    argument: Optional[int]


def _fault(value: Any) -> Optional[Fault]:
    if value is None:
        return None
    name, _, argument = str(value).partition(":")
    if name not in FAULT_NAMES:
        raise ValueError(f"unknown fault {value!r}; known: {', '.join(FAULT_NAMES)}")
    return Fault(name, int(argument) if argument else None)


def _error(status: int, message: str, reason: str, **extra: Any) -> web.Response:
    details = extra.pop("details", None)
    return web.json_response(error_body(status, message, reason, details), status=status, **extra)


class _Emulator:
    def __init__(
        self,
        keys: ApiKeys,
        models: Sequence[str],
        delay: float,
        awkward: bool,
        retry_after: int,
    ) -> None:
        self.keys = keys
        self.models = tuple(models)
        self.delay = delay
        self.awkward = awkward
        self.retry_after = retry_after
        self.prefixes: Dict[str, int] = {}  # conversation prefix -> its prompt tokens
        self.responses = 0

    def auth(self, request: web.Request) -> Optional[web.Response]:
        problem = self.keys.check(
            request.headers.get("x-goog-api-key") or request.query.get("key") or None
        )
        if problem == MISSING:
            return _error(403, KEYLESS, "PERMISSION_DENIED")
        if problem == INVALID:
            info = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
            return _error(
                400,
                "API key not valid. Please pass a valid API key.",
                "INVALID_ARGUMENT",
                details=[info],
            )
        return None

    async def models_handler(self, request: web.Request) -> web.Response:
        refused = self.auth(request)
        if refused is not None:
            return refused
        methods = ["generateContent", "streamGenerateContent", "countTokens"]
        listed = [
            {"name": f"models/{model}", "displayName": name, "supportedGenerationMethods": methods}
            for model, name, _, _ in MODELS
            if model in self.models
        ]
        return web.json_response({"models": listed})

    async def generate(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        log_request(request, raw)
        model, _, method = request.match_info["target"].partition(":")
        if method not in ("generateContent", "streamGenerateContent"):
            return _error(404, f"Method not found: {method or '(none)'}.", "NOT_FOUND")
        refused = self.auth(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(
                400, "Invalid JSON payload received. Unexpected token.", "INVALID_ARGUMENT"
            )
        if model not in self.models:
            return _error(
                404,
                f"models/{model} is not found for API version v1beta, or is not supported for "
                "generateContent. Call ListModels to see the list of available models and "
                "their supported methods.",
                "NOT_FOUND",
            )
        try:
            body = check_request(body, model)
        except Invalid as invalid:
            return _error(invalid.status, invalid.message, invalid.reason)
        fault = self.next_fault(request.app, body)
        if fault is not None and method == "generateContent" and fault.name in CUTS:
            fault = Fault("internal", None)  # nothing streams: the answer fails as a whole
        if fault is not None and fault.name in ("rate_limit", "unavailable", "internal"):
            return self.fault_response(fault)
        chunks = self.chunks(body, model, plan_answer(body, model), fault)
        if fault is not None and fault.name in CUTS:
            chunks = chunks[: len(chunks) // 2]
        record_reply(request, streamed_text(chunks))
        if method == "generateContent":
            return web.json_response(merge(chunks))
        return await self.stream(request, chunks, request.query.get("alt") == "sse", fault)

    def next_fault(self, app: web.Application, body: Mapping[str, Any]) -> Optional[Fault]:
        script = app[FAULTS]
        if script:
            return _fault(script.pop(0))
        last = body["contents"][-1]
        match = _TRIGGER.search(texts_of(last)) if last["role"] == "user" else None
        if match is None:
            return None
        return _fault(match.group(1) + (f":{match.group(2)}" if match.group(2) else ""))

    def fault_response(self, fault: Fault) -> web.Response:
        if fault.name == "rate_limit":
            seconds = self.retry_after if fault.argument is None else fault.argument
            retry = {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{seconds}s",
            }
            return _error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "RESOURCE_EXHAUSTED",
                details=[retry],
                headers={"Retry-After": str(seconds)},
            )
        if fault.name == "unavailable":
            return _error(503, "The model is overloaded. Please try again later.", "UNAVAILABLE")
        return _error(500, "An internal error has occurred. Please retry.", "INTERNAL")

    def chunks(
        self, body: Mapping[str, Any], model: str, answer: Answer, fault: Optional[Fault]
    ) -> List[Dict[str, Any]]:
        """The ``GenerateContentResponse`` objects of an answer (faults applied)."""
        self.responses += 1
        head = {"modelVersion": model, "responseId": f"emu-{self.responses:06d}"}
        prompt = prompt_tokens(body)
        cached = self.cached(body, prompt)
        parts = answer.parts
        finish = answer.finish
        if fault is not None and fault.name == "blocked":
            usage = usage_metadata(prompt, cached, 0, 0)
            return [{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage, **head}]
        if fault is not None and fault.name == "malformed_function_call":
            parts, finish = [], "MALFORMED_FUNCTION_CALL"
        elif fault is not None and fault.name in ("safety", "recitation"):
            parts, finish = parts[: len(parts) // 2], fault.name.upper()
        groups = group_parts(parts)
        chunks: List[Dict[str, Any]] = []
        thoughts = output = 0
        for index, group in enumerate(groups):
            thoughts += sum(1 for part in group if part.get("thought"))
            output += sum(1 for part in group if not part.get("thought"))
            candidate: Dict[str, Any] = {"content": {"role": "model", "parts": group}, "index": 0}
            if index == len(groups) - 1:
                candidate["finishReason"] = finish
                thoughts, output = answer.thought_tokens, answer.output_tokens
            chunks.append(
                {
                    "candidates": [candidate],
                    "usageMetadata": usage_metadata(prompt, cached, output, thoughts),
                    **head,
                }
            )
        if not groups:
            usage = usage_metadata(prompt, cached, 0, answer.thought_tokens)
            candidate = {"content": {"role": "model"}, "finishReason": finish, "index": 0}
            chunks.append({"candidates": [candidate], "usageMetadata": usage, **head})
        return chunks

    def cached(self, body: Mapping[str, Any], prompt: int) -> int:
        """Implicit caching: the prompt tokens of an earlier request this one extends."""
        system = body.get("systemInstruction")
        contents = body["contents"]
        cached = 0
        for length in range(len(contents) - 1, 0, -1):
            seen = self.prefixes.get(_json({"s": system, "c": contents[:length]}).decode())
            if seen is not None:
                cached = seen
                break
        self.prefixes[_json({"s": system, "c": contents}).decode()] = prompt
        return cached

    async def stream(
        self,
        request: web.Request,
        chunks: List[Dict[str, Any]],
        sse: bool,
        fault: Optional[Fault],
    ) -> web.StreamResponse:
        """Stream ``chunks`` as Server-Sent Events (``sse``) or as a JSON array."""

        def frame(value: Any, index: int) -> bytes:
            if sse:
                return b"data: " + _json(value) + b"\r\n\r\n"
            return (b"[" if index == 0 else b",\r\n") + _json(value)

        content_type = "text/event-stream" if sse else "application/json; charset=UTF-8"
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        cut = fault.name if fault is not None else None
        ends = request.app[STREAM_ENDS]
        try:
            for index, chunk in enumerate(chunks):
                await self.write(response, frame(chunk, index))
            if cut == "error_mid_stream":
                error = error_body(500, "An internal error has occurred. Please retry.", "INTERNAL")
                await self.write(response, frame(error, len(chunks)))
            elif cut in ("truncate", "disconnect"):
                partial = {"candidates": [{"content": {"parts": [{"text": "cut ✓"}]}}]}
                half = frame(partial, len(chunks))
                await self.write(response, half[: len(half) // 2])
                if cut == "disconnect":
                    assert request.transport is not None
                    request.transport.close()
                    ends.append("disconnected")
                    return response
            if not sse and cut != "truncate":
                await self.write(response, b"]")
        except (ConnectionResetError, asyncio.CancelledError):
            ends.append("disconnected")
            raise
        await response.write_eof()
        ends.append("complete")
        return response

    async def write(self, response: web.StreamResponse, data: bytes) -> None:
        if self.awkward:
            await write_awkwardly(response, data)
        else:
            await response.write(data)
        if self.delay:
            await asyncio.sleep(self.delay)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def create_app(
    *,
    keys: Optional[Sequence[str]] = None,
    require_key: bool = False,
    models: Sequence[str] = DEFAULT_MODELS,
    faults: Sequence[Optional[str]] = (),
    delay: float = 0.0,
    awkward: bool = True,
    retry_after: int = 7,
) -> web.Application:
    """The emulator app (its base URL is the server root, like Google's).

    ``keys``: the accepted API keys; ``require_key``: refuse requests without a key;
    ``models``: the served model ids; ``faults``: the initial fault script (see
    :data:`FAULT_NAMES`); ``delay``: seconds between writes; ``awkward``: write each event
    in uneven tiny pieces; ``retry_after``: the seconds a ``rate_limit`` fault asks for.
    """
    for fault in faults:
        _fault(fault)  # unknown names fail here, not in the middle of a test
    emulator = _Emulator(ApiKeys(keys, require_key), models, delay, awkward, retry_after)
    app = emulator_app()  # REQUESTS (the body as bytes); STREAM_ENDS: complete or disconnected
    app[FAULTS] = list(faults)
    app[_EMULATOR] = emulator
    for version in ("v1beta", "v1"):
        app.router.add_post(f"/{version}/models/{{target}}", emulator.generate)
        app.router.add_get(f"/{version}/models", emulator.models_handler)
    return app


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``python -m chatplug_gemini.emulator [--host H] [--port P]``."""
    emulator_main("Gemini emulator", create_app, port=8766, argv=argv)


__all__ = [
    "FAULTS",
    "FAULT_NAMES",
    "REQUESTS",
    "STREAM_ENDS",
    "create_app",
    "main",
    "part_signature",
    "sign",
]
