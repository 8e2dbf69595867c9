"""chatplug provider plugin for AI365VIP (``https://chat.ai365vip.com``).

One ``POST /api/chat`` per completion.  The upstream has no message history: the whole
conversation goes in as one user message rendered by ``format_prompt``; system
instructions go in the body's own ``prompt`` field instead (the ``system`` option first,
then each ``system`` message; default ``"You are a helpful assistant."``).  The answer is
plain text streamed in arbitrary byte chunks, decoded incrementally and yielded as the
bytes arrive; the body's end is the answer's end (finish ``stop``).  A third-party web
chat: text only, no capabilities.

Models resolve through the alias map first (``gpt-3.5-turbo`` is served as
``gpt-3.5-turbo-16k``), and each model is sent with its own display name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Mapping, Optional, Sequence

from chatplug import CompletionRequest, ModelInfo, hookimpl, open_stream
from chatplug import format_prompt as default_format_prompt
from chatplug.decoders import iter_text
from chatplug.events import Finish, StreamItem
from chatplug.http import site_headers
from chatplug.options import STANDARD_RANGES, checked_options, text_option
from chatplug.types import WEB_CHAT

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SYSTEM",
    "DEFAULT_TEMPERATURE",
    "DISPLAY_NAMES",
    "MODEL_ALIASES",
    "PATH",
    "PROVIDER",
    "URL",
    "format_prompt",
    "list_models",
    "request_body",
    "request_headers",
    "stream_completion",
    "system_prompt",
    "wire_model",
]

PROVIDER = "ai365vip"
URL = "https://chat.ai365vip.com"
PATH = "/api/chat"
DEFAULT_MODEL = "gpt-3.5-turbo"
#: the alias map: it wins over the plain model list when resolving
MODEL_ALIASES: Dict[str, str] = {"gpt-3.5-turbo": "gpt-3.5-turbo-16k"}
#: each model's display name, as the site sends it
DISPLAY_NAMES: Dict[str, str] = {
    "gpt-3.5-turbo": "GPT-3.5",
    "gpt-3.5-turbo-16k": "GPT-3.5-16K",
    "gpt-4o": "GPT-4o",
}
MAX_LENGTH = 3000
TOKEN_LIMIT = 2048
DEFAULT_SYSTEM = "You are a helpful assistant."
DEFAULT_TEMPERATURE = 1
#: the one option sent upstream (besides ``system``, which becomes ``prompt``)
OPTIONS = {"temperature": STANDARD_RANGES["temperature"]}

_METADATA: Mapping[str, Any] = {
    "url": URL,
    "working": True,
    "capabilities": ("chat", "streaming", "system-prompt"),
}


@hookimpl
def list_models() -> List[ModelInfo]:
    aliases: Dict[str, List[str]] = {}
    for alias, target in MODEL_ALIASES.items():
        aliases.setdefault(target, []).append(alias)
    return [
        ModelInfo(
            model,
            PROVIDER,
            aliases=tuple(aliases.get(model, ())),
            default=model == DEFAULT_MODEL,
            name=DISPLAY_NAMES[model],
            metadata={**_METADATA, "served_as": wire_model(model)},
            upstream=WEB_CHAT,
        )
        for model in DISPLAY_NAMES
    ]


@hookimpl
def format_prompt(messages: Sequence[Mapping[str, str]], model: str) -> Optional[str]:
    """The core's rendering without the system messages (they go in ``prompt``)."""
    conversation = [dict(message) for message in messages if message["role"] != "system"]
    if not conversation or len(conversation) == len(messages):
        return None  # nothing to take out: the core's default rendering
    return default_format_prompt(conversation)


@hookimpl
async def stream_completion(
    request: CompletionRequest, session: "aiohttp.ClientSession"
) -> AsyncIterator[StreamItem]:
    body = request_body(request)
    headers = request_headers(request.base_url or URL)
    url = request.url(URL, PATH)
    async with open_stream(session, request, "POST", url, headers=headers, json=body) as response:
        answered = False
        async for text in iter_text(response):  # as the bytes arrive, not by line
            answered = True
            yield text
    if answered:  # an empty body is no answer: the core reports it
        yield Finish("stop")


def wire_model(model: str) -> str:
    """The model id sent upstream: the alias map wins over the plain list."""
    return MODEL_ALIASES.get(model, model)


def request_headers(base: str) -> Dict[str, str]:
    """The browser-like headers of the chat request for the site at ``base``."""
    return site_headers(base, "/en", accept="*/*")


def system_prompt(messages: Sequence[Mapping[str, str]], system: Optional[str] = None) -> str:
    """The ``prompt`` field: ``system``, then the system messages (when the conversation
    has other messages), joined by blank lines; the site's default when there are none."""
    parts = [system] if system and system.strip() else []
    if any(message["role"] != "system" for message in messages):
        parts += [m["content"] for m in messages if m["role"] == "system" and m["content"].strip()]
    return "\n\n".join(parts) if parts else DEFAULT_SYSTEM


def request_body(request: CompletionRequest) -> Dict[str, Any]:
    """The JSON body of ``POST /api/chat``."""
    system = text_option(request.options, "system", provider=request.provider)
    options = checked_options(request.options, OPTIONS, provider=request.provider)
    model = wire_model(request.model)
    return {
        "model": {
            "id": model,
            "name": DISPLAY_NAMES.get(model, model),
            "maxLength": MAX_LENGTH,
            "tokenLimit": TOKEN_LIMIT,
        },
        "messages": [{"role": "user", "content": request.prompt}],
        "key": "",
        "prompt": system_prompt(request.messages, system),
        "temperature": options.get("temperature", DEFAULT_TEMPERATURE),
    }
