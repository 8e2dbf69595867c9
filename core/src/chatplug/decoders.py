"""Incremental decoders for streamed responses, offered to plugins.

Each decoder is fed the raw byte chunks as they arrive (split anywhere, even inside a
UTF-8 character or an event) and returns what became complete.  Every line or event is
bounded (``max_size`` bytes, 1 MiB by default); past the bound a
:class:`~chatplug.StreamProtocolError` is raised instead of buffering without limit.
Call ``close()`` at the end of the stream: a stream cut in the middle of a line, event or
character is reported, not silently dropped.

The ``iter_*`` functions apply the decoders to an :class:`aiohttp.ClientResponse`.
"""

from __future__ import annotations

import codecs
import json
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, List, NamedTuple, Optional, Tuple

from .errors import StreamProtocolError

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

DEFAULT_MAX_SIZE = 1 << 20


def _too_large(what: str, size: int, bound: int) -> StreamProtocolError:
    return StreamProtocolError(
        f"a {what} of over {bound} bytes (saw {size}); refusing to buffer it"
    )


def _invalid_utf8(error: UnicodeDecodeError) -> StreamProtocolError:
    return StreamProtocolError(f"invalid UTF-8 in the stream: {error.reason}")


class Utf8Decoder:
    """Decodes UTF-8 incrementally: a character split across chunks decodes whole."""

    __slots__ = ("_decode",)

    def __init__(self) -> None:
        self._decode = codecs.getincrementaldecoder("utf-8")().decode

    def feed(self, chunk: bytes) -> str:
        try:
            return self._decode(chunk)
        except UnicodeDecodeError as error:
            raise _invalid_utf8(error) from None

    def close(self) -> str:
        try:
            return self._decode(b"", True)
        except UnicodeDecodeError:
            raise StreamProtocolError(
                "the stream ended in the middle of a UTF-8 character"
            ) from None


class LineDecoder:
    """Splits bytes into lines (``\\n`` or ``\\r\\n`` removed), each at most ``max_size``."""

    __slots__ = ("_parts", "_size", "max_size")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.max_size = max_size
        self._parts: List[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> List[bytes]:
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if not lines:  # no line ending in this chunk
            self._hold(tail)
            return lines
        if self._parts:
            self._parts.append(lines[0])
            lines[0] = b"".join(self._parts)
            self._parts = []
            self._size = 0
            if len(lines[0]) > self.max_size:
                raise _too_large("line", len(lines[0]), self.max_size)
        if len(chunk) > self.max_size:
            longest = max(map(len, lines))
            if longest > self.max_size:
                raise _too_large("line", longest, self.max_size)
        if tail:
            self._hold(tail)
        if b"\r" in chunk or lines[0][-1:] == b"\r":
            lines = [line[:-1] if line[-1:] == b"\r" else line for line in lines]
        return lines

    def _hold(self, part: bytes) -> None:
        self._size += len(part)
        if self._size > self.max_size:
            raise _too_large("line", self._size, self.max_size)
        self._parts.append(part)

    def close(self) -> Optional[bytes]:
        """The unterminated last line, or ``None`` when the stream ended on a line ending."""
        if not self._parts:
            return None
        rest = b"".join(self._parts)
        self._parts = []
        self._size = 0
        return rest.rstrip(b"\r") or None


class ServerSentEvent(NamedTuple):
    """One Server-Sent Event: its ``event`` type (default ``message``), ``data`` and ``id``."""

    event: str
    data: str
    id: Optional[str]


class SSEDecoder:
    """Parses a Server-Sent Events stream.

    :meth:`feed` returns the ``data`` of each complete event (the fast path, enough for
    most chat APIs); :meth:`feed_events` returns :class:`ServerSentEvent` tuples.  Use one
    or the other on a given decoder.  Comments, ``retry:`` and unknown fields are skipped;
    events without data are not dispatched.  ``max_size`` bounds one event's data.
    """

    __slots__ = ("_data", "_event", "_id", "_lines", "_size", "max_size")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.max_size = max_size
        self._lines = LineDecoder(max_size)
        self._data: List[bytes] = []
        self._size = 0
        self._event = ""
        self._id: Optional[str] = None

    def feed(self, chunk: bytes) -> List[str]:
        if b"\r" in chunk or len(chunk) > self.max_size:
            return self._feed_lines(chunk)
        # Fast path: split at blank lines, and take an event made of one ``data: `` line
        # whole; anything else (comments, other fields, several lines) goes line by line.
        events: List[str] = []
        if self._data or self._lines._parts:  # finish the event in progress line by line
            end = chunk.find(b"\n\n")
            if end < 0:
                return self._feed_lines(chunk)
            events = self._feed_lines(chunk[: end + 2])
            chunk = chunk[end + 2 :]
        blocks = chunk.split(b"\n\n")
        rest = blocks.pop()
        try:
            for block in blocks:
                if block[:6] == b"data: " and b"\n" not in block:
                    events.append(block[6:].decode())
                elif block:
                    events += self._feed_lines(block + b"\n\n")
        except UnicodeDecodeError as error:
            raise _invalid_utf8(error) from None
        if rest:
            events += self._feed_lines(rest)
        return events

    def _feed_lines(self, chunk: bytes) -> List[str]:
        events: List[str] = []
        data = self._data
        for line in self._lines.feed(chunk):
            if not line:
                if data:
                    events.append(self._take_data())
                    data = self._data
            elif line[:5] == b"data:":
                value = line[6:] if line[5:6] == b" " else line[5:]
                data.append(value)
                if len(data) > 1:  # one line is bounded by the line decoder already
                    self._grow(len(value) + (len(data[0]) if len(data) == 2 else 0))
        return events

    def feed_events(self, chunk: bytes) -> List[ServerSentEvent]:
        events: List[ServerSentEvent] = []
        for line in self._lines.feed(chunk):
            if not line:
                if self._data:
                    events.append(
                        ServerSentEvent(self._event or "message", self._take_data(), self._id)
                    )
                self._event = ""
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data.append(value)
                self._grow(len(value))
            elif name == b"event":
                self._event = _text(value)
            elif name == b"id":
                self._id = _text(value)
        return events

    def _grow(self, size: int) -> None:
        self._size += size
        if self._size > self.max_size:
            raise _too_large("server-sent event", self._size, self.max_size)

    def _take_data(self) -> str:
        data = self._data
        raw = data[0] if len(data) == 1 else b"\n".join(data)
        self._data = []
        self._size = 0
        return _text(raw)

    def close(self) -> List[str]:
        """End of stream: the data of a last event not followed by a blank line, if any.

        Raises :class:`StreamProtocolError` when the stream stopped in the middle of a line.
        """
        if self._lines.close() is not None:
            raise StreamProtocolError("the stream ended in the middle of a server-sent event")
        return [self._take_data()] if self._data else []


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as error:
        raise _invalid_utf8(error) from None


_scan_once: Callable[[str, int], Tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def parse_json(line: "bytes | str") -> Any:
    """``json.loads``, raising :class:`StreamProtocolError` with an excerpt on bad JSON."""
    if isinstance(line, str):
        # json.loads without its two whitespace regex matches (one chunk = one call); a
        # value with surrounding whitespace, or an error, takes the full path below.
        try:
            value, end = _scan_once(line, 0)
            if end == len(line):
                return value
        except (StopIteration, ValueError):
            pass
    try:
        return json.loads(line)
    except ValueError:
        raise _malformed_json(line) from None


async def iter_text(response: "aiohttp.ClientResponse") -> AsyncIterator[str]:
    """The response body as text pieces, as the bytes arrive (no waiting for newlines)."""
    decoder = Utf8Decoder()
    async for chunk in response.content.iter_any():
        text = decoder.feed(chunk)
        if text:
            yield text
    text = decoder.close()
    if text:
        yield text


async def iter_lines(
    response: "aiohttp.ClientResponse", *, max_size: int = DEFAULT_MAX_SIZE
) -> AsyncIterator[str]:
    """The response body line by line (endings removed); a cut-off last line is an error."""
    decoder = LineDecoder(max_size)
    async for chunk in response.content.iter_any():
        for line in decoder.feed(chunk):
            yield _text(line)
    if decoder.close() is not None:
        raise StreamProtocolError("the stream ended in the middle of a line")


async def iter_sse(
    response: "aiohttp.ClientResponse", *, max_size: int = DEFAULT_MAX_SIZE
) -> AsyncIterator[str]:
    """The ``data`` of each Server-Sent Event of the response."""
    decoder = SSEDecoder(max_size)
    async for chunk in response.content.iter_any():
        for data in decoder.feed(chunk):
            yield data
    for data in decoder.close():
        yield data


async def iter_sse_events(
    response: "aiohttp.ClientResponse", *, max_size: int = DEFAULT_MAX_SIZE
) -> AsyncIterator[ServerSentEvent]:
    """Each Server-Sent Event of the response, with its type and id."""
    decoder = SSEDecoder(max_size)
    async for chunk in response.content.iter_any():
        for event in decoder.feed_events(chunk):
            yield event
    for data in decoder.close():
        yield ServerSentEvent(decoder._event or "message", data, decoder._id)


async def iter_ndjson(
    response: "aiohttp.ClientResponse",
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    skip_invalid: bool = False,
) -> AsyncIterator[Any]:
    """One parsed JSON value per non-blank line.

    Invalid lines raise :class:`StreamProtocolError`, or are skipped with
    ``skip_invalid=True`` (for protocols that interleave keep-alive or status lines).
    A last line without a line ending is accepted when it parses; a stream cut in the
    middle of a JSON value is always an error.
    """
    decoder = LineDecoder(max_size)
    async for chunk in response.content.iter_any():
        for line in decoder.feed(chunk):
            value = _ndjson_value(line, skip_invalid)
            if value is not _SKIP:
                yield value
    rest = decoder.close()
    if rest is not None and rest.strip():
        try:
            value = json.loads(rest)
        except ValueError:
            raise StreamProtocolError(
                "the stream ended in the middle of a JSON line (truncated)"
            ) from None
        yield value


_SKIP = object()


def _ndjson_value(line: bytes, skip_invalid: bool) -> Any:
    """The parsed line, or ``_SKIP`` for a blank (or skippable invalid) line."""
    if not line.strip():
        return _SKIP
    try:
        return json.loads(line)
    except ValueError:
        if skip_invalid:
            return _SKIP
        raise _malformed_json(line) from None


def _malformed_json(line: "bytes | str") -> StreamProtocolError:
    excerpt = line[:80] if isinstance(line, str) else line[:80].decode(errors="replace")
    return StreamProtocolError(f"malformed JSON in the stream: {excerpt!r}")
