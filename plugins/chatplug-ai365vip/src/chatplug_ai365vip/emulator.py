"""An emulator of AI365VIP's ``POST /api/chat``, for tests and ``--emulate``.

``create_app()`` serves the endpoint as the real service (a chatbot-ui deployment) does:
the answer is plain UTF-8 text, streamed in deliberately awkward pieces (every multi-byte
character cut in two across writes).  It rejects what the real service would reject:
another path (404), another method (405), a body that is not the expected JSON, lacks a
field, names an unknown model or a display name that is not the model's (400 with a
short ``Error: ...`` text).  The reply is deterministic and reflects the request::

    Hello from the AI365VIP emulator ✓ — you said: <last user text> (turn <n>, <model name>)

where the last user text and the turn count come from the rendered prompt (its
``User: ...`` lines, or the whole prompt for a single message).  Tests read what arrived
from ``app[REQUESTS]`` and the replies from ``chatplug.emulation.REPLIES``; the keyword
arguments of :func:`create_app` script failures (``chatplug.emulator_kit`` holds the
request log, the fault script and the writing).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from aiohttp import web
from chatplug.emulation import record_reply
from chatplug.emulator_kit import DISCONNECTS as DISCONNECTS
from chatplug.emulator_kit import (
    FAULTS,
    Faults,
    emulator_app,
    read_logged_json,
    scripted_error,
    stream_body,
)
from chatplug.emulator_kit import REQUESTS as REQUESTS
from chatplug.emulator_kit import write_sizes as write_sizes

PATH = "/api/chat"
#: the models the service knows, with their display names
MODELS = {"gpt-3.5-turbo": "GPT-3.5", "gpt-3.5-turbo-16k": "GPT-3.5-16K", "gpt-4o": "GPT-4o"}
ROLES = ("system", "user", "assistant")


def create_app(**faults: Any) -> web.Application:
    """The emulator app; without arguments it behaves like the healthy service.

    ``faults`` script failures (``chatplug.emulator_kit.Faults``): ``status``,
    ``error_body``, ``retry_after``; ``truncate`` ends the body cleanly in the middle of a
    multi-byte character; ``drop`` resets the connection there; ``delay`` sleeps between
    writes.
    """
    app = emulator_app(Faults(**faults))
    app.router.add_post(PATH, chat)
    return app


def _problem(body: Any) -> Optional[str]:
    """Why the body is invalid, or ``None``."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    model = body.get("model")
    if not isinstance(model, dict):
        return "'model' must be an object"
    for name, kind in (("id", str), ("name", str), ("maxLength", int), ("tokenLimit", int)):
        if not isinstance(model.get(name), kind):
            return f"'model.{name}' is missing or not a {kind.__name__}"
    if model["id"] not in MODELS:
        return f"unknown model {model['id']!r}"
    if model["name"] != MODELS[model["id"]]:
        return f"model name {model['name']!r} is not {model['id']!r}'s ({MODELS[model['id']]!r})"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for message in messages:
        if not (
            isinstance(message, dict)
            and message.get("role") in ROLES
            and isinstance(message.get("content"), str)
        ):
            return "each message must be {'role': 'user'|'assistant'|'system', 'content': string}"
    if messages[-1]["role"] != "user":
        return "the last message must be the user's"
    if not isinstance(body.get("key"), str):
        return "'key' must be a string"
    if not isinstance(body.get("prompt"), str):
        return "'prompt' must be a string"
    temperature = body.get("temperature")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        return "'temperature' must be a number"
    return None


def last_user_turn(prompt: str) -> Tuple[str, int]:
    """The last user text of a rendered prompt and the number of user turns in it."""
    users = [line[len("User: ") :] for line in prompt.split("\n") if line.startswith("User: ")]
    if users and prompt.rstrip().endswith("Assistant:"):
        return users[-1], len(users)
    return prompt, 1


def reply_text(prompt: str, name: str) -> str:
    """The emulator's deterministic reply to a rendered prompt, for model ``name``."""
    text, turn = last_user_turn(prompt)
    return f"Hello from the AI365VIP emulator ✓ — you said: {text} (turn {turn}, {name})"


async def chat(request: web.Request) -> web.StreamResponse:
    body = await read_logged_json(request)
    problem = "the body must be JSON" if body is None else _problem(body)
    if problem is not None:
        return web.Response(status=400, text=f"Error: {problem}")
    failure = scripted_error(request, "Error")
    if failure is not None:
        return failure

    faults = request.app[FAULTS]
    reply = reply_text(body["messages"][-1]["content"], body["model"]["name"])
    data = reply.encode()
    if faults.truncate or faults.drop:
        middle = reply.index("✓")  # cut inside a multi-byte character
        data = reply[:middle].encode() + "✓".encode()[:1]
    record_reply(request, reply)
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await response.prepare(request)
    await stream_body(request, response, data)
    return response
