"""The stream rules of contract 0.2 (docs/contract.md), enforced on what a plugin yields.

Text (a bare ``str``) never comes here: the attempt loop handles it inline.  Every other
item goes through :func:`accept` (before the :class:`~chatplug.events.Finish`) or
:func:`accept_after_finish`, which check it, record it on the stream's ``_Progress`` and
raise a :class:`~chatplug.PluginError` naming the plugin on a contract violation.
"""

from __future__ import annotations

from typing import Any, Optional

from .errors import PluginError
from .events import (
    FINISH_REASONS,
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    ToolCallDelta,
    Usage,
)
from .stream import _Progress


def violation(provider: str, problem: str) -> PluginError:
    return PluginError(
        f"contract violation: {problem}",
        provider=provider,
        hint="The plugin broke the stream rules of docs/contract.md; report it to its author.",
    )


def accept(progress: _Progress, item: Any, provider: str) -> Optional[str]:
    """Check and record ``item`` (not a plain ``str``); a ``str`` subclass comes back as
    text, anything else as ``None``."""
    kind = type(item)
    if kind is ToolCallDelta:
        _tool_call(progress, item, provider)
    elif kind is ReasoningDelta:
        if type(item.text) is not str or not isinstance(item.redacted, bool):
            raise violation(provider, f"malformed {item!r}")
        progress.reasoning.append(item)
        progress.committed = True
    elif kind is Usage:
        _usage(progress, item, provider)
    elif kind is Finish:
        if item.reason not in FINISH_REASONS:
            reasons = ", ".join(sorted(FINISH_REASONS))
            raise violation(provider, f"unknown finish reason {item.reason!r} (one of {reasons})")
        progress.finish = item
    elif kind is ResponseMetadata:
        _response(progress, item, provider)
    elif isinstance(item, str):
        return str(item)
    else:
        raise violation(
            provider,
            f"stream_completion yielded {type(item).__name__} {item!r:.80}; "
            "yield str for text or a chatplug.events object",
        )
    return None


def accept_after_finish(progress: _Progress, item: Any, provider: str) -> None:
    """Check and record an item that follows the :class:`Finish` (usage or metadata only)."""
    kind = type(item)
    if kind is Usage:
        _usage(progress, item, provider)
    elif kind is ResponseMetadata:
        _response(progress, item, provider)
    elif kind is Finish:
        raise violation(provider, "a second Finish (at most one per answer)")
    elif isinstance(item, (str, ReasoningDelta, ToolCallDelta)):
        what = "text" if isinstance(item, str) else kind.__name__
        raise violation(provider, f"{what} after the Finish (only Usage and ResponseMetadata)")
    else:
        accept(progress, item, provider)  # raises: not an item of the contract


def _tool_call(progress: _Progress, item: ToolCallDelta, provider: str) -> None:
    index, call_id, name, arguments = item
    if type(index) is not int or index < 0:
        raise violation(provider, f"tool call index {index!r} is not an integer >= 0")
    if type(arguments) is not str:
        raise violation(provider, f"tool call {index} arguments {arguments!r:.40} are not a str")
    for field, value in (("id", call_id), ("name", name)):
        if value is not None and (type(value) is not str or not value):
            raise violation(provider, f"tool call {index} {field} {value!r} is not a string")
    call = progress.tool_calls.get(index)
    if call is None:
        if call_id is None or name is None:
            raise violation(
                provider, f"the first fragment of tool call {index} carries no id and name"
            )
        progress.tool_calls[index] = [call_id, name, [arguments]]
    else:
        if call_id is not None and call_id != call[0]:
            raise violation(provider, f"tool call {index} changed its id to {call_id!r}")
        if name is not None and name != call[1]:
            raise violation(provider, f"tool call {index} changed its name to {name!r}")
        call[2].append(arguments)
    progress.committed = True


def _usage(progress: _Progress, item: Usage, provider: str) -> None:
    for field in ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"):
        value = getattr(item, field)
        if value is None and field.startswith(("cached", "reasoning")):
            continue
        if type(value) is not int or value < 0:
            raise violation(provider, f"usage {field} {value!r} is not an integer >= 0")
    progress.usage = item


def _response(progress: _Progress, item: ResponseMetadata, provider: str) -> None:
    for value in item:
        if value is not None and type(value) is not str:
            raise violation(provider, f"malformed {item!r}: id and model are strings or None")
    earlier = progress.response
    if earlier is not None:  # a later one fills in what an earlier one left None
        item = ResponseMetadata(
            earlier.id if item.id is None else item.id,
            earlier.model if item.model is None else item.model,
        )
    progress.response = item
