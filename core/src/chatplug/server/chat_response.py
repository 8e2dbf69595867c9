"""Rendering answers as Chat Completions: the ``chat.completion`` object and the
``chat.completion.chunk`` Server-Sent Events, exactly as the OpenAI SDKs parse them.

Nothing here does I/O.  A text piece costs one string escape and one ``bytes.join``
(everything else of its chunk is encoded once per answer); events (reasoning, tool calls,
the finish reason, usage) are rare and encoded with :mod:`json`.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Dict, Optional, Sequence

from ..events import ToolCall, ToolCallDelta
from ..stream import openai_tool_calls
from .api_errors import ApiError

_ids = itertools.count()
_prefix = ""


def _new_prefix() -> None:
    global _prefix, _ids
    _prefix = "chatcmpl-" + secrets.token_hex(6)
    _ids = itertools.count()


_new_prefix()
if hasattr(os, "register_at_fork"):  # worker processes forked after import: their own ids
    os.register_at_fork(after_in_child=_new_prefix)


def completion_id() -> str:
    """``chatcmpl-`` and a unique id: a random per-process prefix and a counter (no system
    call per answer)."""
    return f"{_prefix}{next(_ids):012x}"


def finish_reason(reported: Optional[str], tool_calls: bool) -> str:
    """The answer's ``finish_reason``: the plugin's, else ``tool_calls`` when it called
    tools, else ``stop``."""
    if reported is not None:
        return reported
    return "tool_calls" if tool_calls else "stop"


tool_call_objects = openai_tool_calls  # assembled tool calls as ``message.tool_calls``


def completion_object(
    model: str,
    text: str,
    usage: Dict[str, Any],
    *,
    finish: str = "stop",
    tool_calls: Sequence[ToolCall] = (),
    reasoning: str = "",
    ident: Optional[str] = None,
) -> Dict[str, Any]:
    """A ``chat.completion`` object (the answer of ``stream: false``).

    ``message.content`` is ``null`` for an answer that only calls tools;
    ``message.reasoning_content`` carries the reasoning when there was some.
    """
    message: Dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not tool_calls else None,
    }
    if reasoning:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = tool_call_objects(tool_calls)
    return {
        "id": ident or completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }


class ChunkEncoder:
    """Pre-encoded ``chat.completion.chunk`` SSE events of one answer.

    With ``include_usage`` every chunk carries ``"usage": null`` and :meth:`last` adds the
    usage chunk (``"choices": []``), as OpenAI does.
    """

    __slots__ = (
        "_content_prefix",
        "_head",
        "_suffix",
        "created",
        "ident",
        "include_usage",
        "model",
    )

    DONE = b"data: [DONE]\n\n"

    def __init__(
        self, model: str, ident: Optional[str] = None, include_usage: bool = False
    ) -> None:
        self.ident = ident or completion_id()
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self._head = (
            f'data: {{"id":"{self.ident}","object":"chat.completion.chunk",'
            f'"created":{self.created},"model":{json.dumps(model)},"choices":[{{"index":0,"delta":'
        ).encode()
        self._suffix = (
            b'},"finish_reason":null}],"usage":null}\n\n'
            if include_usage
            else b'},"finish_reason":null}]}\n\n'
        )
        self._content_prefix = self._head + b'{"content":'

    def role(self) -> bytes:
        """The first chunk: ``{"role": "assistant", "content": ""}``."""
        return self._head + b'{"role":"assistant","content":""' + self._suffix

    def first(self, text: str) -> bytes:
        """The role chunk and the first content chunk, in one write."""
        return self.role() + self.content(text)

    def content(self, text: str) -> bytes:
        return b"".join(
            (self._content_prefix, encode_basestring_ascii(text).encode(), self._suffix)
        )

    def reasoning(self, text: str) -> bytes:
        """A reasoning delta, as ``delta.reasoning_content``."""
        return self._delta({"reasoning_content": text})

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        """A tool-call fragment: ``index``, ``id``, ``type`` and ``function.name`` on the
        first fragment of a call, ``function.arguments`` string fragments."""
        call: Dict[str, Any] = {"index": delta.index}
        function: Dict[str, Any] = {}
        if delta.id is not None:
            call["id"] = delta.id
            call["type"] = "function"
        if delta.name is not None:
            function["name"] = delta.name
        function["arguments"] = delta.arguments
        call["function"] = function
        return self._delta({"tool_calls": [call]})

    def _delta(self, delta: Dict[str, Any]) -> bytes:
        encoded = json.dumps(delta, ensure_ascii=True, separators=(",", ":"))
        return b"".join((self._head, encoded[:-1].encode(), self._suffix))

    def last(self, finish: str = "stop", usage: Optional[Dict[str, Any]] = None) -> bytes:
        """The ``finish_reason`` chunk (and the usage chunk), then ``[DONE]``."""
        parts = [
            self._head,
            b'{},"finish_reason":',
            json.dumps(finish).encode(),
            b'}],"usage":null}\n\n' if self.include_usage else b"}]}\n\n",
        ]
        if usage is not None:
            chunk = {
                "id": self.ident,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage,
            }
            parts.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
        parts.append(self.DONE)
        return b"".join(parts)

    @staticmethod
    def error(error: ApiError) -> bytes:
        """The final event of a stream that failed after it started."""
        return b"data: " + error.body() + b"\n\n"
