"""Raw HTTP requests to an emulator, and what it received, for the tests of a protocol::

    answer = await raw_request(emulator.url + "/v1/chat", {"model": "m", "messages": [...]})
    assert answer.status == 400 and "model" in answer.json()["error"]
    assert sent_request(emulator)["headers"]["x-api-key"] == "k"

The body goes as it is when it is ``bytes``, as UTF-8 when it is a ``str``, and as JSON
otherwise; the whole answer is read.  :func:`sent_request` reads the request log of an
emulator built on :mod:`chatplug.emulator_kit`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, Mapping, NamedTuple, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ..emulation import RunningEmulator

__all__ = ["RawAnswer", "raw_request", "sent_request"]


class RawAnswer(NamedTuple):
    """An HTTP answer read whole: ``status``, ``headers`` (case-insensitive), ``body``."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        """The body as JSON (:class:`ValueError` when it is not)."""
        return json.loads(self.body)


async def raw_request(
    url: str,
    body: Any = None,
    *,
    method: str = "POST",
    headers: Optional[Mapping[str, str]] = None,
    params: Optional[Mapping[str, str]] = None,
) -> RawAnswer:
    """Send one request on a session of its own (no proxy from the environment) and read
    the answer whole."""
    import aiohttp

    sent = dict(headers or {})
    data: Optional[bytes] = None
    if isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    elif body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        if not any(name.lower() == "content-type" for name in sent):
            sent["Content-Type"] = "application/json"
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, data=data, headers=sent, params=params) as response:
            return RawAnswer(response.status, response.headers, await response.read())


def sent_request(emulator: "RunningEmulator", index: int = -1) -> Dict[str, Any]:
    """A request the emulator received (the last by default), from its request log:
    ``{"method", "path", "query", "headers", "body", "peer"}``."""
    from ..emulator_kit import REQUESTS

    return emulator.app[REQUESTS][index]
