"""Raw HTTP helpers for the server tests: post a JSON body, read SSE events."""

from __future__ import annotations

import json
from typing import Any, Dict, List, NamedTuple

import aiohttp


class Answer(NamedTuple):
    status: int
    headers: Dict[str, str]
    body: Any  # the JSON body, or the list of SSE events (``"[DONE]"`` as the string)


def sse_events(text: str) -> List[Any]:
    """The ``data:`` payloads of an SSE body, JSON-decoded (``[DONE]`` kept as a string)."""
    events: List[Any] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        payload = block[len("data: ") :]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


async def post(base: str, body: Dict[str, Any], path: str = "/v1/chat/completions") -> Answer:
    async with aiohttp.ClientSession() as session:
        async with session.post(base + path, json=body) as response:
            text = await response.text()
            headers = {key.lower(): value for key, value in response.headers.items()}
            if headers.get("content-type", "").startswith("text/event-stream"):
                return Answer(response.status, headers, sse_events(text))
            return Answer(response.status, headers, json.loads(text))


async def get(base: str, path: str) -> Answer:
    async with aiohttp.ClientSession() as session:
        async with session.get(base + path) as response:
            headers = {key.lower(): value for key, value in response.headers.items()}
            return Answer(response.status, headers, await response.json())


def chat(prompt: str, model: str = "scripted/full", **fields: Any) -> Dict[str, Any]:
    """A chat completion body of one user message."""
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **fields}


def deltas(events: List[Any]) -> List[Dict[str, Any]]:
    """The ``delta`` of every chunk that has a choice."""
    return [
        event["choices"][0]["delta"]
        for event in events
        if isinstance(event, dict) and event.get("choices")
    ]
