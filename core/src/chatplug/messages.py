"""Validating conversations, and the core's default prompt rendering."""

from __future__ import annotations

from collections.abc import Iterable, Mapping  # isinstance: typing's aliases are slower
from typing import Any, Sequence, Tuple, Union

from .errors import InvalidRequestError
from .types import Message

ROLES = frozenset({"system", "user", "assistant"})

MessagesInput = Union[str, Iterable[Mapping[str, Any]]]


def normalize_messages(messages: MessagesInput) -> Tuple[Message, ...]:
    """Validate OpenAI-style messages; a plain string is one user message.

    Content may be a string or a list of ``{"type": "text", "text": ...}`` parts (joined).
    Raises :class:`InvalidRequestError` naming the offending message.
    """
    if isinstance(messages, str):
        if messages.isascii() and messages.strip():  # the common case, nothing to check
            return ({"role": "user", "content": messages},)
        messages = [{"role": "user", "content": messages}]
    if isinstance(messages, Mapping) or not isinstance(messages, Iterable):
        raise InvalidRequestError(
            f"messages must be a string or a list of {{'role', 'content'}} dicts, "
            f"not {type(messages).__name__}"
        )
    result = tuple(_message(index, message) for index, message in enumerate(messages))
    if not result:
        raise InvalidRequestError("the conversation is empty; pass at least one message")
    if not any(message["content"].strip() for message in result):
        raise InvalidRequestError("every message is blank; say something")
    return result


def _message(index: int, message: Any) -> Message:
    where = f"messages[{index}]"
    if not isinstance(message, Mapping):
        raise InvalidRequestError(f"{where} must be a dict, not {type(message).__name__}")
    role = message.get("role")
    if role not in ROLES:
        raise InvalidRequestError(
            f"{where} has role {role!r}; expected one of: {', '.join(sorted(ROLES))}"
        )
    content = _content(where, message.get("content"))
    if not content.isascii():
        _check_encodable(where, content)
    return {"role": role, "content": content}


def _check_encodable(where: str, content: str) -> None:
    """Lone surrogates (undecodable input bytes, via ``surrogateescape``) cannot be sent."""
    try:
        content.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidRequestError(
            f"{where} content is not valid Unicode text: {content[error.start]!r} at position "
            f"{error.start} is a lone surrogate (undecodable input bytes?)",
            hint="Decode the input as UTF-8 (or convert it from its real encoding) first.",
        ) from None


def _content(where: str, content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not (isinstance(part, Mapping) and part.get("type") == "text"):
                raise InvalidRequestError(
                    f"{where} has a non-text content part; only text is supported"
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidRequestError(f"{where} has a text part without a string 'text'")
            texts.append(text)
        return "".join(texts)
    raise InvalidRequestError(f"{where} content must be a string, not {type(content).__name__}")


def format_prompt(messages: Sequence[Message]) -> str:
    """The core's default rendering of a conversation into one prompt.

    A single message renders as its content alone.  Otherwise each non-blank message
    renders as ``Role: content`` (role capitalised, system kept as ``System:``), one per
    line, followed by a final ``Assistant:`` line so that the model answers next.
    """
    if not messages:
        raise InvalidRequestError("the conversation is empty; pass at least one message")
    if len(messages) == 1:
        return str(messages[0]["content"])
    lines = [
        f"{message['role'].capitalize()}: {message['content']}"
        for message in messages
        if message["content"].strip()
    ]
    lines.append("Assistant:")
    return "\n".join(lines)
