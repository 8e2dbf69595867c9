"""The emulator's checks of a ``GenerateContentRequest``, with the Gemini API's error shape.

:func:`check_request` raises :class:`Invalid` (an HTTP status, a message and Google's
``status`` word) for what the real API refuses: unknown field names, missing or empty
``contents``, roles other than ``user``/``model``, parts with no data or two kinds of data,
bad base64, function-call turns out of place, function responses that do not answer the
previous turn's calls, thought signatures it did not issue for the part that carries them
(:func:`sign`), invalid function names, ``toolConfig`` modes, ``generationConfig`` ranges, and
thinking settings the model does not take.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional, cast

TOP_FIELDS = frozenset(
    {
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "generationConfig",
        "safetySettings",
        "cachedContent",
    }
)
DATA_FIELDS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
)
PART_FIELDS = frozenset({*DATA_FIELDS, "thought", "thoughtSignature", "videoMetadata"})
GENERATION_FIELDS = frozenset(
    {
        "temperature",
        "topP",
        "topK",
        "candidateCount",
        "maxOutputTokens",
        "stopSequences",
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseModalities",
        "responseLogprobs",
        "logprobs",
        "thinkingConfig",
        "mediaResolution",
    }
)
DECLARATION_FIELDS = frozenset(
    {"name", "description", "parameters", "parametersJsonSchema", "response", "responseJsonSchema"}
)
TOOL_FIELDS = frozenset({"functionDeclarations", "googleSearch", "codeExecution", "urlContext"})
MIME_TYPES = ("text/plain", "application/json", "text/x.enum")
MODES = ("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED")
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
MAX_STOP_SEQUENCES = 5
_SECRET = b"chatplug-gemini-emulator"
#: thinking models: (lowest budget, highest budget, may thinking be off)
THINKING_RANGES = {
    "gemini-2.5-pro": (128, 32768, False),
    "gemini-2.5-flash": (1, 24576, True),
    "gemini-2.5-flash-lite": (512, 24576, True),
}


class Invalid(Exception):
    """A request the real API refuses: ``status`` (HTTP), ``message``, ``reason`` (Google's)."""

    def __init__(self, message: str, status: int = 400, reason: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


def error_body(status: int, message: str, reason: str, details: Any = None) -> Dict[str, Any]:
    """Google's error object: ``{"error": {"code", "message", "status"}}``."""
    error: Dict[str, Any] = {"code": status, "message": message, "status": reason}
    if details:
        error["details"] = details
    return {"error": error}


def sign(kind: str, value: Any) -> str:
    """The thought signature the emulator gives a part: bound to its ``kind`` (``text``,
    ``functionCall``) and ``value`` (the turn's whole text, or the call), checked when it
    comes back."""
    data = json.dumps([kind, value], ensure_ascii=False, sort_keys=True).encode()
    return base64.b64encode(hashlib.sha256(_SECRET + data).digest()).decode()


def part_signature(part: Mapping[str, Any], text: str) -> str:
    """The signature of ``part`` of a model turn whose answer text is ``text``."""
    if "functionCall" in part:
        call = part["functionCall"]
        return sign("functionCall", [call["name"], call.get("args") or {}])
    return sign("thought" if part.get("thought") else "text", text)


def check_signatures(contents: List[Dict[str, Any]]) -> None:
    """Every ``thoughtSignature`` of a model turn is one the emulator issued for that part."""
    for index, content in enumerate(contents):
        if content["role"] != "model":
            continue
        text = "".join(
            part["text"] for part in content["parts"] if "text" in part and not part.get("thought")
        )
        for position, part in enumerate(content["parts"]):
            signature = part.get("thoughtSignature")
            if signature is None:
                continue
            where = f"contents[{index}].parts[{position}].thought_signature"
            try:
                base64.b64decode(str(signature), validate=True)
            except (ValueError, binascii.Error):
                raise Invalid(
                    f"Invalid value at '{where}' (TYPE_BYTES), Base64 decoding failed"
                ) from None
            if signature != part_signature(part, text):
                raise Invalid(f"Thought signature is not valid ({where}).")


def _unknown(fields: Mapping[str, Any], known: Any, where: str) -> None:
    for name in fields:
        if name not in known:
            at = f" at '{where}'" if where else ""
            raise Invalid(
                f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'
            )


def _object(value: Any, where: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"Invalid value at '{where}', expected an object, got {_json_kind(value)}")
    return cast(Dict[str, Any], value)


def _json_kind(value: Any) -> str:
    names = {str: "string", bool: "bool", int: "number", float: "number", list: "array"}
    return "null" if value is None else names.get(type(value), "object")


def _field_error(where: str, problem: str) -> Invalid:
    return Invalid(f"* GenerateContentRequest.{where}: {problem}\n")


#: fields whose values are the caller's data, not the API's: their keys stay as they are
OPAQUE_FIELDS = frozenset(
    {
        "args",
        "response",
        "parameters",
        "parametersJsonSchema",
        "responseSchema",
        "responseJsonSchema",
    }
)


def camel_case(value: Any) -> Any:
    """``value`` with field names in camelCase: the API takes ``system_instruction`` (as the
    official SDK sends some fields) as well as ``systemInstruction``."""
    if isinstance(value, list):
        return [camel_case(item) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        head, *rest = str(key).split("_")
        name = head + "".join(word[:1].upper() + word[1:] for word in rest)
        result[name] = item if name in OPAQUE_FIELDS else camel_case(item)
    return result


def check_request(value: Any, model: str) -> Dict[str, Any]:
    """``value`` checked as the real API checks it (raises :class:`Invalid`); the request
    with its field names in camelCase."""
    body = _object(camel_case(value), "")
    _unknown(body, TOP_FIELDS, "")
    contents = body.get("contents")
    if not contents:
        raise _field_error("contents", "contents is not specified")
    if not isinstance(contents, list):
        raise Invalid("Invalid value at 'contents', expected a list")
    for index, content in enumerate(contents):
        check_content(content, f"contents[{index}]", single=len(contents) == 1)
    check_function_turns(contents)
    check_signatures(contents)
    system = body.get("systemInstruction")
    if system is not None:
        system = _object(system, "system_instruction")
        _unknown(system, {"role", "parts"}, "system_instruction")
        for position, part in enumerate(system.get("parts") or ()):
            check_part(part, f"system_instruction.parts[{position}]")
    names = check_tools(body.get("tools"))
    check_tool_config(body.get("toolConfig"), names)
    check_generation_config(body.get("generationConfig"), model)
    safety = body.get("safetySettings")
    if safety is not None and not (
        isinstance(safety, list)
        and all(isinstance(s, dict) and {"category", "threshold"} >= set(s) for s in safety)
    ):
        raise Invalid("Invalid value at 'safety_settings'")
    return body


def check_content(content: Any, where: str, single: bool) -> None:
    content = _object(content, where)
    _unknown(content, {"role", "parts"}, where)
    role = content.get("role")
    if role is None and single:
        role = content["role"] = "user"
    if role not in ("user", "model"):
        raise Invalid("Please use a valid role: user, model.")
    parts = content.get("parts")
    if not parts or not isinstance(parts, list):
        raise _field_error(f"{where}.parts", "contents.parts must not be empty.")
    for position, part in enumerate(parts):
        check_part(part, f"{where}.parts[{position}]")
        if role == "user" and "functionCall" in part:
            raise Invalid("Please ensure that function call turns are model turns.")
        if role == "model" and "functionResponse" in part:
            raise Invalid("Please ensure that function response turns are user turns.")


def check_part(part: Any, where: str) -> None:
    part = _object(part, where)
    _unknown(part, PART_FIELDS, where)
    present = [name for name in DATA_FIELDS if name in part]
    if len(present) > 1:
        raise Invalid(
            f"Invalid value at '{where}' (oneof), oneof field 'data' is already set. "
            f"Cannot set '{present[1]}'"
        )
    if not present or part.get("text") == "":
        raise _field_error(
            f"{where}.data", "required oneof field 'data' must have one initialized field"
        )
    name = present[0]
    value = part[name]
    if name == "text" and not isinstance(value, str):
        raise Invalid(f"Invalid value at '{where}.text' (TYPE_STRING), {value!r}")
    if name == "inlineData":
        check_inline_data(_object(value, f"{where}.inline_data"), f"{where}.inline_data")
    elif name == "fileData":
        data = _object(value, f"{where}.file_data")
        _unknown(data, {"mimeType", "fileUri"}, f"{where}.file_data")
        uri = data.get("fileUri")
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://", "gs://")):
            raise Invalid(f"Invalid or unsupported file uri: {uri}")
    elif name == "functionCall":
        call = _object(value, f"{where}.function_call")
        _unknown(call, {"name", "args", "id"}, f"{where}.function_call")
        if not isinstance(call.get("name"), str) or not call["name"]:
            raise _field_error(f"{where}.function_call.name", "Name cannot be empty.")
        if "args" in call:
            _object(call["args"], f"{where}.function_call.args")
    elif name == "functionResponse":
        answer = _object(value, f"{where}.function_response")
        _unknown(answer, {"name", "response", "id"}, f"{where}.function_response")
        if not isinstance(answer.get("name"), str) or not answer["name"]:
            raise _field_error(f"{where}.function_response.name", "Name cannot be empty.")
        _object(answer.get("response"), f"{where}.function_response.response")


def check_inline_data(data: Dict[str, Any], where: str) -> None:
    _unknown(data, {"mimeType", "data"}, where)
    mime = data.get("mimeType")
    if not isinstance(mime, str) or not mime:
        raise _field_error(f"{where}.mime_type", "mime_type must not be empty")
    encoded = data.get("data")
    try:
        if not isinstance(encoded, str) or not encoded:
            raise ValueError
        base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise Invalid(
            f"Invalid value at '{where}.data' (TYPE_BYTES), Base64 decoding failed for "
            f"{str(encoded)[:40]!r}"
        ) from None


def _calls(content: Mapping[str, Any], kind: str) -> List[str]:
    return [part[kind]["name"] for part in content["parts"] if kind in part]


def check_function_turns(contents: List[Dict[str, Any]]) -> None:
    """Function-call turns follow a user turn; function responses answer the turn before."""
    for index, content in enumerate(contents):
        previous: Optional[Dict[str, Any]] = contents[index - 1] if index else None
        if (
            content["role"] == "model"
            and _calls(content, "functionCall")
            and (previous is None or previous["role"] != "user")
        ):
            raise Invalid(
                "Please ensure that function call turn comes immediately after a user "
                "turn or after a function response turn."
            )
        answers = _calls(content, "functionResponse")
        if not answers:
            continue
        calls = _calls(previous, "functionCall") if previous is not None else []
        if not calls:
            raise Invalid(
                "Please ensure that function response turn comes immediately after a "
                "function call turn."
            )
        if len(answers) != len(calls):
            raise Invalid(
                "Please ensure that the number of function response parts is equal to the "
                "number of function call parts of the function call turn."
            )
        if Counter(answers) != Counter(calls):
            raise Invalid(
                "Please ensure that the function response names match the function call "
                f"names of the function call turn ({', '.join(calls)})."
            )


def check_tools(tools: Any) -> List[str]:
    """The declared function names."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise Invalid("Invalid value at 'tools', expected a list")
    names: List[str] = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        tool = _object(tool, where)
        _unknown(tool, TOOL_FIELDS, where)
        for position, declaration in enumerate(tool.get("functionDeclarations") or ()):
            at = f"{where}.function_declarations[{position}]"
            declaration = _object(declaration, at)
            _unknown(declaration, DECLARATION_FIELDS, at)
            name = declaration.get("name")
            if not isinstance(name, str) or not FUNCTION_NAME.fullmatch(name):
                raise _field_error(
                    f"{at}.name",
                    "Invalid function name. Must start with a letter or an underscore. Must "
                    "be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or "
                    "dashes (-), with a maximum length of 64.",
                )
            if name in names:
                raise _field_error(f"{at}.name", f"Duplicate function declaration: {name}")
            if "parameters" in declaration and "parametersJsonSchema" in declaration:
                raise _field_error(
                    f"{at}", "parameters and parameters_json_schema are mutually exclusive"
                )
            schema = declaration.get("parametersJsonSchema")
            if (
                schema is not None
                and _object(schema, f"{at}.parameters_json_schema").get("type", "object")
                != "object"
            ):
                raise _field_error(f"{at}.parameters_json_schema", "must describe an object")
            names.append(name)
    return names


def check_tool_config(config: Any, names: List[str]) -> None:
    if config is None:
        return
    config = _object(config, "tool_config")
    _unknown(config, {"functionCallingConfig"}, "tool_config")
    calling = _object(
        config.get("functionCallingConfig", {}), "tool_config.function_calling_config"
    )
    _unknown(calling, {"mode", "allowedFunctionNames"}, "tool_config.function_calling_config")
    mode = calling.get("mode", "AUTO")
    if mode not in MODES:
        raise Invalid(
            f"Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/"
            f'google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), "{mode}"'
        )
    allowed = calling.get("allowedFunctionNames")
    if allowed is not None:
        if mode != "ANY":
            raise _field_error(
                "tool_config.function_calling_config.allowed_function_names",
                "allowed_function_names is only allowed when mode is ANY.",
            )
        unknown = [name for name in allowed if name not in names]
        if unknown:
            raise _field_error(
                "tool_config.function_calling_config.allowed_function_names",
                f"function {unknown[0]!r} is not declared in tools.",
            )


def _range(
    config: Mapping[str, Any], name: str, low: float, high: float, whole: bool = False
) -> None:
    value = config.get(name)
    if value is None:
        return
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        raise _field_error(
            f"generation_config.{name}", f"must be in [{low:g}, {high:g}], not {value!r}"
        )


def check_generation_config(config: Any, model: str) -> None:
    if config is None:
        return
    config = _object(config, "generation_config")
    _unknown(config, GENERATION_FIELDS, "generation_config")
    _range(config, "temperature", 0, 2)
    _range(config, "topP", 0, 1)
    _range(config, "maxOutputTokens", 1, 65536, whole=True)
    _range(config, "candidateCount", 1, 1, whole=True)
    _range(config, "seed", -(2**31), 2**31 - 1, whole=True)
    _range(config, "presencePenalty", -2, 2)
    _range(config, "frequencyPenalty", -2, 2)
    stop = config.get("stopSequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
            raise _field_error(
                "generation_config.stop_sequences", "must be a list of non-empty strings"
            )
        if len(stop) > MAX_STOP_SEQUENCES:
            raise _field_error(
                "generation_config.stop_sequences",
                f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed",
            )
    mime = config.get("responseMimeType", "text/plain")
    if mime not in MIME_TYPES:
        raise _field_error(
            "generation_config.response_mime_type",
            "allowed mimetypes are `text/plain`, `application/json` and `text/x.enum`.",
        )
    schemas = [name for name in ("responseSchema", "responseJsonSchema") if name in config]
    if len(schemas) > 1:
        raise _field_error(
            "generation_config", "response_schema and response_json_schema are mutually exclusive"
        )
    if schemas and mime == "text/plain":
        raise _field_error(
            "generation_config.response_mime_type",
            "response_mime_type must be application/json or text/x.enum with a response schema.",
        )
    thinking = config.get("thinkingConfig")
    if thinking is not None:
        check_thinking(_object(thinking, "generation_config.thinking_config"), model)


def check_thinking(thinking: Dict[str, Any], model: str) -> None:
    _unknown(thinking, {"includeThoughts", "thinkingBudget"}, "generation_config.thinking_config")
    limits = THINKING_RANGES.get(model)
    if limits is None:
        raise Invalid("Thinking is not supported for this model.")
    budget = thinking.get("thinkingBudget")
    if budget is None or budget == -1:
        return
    low, high, may_stop = limits
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise _field_error(
            "generation_config.thinking_config.thinking_budget", f"invalid {budget!r}"
        )
    if budget == 0 and not may_stop:
        raise Invalid("Budget 0 is invalid. This model only works in thinking mode.")
    if budget != 0 and not low <= budget <= high:
        raise Invalid(
            f"The thinking budget {budget} is invalid. Please choose a value between {low} "
            f"and {high}."
        )
