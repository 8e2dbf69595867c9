"""Checking a message's content: text, content parts and image URLs.

Every error names the offending field the way a client wrote it, e.g.
``messages[0].content[1].image_url.url``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping  # isinstance: typing's aliases are slower
from typing import Any, Dict, List, Union

from ..errors import InvalidRequestError

#: what a validated ``content`` is: a string, or (only with an image) a list of parts
Content = Union[str, List[Dict[str, Any]]]

PART_TYPES = ("text", "image_url")
DETAILS = frozenset({"auto", "low", "high"})
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_EXCERPT = 60


def kind(value: Any) -> str:
    """A value's JSON-ish type name for error messages (``None`` is ``null``)."""
    return "null" if value is None else type(value).__name__


def excerpt(text: str) -> str:
    return repr(text if len(text) <= _EXCERPT else text[:_EXCERPT] + "...")


def check_text(where: str, text: str) -> None:
    """Lone surrogates (undecodable input bytes, via ``surrogateescape``) cannot be sent."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidRequestError(
            f"{where} is not valid Unicode text: {text[error.start]!r} at position "
            f"{error.start} is a lone surrogate (undecodable input bytes?)",
            hint="Decode the input as UTF-8 (or convert it from its real encoding) first.",
        ) from None


def required_text(where: str, value: Any) -> str:
    """A non-empty string (an id, a name), or an error naming ``where``."""
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{where} must be a non-empty string, not {kind(value)}")
    check_text(where, value)
    return value


def content(where: str, value: Any, *, images: bool) -> Content:
    """A message's content: a string, text parts joined, or parts with an image kept.

    ``where`` names the message (``messages[2]``); ``images`` whether its role may carry
    images (user messages only).
    """
    if isinstance(value, str):
        check_text(f"{where}.content", value)
        return value
    if isinstance(value, list):
        return _parts(f"{where}.content", value, images)
    raise InvalidRequestError(
        f"{where}.content must be a string or a list of content parts, not {kind(value)}"
    )


def _parts(where: str, parts: List[Any], images: bool) -> Content:
    normal: List[Dict[str, Any]] = []
    has_image = False
    for position, part in enumerate(parts):
        at = f"{where}[{position}]"
        if not isinstance(part, Mapping):
            raise InvalidRequestError(f"{at} must be a content part (a dict), not {kind(part)}")
        part_type = part.get("type")
        if part_type == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidRequestError(f"{at}.text must be a string, not {kind(text)}")
            check_text(f"{at}.text", text)
            normal.append({"type": "text", "text": text})
        elif part_type == "image_url":
            if not images:
                raise InvalidRequestError(
                    f"{at} is an image part; images are accepted in user messages only"
                )
            normal.append({"type": "image_url", "image_url": _image(at, part.get("image_url"))})
            has_image = True
        else:
            accepted = " and ".join(repr(name) for name in PART_TYPES)
            found = "has no 'type'" if part_type is None else f"has type {part_type!r}"
            raise InvalidRequestError(
                f"{at} {found}; chatplug accepts {accepted} content parts only"
            )
    if has_image:
        return normal
    return "".join([part["text"] for part in normal])


def _image(at: str, value: Any) -> Dict[str, str]:
    where = f"{at}.image_url"
    url: Any = value
    detail: Any = "auto"
    if isinstance(value, Mapping):
        url, detail = value.get("url"), value.get("detail")
        if detail is None:
            detail = "auto"
        elif not (isinstance(detail, str) and detail in DETAILS):
            raise InvalidRequestError(
                f"{where}.detail must be 'auto', 'low' or 'high', not {detail!r}"
            )
        where = f"{where}.url"
        if not isinstance(url, str):
            raise InvalidRequestError(f"{where} must be a string, not {kind(url)}")
    elif not isinstance(value, str):
        raise InvalidRequestError(
            f"{where} must be a URL string or a {{'url': ..., 'detail': ...}} dict, "
            f"not {kind(value)}"
        )
    check_image_url(where, url)
    return {"url": url, "detail": detail}


def check_image_url(where: str, url: str) -> None:
    """``data:image/<type>;base64,<data>`` (checked cheaply) or an ``http(s)://`` URL."""
    if url[:5].lower() == "data:":
        _check_data_url(where, url)
        return
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        raise InvalidRequestError(
            f"{where} must be an http(s) URL or a data:image/...;base64,... URL, not {excerpt(url)}"
        )


def _check_data_url(where: str, url: str) -> None:
    header, comma, data = url[5:].partition(",")
    media_type, *parameters = header.split(";")
    if not comma:
        problem = "has no ',' before its data"
    elif not (media_type[:6].lower() == "image/" and len(media_type) > 6):
        problem = f"holds {media_type or 'no media type'!r}, not an image (image/png, ...)"
    elif not parameters or parameters[-1].lower() != "base64":
        problem = "is not base64-encoded (expected data:image/...;base64,...)"
    elif not data or len(data) % 4 or not _BASE64.fullmatch(data):
        problem = "does not hold valid base64 data"
    else:
        return
    raise InvalidRequestError(f"{where} is a data URL that {problem}")
