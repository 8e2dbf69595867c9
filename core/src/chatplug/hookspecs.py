"""Hook specifications of the chatplug plugin contract.

A provider plugin is any object (module, class or instance) with functions marked
``@chatplug.hookimpl`` named after the hooks below, registered through the entry-point
group ``chatplug.providers``.  ``list_models`` and ``stream_completion`` are required;
``format_prompt`` is optional.

How hooks are called: pluggy validates each plugin at registration (hook names and
argument names against these specifications), and the core then calls the *selected*
provider's implementation directly, as a plain function; it never calls a hook through
pluggy's hook relay (``pm.hook.<name>(...)``), which would call every plugin's
implementation.  So pluggy's calling rules do not apply to chatplug hooks: ``firstresult``,
``tryfirst``/``trylast`` and hook wrappers have no effect.  One provider answers each
request, and this costs one function call per hook on the request path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, List, Optional, Sequence

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

    from .types import CompletionRequest, Message, ModelInfo

PROJECT_NAME = "chatplug"

#: The version of the plugin contract these hooks define (docs/contract.md).  0.2 added
#: stream events, rich messages, typed request fields and model capabilities; every 0.1
#: plugin is a valid 0.2 plugin.
CONTRACT_VERSION = "0.2"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

REQUIRED_HOOKS = ("list_models", "stream_completion")


@hookspec
def list_models() -> "List[ModelInfo]":
    """Return the provider's static model catalogue.

    Must be fast and do no network I/O.  Exactly one model should have ``default=True``
    (otherwise the first is the default).  Every ``ModelInfo.provider`` is the provider id.
    """
    raise NotImplementedError  # pragma: no cover


@hookspec(firstresult=True)
def format_prompt(messages: "Sequence[Message]", model: str) -> Optional[str]:
    """Render a conversation into one prompt string for upstreams without message history.

    ``messages`` are validated OpenAI-style dicts, ``model`` the resolved model id.
    Return ``None`` to fall back to the core's default rendering
    (:func:`chatplug.format_prompt`).  Implement it only when the upstream needs its own.

    Only the selected provider's implementation is called (directly, see above); the
    ``firstresult`` marker matters only to code calling the hook through pluggy itself.
    """


@hookspec
def stream_completion(
    request: "CompletionRequest", session: "aiohttp.ClientSession"
) -> "AsyncIterator[str]":
    """Stream the completion for ``request`` (an async generator).

    Yield each text delta as a plain ``str``; since contract 0.2 also yield
    :mod:`chatplug.events` objects for reasoning, tool calls, usage, the finish reason and
    the upstream's response metadata (rules in docs/contract.md, enforced by the core).

    Use ``session`` (the core's pooled session) for every HTTP request, honour
    ``request.proxy``, ``request.base_url`` and ``request.timeout`` (the helper
    :func:`chatplug.open_stream` does all three and maps HTTP errors), and parse the
    response incrementally with the decoders of :mod:`chatplug.decoders`.  Raise
    :class:`chatplug.StreamProtocolError` for a malformed or truncated stream; never
    swallow errors.
    """
    raise NotImplementedError  # pragma: no cover
