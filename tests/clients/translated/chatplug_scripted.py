"""A scripted in-process provider, ``scripted``: it says everything contract 0.2 lets a plugin
say (reasoning with a signature, tool calls, usage, every finish reason), chosen by the last
message, without any network traffic; ``SEEN`` keeps the requests it received.

- the last message is a tool result: ``"It is <result> in Paris."``, finish ``stop``;
- ``weather`` (with tools): reasoning, a signature, ``"Let me check."``, a ``get_weather``
  call in two fragments, usage, finish ``tool_calls``;
- ``two cities`` (with tools): two ``get_weather`` calls, their fragments interleaved;
- ``secret``: redacted reasoning (opaque data), then ``"Done."``;
- a ``response_format``: the JSON ``{"name": "Ada", "age": 36}`` in pieces;
- ``long``: text, finish ``length``; ``filtered``: text, finish ``content_filter``;
- ``upstream-error``: text, finish ``error``; ``break``: text, then the stream fails;
- ``fields``: the JSON of the request fields and messages the plugin received;
- anything else: ``"Hello, <text>!"`` with usage, finish ``stop``.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, List

from chatplug import CompletionRequest, ModelInfo, StreamProtocolError, hookimpl
from chatplug.events import Finish, ReasoningDelta, StreamItem, ToolCallDelta, Usage
from chatplug.types import CAPABILITIES, OFFICIAL

NAME = "scripted"
#: every request the provider received, for tests to look at
SEEN: List[CompletionRequest] = []
USAGE = Usage(21, 9, cached_input_tokens=5, reasoning_tokens=4)


@hookimpl
def list_models() -> List[ModelInfo]:
    return [
        ModelInfo("agent", NAME, default=True, capabilities=CAPABILITIES, upstream=OFFICIAL),
        ModelInfo("plain", NAME),  # a contract 0.1 model: text only
    ]


def _text(message: Any) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return " ".join(part["text"] for part in content if part["type"] == "text")


@hookimpl
async def stream_completion(request: CompletionRequest, session: Any) -> AsyncIterator[StreamItem]:
    SEEN.append(request)
    last = request.messages[-1]
    said = _text(last)
    if last["role"] == "tool":
        for piece in ("It is ", said, " in Paris."):
            yield piece
        yield USAGE
        yield Finish("stop", raw="stop")
    elif said.startswith("weather") and request.tools:
        yield ReasoningDelta("The user wants")
        yield ReasoningDelta(" the weather.")
        yield ReasoningDelta("", metadata={"signature": "sig-123"})
        yield "Let me check."
        yield ToolCallDelta(0, "call_w1", "get_weather", '{"city": ')
        yield ToolCallDelta(0, arguments='"Paris"}')
        yield USAGE
        yield Finish("tool_calls", raw="tool_calls")
    elif said.startswith("two cities") and request.tools:
        yield ToolCallDelta(0, "call_a", "get_weather", '{"city": ')
        yield ToolCallDelta(1, "call_b", "get_weather", '{"city": ')
        yield ToolCallDelta(0, arguments='"Paris"}')
        yield ToolCallDelta(1, arguments='"Rome"}')
        yield Finish("tool_calls")
        yield USAGE
    elif said == "secret":
        yield ReasoningDelta("", redacted=True, metadata={"data": "opaque-123"})
        yield "Done."
        yield Finish("stop")
    elif request.response_format is not None:
        for piece in ('{"name": ', '"Ada", "a', 'ge": 36}'):
            yield piece
        yield USAGE
        yield Finish("stop")
    elif said == "long":
        yield "This answer is cut"
        yield Finish("length", raw="max_tokens")
    elif said == "filtered":
        yield "Some"
        yield Finish("content_filter")
    elif said == "upstream-error":
        yield "Par"
        yield Finish("error", raw="overloaded")
    elif said == "break":
        yield "Half an ans"
        raise StreamProtocolError("the scripted stream broke", provider=NAME)
    elif said == "fields":
        yield json.dumps(
            {
                "messages": list(request.messages),
                "tools": [tool._asdict() for tool in request.tools],
                "tool_choice": request.tool_choice,
                "parallel_tool_calls": request.parallel_tool_calls,
                "response_format": request.response_format._asdict()
                if request.response_format
                else None,
                "max_tokens": request.max_tokens,
                "temperature": request.temperature,
                "top_p": request.top_p,
                "stop": list(request.stop or ()),
                "reasoning_effort": request.reasoning_effort,
                "user": request.user,
                "metadata": request.metadata,
            }
        )
    else:
        yield "Hello, "
        yield said
        yield "!"
        yield USAGE
        yield Finish("stop")
