"""Validating conversations, and the core's default prompt rendering.

A validated conversation is a tuple of plain dicts in the OpenAI shapes (see
``docs/plugin-authors.md``, "Messages"):

- ``{"role": "system" | "user" | "assistant", "content": str}`` (optional ``"name"``);
  ``developer`` becomes ``system``, text-only content-part lists are joined into one string;
- a user message with an image keeps ``content`` as a list of normalised parts
  (``{"type": "text", "text"}`` and ``{"type": "image_url", "image_url": {"url", "detail"}}``);
- an assistant message may carry ``"tool_calls"``
  (``[{"id", "type": "function", "function": {"name", "arguments": str}}]``); its ``null``
  content becomes ``""``;
- ``{"role": "tool", "tool_call_id", "content": str}`` answers an earlier tool call;
- an assistant message may carry ``"reasoning"`` blocks (``[{"text", "redacted"?,
  "metadata"?}]``, as :attr:`chatplug.Completion.message` gives them) so that a provider
  can send its reasoning signatures back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping  # isinstance: typing's aliases are slower
from typing import Any, Dict, FrozenSet, List, NamedTuple, Set, Tuple, Union

from ..errors import InvalidRequestError
from ..types import Message
from .parts import check_text, content, kind, required_text
from .prompt import format_prompt, text_of

MessagesInput = Union[str, Iterable[Mapping[str, Any]]]

#: the roles of validated messages
ROLES = frozenset({"system", "user", "assistant", "tool"})
#: accepted roles and the role they become
ROLE_SYNONYMS = {"developer": "system"}
_TEXT_ROLES = frozenset({"system", "user", "assistant"})
_ACCEPTED = ", ".join(sorted(ROLES | ROLE_SYNONYMS.keys()))

#: capabilities a conversation may need from a model (see :func:`message_needs`)
TOOLS = "tools"
IMAGES = "images"
NO_NEEDS: FrozenSet[str] = frozenset()
_NEEDS = {
    (False, False): NO_NEEDS,
    (True, False): frozenset({TOOLS}),
    (False, True): frozenset({IMAGES}),
    (True, True): frozenset({TOOLS, IMAGES}),
}

__all__ = [
    "IMAGES",
    "NO_NEEDS",
    "ROLES",
    "ROLE_SYNONYMS",
    "TOOLS",
    "Conversation",
    "Message",
    "MessagesInput",
    "conversation_capabilities",
    "format_prompt",
    "message_needs",
    "normalize_messages",
    "text_of",
]


class Conversation(NamedTuple):
    """A validated conversation and the capabilities it needs (``TOOLS``, ``IMAGES``)."""

    messages: Tuple[Message, ...]
    needs: FrozenSet[str]


def normalize_messages(messages: MessagesInput) -> Tuple[Message, ...]:
    """Validate OpenAI-style messages; a plain string is one user message.

    Raises :class:`InvalidRequestError` naming the offending message and field.
    """
    if isinstance(messages, str) and messages.isascii() and messages.strip():
        return ({"role": "user", "content": messages},)  # the common case, nothing to check
    return conversation_capabilities(messages).messages


def conversation_capabilities(messages: MessagesInput) -> Conversation:
    """:func:`normalize_messages` and :func:`message_needs` of the result, in one call."""
    if isinstance(messages, str):
        if messages.isascii() and messages.strip():
            return Conversation(({"role": "user", "content": messages},), NO_NEEDS)
        messages = [{"role": "user", "content": messages}]
    if isinstance(messages, Mapping) or not isinstance(messages, Iterable):
        raise InvalidRequestError(
            f"messages must be a string or a list of {{'role', 'content'}} dicts, "
            f"not {type(messages).__name__}"
        )
    call_ids: Set[str] = set()  # of the tool calls so far: a tool message answers one
    result = tuple([_message(index, message, call_ids) for index, message in enumerate(messages)])
    if not result:
        raise InvalidRequestError("the conversation is empty; pass at least one message")
    said = images = False  # a tool call (and so a tool message) says something
    for message in result:
        text = message["content"]
        if not isinstance(text, str):  # validated parts: there is an image
            said = images = True
            break
        said = said or bool(text.strip())
    if not (said or call_ids):
        raise InvalidRequestError("every message is blank; say something")
    return Conversation(result, _NEEDS[bool(call_ids), images])


def message_needs(messages: Iterable[Mapping[str, Any]]) -> FrozenSet[str]:
    """What a conversation needs from a model: ``"tools"`` when it holds a tool call or
    a tool message, ``"images"`` when it holds an image part; empty for plain text."""
    tools = images = False
    for message in messages:
        if not tools and (message.get("role") == "tool" or message.get("tool_calls")):
            tools = True
        if not images:
            parts = message.get("content")
            images = isinstance(parts, list) and any(
                isinstance(part, Mapping) and part.get("type") == "image_url" for part in parts
            )
    return _NEEDS[tools, images]


def _message(index: int, message: Any, call_ids: Set[str]) -> Message:
    if type(message) is not dict and not isinstance(message, Mapping):  # dict: the fast check
        raise InvalidRequestError(f"messages[{index}] must be a dict, not {kind(message)}")
    role = message.get("role")
    text = message.get("content")
    if (
        isinstance(text, str)
        and len(message) == 2
        and isinstance(role, str)
        and role in _TEXT_ROLES
    ):  # a plain text message
        if not text.isascii():
            check_text(f"messages[{index}].content", text)
        return {"role": role, "content": text}
    return _rich_message(f"messages[{index}]", message, call_ids)


def _rich_message(where: str, message: Mapping[str, Any], call_ids: Set[str]) -> Message:
    role = message.get("role")
    if isinstance(role, str):
        role = ROLE_SYNONYMS.get(role, role)
    if not (isinstance(role, str) and role in ROLES):
        raise InvalidRequestError(f"{where} has role {role!r}; expected one of: {_ACCEPTED}")
    if role == "tool":
        return _tool_message(where, message, call_ids)
    if message.get("function_call") is not None:
        raise InvalidRequestError(
            f"{where}.function_call is the deprecated form of tool_calls; send tool_calls"
        )
    calls = message.get("tool_calls")
    if calls is not None and calls != []:
        if role != "assistant":
            raise InvalidRequestError(f"{where}.tool_calls is allowed on assistant messages only")
        calls = _tool_calls(f"{where}.tool_calls", calls)
        call_ids.update(call["id"] for call in calls)
    text = message.get("content")
    normal: Message = {"role": role}
    if text is None and calls:
        normal["content"] = ""
    elif text is None and role == "assistant":
        raise InvalidRequestError(
            f"{where}.content must be a string or a list of content parts, not null "
            "(null only with tool_calls)"
        )
    else:
        normal["content"] = content(where, text, images=role == "user")
    name = message.get("name")
    if name is not None:
        normal["name"] = required_text(f"{where}.name", name)
    if calls:
        normal["tool_calls"] = calls
    reasoning = message.get("reasoning")
    if reasoning is not None and reasoning != []:
        if role != "assistant":
            raise InvalidRequestError(f"{where}.reasoning is allowed on assistant messages only")
        normal["reasoning"] = _reasoning(f"{where}.reasoning", reasoning)
    return normal


def _reasoning(where: str, blocks: Any) -> List[Dict[str, Any]]:
    """An assistant's reasoning blocks (``Completion.message``), kept for the plugin that
    sends them back: ``[{"text": str, "redacted"?: bool, "metadata"?: dict}]``."""
    if not isinstance(blocks, list):
        raise InvalidRequestError(f"{where} must be a list of reasoning blocks, not {kind(blocks)}")
    result = []
    for index, block in enumerate(blocks):
        at = f"{where}[{index}]"
        if not isinstance(block, Mapping):
            raise InvalidRequestError(f"{at} must be a dict, not {kind(block)}")
        text = block.get("text", "")
        if not isinstance(text, str):
            raise InvalidRequestError(f"{at}.text must be a string, not {kind(text)}")
        normal: Dict[str, Any] = {"text": text}
        redacted = block.get("redacted", False)
        if not isinstance(redacted, bool):
            raise InvalidRequestError(f"{at}.redacted must be true or false")
        if redacted:
            normal["redacted"] = True
        metadata = block.get("metadata")
        if metadata is not None:
            if not isinstance(metadata, Mapping):
                raise InvalidRequestError(f"{at}.metadata must be a dict, not {kind(metadata)}")
            normal["metadata"] = dict(metadata)
        result.append(normal)
    return result


def _tool_calls(where: str, calls: Any) -> List[Dict[str, Any]]:
    if not isinstance(calls, list):
        raise InvalidRequestError(f"{where} must be a list of tool calls, not {kind(calls)}")
    normal = []
    for position, call in enumerate(calls):
        at = f"{where}[{position}]"
        if not isinstance(call, Mapping):
            raise InvalidRequestError(f"{at} must be a tool call (a dict), not {kind(call)}")
        ident = required_text(f"{at}.id", call.get("id"))
        call_type = call.get("type")
        if call_type is not None and call_type != "function":
            raise InvalidRequestError(
                f"{at}.type is {call_type!r}; only 'function' tool calls are supported"
            )
        function = call.get("function")
        if not isinstance(function, Mapping):
            raise InvalidRequestError(
                f"{at}.function must be a {{'name', 'arguments'}} dict, not {kind(function)}"
            )
        name = required_text(f"{at}.function.name", function.get("name"))
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            raise InvalidRequestError(
                f"{at}.function.arguments must be a string (JSON text), not {kind(arguments)}"
            )
        check_text(f"{at}.function.arguments", arguments)
        normal.append(
            {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}
        )
    return normal


def _tool_message(where: str, message: Mapping[str, Any], call_ids: Set[str]) -> Message:
    ident = required_text(f"{where}.tool_call_id", message.get("tool_call_id"))
    if ident not in call_ids:
        earlier = (
            f"the earlier calls are {', '.join(sorted(map(repr, call_ids)))}"
            if call_ids
            else "no earlier assistant message has tool_calls"
        )
        raise InvalidRequestError(
            f"{where}.tool_call_id {ident!r} answers no earlier assistant tool call; {earlier}"
        )
    return {
        "role": "tool",
        "tool_call_id": ident,
        "content": content(where, message.get("content"), images=False),
    }
