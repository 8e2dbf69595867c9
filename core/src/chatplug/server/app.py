"""The OpenAI-compatible aiohttp.web application behind ``chatplug serve``.

``create_app()`` builds it (settings from arguments, else from the environment, so that
``gunicorn 'chatplug.server:create_app()' --worker-class aiohttp.GunicornWebWorker``
works); the app opens its :class:`~chatplug.AsyncClient` on startup and closes it on
cleanup.  The pieces: :mod:`.state` (settings and per-app state), :mod:`.middlewares`,
:mod:`.access` (the access log), :mod:`.handlers`, :mod:`.sse` (the streamed answer),
:mod:`.protocol` (the OpenAI wire format), :mod:`.connection` (the runner and the
connection limits) and :mod:`.watchdog` (a plugin blocking the event loop).  See
``docs/server.md``.
"""

from __future__ import annotations

import dataclasses
import logging
from types import CodeType
from typing import Any, Dict, Mapping, Optional

from aiohttp import web

from ..client import AsyncClient
from ..registry import FAILED, Registry
from .access import (
    ACCESS_LOGGER,
    CLIENT_CLOSED,
    RECORD_KEY,
    AccessRecord,
    access_logger,
    ensure_access_handler,
)
from .connection import BACKLOG, ChatplugRunner
from .endpoints import create_message, create_response
from .handlers import chat_completions, health, list_models, retrieve_model
from .middlewares import access_middleware, auth_middleware, body_middleware, error_middleware
from .models import index_models
from .operations import OperationsSettings, install
from .sse import SSE_HEADERS, EventStreamResponse
from .state import (
    DEFAULT_MAX_BODY,
    DEFAULT_RETRIES,
    ENV_ACCESS_LOG,
    ENV_API_KEY,
    ENV_MAX_BODY,
    ENV_RETRIES,
    ENV_TIMEOUT,
    SETTINGS,
    STATE,
    ServerSettings,
    ServerState,
    server_retry,
    validate_api_key,
)
from .watchdog import LoopWatchdog

log = logging.getLogger("chatplug.server")

__all__ = [
    "ACCESS_LOGGER",
    "BACKLOG",
    "CLIENT_CLOSED",
    "DEFAULT_MAX_BODY",
    "DEFAULT_RETRIES",
    "ENV_ACCESS_LOG",
    "ENV_API_KEY",
    "ENV_MAX_BODY",
    "ENV_RETRIES",
    "ENV_TIMEOUT",
    "RECORD_KEY",
    "SETTINGS",
    "SSE_HEADERS",
    "STATE",
    "AccessRecord",
    "ChatplugRunner",
    "EventStreamResponse",
    "OperationsSettings",
    "ServerSettings",
    "ServerState",
    "access_logger",
    "create_app",
    "create_runner",
    "server_retry",
    "validate_api_key",
]


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
    keepalive: Optional[float] = None,
    head_timeout: Optional[float] = None,
    body_timeout: Optional[float] = None,
    write_timeout: Optional[float] = None,
    operations: Optional[OperationsSettings] = None,
) -> web.Application:
    """The OpenAI-compatible app; arguments left out come from ``settings``, else from the
    environment (:meth:`ServerSettings.from_env`).

    With ``client`` the caller owns it (the app neither configures nor closes it);
    otherwise the app creates one on startup (with ``registry``, ``base_urls`` plus
    ``CHATPLUG_<PROVIDER>_BASE_URL``, ``timeout`` and ``retries``) and closes it on cleanup.
    ``api_key=""`` turns authentication off even when ``CHATPLUG_API_KEY`` is set; a key
    with surrounding whitespace or control characters is a ``ValueError``.  Serve it with
    :class:`~chatplug.server.connection.ChatplugRunner` (as ``chatplug serve`` and
    :func:`create_runner` do) for the connection limits and the graceful shutdown.
    ``operations`` (Redis, named keys, the log database; default: from the environment and
    the ``[server]`` table) are :mod:`.operations`'.
    """
    base = settings if settings is not None else ServerSettings.from_env()
    overrides: Dict[str, Any] = {
        "api_key": api_key,
        "base_urls": base_urls,
        "timeout": timeout,
        "retries": retries,
        "max_body": max_body,
        "access_log": access_log,
        "keepalive": keepalive,
        "head_timeout": head_timeout,
        "body_timeout": body_timeout,
        "write_timeout": write_timeout,
    }
    changes = {key: value for key, value in overrides.items() if value is not None}
    if changes.get("api_key") == "":
        changes["api_key"] = None
    final = dataclasses.replace(base, **changes)

    app = web.Application(
        client_max_size=final.max_body,
        middlewares=[access_middleware, error_middleware, auth_middleware, body_middleware],
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
    app.router.add_post("/v1/responses", create_response)
    app.router.add_post("/v1/messages", create_message)
    install(app, operations)
    if final.access_log:
        ensure_access_handler()
    return app


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
            # the configuration's [defaults] retry, when set, beats the server's default
            retry_default=server_retry(DEFAULT_RETRIES),
            registry=state.registry,
        )
        await state.client.__aenter__()
    index_models(state, state.client.models())
    for info in state.client.providers():
        if info.status == FAILED:
            log.warning("provider %r is unavailable: %s", info.name, info.error)
    watchdog = None
    if settings.block_warning > 0:
        watchdog = LoopWatchdog(settings.block_warning, _plugin_code(state.client))
        watchdog.start()
    try:
        yield
    finally:
        if watchdog is not None:
            watchdog.stop()
        if state.owns_client and state.client is not None:
            await state.client.aclose()
        for handler in access_logger.handlers:
            handler.flush()


async def create_runner() -> ChatplugRunner:
    """A runner of :func:`create_app` (settings from the environment), for gunicorn:
    ``gunicorn chatplug.server:create_runner --worker-class aiohttp.GunicornWebWorker``
    serves with the connection limits and the graceful shutdown of ``chatplug serve``."""
    return ChatplugRunner(create_app())


def _plugin_code(client: AsyncClient) -> Dict[CodeType, str]:
    """The code of every loaded plugin's hook functions -> the plugin's provider id."""
    plugins: Dict[CodeType, str] = {}
    providers = client.registry.load_all()
    for provider in sorted(providers, key=lambda item: item.info.plugin is not None):
        for code in provider.code_objects():
            plugins.setdefault(code, provider.info.serving)
    return plugins
