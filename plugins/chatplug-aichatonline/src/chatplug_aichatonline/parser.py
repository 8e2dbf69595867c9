"""The chat endpoint's NDJSON stream: text pieces at ``data.message`` (see the package
docstring for what is skipped and what is an error)."""

from __future__ import annotations

import json
from typing import Any, List, Optional

from chatplug import StreamProtocolError
from chatplug.decoders import DEFAULT_MAX_SIZE, LineDecoder

from .site import OUTDATED, PROVIDER, excerpt

__all__ = ["MessageParser"]


class MessageParser:
    """Incremental parser of the chat endpoint's NDJSON stream: bytes in, text pieces out.

    ``feed`` accepts chunks split anywhere (inside a line or a UTF-8 character);
    ``close`` must be called at the end of the stream and raises
    :class:`chatplug.StreamProtocolError` when the stream ended mid-object or carried no
    text at all.  Lines are bounded by ``max_size`` bytes.
    """

    __slots__ = ("_last_skipped", "_lines", "text_length")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._lines = LineDecoder(max_size)
        self.text_length = 0
        self._last_skipped: Optional[bytes] = None

    def feed(self, chunk: bytes) -> List[str]:
        pieces: List[str] = []
        for line in self._lines.feed(chunk):
            text = self._line(line)
            if text:
                pieces.append(text)
        return pieces

    def close(self) -> List[str]:
        pieces: List[str] = []
        tail = self._lines.close()
        if tail is not None and tail.strip():
            stripped = tail.strip()
            if stripped[:1] == b"{":
                try:
                    value = json.loads(stripped)
                except ValueError:
                    raise StreamProtocolError(
                        f"the stream ended in the middle of a JSON object: {excerpt(stripped)!r}",
                        provider=PROVIDER,
                        hint="The upstream cut the answer short; try again.",
                    ) from None
                text = self._value(value, stripped)
            else:
                text = self._line(tail)
            if text:
                pieces.append(text)
        if not self.text_length:
            detail = f" (last line: {excerpt(self._last_skipped)!r})" if self._last_skipped else ""
            raise StreamProtocolError(
                f"the stream ended without any text{detail}",
                provider=PROVIDER,
                hint="The upstream answered with nothing; try again or use another provider.",
            )
        return pieces

    def _line(self, line: bytes) -> Optional[str]:
        stripped = line.strip()
        if not stripped:
            return None
        try:
            value = json.loads(stripped)
        except ValueError:
            if stripped[:1] == b"{":
                raise StreamProtocolError(
                    f"malformed JSON object in the stream: {excerpt(stripped)!r}",
                    provider=PROVIDER,
                    hint=OUTDATED,
                ) from None
            self._last_skipped = stripped  # a keep-alive or status line: no text
            return None
        return self._value(value, stripped)

    def _value(self, value: Any, raw: bytes) -> Optional[str]:
        data = value.get("data") if isinstance(value, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        if message is None:
            self._last_skipped = raw  # a status line: no text
            return None
        if not isinstance(message, str):
            raise StreamProtocolError(
                f"data.message is a {type(message).__name__}, not a string: {excerpt(raw)!r}",
                provider=PROVIDER,
                hint=OUTDATED,
            )
        self.text_length += len(message)
        return message
