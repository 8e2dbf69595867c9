"""A message's text, and the core's default rendering of a conversation into one prompt."""

from __future__ import annotations

from collections.abc import Mapping  # isinstance: typing's aliases are slower
from typing import Any, Dict, List, Sequence, Tuple

from ..errors import InvalidRequestError


def text_of(message: Mapping[str, Any]) -> str:
    """The text of a message whatever the shape of its content.

    A string as is; the text parts of a list joined (images left out); ``""`` for no
    content (``None``, as in a raw assistant tool-call message).
    """
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join([text for text, image in _pieces(content) if not image])
    return ""


def format_prompt(messages: Sequence[Mapping[str, Any]]) -> str:
    """The core's default rendering of a conversation into one prompt.

    A single message without tool calls renders as its content alone.  Otherwise each
    non-blank message renders as ``Role: content`` (role capitalised, system kept as
    ``System:``), one per line, followed by a final ``Assistant:`` line so that the model
    answers next.  An image renders as ``[image: URL]`` (``[image]`` for a ``data:`` URL);
    each tool call as a ``Tool call ID: NAME(ARGUMENTS)`` line after its assistant message;
    a tool message as ``Tool result ID (NAME): content``.
    """
    if not messages:
        raise InvalidRequestError("the conversation is empty; pass at least one message")
    if len(messages) == 1 and not messages[0].get("tool_calls"):
        return _rendered(messages[0].get("content"))
    names: Dict[str, str] = {}
    lines = []
    for message in messages:
        role = message["role"]
        text = _rendered(message.get("content"))
        if role == "tool":
            ident = message.get("tool_call_id")
            name = names.get(ident) if isinstance(ident, str) else None
            label = f"Tool result {ident} ({name})" if name else f"Tool result {ident}"
            lines.append(f"{label}: {text}".rstrip())
            continue
        if text.strip():
            lines.append(f"{role.capitalize()}: {text}")
        for call in message.get("tool_calls") or ():
            function = call["function"]
            names[call["id"]] = function["name"]
            lines.append(f"Tool call {call['id']}: {function['name']}({function['arguments']})")
    lines.append("Assistant:")
    return "\n".join(lines)


def _rendered(content: Any) -> str:
    """Content as text, images as placeholders set apart from the text by a space."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    out = ""
    after_image = False
    for piece, image in _pieces(content):
        apart = out and piece and not (out[-1].isspace() or piece[0].isspace())
        if apart and (image or after_image):
            out += " "
        out += piece
        after_image = image
    return out


def _pieces(parts: List[Any]) -> List[Tuple[str, bool]]:
    """``(text, False)`` for a text part, ``(placeholder, True)`` for an image part."""
    pieces = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            pieces.append((part["text"], False))
        elif part.get("type") == "image_url":
            pieces.append((_placeholder(part.get("image_url")), True))
    return pieces


def _placeholder(image: Any) -> str:
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str) or url[:5].lower() == "data:":
        return "[image]"
    return f"[image: {url}]"
