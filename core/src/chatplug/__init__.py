"""chatplug: one streaming chat API over many LLM chat providers, each one a plugin.

``import chatplug`` stays light: names are imported from their modules on first use
(PEP 562), plugins load when first needed, and aiohttp when a client opens its session.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, List

from .errors import (
    AllProvidersFailedError,
    AuthenticationError,
    ChatplugError,
    ConfigError,
    InvalidRequestError,
    ModelNotFoundError,
    PluginError,
    PluginLoadError,
    ProviderNotFoundError,
    RateLimitedError,
    StreamProtocolError,
    UnsupportedCapabilityError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)

if TYPE_CHECKING:  # pragma: no cover
    from .client import AsyncClient, Client, Completion, Stream, SyncStream
    from .decoders import LineDecoder, ServerSentEvent, SSEDecoder, Utf8Decoder
    from .health import CircuitBreaker, HealthStore, MemoryHealthStore, ProviderHealth
    from .hookspecs import hookimpl, hookspec
    from .http import browser_headers, http_error, open_stream
    from .messages import format_prompt, normalize_messages
    from .openai_chunks import ChatChunkParser, iter_chat_chunks
    from .registry import PluginInfo, Provider, Registry
    from .types import CompletionRequest, ModelInfo, RetryPolicy, Timeout

__version__ = "0.2.0"

_LAZY: Dict[str, str] = {
    "AsyncClient": "client",
    "Client": "client",
    "Completion": "client",
    "Stream": "client",
    "SyncStream": "client",
    "LineDecoder": "decoders",
    "SSEDecoder": "decoders",
    "ServerSentEvent": "decoders",
    "Utf8Decoder": "decoders",
    "CircuitBreaker": "health",
    "HealthStore": "health",
    "MemoryHealthStore": "health",
    "ProviderHealth": "health",
    "hookimpl": "hookspecs",
    "hookspec": "hookspecs",
    "browser_headers": "http",
    "http_error": "http",
    "open_stream": "http",
    "format_prompt": "messages",
    "normalize_messages": "messages",
    "ChatChunkParser": "openai_chunks",
    "iter_chat_chunks": "openai_chunks",
    "PluginInfo": "registry",
    "Provider": "registry",
    "Registry": "registry",
    "CompletionRequest": "types",
    "ModelInfo": "types",
    "RetryPolicy": "types",
    "Timeout": "types",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chatplug' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(__all__)


__all__ = [
    "AllProvidersFailedError",
    "AsyncClient",
    "AuthenticationError",
    "ChatChunkParser",
    "ChatplugError",
    "CircuitBreaker",
    "Client",
    "Completion",
    "CompletionRequest",
    "ConfigError",
    "HealthStore",
    "InvalidRequestError",
    "LineDecoder",
    "MemoryHealthStore",
    "ModelInfo",
    "ModelNotFoundError",
    "PluginError",
    "PluginInfo",
    "PluginLoadError",
    "Provider",
    "ProviderHealth",
    "ProviderNotFoundError",
    "RateLimitedError",
    "Registry",
    "RetryPolicy",
    "SSEDecoder",
    "ServerSentEvent",
    "Stream",
    "StreamProtocolError",
    "UnsupportedCapabilityError",
    "SyncStream",
    "Timeout",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamHTTPError",
    "UpstreamTimeoutError",
    "Utf8Decoder",
    "__version__",
    "browser_headers",
    "format_prompt",
    "hookimpl",
    "hookspec",
    "http_error",
    "iter_chat_chunks",
    "normalize_messages",
    "open_stream",
]
