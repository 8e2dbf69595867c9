"""The OpenAI-compatible aiohttp.web application behind ``chatplug serve``.

``create_app()`` builds it (settings from arguments, else from the environment, so that
``gunicorn 'chatplug.server:create_app()' --worker-class aiohttp.GunicornWebWorker``
works); the app opens its :class:`~chatplug.AsyncClient` on startup and closes it on
cleanup.  See ``docs/server.md``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional

from aiohttp import web

from .. import __version__
from ..client import AsyncClient, Stream
from ..errors import ChatplugError
from ..registry import Registry
from ..types import RetryPolicy, Timeout
from .logs import BackgroundStreamHandler
from .protocol import (
    ApiError,
    ChatRequest,
    ChunkEncoder,
    api_error,
    completion_object,
    parse_chat_request,
    parse_json_body,
    usage,
)

ACCESS_LOGGER = "chatplug.server.access"
DEFAULT_MAX_BODY = 8 * 1024 * 1024
DEFAULT_RETRIES = 2
#: the status logged for a request whose client went away before the answer ended
CLIENT_CLOSED = 499

ENV_API_KEY = "CHATPLUG_API_KEY"
ENV_TIMEOUT = "CHATPLUG_SERVER_TIMEOUT"
ENV_RETRIES = "CHATPLUG_SERVER_RETRIES"
ENV_MAX_BODY = "CHATPLUG_SERVER_MAX_BODY"
ENV_ACCESS_LOG = "CHATPLUG_SERVER_ACCESS_LOG"

log = logging.getLogger("chatplug.server")
access_logger = logging.getLogger(ACCESS_LOGGER)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def server_retry(retries: int) -> RetryPolicy:
    """The server's retry policy: ``retries`` more attempts, 10 s at most in all, so that
    a long ``Retry-After`` goes back to the caller (as a 429) instead of holding it."""
    return RetryPolicy(attempts=max(1, retries + 1), max_time=10.0)


@dataclass(frozen=True)
class ServerSettings:
    """What ``create_app`` needs; :meth:`from_env` reads it from ``CHATPLUG_*`` variables."""

    api_key: Optional[str] = None
    base_urls: Mapping[str, str] = field(default_factory=dict)
    timeout: Optional[float] = None
    retries: Optional[int] = None
    max_body: int = DEFAULT_MAX_BODY
    access_log: bool = True

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "ServerSettings":
        env = os.environ if environ is None else environ
        return cls(
            api_key=env.get(ENV_API_KEY) or None,
            timeout=_number(env, ENV_TIMEOUT, float, None),
            retries=_number(env, ENV_RETRIES, int, None),
            max_body=_number(env, ENV_MAX_BODY, int, DEFAULT_MAX_BODY),
            access_log=env.get(ENV_ACCESS_LOG, "1").strip().lower()
            not in ("0", "false", "no", "off"),
        )

    def client_timeout(self) -> Timeout:
        if self.timeout is None:
            return Timeout()
        return Timeout(connect=min(10.0, self.timeout), first_byte=self.timeout, idle=self.timeout)


def _number(env: Mapping[str, str], name: str, kind: Callable[[str], Any], default: Any) -> Any:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


class ServerState:
    """Mutable per-app state: the client and the cached model list."""

    def __init__(self, client: Optional[AsyncClient], registry: Optional[Registry]) -> None:
        self.client = client
        self.owns_client = client is None
        self.registry = registry
        self.models_body = b'{"object":"list","data":[]}'
        self.models: Dict[str, Dict[str, Any]] = {}
        self.active_streams = 0


SETTINGS = web.AppKey("chatplug.server.settings", ServerSettings)
STATE = web.AppKey("chatplug.server.state", ServerState)


class AccessRecord:
    """What the access log says about one request (filled in by the handlers)."""

    __slots__ = ("chars", "chunks", "error", "first_chunk", "model", "provider", "start", "stream")

    def __init__(self, start: float) -> None:
        self.start = start
        self.provider: Optional[str] = None
        self.model: Optional[str] = None
        self.stream: Optional[bool] = None
        self.first_chunk: Optional[float] = None
        self.chunks = 0
        self.chars = 0
        self.error: Optional[str] = None


#: where the access record lives on a request (a RequestKey on aiohttp >= 3.13)
RECORD_KEY: Any = (
    web.RequestKey("chatplug.access", AccessRecord)
    if hasattr(web, "RequestKey")
    else "chatplug.access"
)


def create_app(
    client: Optional[AsyncClient] = None,
    *,
    api_key: Optional[str] = None,
    base_urls: Optional[Mapping[str, str]] = None,
    timeout: Optional[float] = None,
    retries: Optional[int] = None,
    max_body: Optional[int] = None,
    access_log: Optional[bool] = None,
    registry: Optional[Registry] = None,
    settings: Optional[ServerSettings] = None,
) -> web.Application:
    """The OpenAI-compatible app; arguments left out come from the environment.

    With ``client`` the caller owns it (the app neither configures nor closes it);
    otherwise the app creates one on startup (with ``registry``, ``base_urls`` plus
    ``CHATPLUG_<PROVIDER>_BASE_URL``, ``timeout`` and ``retries``) and closes it on cleanup.
    ``api_key=""`` turns authentication off even when ``CHATPLUG_API_KEY`` is set.
    """
    base = settings if settings is not None else ServerSettings.from_env()
    overrides: Dict[str, Any] = {
        "api_key": api_key,
        "base_urls": base_urls,
        "timeout": timeout,
        "retries": retries,
        "max_body": max_body,
        "access_log": access_log,
    }
    values = {
        key: getattr(base, key) if value is None else value for key, value in overrides.items()
    }
    values["api_key"] = values["api_key"] or None
    final = ServerSettings(**values)

    app = web.Application(
        client_max_size=final.max_body,
        middlewares=[_access_middleware, _error_middleware, _auth_middleware],
        # Cancel the handler (and so the upstream request) as soon as the client
        # disconnects, under any runner: run_app, AppRunner or gunicorn's worker.
        handler_args={"handler_cancellation": True},
    )
    app[SETTINGS] = final
    app[STATE] = ServerState(client, registry)
    app.cleanup_ctx.append(_client_context)
    app.router.add_get("/health", health)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model:.+}", retrieve_model)
    app.router.add_post("/v1/chat/completions", chat_completions)
    if final.access_log:
        _ensure_access_handler()
    return app


def _ensure_access_handler() -> None:
    """One JSON line per request on stderr, unless logging is configured already."""
    if access_logger.handlers or logging.getLogger().handlers:
        if access_logger.level == logging.NOTSET:
            access_logger.setLevel(logging.INFO)
        return
    handler = BackgroundStreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False


async def _client_context(app: web.Application) -> Any:
    state = app[STATE]
    settings = app[SETTINGS]
    if state.client is None:
        # Base URLs, proxies, options and virtual providers also come from the
        # environment (CHATPLUG_<PROVIDER>_BASE_URL...) and chatplug.toml, read by the client.
        timeout = settings.client_timeout() if settings.timeout is not None else None
        retry = server_retry(settings.retries) if settings.retries is not None else None
        state.client = AsyncClient(
            base_urls=dict(settings.base_urls),
            timeout=timeout,
            retry=retry,
            registry=state.registry,
        )
        if retry is None and state.client.config.defaults.retry is None:
            state.client.retry = server_retry(DEFAULT_RETRIES)
        await state.client.__aenter__()
    _index_models(state, state.client)
    try:
        yield
    finally:
        if state.owns_client and state.client is not None:
            await state.client.aclose()
        for handler in access_logger.handlers:
            handler.flush()


def _index_models(state: ServerState, client: AsyncClient) -> None:
    """``provider/model`` for every model, plus bare ids offered by one provider only."""
    models = client.models()
    owners: Dict[str, List[str]] = {}
    for model in models:
        owners.setdefault(model.id, []).append(model.provider)
    index: Dict[str, Dict[str, Any]] = {}
    for model in models:
        item = {
            "id": model.qualified_id,
            "object": "model",
            "created": 0,
            "owned_by": model.provider,
        }
        index[model.qualified_id] = item
    for model in models:
        if len(owners[model.id]) == 1 and model.id not in index:
            index[model.id] = {
                "id": model.id,
                "object": "model",
                "created": 0,
                "owned_by": model.provider,
            }
    state.models = index
    state.models_body = json.dumps({"object": "list", "data": list(index.values())}).encode()


# middlewares ------------------------------------------------------------------


@web.middleware
async def _access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log one line per request: status, provider, model, time to first chunk, total."""
    record = AccessRecord(time.monotonic())
    request[RECORD_KEY] = record
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        status = CLIENT_CLOSED
        raise
    finally:
        if request.app[SETTINGS].access_log:
            _log_access(request, record, status)


def _log_access(request: web.Request, record: AccessRecord, status: int) -> None:
    if not access_logger.isEnabledFor(logging.INFO):
        return
    now = time.monotonic()
    entry: Dict[str, Any] = {
        "ts": round(time.time(), 3),
        "method": request.method,
        "path": request.path,
        "status": status,
        "provider": record.provider,
        "model": record.model,
        "stream": record.stream,
        "ttfc_ms": None
        if record.first_chunk is None
        else round((record.first_chunk - record.start) * 1000, 1),
        "total_ms": round((now - record.start) * 1000, 1),
        "chunks": record.chunks,
        "chars": record.chars,
        "error": record.error,
        "remote": request.remote,
    }
    access_logger.info(json.dumps(entry))


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as an OpenAI-shaped JSON body."""
    try:
        return await handler(request)
    except ApiError as error:
        return _error_response(request, error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error_response(request, _http_exception(error))
    except ChatplugError as error:
        return _error_response(request, api_error(error))
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unexpected error handling %s %s", request.method, request.path)
        return _error_response(
            request,
            ApiError(500, "internal server error", type="server_error", code="internal_error"),
        )


def _http_exception(error: web.HTTPException) -> ApiError:
    codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
    message = error.text or error.reason
    if error.status == 413:
        message = f"the request body is too large: {error.text}"
    elif error.status == 404:
        message = "no such endpoint"
    return ApiError(
        error.status,
        message,
        code=codes.get(error.status, "http_error"),
        headers={key: value for key, value in error.headers.items() if key.lower() == "allow"},
    )


def _error_response(request: web.Request, error: ApiError) -> web.Response:
    record: Optional[AccessRecord] = request.get(RECORD_KEY)
    if record is not None:
        record.error = error.code
        if record.provider is None:
            record.provider = error.provider
    return web.Response(
        status=error.status,
        body=error.body(),
        content_type="application/json",
        headers=error.headers,
    )


@web.middleware
async def _auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With an API key, every ``/v1`` request needs ``Authorization: Bearer <key>``."""
    key = request.app[SETTINGS].api_key
    if key is not None and request.path.startswith("/v1"):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), key.encode()
        ):
            raise ApiError(
                401,
                "missing or invalid API key: send 'Authorization: Bearer <key>'",
                code="invalid_api_key",
                headers={"WWW-Authenticate": 'Bearer realm="chatplug"'},
            )
    return await handler(request)


# handlers ---------------------------------------------------------------------


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
                return await _stream_events(request, record, chat, stream, model, first)
            pieces = [first]
            async for piece in stream:
                pieces.append(piece)
                record.chunks += 1
            text = "".join(pieces)
            record.chars = len(text)
            return web.json_response(completion_object(model, text, chat.messages))
    finally:
        state.active_streams -= 1


async def _stream_events(
    request: web.Request,
    record: AccessRecord,
    chat: ChatRequest,
    stream: Stream,
    model: str,
    first: str,
) -> web.StreamResponse:
    """Send the answer as SSE ``chat.completion.chunk`` events, then ``[DONE]``.

    The headers go out with the first chunk, so that any error before it gets its
    HTTP status; an error after it is sent as a final ``data: {"error": ...}`` event.
    """
    response = EventStreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    encoder = ChunkEncoder(model)
    content = encoder.content
    chars = len(first)
    chunks = 1
    try:
        await response.write(encoder.first(first))
        async for piece in stream:
            await response.write(content(piece))
            chunks += 1
            chars += len(piece)
    except ChatplugError as error:
        problem = api_error(error)
        record.error = problem.code
        end = ChunkEncoder.error(problem)
    else:
        end = encoder.last(usage(chat.messages, chars) if chat.include_usage else None)
    finally:
        record.chunks, record.chars = chunks, chars
    await response.write_eof(end)  # the last event and the end of the body in one send
    return response


class EventStreamResponse(web.StreamResponse):
    """A streamed response whose headers go out with its first chunk (one send, not two).

    ``_send_headers_immediately`` is aiohttp's own switch (3.11+; ``web.Response`` turns it
    off the same way); older versions ignore it and send the headers first.
    """

    _send_headers_immediately = False


SSE_HEADERS: Mapping[str, str] = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
