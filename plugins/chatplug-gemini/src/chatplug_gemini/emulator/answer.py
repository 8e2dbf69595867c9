"""The emulator's answers: what it says to a checked request, and how Gemini shapes it.

:func:`plan_answer` decides the answer (text, thoughts, function calls, JSON, limits);
:func:`merge` and :func:`streamed_text` read the ``GenerateContentResponse`` chunks back.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, NamedTuple, Sequence

from .checks import THINKING_RANGES, part_signature

IMAGE_TOKENS = 258  # what Gemini counts for a small image


class Answer(NamedTuple):
    """What the emulator answers: ``parts`` in order, the ``finish`` reason, token counts."""

    parts: List[Dict[str, Any]]
    finish: str
    text: str  # the answer's text (no thoughts)
    output_tokens: int
    thought_tokens: int


def texts_of(content: Mapping[str, Any]) -> str:
    return " ".join(part["text"] for part in content.get("parts", ()) if "text" in part)


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """A deterministic token count of the request: words, images and function parts."""
    count = 0
    contents = list(body["contents"])
    if body.get("systemInstruction"):
        contents.append(body["systemInstruction"])
    for content in contents:
        for part in content.get("parts", ()):
            if "text" in part:
                count += len(part["text"].split())
            elif "inlineData" in part or "fileData" in part:
                count += IMAGE_TOKENS
            else:
                count += len(json.dumps(part).split())
    return max(count, 1)


def example(schema: Any, name: str = "value") -> Any:
    """A deterministic instance of a JSON Schema (or Gemini ``Schema``)."""
    if not isinstance(schema, Mapping):
        return f"{name} ✓"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    kind = str(kind).lower()
    if kind == "object":
        properties = schema.get("properties") or {}
        wanted = schema.get("required") or list(properties)
        return {key: example(properties.get(key), key) for key in wanted}
    if kind == "array":
        return [example(schema.get("items"), name)]
    return {"integer": 1, "number": 1.5, "boolean": True}.get(kind, f"{name} ✓")


def reply_pieces(last: str, turn: int) -> List[str]:
    """The text reply to a conversation whose last user text is ``last``, one token each."""
    return [
        "Hello",
        " from",
        " the",
        " Gemini",
        " émulateur",
        " ✓",
        f" turn {turn}:",
        " «",
        last,
        "»",
        " — ",
        "日本語",
        " 🚀",
    ]


def thought_pieces(last: str) -> List[str]:
    return ["Pondering", " «", last[:40], "»", " — ", "réflexion ✓"]


def plan_answer(body: Mapping[str, Any], model: str) -> Answer:
    """The deterministic answer to a checked request."""
    contents = body["contents"]
    last = contents[-1]
    config = body.get("generationConfig") or {}
    thinking = config.get("thinkingConfig") or {}
    budget = thinking.get("thinkingBudget")
    thinks = (
        model in THINKING_RANGES
        and budget != 0
        and (budget is not None or model != "gemini-2.5-flash-lite")
    )
    calls = _function_calls(body, last) if last["role"] == "user" else []
    if calls:
        pieces: List[str] = []
    elif last["role"] == "user" and any("functionResponse" in p for p in last["parts"]):
        results = [p["functionResponse"] for p in last["parts"] if "functionResponse" in p]
        said = "; ".join(
            f"{r['name']} → {json.dumps(r['response'], ensure_ascii=False)}" for r in results
        )
        pieces = reply_pieces(said, sum(1 for c in contents if c["role"] == "user"))
    else:
        users = [c for c in contents if c["role"] == "user"]
        pieces = reply_pieces(texts_of(users[-1]) if users else "", len(users))
    if config.get("responseMimeType") == "application/json" and not calls:
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        value = example(schema) if schema else {"reply": "".join(pieces)}
        document = json.dumps(value, ensure_ascii=False)
        pieces = [document[i : i + 8] for i in range(0, len(document), 8)]
    thoughts = thought_pieces(texts_of(last)) if thinks else []
    limit = config.get("maxOutputTokens")
    finish = "STOP"
    if limit is not None and len(thoughts) + len(pieces) + len(calls) > limit:
        thoughts = thoughts[:limit]
        pieces = pieces[: limit - len(thoughts)]
        calls = calls[: max(0, limit - len(thoughts) - len(pieces))]
        finish = "MAX_TOKENS"
    text = "".join(pieces)
    for stop in config.get("stopSequences") or ():
        at = text.find(stop)
        if at >= 0:
            text, finish = text[:at], "STOP"
            pieces = _cut(pieces, at)
    parts: List[Dict[str, Any]] = []
    if thinking.get("includeThoughts"):
        parts += [{"text": piece, "thought": True} for piece in thoughts]
    parts += [{"text": piece} for piece in pieces if piece]
    parts += [{"functionCall": call} for call in calls]
    first = next((i for i, part in enumerate(parts) if not part.get("thought")), None)
    if thoughts and first is not None and (thinking.get("includeThoughts") or calls):
        signature = part_signature(parts[first], "".join(pieces))
        parts[first] = {**parts[first], "thoughtSignature": signature}
    output = len(pieces) + sum(1 + len(call["args"]) for call in calls)
    return Answer(parts, finish, text, output, len(thoughts))


def _cut(pieces: Sequence[str], at: int) -> List[str]:
    kept: List[str] = []
    for piece in pieces:
        if at <= 0:
            break
        kept.append(piece[:at])
        at -= len(piece)
    return kept


def _function_calls(body: Mapping[str, Any], last: Mapping[str, Any]) -> List[Dict[str, Any]]:
    declarations = [
        declaration
        for tool in body.get("tools") or ()
        for declaration in tool.get("functionDeclarations") or ()
    ]
    if not declarations:
        return []
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode = calling.get("mode", "AUTO")
    if mode == "NONE":
        return []
    allowed = calling.get("allowedFunctionNames") or [d["name"] for d in declarations]
    text = texts_of(last)
    named = [d for d in declarations if d["name"] in allowed and _names(d["name"], text)]
    if not named and mode == "ANY":
        named = [next(d for d in declarations if d["name"] == allowed[0])]
    if any("functionResponse" in part for part in last["parts"]) and mode != "ANY":
        return []
    return [{"name": d["name"], "args": _arguments(d)} for d in named]


def _arguments(declaration: Mapping[str, Any]) -> Dict[str, Any]:
    schema = declaration.get("parametersJsonSchema") or declaration.get("parameters")
    value = example(schema) if schema else {}
    return value if isinstance(value, dict) else {}


def _names(name: str, text: str) -> bool:
    """Whether ``text`` names the function ``name`` (as a whole word)."""
    return re.search(rf"(?<![\w.:-]){re.escape(name)}(?![\w.:-])", text) is not None


def group_parts(parts: List[Dict[str, Any]]) -> List[List[Dict[str, Any]]]:
    """Chunks as Gemini sends them: one part each, but all function calls together."""
    groups: List[List[Dict[str, Any]]] = []
    for part in parts:
        if "functionCall" in part and groups and "functionCall" in groups[-1][-1]:
            groups[-1].append(part)
        else:
            groups.append([part])
    return groups


def usage_metadata(prompt: int, cached: int, output: int, thoughts: int) -> Dict[str, int]:
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": output}
    if cached:
        usage["cachedContentTokenCount"] = cached
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    usage["totalTokenCount"] = prompt + output + thoughts
    return usage


def merge(chunks: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The non-streaming response: the chunks' parts joined (adjacent texts merged)."""
    parts: List[Dict[str, Any]] = []
    for chunk in chunks:
        for candidate in chunk.get("candidates", ()):
            for part in candidate.get("content", {}).get("parts", ()):
                previous = parts[-1] if parts else None
                if (
                    previous is not None
                    and "text" in part
                    and "text" in previous
                    and part.get("thought") == previous.get("thought")
                    and "thoughtSignature" not in part
                ):
                    parts[-1] = {**previous, "text": previous["text"] + part["text"]}
                else:
                    parts.append(dict(part))
    last = chunks[-1]
    merged = {key: value for key, value in last.items() if key != "candidates"}
    if "candidates" in last:
        candidate = {**last["candidates"][0], "content": {"role": "model", "parts": parts}}
        merged["candidates"] = [candidate]
    return merged


def streamed_text(chunks: List[Dict[str, Any]]) -> str:
    """The answer text (no thoughts) of ``chunks``."""
    return "".join(
        part["text"]
        for chunk in chunks
        for candidate in chunk.get("candidates", ())
        for part in candidate.get("content", {}).get("parts", ())
        if "text" in part and not part.get("thought")
    )
