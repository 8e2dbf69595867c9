"""The typed request fields of contract 0.2: validated before any network traffic, and the
capabilities a request needs from the model that answers it.

:func:`request_fields` turns the caller's keyword arguments (``tools``, ``temperature``...)
into the fields of :class:`~chatplug.CompletionRequest` and the 0.1-style ``options``;
:func:`needed_capabilities` says which :data:`~chatplug.types.CAPABILITIES` they and the
messages need.  Errors are :class:`~chatplug.InvalidRequestError` naming the field.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import AbstractSet, Any, Dict, Optional, Set, Tuple

from .errors import InvalidRequestError
from .types import (
    JSON_OBJECT,
    JSON_SCHEMA,
    REASONING,
    TOOLS,
    CompletionRequest,
    Message,
    ResponseFormat,
    Timeout,
    Tool,
)

#: Fields that are also passed in ``request.options`` under the same name (as in 0.1).
SAMPLING = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "user",
)
#: The typed keyword arguments of ``AsyncClient.stream``, in the order of its signature.
TYPED_FIELDS = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    *SAMPLING,
    "reasoning_effort",
    "metadata",
)
TOOL_CHOICES = ("auto", "none", "required")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
_RANGES = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}


def request_fields(given: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(fields, options)`` from the caller's typed arguments (``None``: not given)."""
    fields: Dict[str, Any] = {}
    options: Dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        if name in SAMPLING:
            options[name] = value
        if name in _RANGES:
            fields[name] = _number(name, value, *_RANGES[name])
        elif name in ("max_tokens", "max_completion_tokens"):
            fields["max_tokens"] = _count(name, value)
        elif name == "seed":
            fields["seed"] = _integer(name, value)
        else:
            fields[name] = _CHECKS[name](name, value)
    if given.get("max_completion_tokens") is not None:  # the newer name wins
        fields["max_tokens"] = _count("max_completion_tokens", given["max_completion_tokens"])
    choice = fields.get("tool_choice")
    if choice is not None and choice not in TOOL_CHOICES:
        names = [tool.name for tool in fields.get("tools", ())]
        if choice not in names:
            raise _invalid("tool_choice", f"names function {choice!r}, which is not in tools")
    if choice == "required" and not fields.get("tools"):
        raise _invalid("tool_choice", "is 'required' but no tools are given")
    return fields, options


def needed_capabilities(fields: Mapping[str, Any], needs: AbstractSet[str]) -> Set[str]:
    """The capabilities a request with ``fields`` needs from its model, ``needs`` (those of
    its messages: :func:`chatplug.messages.conversation_capabilities`) included."""
    needed = set(needs)
    if fields:
        if fields.get("tools") or fields.get("tool_choice") not in (None, "none"):
            needed.add(TOOLS)
        response_format = fields.get("response_format")
        if response_format is not None:
            needed.add(response_format.type)
        if fields.get("reasoning_effort") is not None:
            needed.add(REASONING)
    return needed


_FIELDS = dataclasses.fields(CompletionRequest)
#: every field of :class:`CompletionRequest` with its default (``None`` for those without
#: one: :func:`new_request` sets them)
_TEMPLATE: Dict[str, Any] = {
    field.name: None if field.default is dataclasses.MISSING else field.default for field in _FIELDS
}
_ONE_STEP = not hasattr(CompletionRequest, "__post_init__")


def new_request(
    provider: str,
    model: str,
    messages: Tuple[Message, ...],
    prompt: str,
    options: Mapping[str, Any],
    proxy: Optional[str],
    base_url: Optional[str],
    timeout: Timeout,
    settings: Mapping[str, Any],
    fields: Mapping[str, Any],
) -> CompletionRequest:
    """``CompletionRequest(provider=provider, ..., settings=settings, **fields)``, built in
    one step.

    The frozen dataclass's own ``__init__`` sets each of its 24 fields with a call of
    ``object.__setattr__``: about 40,000 instructions per request (callgrind), on every
    stream's way to its first byte.  This copies a dict of every field's default and sets
    the instance's ``__dict__`` at once: about 9,000.  The result is the same (equal,
    frozen); an unknown field raises the dataclass's usual ``TypeError``.
    """
    state = _TEMPLATE.copy()  # the same keys: each value below replaces one, none is added
    state["provider"] = provider
    state["model"] = model
    state["messages"] = messages
    state["prompt"] = prompt
    state["options"] = options
    state["proxy"] = proxy
    state["base_url"] = base_url
    state["timeout"] = timeout
    state["settings"] = settings
    if fields:
        state.update(fields)
    if len(state) != len(_TEMPLATE) or not _ONE_STEP:  # an unknown field, or a __post_init__:
        return CompletionRequest(**state)  # the dataclass's own __init__ (and its TypeError)
    request = object.__new__(CompletionRequest)
    object.__setattr__(request, "__dict__", state)
    return request


def _invalid(name: str, problem: str) -> InvalidRequestError:
    return InvalidRequestError(f"{name} {problem}")


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise _invalid(name, f"must be a number, not {value!r}")
    if not low <= value <= high:
        raise _invalid(name, f"must be between {low:g} and {high:g}, not {value!r}")
    return float(value)


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, f"must be an integer, not {value!r}")
    return value


def _count(name: str, value: Any) -> int:
    if _integer(name, value) < 1:
        raise _invalid(name, f"must be at least 1, not {value!r}")
    return int(value)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(name, f"must be a non-empty string, not {value!r}")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid(name, f"must be true or false, not {value!r}")
    return value


def _stop(name: str, value: Any) -> Tuple[str, ...]:
    stops = (value,) if isinstance(value, str) else value
    if not isinstance(stops, Sequence) or not all(isinstance(s, str) and s for s in stops):
        raise _invalid(name, f"must be a string or a list of non-empty strings, not {value!r}")
    return tuple(stops)


def _tools(name: str, value: Any) -> Tuple[Tool, ...]:
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise _invalid(name, f"must be a list of tools, not {type(value).__name__}")
    tools = tuple(_tool(f"{name}[{index}]", item) for index, item in enumerate(value))
    names = [tool.name for tool in tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _invalid(name, f"define {', '.join(duplicates)} more than once")
    return tools


def _tool(where: str, item: Any) -> Tool:
    if isinstance(item, Tool):
        tool = item
    elif isinstance(item, Mapping):
        if item.get("type", "function") != "function":
            raise _invalid(where, f"has type {item.get('type')!r}; only 'function' tools exist")
        function = item.get("function", item)
        if not isinstance(function, Mapping):
            raise _invalid(f"{where}.function", "must be an object")
        tool = Tool(
            function.get("name"),  # type: ignore[arg-type]  # checked below
            function.get("description"),
            function.get("parameters"),
            function.get("strict"),
        )
    else:
        raise _invalid(where, f"must be a chatplug.types.Tool or a dict, not {item!r:.60}")
    if not isinstance(tool.name, str) or not tool.name:
        raise _invalid(f"{where}.name", f"must be a non-empty string, not {tool.name!r}")
    if tool.parameters is not None and not isinstance(tool.parameters, Mapping):
        raise _invalid(f"{where}.parameters", "must be a JSON Schema object")
    if tool.description is not None and not isinstance(tool.description, str):
        raise _invalid(f"{where}.description", "must be a string")
    if tool.strict is not None and not isinstance(tool.strict, bool):
        raise _invalid(f"{where}.strict", "must be true or false")
    return tool


def _tool_choice(name: str, value: Any) -> str:
    if isinstance(value, Mapping):  # {"type": "function", "function": {"name": ...}}
        function = value.get("function")
        value = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(value, str) or not value:
            raise _invalid(name, "must name a function: {'type': 'function', 'function': ...}")
        return value
    return _text(name, value)


def _response_format(name: str, value: Any) -> Optional[ResponseFormat]:
    kind: Any
    if isinstance(value, ResponseFormat):
        kind, schema = value.type, value.schema
        result = value
    elif isinstance(value, Mapping):
        kind = value.get("type")
        if kind == "text":
            return None
        spec = value.get("json_schema") or {}
        if not isinstance(spec, Mapping):
            raise _invalid(f"{name}.json_schema", "must be an object")
        schema = spec.get("schema")
        result = ResponseFormat(kind, spec.get("name"), schema, spec.get("strict"))
    else:
        raise _invalid(name, f"must be a dict or a chatplug.types.ResponseFormat, not {value!r}")
    if kind not in (JSON_OBJECT, JSON_SCHEMA):
        raise _invalid(f"{name}.type", f"must be 'json_object' or 'json_schema', not {kind!r}")
    if kind == JSON_SCHEMA and not isinstance(schema, Mapping):
        raise _invalid(f"{name}.json_schema.schema", "must be a JSON Schema object")
    return result


def _logit_bias(name: str, value: Any) -> Dict[str, float]:
    if not isinstance(value, Mapping):
        raise _invalid(name, f"must be a mapping of token ids to numbers, not {value!r}")
    return {
        str(token): _number(f"{name}[{token!r}]", bias, -100, 100) for token, bias in value.items()
    }


def _effort(name: str, value: Any) -> str:
    if value not in REASONING_EFFORTS:
        raise _invalid(name, f"must be one of {', '.join(REASONING_EFFORTS)}, not {value!r}")
    return str(value)


def _metadata(name: str, value: Any) -> Dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _invalid(name, "must be a mapping of strings to strings")
    return dict(value)


_CHECKS = {
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _flag,
    "response_format": _response_format,
    "stop": _stop,
    "logit_bias": _logit_bias,
    "user": _text,
    "reasoning_effort": _effort,
    "metadata": _metadata,
}
