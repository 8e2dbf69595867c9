"""HTTP helpers for plugins: open a streamed upstream response with errors mapped."""

from __future__ import annotations

import sys
import time
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncContextManager,
    Awaitable,
    Callable,
    Dict,
    Mapping,
    Optional,
)

from .errors import (
    AuthenticationError,
    RateLimitedError,
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from .types import CompletionRequest

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

BODY_EXCERPT = 300
#: after a block that ended normally, how long and how much :func:`open_stream` reads to
#: reach the end of the body (so that the connection goes back to the pool)
DRAIN_SECONDS = 0.25
DRAIN_BYTES = 64 * 1024
REDACTED = "[redacted]"
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


def browser_headers(origin: str, referer: Optional[str] = None, **extra: str) -> Dict[str, str]:
    """Browser-like headers (User-Agent, Origin, Referer, Accept-Language, Sec-Fetch-*)."""
    headers = {
        "user-agent": BROWSER_USER_AGENT,
        "accept-language": "en-US,en;q=0.9",
        "origin": origin,
        "referer": referer if referer is not None else origin + "/",
        "sec-fetch-dest": "empty",
        "sec-fetch-mode": "cors",
        "sec-fetch-site": "same-origin",
    }
    headers.update({key.replace("_", "-").lower(): value for key, value in extra.items()})
    return headers


def site_headers(base: str, page: str = "/", **extra: str) -> Dict[str, str]:
    """:func:`browser_headers` of a page of the web app at ``base`` (its URL, maybe with a
    path): ``Origin`` is ``base``'s scheme and host, ``Referer`` is ``base`` + ``page``."""
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else base.rstrip("/")
    return browser_headers(origin, base.rstrip("/") + page, **extra)


def open_stream(
    session: "aiohttp.ClientSession",
    request: CompletionRequest,
    method: str,
    url: str,
    *,
    headers: Optional[Mapping[str, str]] = None,
    json: Any = None,
    data: Any = None,
    params: Optional[Mapping[str, str]] = None,
    on_error: Optional[Callable[["aiohttp.ClientResponse"], Awaitable[BaseException]]] = None,
) -> AsyncContextManager["aiohttp.ClientResponse"]:
    """Send one request with the request's proxy and timeouts; yield the open response.

    ``async with open_stream(...) as response:``.  An HTTP error status raises the
    matching :class:`~chatplug.UpstreamHTTPError` (with the status and an excerpt of the
    body); the response is released on exit, including when the caller stops reading early.
    ``on_error`` replaces :func:`http_error` to build that error (an async function of the
    response, for an upstream whose error bodies say more, e.g. OpenAI's ``{"error": ...}``).

    When the block ends normally before the end of the body (a plugin stops reading at its
    protocol's end marker, such as ``data: [DONE]``), the rest of the body is read first
    (at most :data:`DRAIN_BYTES` within :data:`DRAIN_SECONDS`) so that the connection goes
    back to the pool instead of being closed with unread data.  When the block ends with an
    exception (including the caller closing the stream early) nothing is read: the
    connection is closed at once.
    """
    options = {"headers": headers, "json": json, "data": data, "params": params}
    return _OpenStream(session, request, method, url, options, on_error)


class _OpenStream:
    """:func:`open_stream`'s context manager: a class, not ``@asynccontextmanager`` (which
    costs an async generator and ~3 us per stream)."""

    __slots__ = ("_args", "_context", "_on_error", "_options", "_request", "_response")

    def __init__(
        self,
        session: "aiohttp.ClientSession",
        request: CompletionRequest,
        method: str,
        url: str,
        options: Dict[str, Any],
        on_error: Optional[Callable[["aiohttp.ClientResponse"], Awaitable[BaseException]]],
    ) -> None:
        self._args = (session, method, url)
        self._on_error = on_error
        self._request = request
        self._options = options
        self._context: Any = None
        self._response: Optional["aiohttp.ClientResponse"] = None

    async def __aenter__(self) -> "aiohttp.ClientResponse":
        session, method, url = self._args
        request = self._request
        context = self._context = session.request(
            method,
            url,
            proxy=request.proxy,
            timeout=request.timeout.client_timeout(),
            **self._options,
        )
        response: "aiohttp.ClientResponse" = await context.__aenter__()
        if response.status >= 400:
            try:
                error: BaseException
                if self._on_error is not None:
                    error = await self._on_error(response)
                else:
                    error = await http_error(response, request.provider)
            except BaseException:  # cancelled while reading the body: release, re-raise
                await context.__aexit__(*sys.exc_info())
                raise
            await context.__aexit__(type(error), error, error.__traceback__)
            raise error
        self._response = response
        return response

    async def __aexit__(self, *exc_info: Any) -> None:
        response = self._response
        try:
            if exc_info[0] is None and response is not None and not response.content.is_eof():
                await _drain(response)
        finally:
            await self._context.__aexit__(*exc_info)


async def _drain(response: "aiohttp.ClientResponse") -> None:
    """Read the end of the body (normally already received): see :func:`open_stream`."""
    import asyncio  # here: importing asyncio costs ~20 ms of `chatplug models`

    content = response.content
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    seen = 0
    while not content.is_eof() and seen < DRAIN_BYTES:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        try:
            seen += len(await asyncio.wait_for(content.readany(), remaining))
        except Exception:  # the answer is complete; the connection is merely not reused
            return


def redact(text: str, secret: Optional[str]) -> str:
    """``text`` with every occurrence of ``secret`` (an API key) replaced by ``[redacted]``."""
    if secret and secret in text:
        return text.replace(secret, REDACTED)
    return text


async def http_error(response: "aiohttp.ClientResponse", provider: str) -> UpstreamHTTPError:
    """The typed error for an HTTP error response, with an excerpt of its body."""
    try:
        raw = await response.content.read(BODY_EXCERPT * 4)
        body = " ".join(raw.decode(errors="replace").split())[:BODY_EXCERPT]
    except Exception:  # the body is only a courtesy; the status is what matters
        body = ""
    return _status_error(response.status, response.reason, body, response.headers, provider)


def _status_error(
    status: int,
    reason: Optional[str],
    body: str,
    headers: Optional[Mapping[str, str]],
    provider: str,
) -> UpstreamHTTPError:
    message = f"upstream returned HTTP {status} {reason or ''}".rstrip()
    if status == 429:
        return RateLimitedError(
            message,
            body=body,
            retry_after=parse_retry_after((headers or {}).get("Retry-After")),
            provider=provider,
            hint="Wait and retry, or use another provider.",
        )
    if status in (401, 403):
        return AuthenticationError(
            message,
            status=status,
            body=body,
            provider=provider,
            hint="Check the provider's API key or access settings.",
        )
    hint = (
        "The upstream failed; try again later."
        if status >= 500
        else ("The upstream rejected the request; the plugin may be out of date.")
    )
    return UpstreamHTTPError(message, status=status, body=body, provider=provider, hint=hint)


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # here, not at import time: it costs ~8 ms at startup

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def map_transport_error(error: BaseException, request: CompletionRequest) -> Optional[Exception]:
    """The chatplug error for an aiohttp/asyncio transport exception, or ``None``."""
    import asyncio

    import aiohttp

    provider = request.provider
    timeout = request.timeout
    if isinstance(error, aiohttp.ClientConnectorError) and not isinstance(
        error, aiohttp.ClientProxyConnectionError
    ):
        return UpstreamConnectionError(
            f"cannot connect to {error.host}:{error.port}: {error.os_error}", provider=provider
        )
    if isinstance(error, aiohttp.ServerTimeoutError):
        # aiohttp >= 3.10: ConnectionTimeoutError (sock_connect, or waiting for a pooled
        # connection) and SocketTimeoutError (sock_read: headers or between reads).
        connect_timeout = getattr(aiohttp, "ConnectionTimeoutError", None)
        if (
            isinstance(error, connect_timeout)
            if connect_timeout is not None
            else "connect" in str(error).lower()
        ):
            return UpstreamTimeoutError("connect", timeout.connect, provider=provider)
        return UpstreamTimeoutError("idle", timeout.idle, provider=provider)
    if isinstance(error, aiohttp.ClientProxyConnectionError):
        return UpstreamConnectionError(
            f"cannot connect to the proxy: {error.os_error}",
            provider=provider,
            hint="Check the --proxy URL and that the proxy is running.",
        )
    if isinstance(error, aiohttp.ClientPayloadError):
        from .errors import StreamProtocolError

        if str(error).startswith("Response payload is not completed"):
            # aiohttp's word for "the connection was lost before the body ended" (a reset,
            # or a close in the middle of a chunked or Content-Length body): transient.
            return UpstreamConnectionError(
                f"the connection was lost before the response ended: {error}", provider=provider
            )
        return StreamProtocolError(
            f"the response was truncated or corrupt: {error}", provider=provider
        )
    if isinstance(error, aiohttp.ClientHttpProxyError):  # the proxy refused the tunnel
        return UpstreamConnectionError(
            f"the proxy refused the connection: HTTP {error.status} {error.message}".rstrip(),
            provider=provider,
            hint="Check the --proxy URL, its credentials, and that it allows the target.",
        )
    if isinstance(error, aiohttp.ClientResponseError):
        if error.headers is None and error.status == 400:  # aiohttp could not parse it
            from .errors import StreamProtocolError

            return StreamProtocolError(
                f"the upstream's HTTP response is malformed: {error.message}".rstrip(),
                provider=provider,
            )
        if error.status >= 400:  # a plugin's own raise_for_status()
            return _status_error(error.status, error.message, "", error.headers, provider)
    if isinstance(error, aiohttp.ClientError):
        return UpstreamConnectionError(f"{type(error).__name__}: {error}", provider=provider)
    if isinstance(error, asyncio.TimeoutError):
        return UpstreamTimeoutError("total", timeout.total, provider=provider)
    if isinstance(error, OSError):
        return UpstreamConnectionError(f"{type(error).__name__}: {error}", provider=provider)
    if type(error).__module__.split(".")[0] in ("aiohttp_socks", "python_socks"):
        return UpstreamConnectionError(  # a SOCKS proxy failed (connect, auth or tunnel)
            f"SOCKS proxy: {error}",
            provider=provider,
            hint="Check the proxy URL, its credentials, and that the proxy is running.",
        )
    return None
