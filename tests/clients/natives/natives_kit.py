"""What the tests of the native plugins behind ``chatplug serve`` share: the three providers,
their models, and the usage each emulator reports for a request it received (asked again,
without streaming, with the very body the plugin sent)."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, NamedTuple

import httpx
from chatplug.emulation import RunningEmulator

#: the providers, each with a model that has tools (the catalogue's default)
MODELS = {
    "anthropic": "anthropic/claude-sonnet-4-5-20250929",
    "gemini": "gemini/gemini-2.5-flash",
    "ollama": "ollama/llama3.2",
}
PROVIDERS = list(MODELS)

#: the parameters of every tool of these tests
CITY: Dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def function_tool(name: str, description: str) -> Dict[str, Any]:
    """A Chat Completions function tool taking a ``city``."""
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": CITY},
    }


class Native(NamedTuple):
    """One native provider behind the server: its id, its model and its emulator."""

    provider: str
    model: str
    upstream: RunningEmulator


class Reported(NamedTuple):
    """Usage as the upstream counts it: (prompt tokens, completion tokens)."""

    prompt: int
    completion: int


def _anthropic(upstream: RunningEmulator, sent: Dict[str, Any]) -> Reported:
    answer = _post(
        upstream.root + sent["path"],
        {**sent["body"], "stream": False},
        {"anthropic-version": sent["headers"]["anthropic-version"]},
    )
    usage = answer["usage"]
    cached = usage.get("cache_read_input_tokens") or 0
    created = usage.get("cache_creation_input_tokens") or 0
    return Reported(usage["input_tokens"] + cached + created, usage["output_tokens"])


def _gemini(upstream: RunningEmulator, sent: Dict[str, Any]) -> Reported:
    path = sent["path"].replace(":streamGenerateContent", ":generateContent")
    usage = _post(upstream.root + path, json.loads(sent["body"]), {})["usageMetadata"]
    thoughts = usage.get("thoughtsTokenCount", 0)
    return Reported(usage["promptTokenCount"], usage["candidatesTokenCount"] + thoughts)


def _ollama(upstream: RunningEmulator, sent: Dict[str, Any]) -> Reported:
    record = _post(upstream.root + sent["path"], {**sent["body"], "stream": False}, {})
    return Reported(record["prompt_eval_count"], record["eval_count"])


def _post(url: str, body: Dict[str, Any], headers: Dict[str, str]) -> Dict[str, Any]:
    answer = httpx.post(url, json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


_USAGE: Dict[str, Callable[[RunningEmulator, Dict[str, Any]], Reported]] = {
    "anthropic": _anthropic,
    "gemini": _gemini,
    "ollama": _ollama,
}


def requests_of(provider: str, upstream: RunningEmulator) -> List[Dict[str, Any]]:
    """The request log of ``provider``'s emulator: ``{"path", "headers", "body"}`` each."""
    if provider == "anthropic":
        from chatplug_anthropic.emulator import REQUESTS as ANTHROPIC

        return upstream.app[ANTHROPIC]
    if provider == "gemini":
        from chatplug_gemini.emulator import REQUESTS as GEMINI

        return upstream.app[GEMINI]
    from chatplug_ollama.emulator import REQUESTS as OLLAMA

    return upstream.app[OLLAMA]


def reported_usage(provider: str, upstream: RunningEmulator, which: int = -1) -> Reported:
    """The usage ``provider``'s emulator reports for a request it received (the last one
    by default), asked again with the same body."""
    sent = requests_of(provider, upstream)[which]
    return _USAGE[provider](upstream, sent)
