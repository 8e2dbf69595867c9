"""Gemini's answer: the ``alt=sse`` stream of ``GenerateContentResponse`` objects, and errors.

Each Server-Sent Event holds one ``GenerateContentResponse``.  :class:`StreamParser` turns
them into contract-0.2 stream items: text as ``str``, ``thought`` parts as
:class:`~chatplug.events.ReasoningDelta`, each (whole) ``functionCall`` part as one
:class:`~chatplug.events.ToolCallDelta`, ``finishReason`` (or ``promptFeedback.blockReason``)
as :class:`~chatplug.events.Finish`, ``usageMetadata`` as :class:`~chatplug.events.Usage`,
``responseId``/``modelVersion`` as :class:`~chatplug.events.ResponseMetadata`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from chatplug import (
    AuthenticationError,
    RateLimitedError,
    SSEDecoder,
    StreamProtocolError,
    UpstreamError,
    UpstreamHTTPError,
)
from chatplug.decoders import parse_json
from chatplug.events import (
    CONTENT_FILTER,
    ERROR,
    LENGTH,
    OTHER,
    STOP,
    TOOL_CALLS,
    Finish,
    ReasoningDelta,
    ResponseMetadata,
    StreamItem,
    ToolCallDelta,
    Usage,
)
from chatplug.http import parse_retry_after, redact
from chatplug.openai_errors import error_fields
from chatplug.parsing import EventParser

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

#: Gemini's ``finishReason`` → the normalized finish reason (anything else: ``other``)
FINISH_REASONS: Dict[str, str] = {
    "STOP": STOP,
    "MAX_TOKENS": LENGTH,
    "SAFETY": CONTENT_FILTER,
    "RECITATION": CONTENT_FILTER,
    "BLOCKLIST": CONTENT_FILTER,
    "PROHIBITED_CONTENT": CONTENT_FILTER,
    "SPII": CONTENT_FILTER,
    "IMAGE_SAFETY": CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": CONTENT_FILTER,
    "IMAGE_RECITATION": CONTENT_FILTER,
    "MALFORMED_FUNCTION_CALL": ERROR,
    "UNEXPECTED_TOOL_CALL": ERROR,
    "TOO_MANY_TOOL_CALLS": ERROR,
}
ERROR_BODY_LIMIT = 64 * 1024
_RETRY_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def finish_of(raw: str, called: bool) -> Finish:
    """The :class:`Finish` for a ``finishReason``: ``STOP`` after function calls is
    ``tool_calls``."""
    reason = FINISH_REASONS.get(raw, OTHER)
    if reason == STOP and called:
        reason = TOOL_CALLS
    return Finish(reason, raw=raw)


def usage_of(metadata: Mapping[str, Any]) -> Usage:
    """:class:`Usage` from ``usageMetadata``: output counts the thoughts too."""
    prompt = _count(metadata, "promptTokenCount") + _count(metadata, "toolUsePromptTokenCount")
    thoughts = metadata.get("thoughtsTokenCount")
    cached = metadata.get("cachedContentTokenCount")
    output = _count(metadata, "candidatesTokenCount") + _count(metadata, "thoughtsTokenCount")
    return Usage(
        prompt,
        output,
        cached_input_tokens=None if cached is None else _count(metadata, "cachedContentTokenCount"),
        reasoning_tokens=None if thoughts is None else _count(metadata, "thoughtsTokenCount"),
        raw=metadata,
    )


def _count(metadata: Mapping[str, Any], name: str) -> int:
    value = metadata.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StreamProtocolError(f"usageMetadata.{name} is not a token count: {value!r}")
    return value


class StreamParser(EventParser):
    """Parses Gemini's ``alt=sse`` stream fed in arbitrary byte pieces.

    :meth:`feed` returns the stream items that became complete; :meth:`close` (at the end
    of the response) returns the last ones and raises :class:`StreamProtocolError` when the
    stream ended without a ``finishReason``.  An ``{"error": ...}`` event raises the matching
    typed error, after the items that came before it.  ``single_call`` keeps only the first
    function call (``parallel_tool_calls=False``).
    """

    __slots__ = (
        "_key",
        "_sse",
        "_usage",
        "_usage_sent",
        "calls",
        "finish",
        "metadata",
        "single_call",
    )

    def __init__(
        self, provider: str = "gemini", key: Optional[str] = None, *, single_call: bool = False
    ) -> None:
        super().__init__(provider)
        self.single_call = single_call
        self.finish: Optional[Finish] = None
        self.metadata: Optional[ResponseMetadata] = None
        self.calls = 0
        self._sse = SSEDecoder()
        self._key = key
        self._usage: Optional[Mapping[str, Any]] = None
        self._usage_sent: Optional[Mapping[str, Any]] = None

    def frames(self, chunk: bytes) -> List[str]:
        return self._sse.feed(chunk)

    def close(self) -> List[StreamItem]:
        """End of the response: it must have said why the answer ended."""
        self.raise_pending()
        items: List[StreamItem] = []
        for data in self._sse.close():  # a last event without its blank line
            self.event(data, items)
        if self.finish is None:
            raise StreamProtocolError(
                "the stream ended without a finishReason (truncated)", provider=self.provider
            )
        return items

    def event(self, data: str, items: List[StreamItem]) -> None:
        try:
            response = parse_json(data)
        except StreamProtocolError:
            raise StreamProtocolError(
                f"malformed JSON in the stream: {redact(data[:80], self._key)!r}",
                provider=self.provider,
            ) from None
        try:
            self._response(response, items)
        except (AttributeError, TypeError, KeyError, IndexError):  # not a dict where one belongs
            raise StreamProtocolError(
                f"unexpected object in the stream: {redact(data[:80], self._key)!r}",
                provider=self.provider,
            ) from None

    def _response(self, response: Dict[str, Any], items: List[StreamItem]) -> None:
        if "error" in response:
            raise stream_error(response["error"], self.provider, self._key)
        if self.metadata is None:
            ident, model = response.get("responseId"), response.get("modelVersion")
            if ident or model:
                self.metadata = ResponseMetadata(ident, model)
                items.append(self.metadata)
        candidates = response.get("candidates")
        if candidates:
            candidate = candidates[0]
            content = candidate.get("content")
            parts = content.get("parts") if content else None
            if parts:
                said = len(items)
                for part in parts:
                    self._part(part, items)
                if self.finish is not None and len(items) > said:
                    raise StreamProtocolError(
                        "content after the finishReason", provider=self.provider
                    )
            reason = candidate.get("finishReason")
            if reason and self.finish is None:
                self.finish = finish_of(reason, self.calls > 0)
                items.append(self.finish)
        else:
            feedback = response.get("promptFeedback")
            blocked = feedback.get("blockReason") if feedback else None
            if blocked and self.finish is None:
                self.finish = Finish(CONTENT_FILTER, raw=blocked)
                items.append(self.finish)
        usage = response.get("usageMetadata")
        if usage:
            self._usage = usage
        if self.finish is not None and self._usage is not None and self._usage != self._usage_sent:
            items.append(usage_of(self._usage))
            self._usage_sent = self._usage

    def _part(self, part: Dict[str, Any], items: List[StreamItem]) -> None:
        text = part.get("text")
        signature = part.get("thoughtSignature")
        if part.get("thought"):
            metadata = {"thoughtSignature": signature} if signature else None
            items.append(ReasoningDelta(_text(text, self.provider), metadata=metadata))
            return
        call = part.get("functionCall")
        if call is not None and self.single_call and self.calls:
            call = signature = None  # parallel_tool_calls=False: only the first call
        call_id = (call.get("id") or f"call_{self.calls}") if call is not None else None
        if signature:  # the signature of the thoughts behind this part (and of this call)
            metadata = {"thoughtSignature": signature}
            if call_id is not None:
                metadata["toolCallId"] = call_id
            items.append(ReasoningDelta("", redacted=True, metadata=metadata))
        if text:
            items.append(_text(text, self.provider))
        if call is not None and call_id is not None:
            arguments = json.dumps(call.get("args") or {}, ensure_ascii=False)
            items.append(ToolCallDelta(self.calls, call_id, call["name"], arguments))
            self.calls += 1


def _text(text: Any, provider: Optional[str]) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise StreamProtocolError(f"a part's text is not a string: {text!r}", provider=provider)
    return text


# --- errors ------------------------------------------------------------------------


def _retry_delay(fields: Mapping[str, Any]) -> Optional[float]:
    """``RetryInfo.retryDelay`` (``"27s"``) from a Google error's ``details``."""
    for detail in fields.get("details") or ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _RETRY_DELAY.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _key_invalid(fields: Mapping[str, Any]) -> bool:
    return any(
        isinstance(detail, dict) and detail.get("reason") == "API_KEY_INVALID"
        for detail in fields.get("details") or ()
    )


def google_error(
    fields: Mapping[str, Any],
    provider: Optional[str],
    *,
    status: Optional[int],
    prefix: str,
    retry_after: Optional[float] = None,
    auth_hint: str = "Check the provider's API key.",
) -> UpstreamError:
    """The typed error for a Google error object (``{"code", "message", "status"}``)."""
    message = str(fields.get("message") or "unknown error").strip()
    kind = str(fields.get("status") or "")
    code = fields.get("code")
    if status is None and isinstance(code, int) and 400 <= code < 600:
        status = code
    text = f"{prefix} ({kind})" if kind else prefix  # the HTTP errors add ": <body>"
    if status == 429 or kind == "RESOURCE_EXHAUSTED":
        return RateLimitedError(
            text,
            status=status or 429,
            body=message,
            provider=provider,
            retry_after=retry_after if retry_after is not None else _retry_delay(fields),
            hint="Wait and retry, or use another provider (Gemini quotas are per minute and day).",
        )
    if (
        status in (401, 403)
        or kind in ("UNAUTHENTICATED", "PERMISSION_DENIED")
        or _key_invalid(fields)
    ):
        return AuthenticationError(
            text, status=status or 401, body=message, provider=provider, hint=auth_hint
        )
    if status is not None:
        if status == 404:
            hint = "Gemini does not serve this model; 'chatplug models -p gemini' lists them."
        elif status >= 500:
            hint = "Gemini failed; try again later."
        else:
            hint = "Gemini rejected the request; check the options and the model."
        return UpstreamHTTPError(text, status=status, body=message, provider=provider, hint=hint)
    result = UpstreamError(
        f"{text}: {message}", provider=provider, hint="Gemini failed mid-stream; try again later."
    )
    result.retryable = kind in ("INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "")
    return result


async def upstream_error(
    response: "aiohttp.ClientResponse", provider: str, key: Optional[str], auth_hint: str
) -> UpstreamError:
    """The typed error for an HTTP error response (Google's error shape, or any body)."""
    try:
        raw = await response.content.read(ERROR_BODY_LIMIT)
    except Exception:  # the body is only a courtesy
        raw = b""
    text = redact(raw.decode(errors="replace"), key)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, list) and parsed:  # a streamed JSON array holding the error
        parsed = parsed[0]
    fields = error_fields(parsed["error"]) if isinstance(parsed, dict) and "error" in parsed else {}
    if not fields.get("message"):
        fields = {**fields, "message": " ".join(text.split())[:300]}
    prefix = f"upstream returned HTTP {response.status} {response.reason or ''}".rstrip()
    return google_error(
        fields,
        provider,
        status=response.status,
        prefix=prefix,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        auth_hint=auth_hint,
    )


def stream_error(error: Any, provider: Optional[str], key: Optional[str]) -> UpstreamError:
    """The typed error for an ``{"error": ...}`` object inside the stream."""
    fields = error_fields(error)
    fields = {**fields, "message": redact(str(fields.get("message") or "unknown error"), key)}
    return google_error(fields, provider, status=None, prefix="error in the stream")
