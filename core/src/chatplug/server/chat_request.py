"""Reading a ``POST /v1/chat/completions`` body: every field of the OpenAI request.

:func:`parse_chat_request` turns the body into a :class:`ChatCall`: validated messages,
the model, the typed request fields for :meth:`AsyncClient.stream
<chatplug.AsyncClient.stream>` (``tools``, ``response_format``, ``temperature``...), and
what the server itself answers (``stream``, ``stream_options.include_usage``).
:func:`start_stream` opens the stream and turns a field or capability the chosen model
cannot honour into a 400 naming the ``param``.  Both are shared by every endpoint that
ends in ``client.stream(...)``.

What happens to each field (see ``docs/server.md``):

- :data:`TYPED_FIELDS` reach the plugin as typed request fields;
- ``n`` must be 1; ``logprobs``/``top_logprobs``, ``audio``, a non-text ``modalities``,
  ``web_search_options``, ``verbosity`` and the deprecated ``functions``/``function_call``
  are refused with a 400 naming the field unless absent or at their neutral value: they
  would change the answer and no plugin honours them;
- :data:`IGNORED_FIELDS` (``store``, ``service_tier``, ``prediction``...) do not change
  the answer and are ignored;
- any other field is ignored, with a debug log line naming it.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Tuple

from .._request import _CHECKS, _RANGES, SAMPLING, request_fields
from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..messages import normalize_messages
from ..types import TOOLS, Message
from .api_errors import ApiError, api_error, invalid

if TYPE_CHECKING:  # pragma: no cover
    from ..client import AsyncClient
    from ..stream import Stream

log = logging.getLogger("chatplug.server")

#: request fields passed to ``client.stream(...)`` under the same name (its typed arguments)
TYPED_FIELDS = frozenset(SAMPLING) | _CHECKS.keys() | _RANGES.keys()
#: fields the server reads itself
PROTOCOL_FIELDS = ("model", "messages", "stream", "stream_options", "n")
#: fields that do not change the answer: accepted and ignored
IGNORED_FIELDS = (
    "store",
    "service_tier",
    "prediction",
    "prompt_cache_key",
    "safety_identifier",
)


def _off(value: Any) -> bool:
    return value is None or value is False


def _text_only(value: Any) -> bool:
    return value is None or value == ["text"]


def _default_verbosity(value: Any) -> bool:
    return value is None or value == "medium"


#: fields no plugin honours: refused unless absent or at the value that changes nothing
REFUSED_FIELDS: Dict[str, Tuple[Callable[[Any], bool], str]] = {
    "logprobs": (_off, "log probabilities are not available"),
    "top_logprobs": (_off, "log probabilities are not available"),
    "audio": (_off, "audio output is not available"),
    "modalities": (_text_only, "only the 'text' modality is available"),
    "web_search_options": (_off, "web search is not available"),
    "verbosity": (_default_verbosity, "only the default verbosity ('medium') is available"),
    "functions": (_off, "the deprecated 'functions' is not supported: send 'tools'"),
    "function_call": (_off, "the deprecated 'function_call' is not supported: send 'tool_choice'"),
}
KNOWN_FIELDS = TYPED_FIELDS | frozenset(PROTOCOL_FIELDS + IGNORED_FIELDS) | REFUSED_FIELDS.keys()


class ChatCall:
    """A validated chat completion request: what ``client.stream(...)`` gets, and what the
    server answers with (``stream``, ``include_usage``).

    ``fields`` are keyword arguments for :meth:`AsyncClient.stream
    <chatplug.AsyncClient.stream>` (only those given; checked there, see
    :func:`start_stream`).
    """

    __slots__ = ("fields", "include_usage", "messages", "model", "stream")

    def __init__(
        self,
        model: str,
        messages: Tuple[Message, ...],
        fields: Dict[str, Any],
        stream: bool = False,
        include_usage: bool = False,
    ) -> None:
        self.model = model
        self.messages = messages
        self.fields = fields
        self.stream = stream
        self.include_usage = include_usage

    @property
    def options(self) -> Dict[str, Any]:
        """The fields (the name of earlier versions)."""
        return self.fields

    def __repr__(self) -> str:
        return (
            f"ChatCall(model={self.model!r}, messages={len(self.messages)}, "
            f"fields={sorted(self.fields)}, stream={self.stream})"
        )


#: the name of earlier versions
ChatRequest = ChatCall


def parse_json_body(raw: bytes) -> Dict[str, Any]:
    """The request body as a JSON object, or a 400 :class:`ApiError`."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise invalid(f"the request body is not valid JSON: {error}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise invalid(
            f"the request body must be a JSON object, not {type(body).__name__}",
            code="invalid_json",
        )
    return body


def parse_chat_request(body: Mapping[str, Any]) -> ChatCall:
    """Validate a chat completion request body (see the module docstring for each field)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("'model' is required: a model id such as 'provider/model'", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise invalid(
            "'messages' is required: a list of messages", code="invalid_messages", param="messages"
        )
    conversation = parse_messages(messages)
    stream = body.get("stream")
    if stream is None:
        stream = False
    elif not isinstance(stream, bool):
        raise invalid("'stream' must be a boolean", param="stream")
    fields = chat_fields(body)
    return ChatCall(model.strip(), conversation, fields, stream, stream and _include_usage(body))


def parse_messages(messages: Any, param: str = "messages") -> Tuple[Message, ...]:
    """Validated messages, or a 400 naming ``param``."""
    try:
        return normalize_messages(messages)
    except InvalidRequestError as error:
        raise invalid(error.message, code="invalid_messages", param=param) from None


def chat_fields(body: Mapping[str, Any]) -> Dict[str, Any]:
    """The typed fields of an OpenAI-named request body, for ``client.stream(**fields)``.

    Checks ``n`` and the refused fields; logs (at debug level) fields it does not know.
    The values themselves are checked by the client (:func:`start_stream`).
    """
    fields: Dict[str, Any] = {}
    if len(body) > 2 or "model" not in body or "messages" not in body:
        for name, value in body.items():
            if name in TYPED_FIELDS:
                if value is not None:
                    fields[name] = value
            elif name in REFUSED_FIELDS:
                harmless, why = REFUSED_FIELDS[name]
                if not harmless(value):
                    raise ApiError(
                        400,
                        f"'{name}' is not supported: {why}",
                        code="unsupported_parameter",
                        param=name,
                    )
            elif name not in KNOWN_FIELDS:
                log.debug("ignoring the unknown request field %r", name)
        _check_n(body.get("n"))
    return fields


def _check_n(n: Any) -> None:
    if n is None or (n == 1 and type(n) is int):
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise invalid(f"'n' must be a positive integer, not {n!r}", param="n")
    raise ApiError(
        400,
        f"only one choice per request is supported: 'n' must be 1, not {n}",
        code="unsupported_value",
        param="n",
    )


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise invalid("'stream_options' must be an object", param="stream_options")
    include = options.get("include_usage")
    if include is not None and not isinstance(include, bool):
        raise invalid("'stream_options.include_usage' must be a boolean", param="stream_options")
    return include is True


def start_stream(
    client: "AsyncClient",
    call: ChatCall,
    params: Optional[Mapping[str, str]] = None,
) -> "Stream":
    """``client.stream(...)`` for ``call``, its errors in the OpenAI shape.

    An invalid field value is a 400 naming it; a field or message the chosen model
    cannot honour (``UnsupportedCapabilityError``) is a 400 naming the field
    (:data:`~.api_errors.CAPABILITY_PARAMS`; ``tools`` needed by tool calls in the history names
    ``messages``).  ``params`` renames fields for other request shapes (an endpoint whose
    ``tools`` are called otherwise).  Resolution errors (unknown model...) are raised as
    they are, for the error middleware.
    """
    try:
        return client.stream(call.messages, model=call.model, **call.fields)
    except UnsupportedCapabilityError as error:
        raise _renamed(capability_error(error, call.fields), params) from None
    except InvalidRequestError as error:
        if type(error) is not InvalidRequestError:
            raise
        raise _renamed(field_error(error, call.fields), params) from None


def capability_error(error: UnsupportedCapabilityError, fields: Mapping[str, Any]) -> ApiError:
    """The 400 for a capability the model lacks, naming the request field that needs it."""
    problem = api_error(error)
    if error.capability == TOOLS and "tools" not in fields and "tool_choice" not in fields:
        problem.param = "messages"  # tool calls or tool results in the conversation
    return problem


def field_error(error: InvalidRequestError, fields: Mapping[str, Any]) -> ApiError:
    """The 400 for an invalid field value, naming the field (found by checking each alone)."""
    param: Optional[str] = None
    for name, value in fields.items():
        try:
            request_fields({name: value})
        except InvalidRequestError:
            param = name
            break
    else:
        if "tool_choice" in fields:  # valid alone, not with these tools
            param = "tool_choice"
    return ApiError(400, error.message, code="invalid_value", param=param, provider=error.provider)


def _renamed(error: ApiError, params: Optional[Mapping[str, str]]) -> ApiError:
    if params and error.param is not None and error.param in params:
        error.param = params[error.param]
    return error
