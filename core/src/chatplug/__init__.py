"""chatplug: one streaming chat API over many LLM chat providers, each one a plugin.

``import chatplug`` stays light: plugins load when first needed, aiohttp when a client
opens its session.
"""

from __future__ import annotations

from .client import AsyncClient, Client, Stream
from .decoders import LineDecoder, ServerSentEvent, SSEDecoder, Utf8Decoder
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
    UpstreamConnectionError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from .health import CircuitBreaker, HealthStore, MemoryHealthStore, ProviderHealth
from .hookspecs import hookimpl, hookspec
from .http import browser_headers, http_error, open_stream
from .messages import format_prompt, normalize_messages
from .registry import PluginInfo, Provider, Registry
from .types import CompletionRequest, ModelInfo, RetryPolicy, Timeout

__version__ = "0.1.0"

__all__ = [
    "AllProvidersFailedError",
    "AsyncClient",
    "AuthenticationError",
    "ChatplugError",
    "CircuitBreaker",
    "Client",
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
    "normalize_messages",
    "open_stream",
]
