"""What ``chatplug chat`` adds to a request: images (``-a/--attach``) and structured
output (``--schema``), both checked while the command line is parsed (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import click

#: the largest image file ``--attach`` reads
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
#: the largest ``--schema @file``
MAX_SCHEMA_BYTES = 1024 * 1024
_URL_SCHEMES = ("https://", "http://", "data:")


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path``, at most ``limit`` of them (else a usage error)."""
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise click.BadParameter(f"cannot read {what} {str(path)!r}: {error.strerror}") from None
    if len(data) > limit:
        raise click.BadParameter(
            f"{str(path)!r} is larger than {limit // (1024 * 1024)} MiB, the largest {what} "
            "chatplug reads"
        )
    return data


class Attachment(click.ParamType):  # type: ignore[type-arg]  # generic in newer click
    """An image: an ``http(s)://`` (or ``data:``) URL, passed through, or a file, read into
    a ``data:`` URL with the media type its extension implies (at most 20 MiB)."""

    name = "path_or_url"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Any) -> str:
        text = str(value)
        if text[:8].lower().startswith(_URL_SCHEMES):
            return text
        import mimetypes

        path = Path(text).expanduser()
        if not path.is_file():
            self.fail(f"{text!r} is neither an image file nor an http(s) URL", param, ctx)
        media_type = mimetypes.guess_type(path.name)[0]
        if media_type is None or not media_type.startswith("image/"):
            found = f"a {media_type} file" if media_type else "a file of unknown type"
            self.fail(
                f"{text!r} is {found}, not an image; attach .png, .jpg, .gif or .webp files",
                param,
                ctx,
            )
        try:
            data = _read_bounded(path, MAX_ATTACHMENT_BYTES, "image")
        except click.BadParameter as error:
            self.fail(error.message, param, ctx)
        import base64

        return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


class Schema(click.ParamType):  # type: ignore[type-arg]
    """A JSON Schema (an object), given inline or as ``@file.json``; converted to the
    ``response_format`` that asks for it (``json_schema``).  A full ``response_format``
    (``{"type": "json_schema", "json_schema": {...}}``) is taken as it is."""

    name = "json"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Any) -> Dict[str, Any]:
        if isinstance(value, dict):
            return value
        import json

        text = str(value)
        where = "the schema"
        if text.startswith("@"):
            where = text[1:]
            try:
                raw = _read_bounded(Path(where).expanduser(), MAX_SCHEMA_BYTES, "schema")
            except click.BadParameter as error:
                self.fail(error.message, param, ctx)
            text = raw.decode("utf-8", errors="replace")
        try:
            schema = json.loads(text)
        except ValueError as error:
            self.fail(f"{where} is not valid JSON: {error}", param, ctx)
        if not isinstance(schema, dict):
            self.fail(f"{where} must be a JSON object (a JSON Schema)", param, ctx)
        if schema.get("type") == "json_schema" and isinstance(schema.get("json_schema"), dict):
            return schema
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def user_message(prompt: str, attachments: Sequence[str] = ()) -> Dict[str, Any]:
    """The user's turn: the prompt, and an ``image_url`` part per attachment."""
    if not attachments:
        return {"role": "user", "content": prompt}
    parts: List[Dict[str, Any]] = [{"type": "text", "text": prompt}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in attachments]
    return {"role": "user", "content": parts}
