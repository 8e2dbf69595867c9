"""Token usage in answers: the plugin's real numbers, or a marked estimate.

A plugin that reports the upstream's usage (a :class:`~chatplug.events.Usage` event) is
answered with those numbers.  For one that reports none (every contract 0.1 plugin, the
web chats) the server estimates them at about four characters per token and says so:
``x-chatplug-usage: estimated`` (``reported`` otherwise) on a non-streamed answer, and
``"estimated": true`` in the usage object itself (a streamed answer's headers are sent
before the usage is known).  Shared by every endpoint.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, NamedTuple, Optional

from ..events import ToolCall, Usage
from ..messages import text_of

USAGE_HEADER = "x-chatplug-usage"
REPORTED, ESTIMATED = "reported", "estimated"


class AnswerUsage(NamedTuple):
    """An answer's usage and whether it is an estimate."""

    usage: Usage
    estimated: bool

    @property
    def marker(self) -> str:
        """``"estimated"`` or ``"reported"`` (the ``x-chatplug-usage`` header)."""
        return ESTIMATED if self.estimated else REPORTED


def estimate_tokens(characters: int) -> int:
    """A rough token count: about four characters per token."""
    return (characters + 3) // 4


def prompt_characters(messages: Iterable[Mapping[str, Any]]) -> int:
    """The characters of a conversation's text, tool calls and tool results."""
    total = 0
    for message in messages:
        total += len(text_of(message))
        for call in message.get("tool_calls") or ():
            function = call["function"]
            total += len(function["name"]) + len(function["arguments"])
    return total


def answer_usage(
    reported: Optional[Usage],
    messages: Iterable[Mapping[str, Any]],
    completion_characters: int,
) -> AnswerUsage:
    """The plugin's usage when it ``reported`` one, else an estimate from the characters of
    the conversation and of the answer (text, reasoning and tool-call arguments)."""
    if reported is not None:
        return AnswerUsage(reported, False)
    estimate = Usage(
        estimate_tokens(prompt_characters(messages)), estimate_tokens(completion_characters)
    )
    return AnswerUsage(estimate, True)


def completion_characters(text_length: int, reasoning: str, calls: Iterable[ToolCall]) -> int:
    """The characters of an answer, for :func:`answer_usage`."""
    return text_length + len(reasoning) + sum(len(c.name) + len(c.arguments) for c in calls)


def openai_usage(answer: AnswerUsage) -> Dict[str, Any]:
    """The Chat Completions ``usage`` object (with ``"estimated": true`` for an estimate)."""
    usage = answer.usage
    shape: Dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }
    if usage.cached_input_tokens is not None:
        shape["prompt_tokens_details"] = {"cached_tokens": usage.cached_input_tokens}
    if usage.reasoning_tokens is not None:
        shape["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if answer.estimated:
        shape["estimated"] = True
    return shape
