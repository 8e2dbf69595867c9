"""``http_500`` and ``http_429``: an upstream error status becomes the right typed error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from ....errors import ChatplugError, RateLimitedError, StreamProtocolError, UpstreamHTTPError
from ..answers import stream_text
from ..subject import SIMPLE, ConformanceFailure, Subject, describe

if TYPE_CHECKING:  # pragma: no cover
    from ...upstream import Reply


async def _expect_http_error(
    subject: Subject, reply: "Reply", status: int, check: Callable[[BaseException], Optional[str]]
) -> None:
    from ...upstream import ScriptedUpstream

    async with ScriptedUpstream(reply) as upstream:
        async with subject.client() as client:
            try:
                answer = await stream_text(client, subject, SIMPLE, base_url=upstream.url)
            except ConformanceFailure:
                raise
            except Exception as error:
                caught: Optional[BaseException] = error
            else:
                caught = None
                raise ConformanceFailure(
                    f"the upstream answered every request with HTTP {status}, yet the plugin "
                    f"returned the answer {answer[:60]!r} instead of raising"
                )
    if not upstream.requests:
        raise ConformanceFailure(
            f"the plugin sent no request to the base_url {upstream.url} it was given "
            f"(it raised {describe(caught) if caught else 'nothing'}): build every URL from "
            "request.base_url (request.url(DEFAULT_URL, path))"
        )
    assert caught is not None
    if (isinstance(caught, StreamProtocolError) and "without any text" in str(caught)) or (
        isinstance(caught, ChatplugError)
        and not isinstance(caught, UpstreamHTTPError)
        and "without any text" in str(caught)
    ):
        raise ConformanceFailure(
            f"the upstream answered HTTP {status}, but the plugin's stream ended without text "
            "and without an error: it swallows the HTTP error. Use chatplug.open_stream "
            "(it raises UpstreamHTTPError) or raise chatplug.http_error(response, provider)"
        )
    problem = check(caught)
    if problem:
        raise ConformanceFailure(problem)


async def check_http_500(subject: Subject) -> None:
    from ...upstream import Reply

    excerpt = "scripted upstream failure 500"

    def check(error: BaseException) -> Optional[str]:
        if not isinstance(error, UpstreamHTTPError):
            return (
                f"the upstream answered HTTP 500; expected UpstreamHTTPError(status=500), got "
                f"{describe(error)}. Use chatplug.open_stream, or raise "
                "chatplug.http_error(response, provider) for an error status"
            )
        if error.status != 500:
            return f"the upstream answered HTTP 500, but the error says status={error.status}"
        if excerpt not in error.body:
            return (
                f"the UpstreamHTTPError for HTTP 500 lacks the upstream's body excerpt "
                f"(body={error.body!r}); chatplug.http_error(response, provider) includes it"
            )
        return None

    await _expect_http_error(subject, Reply.error(500, excerpt), 500, check)


async def check_http_429(subject: Subject) -> None:
    from ...upstream import Reply

    def check(error: BaseException) -> Optional[str]:
        if not isinstance(error, RateLimitedError):
            return (
                f"the upstream answered HTTP 429 (Retry-After: 7); expected RateLimitedError, got "
                f"{describe(error)}. chatplug.open_stream and chatplug.http_error map 429 for you"
            )
        if error.retry_after != 7:
            return (
                f"the upstream sent Retry-After: 7 but RateLimitedError.retry_after is "
                f"{error.retry_after!r}"
            )
        return None

    reply = Reply.error(429, "scripted upstream: too many requests", retry_after=7)
    await _expect_http_error(subject, reply, 429, check)
