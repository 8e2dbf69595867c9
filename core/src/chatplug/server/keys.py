"""Who is asking, and may they: the API key of a ``/v1`` request and its limits.

A request presents ``Authorization: Bearer <key>`` (or ``x-api-key: <key>``).  The key is
looked up in the :class:`~chatplug.server.limits.KeyRing` of ``[[server.keys]]`` (constant
time), then compared with the unnamed ``--api-key`` (``hmac.compare_digest``).  From then on
only the key's **name** is used: in the access log, the metrics, the limiter and the log
database.
A generation request (``POST``) of a key with ``rpm``/``tpm`` is then checked against its
limits: over them, ``429`` in the OpenAI error shape with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import math
from typing import Optional

from aiohttp import web

from .access import RECORD_KEY
from .observe import Handler, Served, observe
from .operations import OPERATIONS, Operations
from .protocol import ApiError

#: the name of the unnamed key (``--api-key``), and of no key at all, in logs and metrics
UNNAMED = None


def presented_key(request: web.Request) -> str:
    """The key the request presents: ``Authorization: Bearer <key>``, else ``x-api-key:
    <key>`` (as Anthropic clients send it); ``""`` when none."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        token = request.headers.get("x-api-key", "")
    return token.strip()


def authenticate(request: web.Request, operations: Operations) -> Optional[str]:
    """The name of the key the request presents (``None``: the unnamed key, or no key
    needed); a 401 :class:`ApiError` when it presents none of the server's keys."""
    if not operations.authenticates:
        return UNNAMED
    token = presented_key(request)
    if token:
        try:
            sent = token.encode()
        except UnicodeEncodeError:  # header bytes that are not UTF-8: never a key
            sent = b""
        entry = operations.ring.lookup(token) if sent else None
        if entry is not None:
            record = request.get(RECORD_KEY)
            if record is not None:
                record.key = entry.name
            return entry.name
        unnamed = operations.api_key
        if sent and unnamed is not None and hmac.compare_digest(sent, unnamed.encode()):
            return UNNAMED
    raise ApiError(
        401,
        "missing or invalid API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
        code="invalid_api_key",
        headers={"WWW-Authenticate": 'Bearer realm="chatplug"'},
    )


async def check_limits(operations: Operations, name: Optional[str]) -> None:
    """Count one request of the key ``name``; a 429 when it is over a limit."""
    if name is None or name not in operations.limits:
        return
    allowed, wait = await operations.limiter.check(name)
    if allowed:
        return
    key = operations.limits[name]
    limits = ", ".join(
        f"{value} {unit} per minute"
        for value, unit in ((key.rpm, "requests"), (key.tpm, "tokens"))
        if value
    )
    seconds = max(1, math.ceil(wait))
    raise ApiError(
        429,
        f"the API key {name!r} is over its limit ({limits}); retry in {seconds} s",
        type="rate_limit_error",
        code="key_rate_limit_exceeded",
        headers={"Retry-After": str(seconds)},
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every ``/v1`` request needs one of the server's keys when it has any; a generation
    request (``POST``) is checked against its key's limits and accounted (:mod:`.observe`)."""
    if not request.path.startswith("/v1"):
        return await handler(request)
    operations = request.app[OPERATIONS]
    if request.method != "POST" or request.match_info.http_exception is not None:
        authenticate(request, operations)  # the model list, a 404: neither limited nor counted
        return await handler(request)
    return await observe(request, handler, operations, _admit)


async def _admit(request: web.Request, operations: Operations, served: Served) -> None:
    served.key = authenticate(request, operations)
    await check_limits(operations, served.key)
