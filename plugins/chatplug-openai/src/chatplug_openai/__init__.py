"""chatplug provider plugin for OpenAI and any OpenAI-compatible chat completions server.

The module itself is the ``openai`` provider (entry point ``chatplug.providers``):
``https://api.openai.com/v1``, key from ``$OPENAI_API_KEY``.  The same hooks serve any
other provider id declared in configuration with ``plugin = "openai"`` (Ollama, vLLM,
llama.cpp, LM Studio, Groq, OpenRouter, Together...): everything provider-specific comes
from the request (``request.provider``, ``request.base_url``, ``request.settings``).
:class:`OpenAICompatible` builds such a provider in code.

Settings (``request.settings``, from the provider's configuration table):

- ``api_key_env``: the environment variable holding the key, read at request time.
  Default ``OPENAI_API_KEY`` for ``openai``, ``<ID>_API_KEY`` for any other id.
  ``""`` never sends a key.  Without a key no ``Authorization`` header is sent (keyless
  local servers such as Ollama just work).  Keys never appear in errors or logs.
- ``headers``: extra HTTP headers (e.g. OpenRouter's ``HTTP-Referer``/``X-Title``).
- ``capabilities``: what the provider's models can do (contract 0.2), a list of
  ``tools``, ``images``, ``json_schema``, ``json_object``, ``reasoning``, ``usage``;
  default: all but ``reasoning`` (see :mod:`chatplug_openai.catalogue`).

A configured provider's catalogue comes from the core's ``models`` key; the ``openai``
catalogue is static plus what :func:`refresh_models` cached.  See the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Mapping, Optional, Sequence

from chatplug import CompletionRequest, ModelInfo, hookimpl
from chatplug.events import StreamItem

from .catalogue import (
    DEFAULT_BASE_URL,
    DEFAULT_CAPABILITIES,
    DEFAULT_PROVIDER,
    OPENAI_MODELS,
    async_refresh_models,
    build_catalogue,
    cache_path,
    capabilities_setting,
    clear_cache,
    default_key_env,
    refresh_models,
)
from .provider import ALLOWED_OPTIONS, ChatStreamParser, __version__, build_payload, stream_chat

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

#: this plugin's own settings in a provider's configuration table (name → type), validated
#: by the core's configuration layer and passed as ``CompletionRequest.settings``
CHATPLUG_SETTINGS: Dict[str, Any] = {
    "api_key_env": str,
    "headers": dict,
    "capabilities": list,
}


@hookimpl
def list_models() -> List[ModelInfo]:
    """OpenAI's static catalogue, plus the models cached by :func:`refresh_models`."""
    return build_catalogue(DEFAULT_PROVIDER)


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[StreamItem]:
    """Stream ``POST {base_url}/chat/completions`` for any provider id."""
    async for item in stream_chat(request, session):
        yield item


class OpenAICompatible:
    """An OpenAI-compatible provider under its own id, for :meth:`chatplug.Registry.register`.

    ``OpenAICompatible("ollama", base_url="http://127.0.0.1:11434/v1", models=["llama3.2"],
    api_key_env="")`` serves provider ``ollama``; a per-call ``base_url`` or configured
    one still wins over ``base_url`` here.  ``capabilities`` (names) are what its models
    declare (default :data:`~chatplug_openai.catalogue.DEFAULT_CAPABILITIES`); the
    upstream kind follows ``base_url`` (``self-hosted`` for a loopback or private address).
    """

    def __init__(
        self,
        provider: str,
        *,
        base_url: Optional[str] = None,
        models: Optional[Sequence[Any]] = None,
        api_key_env: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        default: Optional[str] = None,
        capabilities: Optional[Sequence[str]] = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url
        self.models = list(models or ())
        self.default = default
        self.capabilities = capabilities_setting(provider, capabilities)
        self.settings: Dict[str, Any] = {}
        if api_key_env is not None:
            self.settings["api_key_env"] = api_key_env
        if headers:
            self.settings["headers"] = dict(headers)
        if base_url:
            self.settings["base_url"] = base_url

    def __repr__(self) -> str:
        return f"OpenAICompatible({self.provider!r}, base_url={self.base_url!r})"

    @hookimpl
    def list_models(self) -> List[ModelInfo]:
        return build_catalogue(
            self.provider,
            self.models,
            self.default,
            base_url=self.base_url,
            capabilities=self.capabilities,
        )

    @hookimpl
    async def stream_completion(
        self, request: CompletionRequest, session: "aiohttp.ClientSession"
    ) -> AsyncIterator[StreamItem]:
        settings = {**self.settings, **request.settings}
        async for item in stream_chat(_with_settings(request, settings), session):
            yield item


def _with_settings(request: CompletionRequest, settings: Dict[str, Any]) -> CompletionRequest:
    from dataclasses import replace

    return replace(request, settings=settings)


def configured_provider(name: str, settings: Mapping[str, Any]) -> OpenAICompatible:
    """The provider object for a configuration table ``[providers.<name>]``."""
    return OpenAICompatible(
        name,
        base_url=settings.get("base_url"),
        models=settings.get("models"),
        api_key_env=settings.get("api_key_env"),
        headers=settings.get("headers"),
        default=settings.get("default_model"),
        capabilities=settings.get("capabilities"),
    )


def virtual_catalogue(
    provider: str,
    models: Sequence[str],
    settings: Mapping[str, Any],
) -> List[ModelInfo]:
    """The catalogue of provider ``provider`` declared in configuration with
    ``plugin = "openai"`` (the core calls it as ``CHATPLUG_VIRTUAL_CATALOGUE``): ``models``
    (the first is the default; without them, OpenAI's model ids), each declaring the
    provider's ``capabilities`` setting, or :data:`DEFAULT_CAPABILITIES`.  Its upstream
    kind is ``unknown`` (the core keeps the base URL to itself), or that of a ``base_url``
    among ``settings``."""
    capabilities = capabilities_setting(provider, settings.get("capabilities"))
    listed: Sequence[Any] = models or [{"id": id, "name": name} for id, name in OPENAI_MODELS]
    return build_catalogue(
        provider, listed, base_url=settings.get("base_url"), capabilities=capabilities
    )


#: the core builds the catalogue of a provider declared with ``plugin = "openai"`` with it
CHATPLUG_VIRTUAL_CATALOGUE = virtual_catalogue


__all__ = [
    "ALLOWED_OPTIONS",
    "CHATPLUG_SETTINGS",
    "CHATPLUG_VIRTUAL_CATALOGUE",
    "DEFAULT_BASE_URL",
    "DEFAULT_CAPABILITIES",
    "OPENAI_MODELS",
    "ChatStreamParser",
    "OpenAICompatible",
    "__version__",
    "async_refresh_models",
    "build_payload",
    "cache_path",
    "build_catalogue",
    "clear_cache",
    "configured_provider",
    "default_key_env",
    "list_models",
    "refresh_models",
    "stream_completion",
    "virtual_catalogue",
]
