"""``parallel_tool_calls``, ``finish_length`` and ``usage``: what a plugin reports besides
text (contract 0.2), streamed through the plugin's emulator.

Each asks a model that declares the capability concerned (the default model when it does,
else the first that does); a plugin whose models declare none is not concerned.  The
answers go through :meth:`AsyncClient.respond <chatplug.AsyncClient.respond>`, so the
core's stream rules apply: a violation fails the check with the core's ``PluginError``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, List

from ....types import CAPABILITIES, TOOLS, USAGE
from ..answers import respond
from ..subject import (
    MAX_TOKENS,
    TOOL_QUESTION,
    ConformanceFailure,
    NotApplicable,
    Subject,
)
from ..subject import TOOLS as TOOL_DEFINITIONS

if TYPE_CHECKING:  # pragma: no cover
    from ....events import Usage
    from ....stream import Completion
    from ....types import ModelInfo


def _answered(completion: "Completion", tools: bool = False) -> str:
    """What came back, in a few words (``tools``: also when there was no tool call)."""
    calls = ", ".join(
        f"{call.index}: {call.name}({call.arguments})" for call in completion.tool_calls
    )
    text = completion.text if len(completion.text) <= 80 else completion.text[:80] + "…"
    raw = f" (upstream: {completion.finish.raw!r})" if completion.finish is not None else ""
    return (
        (f"{len(completion.tool_calls)} tool call(s) [{calls}], " if calls else "")
        + ("no tool call, " if tools and not calls else "")
        + f"text {text!r}, finish reason {completion.finish_reason!r}{raw}"
    )


async def _ask(subject: Subject, model: "ModelInfo", what: str, **kwargs: Any) -> "Completion":
    from ....emulation import run_emulator

    async with run_emulator(subject.app()) as emulator:
        async with subject.client(base_urls={subject.provider: emulator.url}) as client:
            return await respond(client, subject, what, model=model.id, **kwargs)


async def check_parallel_tool_calls(subject: Subject) -> None:
    model = subject.model_declaring(frozenset({TOOLS}))
    if model is None:
        raise NotApplicable("no model declares the 'tools' capability")
    names = [tool["function"]["name"] for tool in TOOL_DEFINITIONS]
    asked = (
        f"asked {model.id} with the tools {' and '.join(names)}, the message "
        f"{TOOL_QUESTION[-1]['content']!r} and parallel_tool_calls unset"
    )
    what = f"a parallel tool call ({asked})"
    completion = await _ask(
        subject, model, what, messages=TOOL_QUESTION, tools=list(TOOL_DEFINITIONS)
    )
    problems: List[str] = []
    calls = completion.tool_calls
    if sorted(call.name for call in calls) != sorted(names):
        problems.append(
            f"expected one call of each tool ({', '.join(names)}) in one answer: the emulator "
            "must call every tool named in the last user message, as its upstream streams "
            "parallel tool calls"
        )
    else:
        if [call.index for call in calls] != list(range(len(calls))):
            problems.append(
                f"the calls' indexes are {[call.index for call in calls]}: number the calls of "
                "an answer 0, 1, ... (ToolCallDelta.index)"
            )
        ids = [call.id for call in calls]
        if len(set(ids)) != len(ids):
            problems.append(f"the calls share an id ({ids}): each call has its own id")
        for call in calls:
            if not _json_object(call.arguments):
                problems.append(
                    f"the arguments of {call.name} are {call.arguments!r}, not a JSON object: "
                    "the arguments fragments, joined, are the call's JSON arguments"
                )
        if completion.finish_reason != "tool_calls":
            problems.append(
                f"the finish reason is {completion.finish_reason!r}: an answer that ends with "
                "tool calls finishes with 'tool_calls' (Finish('tool_calls', raw=...))"
            )
    if problems:
        raise ConformanceFailure(
            f"{what}: the answer had {_answered(completion, tools=True)}.\n  - "
            + "\n  - ".join(problems)
        )


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


async def check_finish_length(subject: Subject) -> None:
    model = subject.model_declaring(frozenset())
    if model is None:
        raise NotApplicable(
            "no model declares a capability (a text-only plugin, e.g. written for contract "
            "0.1, need not report why an answer ended)"
        )
    declared = ", ".join(sorted(model.capabilities & CAPABILITIES))
    what = (
        f"an answer limited by max_tokens (asked {model.id}, which declares {declared}, "
        f"with max_tokens={MAX_TOKENS})"
    )
    completion = await _ask(subject, model, what, max_tokens=MAX_TOKENS)
    if completion.finish_reason != "length":
        raise ConformanceFailure(
            f"{what}: the answer had {_answered(completion)}; expected the finish reason "
            "'length'. Send max_tokens upstream (request.max_tokens), make the emulator stop "
            "there as the upstream does, and yield Finish('length', raw=<the upstream's "
            "value>) when the upstream says the answer reached the limit"
        )


async def check_usage(subject: Subject) -> None:
    model = subject.model_declaring(frozenset({USAGE}))
    declares = model is not None
    if model is None:
        model = subject.model_declaring(frozenset()) or _default(subject)
    what = f"the usage of an answer (asked {model.id})"
    completion = await _ask(subject, model, what)
    usage = completion.usage
    if usage is None:
        if declares:
            raise ConformanceFailure(
                f"{what}: the model declares the 'usage' capability, but the plugin reported "
                f"no usage ({_answered(completion)}): yield chatplug.events.Usage with the "
                "upstream's token counts (make the emulator send them)"
            )
        raise NotApplicable("no model declares 'usage' and the plugin reported none")
    problems = _usage_problems(usage)
    if problems:
        raise ConformanceFailure(f"{what}: {usage!r}:\n  - " + "\n  - ".join(problems))


def _default(subject: Subject) -> "ModelInfo":
    models = subject.models()
    return next((model for model in models if model.default), models[0])


def _usage_problems(usage: "Usage") -> List[str]:
    """What is wrong with the numbers of ``usage`` (the core checks their types)."""
    problems = []
    if usage.cached_input_tokens is not None and usage.cached_input_tokens > usage.input_tokens:
        problems.append(
            f"cached_input_tokens ({usage.cached_input_tokens}) is more than input_tokens "
            f"({usage.input_tokens}): cached tokens are a part of the input tokens"
        )
    if usage.reasoning_tokens is not None and usage.reasoning_tokens > usage.output_tokens:
        problems.append(
            f"reasoning_tokens ({usage.reasoning_tokens}) is more than output_tokens "
            f"({usage.output_tokens}): reasoning tokens are a part of the output tokens"
        )
    if usage.input_tokens == 0:
        problems.append(
            "input_tokens is 0 for a non-empty question: report the upstream's prompt tokens"
        )
    return problems
