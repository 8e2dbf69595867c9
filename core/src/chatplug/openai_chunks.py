"""An incremental parser of OpenAI-style ``chat.completion.chunk`` streams (contract 0.2).

Many upstreams stream their answer as OpenAI does: Server-Sent Events whose ``data`` is a
``chat.completion.chunk`` JSON object, ended by ``data: [DONE]``.  :class:`ChatChunkParser`
turns such a stream, fed in network chunks split anywhere, into what ``stream_completion``
yields::

    async with open_stream(session, request, "POST", url, json=payload) as response:
        async for item in iter_chat_chunks(response, provider=request.provider):
            yield item

Each chunk gives, in this order:

- :class:`~chatplug.events.ResponseMetadata` (``id``, ``model``) once, from the first
  chunk that carries either;
- :class:`~chatplug.events.ReasoningDelta` from ``delta.reasoning_content`` or
  ``delta.reasoning``;
- the text of ``delta.content`` (and of ``delta.refusal``) as a bare ``str``;
- :class:`~chatplug.events.ToolCallDelta` from ``delta.tool_calls[]`` (``index``, ``id``,
  ``function.name``, ``function.arguments``) and the legacy ``delta.function_call``;
- :class:`~chatplug.events.Usage` from ``usage`` (``prompt_tokens``,
  ``completion_tokens``, ``prompt_tokens_details.cached_tokens``,
  ``completion_tokens_details.reasoning_tokens``), each time it changes.

``finish_reason`` becomes one :class:`~chatplug.events.Finish` (:func:`finish_from`),
given at ``[DONE]`` so that whatever the upstream sends after it (usually the usage chunk)
cannot break the rule "nothing but usage and metadata after the finish".  Only the first
choice is read (chatplug never asks for ``n > 1``).

The parser is strict, as a plugin must be: malformed JSON, a chunk of the wrong shape or a
stream that ends before ``[DONE]`` raise :class:`~chatplug.StreamProtocolError` (never
skipped), and an ``{"error": ...}`` object in the stream raises the matching typed error
(:func:`chunk_error`).  An error is raised after the items that preceded it in the same
network chunk were returned.  It is lenient where real servers differ harmlessly: a
tool call without ``index`` or ``id`` gets one, repeated ids and names are dropped from
later fragments, object ``arguments`` are serialized to JSON.

The plain text chunk (``{"choices": [{"delta": {"content": "..."}}]}``) takes a fast path:
one JSON scan and four lookups, no object created but the ``str`` itself.
"""

from __future__ import annotations

import json
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Tuple,
)

from .decoders import DEFAULT_MAX_SIZE, SSEDecoder
from .errors import StreamProtocolError, UpstreamError
from .events import (
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    StreamItem,
    ToolCallDelta,
    Usage,
)
from .http import redact
from .openai_errors import chunk_error, error_fields

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__all__ = [
    "DONE",
    "FINISH_REASONS",
    "ChatChunkParser",
    "chunk_error",
    "error_fields",
    "finish_from",
    "iter_chat_chunks",
    "usage_from",
]

#: the end marker of the stream
DONE = "[DONE]"
#: OpenAI's finish reasons and their normalized :class:`Finish` reason; any other is
#: ``other`` (the upstream's own value stays in ``Finish.raw``)
FINISH_REASONS: Mapping[str, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
#: bytes of a body that is not an event stream quoted in the error; of a chunk in others
EXCERPT = 120
SHORT_EXCERPT = 80

_scan_once: Callable[[str, int], Tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def finish_from(raw: Any) -> Finish:
    """The :class:`Finish` for an OpenAI ``finish_reason`` (see :data:`FINISH_REASONS`)."""
    return Finish(FINISH_REASONS.get(raw, "other") if isinstance(raw, str) else "other", raw)


def usage_from(usage: Any) -> Optional[Usage]:
    """The :class:`Usage` of an OpenAI ``usage`` object, or ``None`` when it has no token
    counts (``null``, ``{}``, only ``total_tokens``).

    Raises :class:`StreamProtocolError` when a count is there but not a non-negative integer.
    """
    if not isinstance(usage, dict):
        if usage is None:
            return None
        raise StreamProtocolError(f"usage is a {type(usage).__name__}, not an object")
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    if prompt is None and completion is None:
        return None
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    return Usage(
        _count(0 if prompt is None else prompt, "prompt_tokens"),
        _count(0 if completion is None else completion, "completion_tokens"),
        _detail(prompt_details, "cached_tokens"),
        _detail(completion_details, "reasoning_tokens"),
        usage,
    )


def _count(value: Any, name: str) -> int:
    if type(value) is not int or value < 0:
        raise StreamProtocolError(f"usage.{name} is {value!r}, not a non-negative integer")
    return value


def _detail(details: Any, name: str) -> Optional[int]:
    value = details.get(name) if isinstance(details, dict) else None
    return None if value is None else _count(value, name)


class ChatChunkParser:
    """Parses an OpenAI-style ``chat.completion.chunk`` stream into contract-0.2 items.

    :meth:`feed` takes the raw network chunks (split anywhere) and returns the items that
    became complete; :meth:`feed_data` takes the ``data`` of one server-sent event instead
    (from your own :class:`~chatplug.decoders.SSEDecoder`).  ``done`` turns true at
    ``data: [DONE]``; what follows is ignored.  :meth:`close`, at the end of the body,
    raises :class:`StreamProtocolError` when ``[DONE]`` never came (a truncated stream is
    not a complete answer).

    ``provider`` names the provider in errors; ``secret`` (an API key) is replaced by
    ``[redacted]`` wherever the stream would quote it in an error.  After the stream,
    ``finish``, ``usage`` and ``metadata`` hold the last of each (or ``None``), and
    ``has_text`` says whether any text came.
    """

    __slots__ = (
        "_calls",
        "_decoder",
        "_error",
        "_ids",
        "_last",
        "_meta",
        "_pending",
        "_seen",
        "_start",
        "done",
        "finish",
        "has_text",
        "metadata",
        "provider",
        "secret",
        "usage",
    )

    def __init__(
        self,
        provider: Optional[str] = None,
        *,
        secret: Optional[str] = None,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        self.provider = provider
        self.secret = secret
        self.done = False
        self.finish: Optional[Finish] = None
        self.usage: Optional[Usage] = None
        self.metadata: Optional[ResponseMetadata] = None
        self.has_text = False
        self._decoder = SSEDecoder(max_size)
        self._error: Optional[UpstreamError] = None
        self._meta = False  # ResponseMetadata given (chunks are checked for it until then)
        self._pending: Optional[Finish] = None  # the finish, given at [DONE]
        self._calls: Dict[int, str] = {}  # tool call index -> its id
        self._ids: Dict[str, int] = {}  # tool call id -> its index
        self._last = -1  # the index of the last tool call fragment
        self._seen = False  # any event at all (else the body is not an event stream)
        self._start = b""  # the body's first bytes, quoted when it is not an event stream

    def feed(self, chunk: bytes) -> List[StreamItem]:
        """The items completed by ``chunk`` (raw bytes of the response body)."""
        if self._error is not None:
            raise self._error
        if self.done:
            return []
        if not self._seen and len(self._start) < EXCERPT:
            self._start += chunk[: EXCERPT - len(self._start)]
        try:
            datas = self._decoder.feed(chunk)
        except UpstreamError as error:
            raise self._owned(error) from None
        return self._parse(datas) if datas else []

    def feed_data(self, data: str) -> List[StreamItem]:
        """The items of one server-sent event's ``data``."""
        if self._error is not None:
            raise self._error
        if self.done:
            return []
        return self._parse((data,))

    def close(self) -> List[StreamItem]:
        """End of the body: the last items, or the error that ended the stream."""
        if self._error is not None:
            raise self._error
        if self.done:
            return []
        try:
            rest = self._decoder.close()
        except StreamProtocolError as error:
            if not self._seen:
                raise self._not_an_event_stream() from None
            raise self._owned(error) from None
        items = self._parse(rest) if rest else []
        if self._error is not None:
            raise self._error
        if not self.done:
            if not self._seen:
                raise self._not_an_event_stream()
            raise StreamProtocolError(
                "the stream ended without 'data: [DONE]' (truncated)", provider=self.provider
            )
        return items

    # --- parsing ----------------------------------------------------------------------

    def _parse(self, datas: Iterable[str]) -> List[StreamItem]:
        items: List[StreamItem] = []
        self._seen = True
        scan = _scan_once
        meta = self._meta
        try:
            for data in datas:
                if data == DONE:
                    self._end(items)
                    break
                try:
                    value, end = scan(data, 0)
                except (StopIteration, ValueError):
                    value = self._json(data)  # leading whitespace, or malformed
                else:
                    if end != len(data):  # trailing whitespace, or trailing garbage
                        value = self._json(data)
                    try:  # the fast path: a chunk with text and nothing else
                        choice = value["choices"][0]
                        delta = choice["delta"]
                        content = delta["content"]
                        if (
                            type(content) is str
                            and len(delta) == 1
                            and choice.get("finish_reason") is None
                            and value.get("usage") is None
                            and (meta or ("id" not in value and "model" not in value))
                        ):
                            if content:
                                items.append(content)
                            continue
                    except (LookupError, TypeError, AttributeError):
                        pass
                self._chunk(value, data, items)
                meta = self._meta
        except UpstreamError as error:
            self._owned(error)
            if not items:
                raise
            self._error = error  # raised at the next call, once the items before it are out
        if items and not self.has_text:
            self.has_text = any(type(item) is str for item in items)
        return items

    def _end(self, items: List[StreamItem]) -> None:
        self.done = True
        if self._pending is not None:
            items.append(self._pending)
            self.finish, self._pending = self._pending, None

    def _json(self, data: str) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            raise StreamProtocolError(
                f"malformed JSON in the stream: {self._excerpt(data)!r}"
            ) from None

    def _chunk(self, value: Any, data: str, items: List[StreamItem]) -> None:
        """Every item of one parsed chunk (the slow path, with every check)."""
        if not isinstance(value, dict):
            raise self._unexpected("not a JSON object", data)
        error = value.get("error")
        if error is not None:
            raise chunk_error(error, self.provider, self.secret)
        if not self._meta:
            chunk_id, model = value.get("id"), value.get("model")
            if chunk_id is not None or model is not None:
                self._meta = True
                self.metadata = ResponseMetadata(
                    chunk_id if isinstance(chunk_id, str) else None,
                    model if isinstance(model, str) else None,
                )
                items.append(self.metadata)
        choices = value.get("choices")
        usage = value.get("usage")
        if choices:
            if not isinstance(choices, list) or not isinstance(choices[0], dict):
                raise self._unexpected("malformed choices", data)
            self._choice(choices[0], data, items)
        elif choices is None and usage is None:
            raise self._unexpected("no choices", data)
        elif not isinstance(choices, (list, type(None))):
            raise self._unexpected("malformed choices", data)
        if usage is not None:
            try:
                counted = usage_from(usage)
            except StreamProtocolError as problem:
                raise self._unexpected(problem.message, data) from None
            if counted is not None and counted != self.usage:
                self.usage = counted
                items.append(counted)

    def _choice(self, choice: Dict[str, Any], data: str, items: List[StreamItem]) -> None:
        delta = choice.get("delta")
        if delta is not None:
            if not isinstance(delta, dict):
                raise self._unexpected("malformed delta", data)
            reasoning = delta.get("reasoning_content")
            if reasoning is None:
                reasoning = delta.get("reasoning")
            if reasoning is not None:
                if not isinstance(reasoning, str):
                    raise self._unexpected("non-text reasoning", data)
                if reasoning:
                    items.append(ReasoningDelta(reasoning))
            for name in ("content", "refusal"):
                text = delta.get(name)
                if text is not None:
                    if not isinstance(text, str):
                        raise self._unexpected(f"non-text {name}", data)
                    if text:
                        items.append(text)
            calls = delta.get("tool_calls")
            if calls is not None:
                if not isinstance(calls, list):
                    raise self._unexpected("malformed tool_calls", data)
                for call in calls:
                    self._tool_call(call, data, items)
            legacy = delta.get("function_call")
            if legacy is not None:
                self._tool_call({"index": 0, "function": legacy}, data, items)
        reason = choice.get("finish_reason")
        if reason is not None and self._pending is None and self.finish is None:
            self._pending = finish_from(reason)

    def _tool_call(self, call: Any, data: str, items: List[StreamItem]) -> None:
        function = call.get("function", {}) if isinstance(call, dict) else None
        if not isinstance(function, dict) and function is not None:
            function = None
        if not isinstance(call, dict) or function is None:
            raise self._unexpected("malformed tool call", data)
        call_id, name = call.get("id") or None, function.get("name") or None
        if not isinstance(call_id, (str, type(None))) or not isinstance(name, (str, type(None))):
            raise self._unexpected("malformed tool call", data)
        arguments = function.get("arguments")
        if arguments is None:
            arguments = ""
        elif not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        index = self._last = self._call_index(call.get("index"), call_id)
        if index in self._calls:  # a later fragment: arguments only
            if arguments:
                items.append(ToolCallDelta(index, None, None, arguments))
            return
        if name is None:
            raise self._unexpected("a tool call without a function name", data)
        call_id = call_id or f"call_{index}"
        self._calls[index] = call_id
        self._ids[call_id] = index
        items.append(ToolCallDelta(index, call_id, name, arguments))

    def _call_index(self, index: Any, call_id: Optional[str]) -> int:
        """The call's index: its own, unless it is missing or taken by another call."""
        calls = self._calls
        if (
            type(index) is int
            and index >= 0
            and (index not in calls or call_id is None or call_id == calls[index])
        ):
            return index
        if call_id is not None:
            known = self._ids.get(call_id)
            return known if known is not None else max(calls, default=-1) + 1
        return self._last if calls else 0

    # --- errors -----------------------------------------------------------------------

    def _owned(self, error: UpstreamError) -> UpstreamError:
        if error.provider is None:
            error.provider = self.provider
        return error

    def _excerpt(self, data: str) -> str:
        return redact(data[:SHORT_EXCERPT], self.secret)

    def _unexpected(self, problem: str, data: str) -> StreamProtocolError:
        return StreamProtocolError(
            f"unexpected chunk in the stream ({problem}): {self._excerpt(data)!r}"
        )

    def _not_an_event_stream(self) -> StreamProtocolError:
        excerpt = redact(self._start.decode(errors="replace"), self.secret)
        return StreamProtocolError(
            f"the response is not a server-sent event stream; it starts with {excerpt!r}",
            provider=self.provider,
        )


async def iter_chat_chunks(
    response: "aiohttp.ClientResponse",
    *,
    provider: Optional[str] = None,
    secret: Optional[str] = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> AsyncIterator[StreamItem]:
    """The items of an OpenAI-style chunk stream (see :class:`ChatChunkParser`).

    Stops at ``[DONE]`` (:func:`chatplug.open_stream` reads the rest of the body when the
    block exits); raises :class:`StreamProtocolError` when the body ends before it.
    """
    parser = ChatChunkParser(provider, secret=secret, max_size=max_size)
    async for chunk in response.content.iter_any():
        for item in parser.feed(chunk):
            yield item
        if parser.done:
            return
    for item in parser.close():
        yield item
