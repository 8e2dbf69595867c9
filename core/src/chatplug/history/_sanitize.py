"""What may be written to the logs: secrets masked, images as references, plain JSON.

Nothing here touches the database; the store calls these on every exchange it writes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence

MASK = "***"

#: whole words of an option name that mark its value as a secret
_SECRET_WORDS = frozenset(
    {"auth", "authorization", "bearer", "cookie", "credential", "credentials", "passphrase"}
)
#: word endings that mark a secret (``api_key``, ``apikey``, ``accessToken``; not ``max_tokens``)
_SECRET_ENDINGS = ("key", "token", "secret", "password", "passwd")
_WORD = re.compile(r"[^a-z0-9]+")
_DATA_URL = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*),", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether an option called ``name`` probably holds a secret (a key, token, password...).

    ``api_key``, ``x-api-key``, ``apiKey``, ``access_token``, ``client_secret``,
    ``Authorization`` are secrets; ``max_tokens``, ``top_k``, ``temperature`` are not.
    """
    for word in _WORD.split(name.lower()):
        if word in _SECRET_WORDS or (word and word.endswith(_SECRET_ENDINGS)):
            return True
    return False


def mask_secrets(value: Any) -> Any:
    """A JSON-ready copy of ``value`` in which every secret-named key's value is ``***``."""
    value = jsonable(value)
    if isinstance(value, dict):
        return {
            key: MASK if is_secret_name(str(key)) and item is not None else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: mappings, dataclasses, named tuples, sequences.

    Anything else that JSON cannot hold becomes its ``str()``.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if hasattr(value, "_asdict"):
        return jsonable(value._asdict())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(item) for item in value]
    if hasattr(value, "value") and isinstance(value.value, str):  # an enum member
        return value.value
    return str(value)


def image_ref(url: str) -> Optional[Dict[str, Any]]:
    """The reference stored instead of a ``data:`` URL, or ``None`` for any other string.

    ``{"type": "image_ref", "sha256": ..., "media_type": ..., "bytes": N}``: the hash and
    size of the decoded data, so that the same image can be recognised, never its bytes.
    """
    match = _DATA_URL.match(url) if url[:5].lower() == "data:" else None
    if match is None:
        return None
    payload = url[match.end() :]
    data: bytes
    if ";base64" in match.group(2).lower():
        try:
            data = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            data = payload.encode("utf-8", "surrogatepass")
    else:
        from urllib.parse import unquote_to_bytes

        data = unquote_to_bytes(payload)
    return {
        "type": "image_ref",
        "sha256": hashlib.sha256(data).hexdigest(),
        "media_type": match.group(1).lower() or "text/plain",
        "bytes": len(data),
    }


def without_inline_data(value: Any) -> Any:
    """``value`` (messages, JSON-ready) with every ``data:`` URL replaced by its reference.

    An ``image_url`` content part with a ``data:`` URL becomes an ``image_ref`` part; a
    ``data:`` URL anywhere else becomes the reference object in place of the string.
    """
    if isinstance(value, str):
        ref = image_ref(value)
        return value if ref is None else ref
    if isinstance(value, list):
        return [without_inline_data(item) for item in value]
    if isinstance(value, dict):
        if value.get("type") == "image_url":
            image = value.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            ref = image_ref(url) if isinstance(url, str) else None
            if ref is not None:
                return ref
        return {key: without_inline_data(item) for key, item in value.items()}
    return value


def clean_messages(messages: Any) -> List[Dict[str, Any]]:
    """Messages as stored: JSON-ready dicts, a plain string as one user message, no images."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    cleaned = without_inline_data(jsonable(list(messages)))
    return [item if isinstance(item, dict) else {"content": item} for item in cleaned]


def message_text(message: Mapping[str, Any]) -> str:
    """The text of one message: its string content, or its text parts joined."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return ""


def prompt_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """What search looks for as "the prompt": the text of the user messages."""
    return "\n".join(message_text(m) for m in messages if m.get("role") == "user")


def field_of(item: Any, *names: str) -> Any:
    """The first of ``names`` that ``item`` (a mapping or an object) has and is not None."""
    for name in names:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if value is not None:
            return value
    return None


def tool_call(item: Any) -> Dict[str, Any]:
    """One tool call in OpenAI's shape: ``{"id", "type": "function", "function": {...}}``.

    Accepts that shape, or any mapping or object with ``id``, ``name`` and ``arguments``.
    """
    function = field_of(item, "function")
    if function is None:
        function = {"name": field_of(item, "name"), "arguments": field_of(item, "arguments")}
    function = jsonable(function)
    arguments = function.get("arguments") if isinstance(function, dict) else None
    if isinstance(function, dict) and not isinstance(arguments, str):
        function["arguments"] = "" if arguments is None else json.dumps(arguments)
    return {
        "id": field_of(item, "id"),
        "type": field_of(item, "type") or "function",
        "function": function,
    }
