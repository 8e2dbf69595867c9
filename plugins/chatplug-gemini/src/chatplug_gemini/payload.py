"""The Gemini request body: ``contents``, ``systemInstruction``, ``tools``, ``toolConfig``
and ``generationConfig`` from a :class:`chatplug.CompletionRequest`.

Messages map to Gemini turns: ``user`` and ``tool`` messages become ``user`` turns,
``assistant`` messages ``model`` turns, and consecutive turns of the same role are merged
into one (Gemini wants them alternating).  System messages and the ``system`` option go to
``systemInstruction``.  A tool message becomes a ``functionResponse`` part named after the
earlier assistant tool call it answers.  An assistant message's ``reasoning`` blocks give
back Gemini's thought signatures, each on the part it came with (:func:`thought_signatures`).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from chatplug import CompletionRequest, InvalidRequestError
from chatplug.messages import text_of

Part = Dict[str, Any]

#: ``reasoning_effort`` → ``thinkingConfig.thinkingBudget`` (tokens)
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
#: ``tool_choice`` → ``functionCallingConfig.mode`` (any other value names a function)
TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
#: standard sampling parameters → ``generationConfig`` fields
SAMPLING = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)
#: the MIME type of an image URL without a known extension
DEFAULT_IMAGE_TYPE = "image/jpeg"
#: the key of the text's signature among :func:`thought_signatures`' (the others: call ids)
TEXT = None


def build_body(request: CompletionRequest) -> Dict[str, Any]:
    """The JSON body of ``:streamGenerateContent`` (and ``:generateContent``) for ``request``."""
    contents, system = build_contents(request.messages, request.options.get("system"))
    body: Dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(tool) for tool in request.tools]}]
        if request.tool_choice is not None:
            mode = TOOL_MODES.get(request.tool_choice)
            calling: Dict[str, Any] = {"mode": mode or "ANY"}
            if mode is None:
                calling["allowedFunctionNames"] = [request.tool_choice]
            body["toolConfig"] = {"functionCallingConfig": calling}
    if request.logit_bias:
        raise InvalidRequestError(
            "Gemini has no logit_bias; leave it out", hint="Gemini offers no per-token bias."
        )
    safety = request.options.get("safety_settings")
    if safety is not None:
        if not isinstance(safety, list) or not all(isinstance(s, Mapping) for s in safety):
            raise InvalidRequestError(
                "safety_settings must be a list of {'category', 'threshold'} dicts"
            )
        body["safetySettings"] = [dict(setting) for setting in safety]
    config = generation_config(request)
    if config:
        body["generationConfig"] = config
    return body


# --- contents ---------------------------------------------------------------------


def build_contents(
    messages: Sequence[Mapping[str, Any]], system_option: Any = None
) -> Tuple[List[Dict[str, Any]], List[Part]]:
    """``(contents, systemInstruction parts)`` for validated messages."""
    system: List[Part] = []
    if system_option:
        system.append({"text": str(system_option)})
    contents: List[Dict[str, Any]] = []
    call_names: Dict[str, str] = {}  # tool call id -> function name, the latest call wins
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "system":
            text = text_of(message)
            if text:
                system.append({"text": text})
            continue
        if role == "assistant":
            turn, parts = "model", _assistant_parts(index, message, call_names)
        elif role == "tool":
            turn, parts = "user", [_function_response(message, call_names)]
        else:
            turn, parts = "user", _user_parts(message.get("content"))
        if not parts:
            continue
        if contents and contents[-1]["role"] == turn:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn, "parts": parts})
    if not contents:
        raise InvalidRequestError(
            "the conversation has nothing but system text; Gemini needs a user message"
        )
    return contents, system


def _user_parts(content: Any) -> List[Part]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: List[Part] = []
    for part in content or ():
        if part.get("type") == "text":
            if part["text"]:
                parts.append({"text": part["text"]})
        elif part.get("type") == "image_url":
            parts.append(image_part(part["image_url"]["url"]))
    return parts


def image_part(url: str) -> Part:
    """``inlineData`` for a ``data:`` URL, ``fileData`` for an ``http(s)`` URL."""
    if url[:5].lower() == "data:":
        header, _, data = url[5:].partition(",")
        return {"inlineData": {"mimeType": header.split(";")[0].lower(), "data": data}}
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    mime = guessed if guessed and guessed.startswith("image/") else DEFAULT_IMAGE_TYPE
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _assistant_parts(
    index: int, message: Mapping[str, Any], call_names: Dict[str, str]
) -> List[Part]:
    thoughts, signatures = thought_signatures(message.get("reasoning"))
    parts: List[Part] = list(thoughts)
    text = text_of(message)
    if text:
        parts.append(_signed({"text": text}, signatures.get(TEXT)))
    for position, call in enumerate(message.get("tool_calls") or ()):
        function = call["function"]
        call_names[call["id"]] = function["name"]
        where = f"messages[{index}].tool_calls[{position}].function.arguments"
        arguments = _arguments(where, function["arguments"])
        part = {"functionCall": {"name": function["name"], "args": arguments}}
        parts.append(_signed(part, signatures.get(call["id"])))
    return parts


def thought_signatures(reasoning: Any) -> Tuple[List[Part], Dict[Optional[str], str]]:
    """The thought parts to send back and the signatures of the answer's other parts, from an
    assistant message's ``reasoning`` blocks (as :mod:`chatplug_gemini.stream` reported them).

    A block carrying a ``thoughtSignature`` is a thought part (its text) or, redacted, the
    signature of the function call ``toolCallId`` names, else of the text (key :data:`TEXT`).
    Blocks without a signature (unsigned thoughts, another provider's reasoning) are not sent.
    """
    thoughts: List[Part] = []
    signatures: Dict[Optional[str], str] = {}
    for block in reasoning or ():
        metadata = block.get("metadata") or {}
        signature = metadata.get("thoughtSignature")
        if not isinstance(signature, str) or not signature:
            continue
        if block.get("redacted"):
            signatures[metadata.get("toolCallId") or TEXT] = signature
        elif block.get("text"):
            thoughts.append({"text": block["text"], "thought": True, "thoughtSignature": signature})
    return thoughts, signatures


def _signed(part: Part, signature: Optional[str]) -> Part:
    if signature:
        part["thoughtSignature"] = signature
    return part


def _arguments(where: str, arguments: str) -> Dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"{where} must be a JSON object for Gemini (its functionCall.args), "
            f"not {arguments[:60]!r}"
        )
    return value


def _function_response(message: Mapping[str, Any], call_names: Dict[str, str]) -> Part:
    """A tool result: a JSON object as it is, anything else as ``{"result": text}``."""
    content = message["content"]
    response: Any = None
    if content[:1] == "{":
        try:
            response = json.loads(content)
        except ValueError:
            response = None
    if not isinstance(response, dict):
        response = {"result": content}
    return {"functionResponse": {"name": call_names[message["tool_call_id"]], "response": response}}


def _declaration(tool: Any) -> Dict[str, Any]:
    declaration: Dict[str, Any] = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    if tool.parameters:
        declaration["parametersJsonSchema"] = plain(tool.parameters)
    return declaration


def plain(value: Any) -> Any:
    """``value`` with every mapping a ``dict`` and every sequence a ``list`` (for JSON)."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


# --- generationConfig -------------------------------------------------------------


def generation_config(request: CompletionRequest) -> Dict[str, Any]:
    """``generationConfig``: the typed request fields, else the same-named options (0.1)."""
    options = request.options
    config: Dict[str, Any] = {}
    for name, field in SAMPLING:
        value = getattr(request, name)
        if value is None:
            value = _number(name, options.get(name))
        if value is not None:
            config[field] = value
    limit = request.max_tokens
    if limit is None:
        limit = _integer(
            "max_tokens", options.get("max_tokens", options.get("max_completion_tokens"))
        )
    if limit is not None:
        config["maxOutputTokens"] = limit
    seed = request.seed if request.seed is not None else _integer("seed", options.get("seed"))
    if seed is not None:
        config["seed"] = seed
    stop = list(request.stop) or _stop(options.get("stop"))
    if stop:
        config["stopSequences"] = stop
    response_format = request.response_format
    if response_format is not None:
        config["responseMimeType"] = "application/json"
        if response_format.type == "json_schema" and response_format.schema:
            config["responseJsonSchema"] = plain(response_format.schema)
    thinking = thinking_config(request)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def thinking_config(request: CompletionRequest) -> Dict[str, Any]:
    """``thinkingConfig`` from ``reasoning_effort``, overridden by the ``thinking_budget``
    and ``include_thoughts`` options."""
    thinking: Dict[str, Any] = {}
    effort = request.reasoning_effort
    if effort is not None:
        if effort not in THINKING_BUDGETS:
            accepted = ", ".join(THINKING_BUDGETS)
            raise InvalidRequestError(f"reasoning_effort must be one of {accepted}, not {effort!r}")
        thinking = {"includeThoughts": effort != "none", "thinkingBudget": THINKING_BUDGETS[effort]}
    budget = _integer("thinking_budget", request.options.get("thinking_budget"), minimum=-1)
    if budget is not None:
        thinking["thinkingBudget"] = budget
    include = request.options.get("include_thoughts")
    if include is not None:
        if not isinstance(include, bool):
            raise InvalidRequestError(f"include_thoughts must be true or false, not {include!r}")
        thinking["includeThoughts"] = include
    return thinking


def _number(name: str, value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"{name} must be a number, not {value!r}")
    return value


def _integer(name: str, value: Any, minimum: int = 0) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidRequestError(f"{name} must be an integer of at least {minimum}, not {value!r}")
    return value


def _stop(value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise InvalidRequestError(f"stop must be a string or a list of strings, not {value!r}")
