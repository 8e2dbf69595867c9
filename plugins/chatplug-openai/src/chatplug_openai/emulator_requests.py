"""How the emulator checks a ``POST /chat/completions`` body, as OpenAI's API does.

:func:`check_request` raises :class:`ApiError` (HTTP 400, OpenAI's error shape and, where
known, OpenAI's wording) for: an unknown parameter (top-level or in a message, such as
chatplug's ``reasoning`` blocks), a wrong type or range, a message with an unknown role
or malformed content (parts other than ``text`` and ``image_url``, an image URL that is
neither ``https://`` nor a base64 ``data:image/`` URL, an image for a model without
vision), an assistant message with neither content nor
``tool_calls``, a ``tool`` message that answers no earlier call, an assistant's calls left
unanswered, ``tool_choice`` or ``parallel_tool_calls`` without ``tools``, a
``tool_choice`` naming an unknown function, ``json_object`` without the word "json" in the
messages, ``json_schema`` for a model without structured output, ``max_tokens`` or a
temperature other than 1 for a reasoning model, ``n`` other than 1.
"""

from __future__ import annotations

import re
from typing import Any, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple

from chatplug.types import IMAGES, JSON_SCHEMA, REASONING

from .catalogue import OPENAI_MODELS, is_reasoning_model, openai_capabilities
from .emulator_answers import text_of

ROLES = ("system", "user", "assistant", "tool", "developer", "function")
PARAMETERS = frozenset(
    {
        "model", "messages", "stream", "stream_options", "temperature", "top_p", "n",
        "max_tokens", "max_completion_tokens", "stop", "seed", "presence_penalty",
        "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "tools",
        "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort",
        "metadata", "store", "service_tier", "modalities", "prediction", "functions",
        "function_call",
    }
)  # fmt: skip
RANGES: Mapping[str, Tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}
EFFORTS = ("minimal", "low", "medium", "high")
MESSAGE_FIELDS = frozenset(
    {"role", "content", "name", "tool_calls", "tool_call_id", "refusal", "function_call", "audio"}
)
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_KNOWN_MODELS = frozenset(model for model, _ in OPENAI_MODELS)


class ApiError(Exception):
    """An OpenAI error answer: ``status`` and the ``error`` object's fields."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        kind: str = "invalid_request_error",
        code: Optional[str] = None,
        param: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _invalid_value(param: str, detail: str = "") -> ApiError:
    return ApiError(f"Invalid value for '{param}'{detail}.", code="invalid_value", param=param)


def _invalid_type(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
        code="invalid_type",
        param=param,
    )


def _missing(param: str) -> ApiError:
    return ApiError(
        f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param
    )


def _unsupported(param: str, message: str) -> ApiError:
    return ApiError(message, code="unsupported_parameter", param=param)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _capabilities(model: str) -> Optional[FrozenSet[str]]:
    """What OpenAI documents for one of its own models (``None``: any other model)."""
    return openai_capabilities(model) if model in _KNOWN_MODELS else None


def check_request(body: Any) -> None:
    """Raise :class:`ApiError` for a body OpenAI's API would refuse (see the module)."""
    if not isinstance(body, dict):
        raise ApiError("The request body must be a JSON object.")
    model = body.get("model")
    if not model:
        raise ApiError("you must provide a model parameter")
    if not isinstance(model, str):
        raise _invalid_type("model", "a string", model)
    unknown = sorted(set(body) - PARAMETERS)
    if unknown:
        raise ApiError(f"Unrecognized request argument supplied: {unknown[0]}")
    capabilities = _capabilities(model)
    _check_messages(body.get("messages"), capabilities)
    _check_sampling(body, model)
    _check_tools(body)
    _check_response_format(body, capabilities)
    if body.get("stream_options") is not None:
        if not body.get("stream"):
            raise ApiError(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        if not isinstance(body["stream_options"], dict):
            raise _invalid_type("stream_options", "an object", body["stream_options"])


def _check_sampling(body: Mapping[str, Any], model: str) -> None:
    for name, (low, high) in RANGES.items():
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _invalid_type(name, "a decimal", value)
        if not low <= value <= high:
            raise ApiError(
                f"Invalid '{name}': expected a value between {low} and {high}, "
                f"but got {value} instead.",
                code="invalid_value",
                param=name,
            )
    for name in ("max_tokens", "max_completion_tokens", "seed", "n"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _invalid_type(name, "an integer", value)
    for name in ("max_tokens", "max_completion_tokens", "n"):
        if body.get(name) is not None and body[name] < 1:
            raise _invalid_value(name, f": {body[name]} is below the minimum of 1")
    if body.get("n") not in (None, 1):
        raise _invalid_value("n", ": this emulator answers one choice (n = 1)")
    reasoning = is_reasoning_model(model)
    if reasoning and body.get("max_tokens") is not None:
        raise _unsupported(
            "max_tokens",
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
        )
    if reasoning and body.get("temperature") not in (None, 1):
        raise ApiError(
            f"Unsupported value: 'temperature' does not support {body['temperature']} with "
            "this model. Only the default (1) value is supported.",
            code="unsupported_value",
            param="temperature",
        )
    effort = body.get("reasoning_effort")
    if effort is not None:
        capabilities = _capabilities(model)
        if capabilities is not None and REASONING not in capabilities:
            raise _unsupported(
                "reasoning_effort",
                "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
            )
        if effort not in EFFORTS:
            raise _invalid_value("reasoning_effort", f": {effort!r}")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise _invalid_type("stop", "a string or an array of strings", stop)
        if len(stop) > 4:
            raise ApiError(
                f"Invalid 'stop': array too long. Expected an array with maximum length 4, "
                f"but got an array with length {len(stop)} instead.",
                code="array_above_max_length",
                param="stop",
            )
    for name in ("user",):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise _invalid_type(name, "a string", body[name])
    for name in ("stream", "parallel_tool_calls", "store", "logprobs"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise _invalid_type(name, "a boolean", body[name])
    _check_mapping(body, "logit_bias", (int, float))
    _check_mapping(body, "metadata", (str,))


def _check_mapping(body: Mapping[str, Any], name: str, kinds: Tuple[type, ...]) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, dict) or not all(
        isinstance(item, kinds) and not isinstance(item, bool) for item in value.values()
    ):
        raise _invalid_type(name, "an object of " + "/".join(k.__name__ for k in kinds), value)
    if name == "logit_bias" and any(not -100 <= v <= 100 for v in value.values()):
        raise _invalid_value("logit_bias", ": each bias must be between -100 and 100")


def _check_messages(messages: Any, capabilities: Optional[FrozenSet[str]]) -> None:
    if messages is None:
        raise _missing("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(
            "Invalid 'messages': expected a non-empty array.",
            code="invalid_value",
            param="messages",
        )
    calls: Set[str] = set()  # ids of the calls of the last assistant message
    unanswered: List[str] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _invalid_type(where, "an object", message)
        unknown = sorted(set(message) - MESSAGE_FIELDS)
        if unknown:
            raise ApiError(
                f"Unknown parameter: '{where}.{unknown[0]}'.",
                code="unknown_parameter",
                param=f"{where}.{unknown[0]}",
            )
        role = message.get("role")
        if role not in ROLES:
            raise ApiError(
                f"Invalid value for '{where}.role': {role!r}. Supported values are: "
                + ", ".join(repr(r) for r in ROLES)
                + ".",
                code="invalid_value",
                param=f"{where}.role",
            )
        if unanswered and role != "tool":
            raise _unanswered(unanswered, f"{where}.role")
        content = message.get("content")
        if role == "assistant":
            calls = set(_check_tool_calls(message.get("tool_calls"), where))
            unanswered = sorted(calls)
            if content is None and not calls:
                raise _invalid_type(f"{where}.content", "a string", content)
            if content is not None:
                _check_parts(content, f"{where}.content", ("text", "refusal"), capabilities)
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                raise _missing(f"{where}.tool_call_id")
            if call_id not in calls:
                raise ApiError(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceding message with 'tool_calls'.",
                    param=f"{where}.role",
                )
            if call_id in unanswered:
                unanswered.remove(call_id)
            _check_parts(content, f"{where}.content", ("text",), capabilities)
        else:
            allowed = ("text", "image_url") if role == "user" else ("text",)
            _check_parts(content, f"{where}.content", allowed, capabilities)
    if unanswered:
        raise _unanswered(unanswered, "messages")


def _unanswered(ids: List[str], param: str) -> ApiError:
    return ApiError(
        "An assistant message with 'tool_calls' must be followed by tool messages "
        "responding to each 'tool_call_id'. The following tool_call_ids did not have "
        f"response messages: {', '.join(ids)}",
        param=param,
    )


def _check_tool_calls(calls: Any, where: str) -> List[str]:
    if calls is None:
        return []
    if not isinstance(calls, list) or not calls:
        raise _invalid_type(f"{where}.tool_calls", "a non-empty array", calls)
    ids: List[str] = []
    for number, call in enumerate(calls):
        at = f"{where}.tool_calls[{number}]"
        if not isinstance(call, dict):
            raise _invalid_type(at, "an object", call)
        for key in ("id", "type", "function"):
            if key not in call:
                raise _missing(f"{at}.{key}")
        if call["type"] != "function":
            raise _invalid_value(f"{at}.type", f": {call['type']!r}")
        function = call["function"]
        if not isinstance(function, dict):
            raise _invalid_type(f"{at}.function", "an object", function)
        for key in ("name", "arguments"):
            if not isinstance(function.get(key), str):
                raise _missing(f"{at}.function.{key}")
        ids.append(call["id"])
    return ids


def _check_parts(
    content: Any,
    where: str,
    allowed: Sequence[str],
    capabilities: Optional[FrozenSet[str]],
) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content:
        raise _invalid_type(where, "a string or a non-empty array of content parts", content)
    for number, part in enumerate(content):
        at = f"{where}[{number}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            raise ApiError(
                f"Invalid value: {kind!r}. Supported values are: "
                + " and ".join(repr(a) for a in allowed)
                + ".",
                code="invalid_value",
                param=f"{at}.type",
            )
        if kind in ("text", "refusal"):
            if not isinstance(part.get(kind), str):
                raise _missing(f"{at}.{kind}")
        else:
            _check_image(part.get("image_url"), f"{at}.image_url", capabilities)


def _check_image(image: Any, where: str, capabilities: Optional[FrozenSet[str]]) -> None:
    if capabilities is not None and IMAGES not in capabilities:
        raise ApiError(
            "Invalid content type. image_url is only supported by certain models.",
            code="invalid_value",
            param=where,
        )
    if not isinstance(image, dict) or not isinstance(image.get("url"), str):
        raise _missing(f"{where}.url")
    url = image["url"]
    if not (
        url.startswith(("https://", "http://"))
        or re.match(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$", url)
    ):
        raise ApiError(
            f"Invalid '{where}.url'. Expected a base64-encoded data URL with an image MIME "
            "type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), or an https URL.",
            code="invalid_value",
            param=f"{where}.url",
        )
    if image.get("detail", "auto") not in ("auto", "low", "high"):
        raise _invalid_value(f"{where}.detail", f": {image['detail']!r}")


def _check_tools(body: Mapping[str, Any]) -> None:
    tools = body.get("tools")
    names: List[str] = []
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            raise _invalid_type("tools", "a non-empty array", tools)
        for number, tool in enumerate(tools):
            at = f"tools[{number}]"
            if not isinstance(tool, dict) or tool.get("type") != "function":
                raise _invalid_value(f"{at}.type")
            function = tool.get("function")
            if not isinstance(function, dict):
                raise _missing(f"{at}.function")
            name = function.get("name")
            if not isinstance(name, str) or not _NAME.match(name):
                raise ApiError(
                    f"Invalid '{at}.function.name': string does not match pattern. Expected "
                    "a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    code="invalid_value",
                    param=f"{at}.function.name",
                )
            parameters = function.get("parameters")
            if parameters is not None and not isinstance(parameters, dict):
                raise _invalid_type(f"{at}.function.parameters", "an object", parameters)
            names.append(name)
    for name in ("tool_choice", "parallel_tool_calls"):
        if body.get(name) is not None and not names:
            raise _invalid_value(name, f": '{name}' is only allowed when 'tools' are specified")
    choice = body.get("tool_choice")
    if choice is None or choice in ("auto", "none", "required"):
        return
    function = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(function, dict) or choice.get("type") != "function":
        raise _invalid_value("tool_choice", f": {choice!r}")
    if function.get("name") not in names:
        raise _invalid_value(
            "tool_choice", f": function {function.get('name')!r} is not one of the tools"
        )


def _check_response_format(body: Mapping[str, Any], capabilities: Optional[FrozenSet[str]]) -> None:
    response_format = body.get("response_format")
    if response_format is None:
        return
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise _invalid_value("response_format.type", f": {kind!r}")
    if kind == "json_object":
        texts = [text_of(m.get("content")) for m in body["messages"]]
        if not any("json" in text.lower() for text in texts):
            raise ApiError(
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.",
                param="messages",
            )
    if kind == "json_schema":
        if capabilities is not None and JSON_SCHEMA not in capabilities:
            raise ApiError(
                "Invalid parameter: 'response_format' of type 'json_schema' is not supported "
                "with this model.",
                param="response_format",
            )
        schema = response_format.get("json_schema")
        if not isinstance(schema, dict):
            raise _missing("response_format.json_schema")
        if not isinstance(schema.get("name"), str) or not _NAME.match(schema["name"]):
            raise _missing("response_format.json_schema.name")
        if schema.get("schema") is not None and not isinstance(schema["schema"], dict):
            raise _invalid_type("response_format.json_schema.schema", "an object", schema)
