"""The conformance suite: what every provider plugin must do, checked against its emulator.

One line in a plugin's tests runs it (one pytest test per check)::

    from chatplug.testing.conformance import conformance_tests

    test_conformance = conformance_tests("acme")

or ``pytest --chatplug acme``, or ``chatplug check acme``.  The checks (see :data:`CHECKS`):

- ``catalogue``: ``list_models`` returns ModelInfo items with valid, unique ids, the
  provider's id, exactly one default, and aliases that resolve to their model.
- ``unknown_model``: an unknown model is rejected with ``ModelNotFoundError``.
- ``emulator_answer``: a conversation streamed through the plugin's emulator gives exactly
  the reply the emulator recorded (``chatplug.emulation.record_reply``), and so does a
  second completion on the same client.
- ``utf8_split``: the same, with the emulator's bytes cut inside every UTF-8 character.
- ``http_500`` / ``http_429``: an upstream answering 500 (or 429 with ``Retry-After``)
  raises ``UpstreamHTTPError`` (status and body excerpt) / ``RateLimitedError``
  (``retry_after``).
- ``truncated``: a stream that stops halfway (inside a UTF-8 character) raises
  ``StreamProtocolError``; a connection dropped halfway raises ``StreamProtocolError`` or
  ``UpstreamConnectionError`` — never success.
- ``cancellation``: stopping after the first piece closes the upstream connection.
- ``idle_timeout``: a stream that stalls raises ``UpstreamTimeoutError`` after the
  request's idle timeout (``request.timeout``).
- ``proxy``: every request goes through ``request.proxy``.
- ``base_url``: every request goes to ``request.base_url``, path prefix included.

The faults are injected with a :class:`~chatplug.testing.ScriptedUpstream` that relays
the plugin's requests to its emulator and alters the emulator's answer (the last request
of a completion is taken as the streaming one).  Each failure says what is wrong.
The plugin must register an emulator (entry-point group ``chatplug.emulators``) or one
must be given (``emulator=``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
)

import click

from ..errors import (
    ChatplugError,
    ModelNotFoundError,
    RateLimitedError,
    StreamProtocolError,
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamTimeoutError,
)
from ..registry import PROVIDER_ID
from ..types import ModelInfo, RetryPolicy, Timeout

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

    from ..client import AsyncClient
    from ..emulation import AppFactory, RunningEmulator
    from .upstream import RecordedRequest, Reply, ScriptedUpstream

#: timeouts generous enough for a loaded machine, short enough to report a hang
CHECK_TIMEOUT = Timeout(connect=5.0, first_byte=15.0, idle=15.0, total=None)
NO_RETRY = RetryPolicy(attempts=1)
#: seconds one check may take in all
CHECK_LIMIT = 60.0
#: seconds to wait for the plugin to close an abandoned connection
CLOSE_WAIT = 5.0
#: seconds to wait for the first piece while the rest of the answer is held back
FIRST_PIECE_WAIT = 8.0
#: the idle timeout of the idle_timeout check, and how late it may fire
IDLE_TIMEOUT = 0.5
IDLE_SLACK = 7.0

CONVERSATION: Tuple[Dict[str, str], ...] = (
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Grüß dich! Say something about Köln ☕"},
    {"role": "assistant", "content": "Köln has a cathedral — der Dom."},
    {"role": "user", "content": "Merci, et ça va? 👋 Ещё раз, пожалуйста."},
)
SIMPLE: Tuple[Dict[str, str], ...] = ({"role": "user", "content": "Hello there — héllo ✓"},)
PROXY_HEADER = "x-chatplug-conformance-proxy"
PREFIX = "/chatplug-prefix"
UNKNOWN_MODEL = "chatplug-conformance-no-such-model"


class ConformanceFailure(AssertionError):
    """A check failed; the message says what is wrong, in plain words."""


@dataclass
class Subject:
    """What is checked: a provider id, optionally with an in-process plugin and emulator."""

    provider: str
    plugin: Optional[object] = None
    emulator: Optional["AppFactory"] = None
    #: extra AsyncClient arguments, e.g. ``config=`` with the provider's settings
    client_options: Mapping[str, Any] = field(default_factory=dict)

    def client(self, **kwargs: Any) -> "AsyncClient":
        from .helpers import make_client

        options: Dict[str, Any] = {"timeout": CHECK_TIMEOUT, "retry": NO_RETRY}
        options.update(self.client_options)
        options.update(kwargs)
        return make_client(self.provider, self.plugin, **options)

    def require_provider(self) -> None:
        """Fail with a clear message when the provider is not installed or does not load."""
        from ..errors import ProviderNotFoundError
        from ..registry import ENTRY_POINT_GROUP, entry_points
        from .helpers import make_registry

        try:
            make_registry(self.provider, self.plugin).provider(self.provider)
        except ProviderNotFoundError:
            installed = ", ".join(e.name for e in entry_points(ENTRY_POINT_GROUP)) or "none"
            raise ConformanceFailure(
                f"the provider {self.provider!r} is not installed (installed providers: "
                f"{installed}): install the plugin (pip install -e .), with its entry point "
                f'named {self.provider!r} in [project.entry-points."chatplug.providers"]'
            ) from None
        except ChatplugError as error:
            raise ConformanceFailure(
                f"the provider could not be loaded: {_describe(error)}"
            ) from None

    def app(self) -> "web.Application":
        if self.emulator is not None:
            return self.emulator()
        from ..emulation import emulator_factory
        from ..errors import ProviderNotFoundError

        try:
            factory = emulator_factory(self.provider)
        except ProviderNotFoundError:
            raise ConformanceFailure(
                f"no emulator is registered for {self.provider!r}: add "
                f'[project.entry-points."chatplug.emulators"] {self.provider} = '
                '"<your module>.emulator:create_app" to pyproject.toml (and reinstall), '
                "or pass emulator= to the suite"
            ) from None
        except ChatplugError as error:
            raise ConformanceFailure(
                f"the emulator of {self.provider!r} failed to load: {error}"
            ) from None
        return factory()


@dataclass(frozen=True)
class Check:
    """One conformance check: ``run(subject)`` raises :class:`ConformanceFailure`."""

    name: str
    description: str
    run: Callable[[Subject], Awaitable[None]]


@dataclass
class CheckResult:
    name: str
    description: str
    passed: bool
    message: str = ""
    seconds: float = 0.0


# ------------------------------------------------------------------------------ helpers


def _describe(error: BaseException) -> str:
    text = str(error) or repr(error)
    return f"{type(error).__name__}: {text}"


def _strip_provider(text: str, provider: str) -> str:
    prefix = f"{provider}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


class _Recorder:
    """Counts the requests an emulator app received (and whether they came via the proxy)."""

    def __init__(self) -> None:
        self.requests: List[Tuple[str, str, bool]] = []

    def install(self, app: "web.Application") -> "web.Application":
        from aiohttp import web

        @web.middleware
        async def record(request: web.Request, handler: Any) -> Any:
            self.requests.append((request.method, request.path_qs, PROXY_HEADER in request.headers))
            return await handler(request)

        app.middlewares.append(record)
        return app


class _Relay:
    """A scripted-upstream handler forwarding every request to an emulator.

    ``alter(request, reply)`` may change the emulator's reply (for the streaming request).
    ``prefix``: the path prefix expected in front of every request (stripped).
    """

    def __init__(
        self,
        target: str,
        *,
        prefix: str = "",
        alter: Optional[Callable[["RecordedRequest", "Reply"], "Reply"]] = None,
        stream_key: Optional[Tuple[str, str]] = None,
    ) -> None:
        self.target = target.rstrip("/")
        self.prefix = prefix
        self.alter = alter
        self.stream_key = stream_key
        self.exchanges: List[Tuple["RecordedRequest", "Reply"]] = []
        self.outside: List[str] = []
        self.altered = 0

    async def __call__(self, request: "RecordedRequest") -> "Reply":
        import aiohttp

        from .upstream import LENGTH, Reply

        target = request.target
        if self.prefix:
            if not target.startswith(self.prefix + "/"):
                self.outside.append(request.target)
                return Reply.error(404, f"not under the base URL's path {self.prefix}")
            target = target[len(self.prefix) :]
        skip = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
        headers = [(k, v) for k, v in request.raw_headers if k.lower() not in skip]
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            async with session.request(
                request.method,
                self.target + target,
                headers=headers,
                data=request.body or None,
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            ) as response:
                body = await response.read()
                kept = {
                    k: v
                    for k, v in response.headers.items()
                    if k.lower() not in skip and k.lower() != "date" and k.lower() != "server"
                }
                status = response.status
        reply = Reply(status=status, chunks=[body] if body else [], headers=kept, framing=LENGTH)
        self.exchanges.append((request, reply))
        if self.alter is not None and status < 400 and self.stream_key == _key(request):
            self.altered += 1
            return self.alter(request, reply)
        return reply


def _key(request: "RecordedRequest") -> Tuple[str, str]:
    return (request.method.upper(), request.path)


async def _stream_text(
    client: "AsyncClient", subject: Subject, messages: Sequence[Dict[str, str]], **kwargs: Any
) -> str:
    pieces = []
    async with client.stream(list(messages), provider=subject.provider, **kwargs) as stream:
        async for piece in stream:
            if not isinstance(piece, str):
                raise ConformanceFailure(
                    f"stream_completion yielded {type(piece).__name__} {piece!r}; "
                    "it must yield str text pieces (decode bytes with chatplug's decoders)"
                )
            pieces.append(piece)
    return "".join(pieces)


async def _answer(client: "AsyncClient", subject: Subject, what: str, **kwargs: Any) -> str:
    """The answer to :data:`SIMPLE` (or ``messages=``); a failure explains what went wrong."""
    messages = kwargs.pop("messages", SIMPLE)
    try:
        return await _stream_text(client, subject, messages, **kwargs)
    except ConformanceFailure:
        raise
    except Exception as error:
        raise _failed_stream(error, what) from None


def _compare(answer: str, replies: List[str], what: str) -> None:
    if not replies:
        raise ConformanceFailure(
            f"{what}: the emulator recorded no reply, so there is nothing to compare the answer "
            f"{answer[:80]!r} with: the emulator must call "
            "chatplug.emulation.record_reply(request, text) with the text it streams"
        )
    expected = replies[-1]
    if answer != expected:
        raise ConformanceFailure(
            f"{what}: the streamed answer differs from the emulator's reply.\n"
            f"  expected: {expected!r}\n  got:      {answer!r}\n" + _difference(expected, answer)
        )


def _difference(expected: str, answer: str) -> str:
    index = next(
        (i for i, (a, b) in enumerate(zip(expected, answer)) if a != b),
        min(len(expected), len(answer)),
    )
    if answer and expected.startswith(answer):
        return f"  the answer stops after {len(answer)} of {len(expected)} characters"
    if expected and answer.startswith(expected):
        return "  the answer has extra text after the reply (was something else yielded?)"
    return (
        f"  first difference at character {index}: expected {expected[index : index + 10]!r}, "
        f"got {answer[index : index + 10]!r} (mis-decoded or mis-parsed stream?)"
    )


def _failed_stream(error: BaseException, what: str) -> ConformanceFailure:
    if isinstance(error, UpstreamHTTPError) and 400 <= error.status < 500:
        return ConformanceFailure(
            f"{what}: the emulator rejected the plugin's request with HTTP {error.status}"
            f"{': ' + error.body if error.body else ''} — the request (path, headers or JSON "
            "payload) does not match the upstream's protocol"
        )
    return ConformanceFailure(f"{what}: streaming failed with {_describe(error)}")


async def _find_stream_key(subject: Subject, what: str) -> Tuple[str, str]:
    """Relay one completion to the emulator; the last request is the streaming one."""
    from ..emulation import run_emulator
    from .upstream import ScriptedUpstream

    async with run_emulator(subject.app()) as emulator:
        relay = _Relay(emulator.root)
        async with ScriptedUpstream(handler=relay) as upstream:
            async with subject.client() as client:
                base_url = upstream.url + _base_path(emulator)
                await _answer(
                    client, subject, what + " (relaying to the emulator)", base_url=base_url
                )
    if not relay.exchanges:
        raise ConformanceFailure(f"{what}: the plugin sent no request to the base_url it was given")
    return _key(relay.exchanges[-1][0])


def _base_path(emulator: "RunningEmulator") -> str:
    return emulator.url[len(emulator.root) :]


async def _with_altered_stream(
    subject: Subject,
    alter: Callable[["RecordedRequest", "Reply"], "Reply"],
    body: Callable[["AsyncClient", str, "ScriptedUpstream", "RunningEmulator"], Awaitable[None]],
    what: str,
) -> None:
    """Run ``body(client, base_url, upstream, emulator)`` with the streaming reply altered."""
    from ..emulation import run_emulator
    from .upstream import ScriptedUpstream

    key = await _find_stream_key(subject, what)
    async with run_emulator(subject.app()) as emulator:
        relay = _Relay(emulator.root, alter=alter, stream_key=key)
        async with ScriptedUpstream(handler=relay) as upstream:
            async with subject.client() as client:
                await body(client, upstream.url + _base_path(emulator), upstream, emulator)
            if not relay.altered:
                raise ConformanceFailure(
                    f"{what}: the plugin did not repeat the request {key[0]} {key[1]} that "
                    "streamed its first answer, so the fault could not be injected"
                )


# ------------------------------------------------------------------------------- checks


async def check_catalogue(subject: Subject) -> None:
    from ..registry import Provider

    name = subject.provider
    if not PROVIDER_ID.match(name):
        raise ConformanceFailure(
            f"{name!r} is not a valid provider id: use lowercase letters, digits and '-'"
        )
    client = subject.client()
    try:
        provider: Provider = client.registry.provider(name)
    except ChatplugError as error:
        raise ConformanceFailure(f"the provider could not be loaded: {_describe(error)}") from None
    hook = getattr(provider.plugin, "list_models", None)
    if hook is None:  # pragma: no cover - the registry refuses such plugins
        raise ConformanceFailure("the plugin has no list_models hook")
    started = time.monotonic()
    try:
        models = hook()
    except Exception as error:
        raise ConformanceFailure(f"list_models raised {_describe(error)}") from None
    elapsed = time.monotonic() - started
    problems: List[str] = []
    if elapsed > 1.0:
        problems.append(
            f"list_models took {elapsed:.1f}s; it must be a fast static list (no network)"
        )
    if not isinstance(models, (list, tuple)) or not models:
        raise ConformanceFailure(
            f"list_models returned {models!r}; "
            "it must return a non-empty list of chatplug.ModelInfo"
        )
    for item in models:
        if not isinstance(item, ModelInfo):
            raise ConformanceFailure(
                f"list_models returned {item!r}, which is not a chatplug.ModelInfo"
            )
    ids = [model.id for model in models]
    for model in models:
        if not isinstance(model.id, str) or not model.id.strip() or model.id != model.id.strip():
            problems.append(f"model id {model.id!r} is empty or has surrounding whitespace")
        elif any(ch.isspace() for ch in model.id):
            problems.append(f"model id {model.id!r} contains whitespace")
        if model.provider != name:
            problems.append(
                f"model {model.id!r} says provider={model.provider!r}; it must be {name!r} "
                "(the entry point's name)"
            )
        for alias in model.aliases:
            if not isinstance(alias, str) or not alias.strip():
                problems.append(f"model {model.id!r} has an empty alias {alias!r}")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"duplicate model ids: {', '.join(map(str, duplicates))}")
    defaults = [model.id for model in models if model.default]
    if len(defaults) != 1:
        problems.append(
            f"exactly one model must have default=True; found {len(defaults)}"
            + (f" ({', '.join(defaults)})" if defaults else "")
        )
    aliases: Dict[str, str] = {}
    for model in models:
        for alias in model.aliases:
            if alias in aliases and aliases[alias] != model.id:
                problems.append(
                    f"alias {alias!r} is claimed by {aliases[alias]!r} and {model.id!r}"
                )
            aliases[alias] = model.id
    if problems:
        raise ConformanceFailure("the model catalogue is invalid:\n  - " + "\n  - ".join(problems))
    try:
        again = hook()
    except Exception as error:
        raise ConformanceFailure(
            f"list_models raised on a second call: {_describe(error)}"
        ) from None
    if list(again) != list(models):
        problems.append("list_models returned a different catalogue on a second call")
    try:
        for alias, target in aliases.items():
            resolved = provider.model(alias)
            if resolved.id != target:
                problems.append(f"alias {alias!r} resolves to {resolved.id!r}, not {target!r}")
        for model in models:
            if model.id not in aliases and provider.model(model.id).id != model.id:
                problems.append(f"model id {model.id!r} does not resolve to itself")
        if defaults and provider.model(None).id != defaults[0]:
            problems.append(f"model=None resolves to {provider.model(None).id!r}, not the default")
    except ChatplugError as error:
        problems.append(f"resolving the catalogue failed: {_describe(error)}")
    if problems:
        raise ConformanceFailure("the model catalogue is invalid:\n  - " + "\n  - ".join(problems))


async def check_unknown_model(subject: Subject) -> None:
    async with subject.client() as client:
        ways: Tuple[Tuple[str, Optional[str], str], ...] = (
            ("provider= and model=", subject.provider, UNKNOWN_MODEL),
            ("'provider/model'", None, f"{subject.provider}/{UNKNOWN_MODEL}"),
        )
        for how, provider, model in ways:
            try:
                async with client.stream(list(SIMPLE), provider=provider, model=model) as stream:
                    async for _ in stream:
                        pass
            except ModelNotFoundError:
                continue
            except Exception as error:
                raise ConformanceFailure(
                    f"asking for an unknown model ({how}) raised {_describe(error)}; "
                    "expected ModelNotFoundError (is the catalogue valid?)"
                ) from None
            raise ConformanceFailure(
                f"asking for the unknown model {UNKNOWN_MODEL!r} ({how}) streamed an answer "
                "instead of raising ModelNotFoundError"
            )


async def check_emulator_answer(subject: Subject) -> None:
    from ..emulation import run_emulator

    what = "a conversation streamed through the emulator"
    again = "a second completion on the same client"
    async with run_emulator(subject.app()) as emulator:
        async with subject.client(base_urls={subject.provider: emulator.url}) as client:
            answer = await _answer(client, subject, what, messages=CONVERSATION)
            if not answer:
                raise ConformanceFailure(f"{what} gave an empty answer")
            _compare(answer, emulator.replies, what)
            try:
                second = await _stream_text(client, subject, SIMPLE)
            except ConformanceFailure:
                raise
            except Exception as error:
                raise ConformanceFailure(
                    f"{again} failed with {_describe(error)}: every request of a client must "
                    "work, whatever the first one left behind (cached tokens, state, the "
                    "core's shared session, which the plugin must never close)"
                ) from None
            _compare(second, emulator.replies, again)


async def check_utf8_split(subject: Subject) -> None:
    from .upstream import split_utf8

    what = "the emulator's answer with every UTF-8 character split across two chunks"
    state: Dict[str, Any] = {}

    def alter(request: "RecordedRequest", reply: "Reply") -> "Reply":
        state["body"] = reply.body
        return reply.but(chunks=split_utf8(reply.body), delay=0.004)

    async def body(
        client: "AsyncClient",
        base_url: str,
        upstream: "ScriptedUpstream",
        emulator: "RunningEmulator",
    ) -> None:
        try:
            answer = await _stream_text(client, subject, SIMPLE, base_url=base_url)
        except ConformanceFailure:
            raise
        except StreamProtocolError as error:
            raise ConformanceFailure(
                f"{what} failed with {_describe(error)}: decode the byte stream incrementally "
                "(chatplug.decoders: Utf8Decoder, iter_text, iter_lines, iter_sse, iter_ndjson), "
                "never chunk by chunk with bytes.decode()"
            ) from None
        except Exception as error:
            raise _failed_stream(error, what) from None
        if not any(ord(ch) > 127 for ch in "".join(emulator.replies)):
            raise ConformanceFailure(
                "the emulator's reply is ASCII only, so UTF-8 split safety cannot be checked: "
                "make the emulator's reply contain non-ASCII characters (e.g. '✓')"
            )
        _compare(answer, emulator.replies, what)

    await _with_altered_stream(subject, alter, body, what)


async def _expect_http_error(
    subject: Subject, reply: "Reply", status: int, check: Callable[[BaseException], Optional[str]]
) -> None:
    from .upstream import ScriptedUpstream

    async with ScriptedUpstream(reply) as upstream:
        async with subject.client() as client:
            try:
                answer = await _stream_text(client, subject, SIMPLE, base_url=upstream.url)
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
            f"(it raised {_describe(caught) if caught else 'nothing'}): build every URL from "
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
    from .upstream import Reply

    excerpt = "scripted upstream failure 500"

    def check(error: BaseException) -> Optional[str]:
        if not isinstance(error, UpstreamHTTPError):
            return (
                f"the upstream answered HTTP 500; expected UpstreamHTTPError(status=500), got "
                f"{_describe(error)}. Use chatplug.open_stream, or raise "
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
    from .upstream import Reply

    def check(error: BaseException) -> Optional[str]:
        if not isinstance(error, RateLimitedError):
            return (
                f"the upstream answered HTTP 429 (Retry-After: 7); expected RateLimitedError, got "
                f"{_describe(error)}. chatplug.open_stream and chatplug.http_error map 429 for you"
            )
        if error.retry_after != 7:
            return (
                f"the upstream sent Retry-After: 7 but RateLimitedError.retry_after is "
                f"{error.retry_after!r}"
            )
        return None

    reply = Reply.error(429, "scripted upstream: too many requests", retry_after=7)
    await _expect_http_error(subject, reply, 429, check)


def _cut_point(data: bytes) -> int:
    """A cut near the middle of ``data``, inside a multi-byte UTF-8 character if there is one.

    Cutting inside a character makes the truncation detectable whatever the protocol:
    an incremental UTF-8 decoder reports it at the end of the stream, and so do line,
    event and JSON decoders (the cut is inside a line, event or object).
    """
    middle = max(1, len(data) // 2)
    starts = [i for i, byte in enumerate(data) if byte >= 0xC0 and i + 1 < len(data)]
    if not starts:
        return middle
    return min(starts, key=lambda i: abs(i - middle)) + 1


async def check_truncated(subject: Subject) -> None:
    from .upstream import CLOSE, LENGTH, split_bytes

    for variant in ("ends early", "connection drops"):
        what = f"a response cut off halfway ({variant})"
        sizes: Dict[str, int] = {}

        def alter(
            request: "RecordedRequest",
            reply: "Reply",
            variant: str = variant,
            sizes: Dict[str, int] = sizes,
        ) -> "Reply":
            data = reply.body
            cut = _cut_point(data)
            sizes.update(total=len(data), sent=cut)
            chunks = split_bytes(data[:cut], (7, 3, 11, 5))
            if variant == "ends early":  # a complete HTTP response whose stream stops short
                return reply.but(chunks=chunks, framing=LENGTH, content_length=cut)
            return reply.but(chunks=chunks, content_length=len(data), end=CLOSE)

        async def body(
            client: "AsyncClient",
            base_url: str,
            upstream: "ScriptedUpstream",
            emulator: "RunningEmulator",
            variant: str = variant,
            what: str = what,
            sizes: Dict[str, int] = sizes,
        ) -> None:
            cut = f"after {sizes.get('sent', '?')} of {sizes.get('total', '?')} bytes"
            expected: Tuple[Type[BaseException], ...] = (StreamProtocolError,)
            if variant != "ends early":
                expected = (StreamProtocolError, UpstreamConnectionError)
            names = " or ".join(kind.__name__ for kind in expected)
            try:
                answer = await _stream_text(client, subject, SIMPLE, base_url=base_url)
            except expected:
                return
            except ConformanceFailure:
                raise
            except Exception as error:
                raise ConformanceFailure(
                    f"{what}: the upstream's stream stopped {cut}; expected {names}, "
                    f"got {_describe(error)}"
                ) from None
            hint = (
                "the stream stopped inside a UTF-8 character, which an incremental decoder "
                "reports at its close(): call the decoders' close() (iter_text, iter_lines, "
                "iter_sse and iter_ndjson do) and check the protocol's end marker"
                if variant == "ends early"
                else "don't catch exceptions around the read loop"
            )
            raise ConformanceFailure(
                f"{what}: the upstream's stream stopped {cut}, but the plugin returned a "
                f"normal answer ({answer[:60]!r}, {len(answer)} characters) instead of raising "
                f"{names}: {hint}"
            )

        await _with_altered_stream(subject, alter, body, what)


def _hold_last_byte(request: "RecordedRequest", reply: "Reply") -> "Reply":
    """Send all but the last byte of the emulator's answer, then leave the connection open."""
    from .upstream import HANG, split_bytes

    data = reply.body
    sent = data[: max(1, len(data) - 1)]
    return reply.but(chunks=split_bytes(sent, (64,)), content_length=len(data), end=HANG)


async def check_cancellation(subject: Subject) -> None:
    what = "stopping after the first piece"
    alter = _hold_last_byte

    async def body(
        client: "AsyncClient",
        base_url: str,
        upstream: "ScriptedUpstream",
        emulator: "RunningEmulator",
    ) -> None:
        stream = client.stream(
            list(SIMPLE),
            provider=subject.provider,
            base_url=base_url,
            timeout=Timeout(connect=5.0, first_byte=FIRST_PIECE_WAIT, idle=20.0),
        )
        try:
            async with stream:
                async for _ in stream:
                    break
                else:
                    raise ConformanceFailure(f"{what}: the stream ended without any text")
        except ConformanceFailure:
            raise
        except Exception as error:
            raise ConformanceFailure(
                f"{what}: with all but the last byte of the emulator's answer sent (and the "
                f"connection left open), the stream failed with {_describe(error)} before its "
                "first piece: the plugin seems to wait for the whole response instead of "
                "yielding text as it arrives"
            ) from None
        stream_connection = upstream.requests[-1].connection
        await asyncio.get_running_loop().run_in_executor(
            None, stream_connection.closed.wait, CLOSE_WAIT
        )
        if stream_connection.closed_by != "client":
            raise ConformanceFailure(
                f"{what}: the consumer stopped reading and closed the stream, but the upstream "
                f"connection was still open {CLOSE_WAIT:g}s later: keep the response in an "
                "'async with' block around the read loop (don't read it all first, don't "
                "catch GeneratorExit) so that closing the generator closes the connection"
            )

    await _with_altered_stream(subject, alter, body, what)


async def check_idle_timeout(subject: Subject) -> None:
    what = "a stream that stalls (the rest of the answer held back)"

    async def body(
        client: "AsyncClient",
        base_url: str,
        upstream: "ScriptedUpstream",
        emulator: "RunningEmulator",
    ) -> None:
        timeout = Timeout(connect=5.0, first_byte=FIRST_PIECE_WAIT, idle=IDLE_TIMEOUT)
        started = time.monotonic()
        limit = IDLE_TIMEOUT + IDLE_SLACK
        try:
            answer = await asyncio.wait_for(
                _stream_text(client, subject, SIMPLE, base_url=base_url, timeout=timeout), limit
            )
        except asyncio.TimeoutError:
            raise ConformanceFailure(
                f"{what}: the idle timeout was {IDLE_TIMEOUT:g}s but the stream was still "
                f"waiting {limit:g}s later: pass request.timeout to the request "
                "(timeout=request.timeout.client_timeout(); open_stream does)"
            ) from None
        except UpstreamTimeoutError as error:
            elapsed = time.monotonic() - started
            if error.phase != "idle":
                raise ConformanceFailure(
                    f"{what}: expected an idle timeout, got the {error.phase!r} timeout"
                ) from None
            if elapsed > IDLE_TIMEOUT + IDLE_SLACK:
                raise ConformanceFailure(
                    f"{what}: the idle timeout was {IDLE_TIMEOUT:g}s but the stream failed only "
                    f"after {elapsed:.1f}s: pass request.timeout to the request "
                    "(timeout=request.timeout.client_timeout(); open_stream does)"
                ) from None
            return
        except ConformanceFailure:
            raise
        except Exception as error:
            raise ConformanceFailure(
                f"{what}: expected UpstreamTimeoutError (idle) after {IDLE_TIMEOUT:g}s, got "
                f"{_describe(error)}"
            ) from None
        raise ConformanceFailure(
            f"{what}: the upstream stalled before its end, but the plugin returned a normal "
            f"answer ({answer[:60]!r}) instead of raising UpstreamTimeoutError"
        )

    await _with_altered_stream(subject, _hold_last_byte, body, what)


async def check_proxy(subject: Subject) -> None:
    from ..emulation import run_emulator
    from .proxy import ForwardProxy

    what = "a conversation streamed through an HTTP proxy"
    recorder = _Recorder()
    app = recorder.install(subject.app())
    async with (
        run_emulator(app) as emulator,
        ForwardProxy(add_headers={PROXY_HEADER: "1"}) as proxy,
    ):
        async with subject.client(
            base_urls={subject.provider: emulator.url}, proxy=proxy.url
        ) as client:
            answer = await _answer(client, subject, what)
        direct = [f"{method} {path}" for method, path, via in recorder.requests if not via]
        if direct:
            raise ConformanceFailure(
                f"{what}: {len(direct)} request(s) bypassed the proxy ({', '.join(direct)}): "
                "pass proxy=request.proxy to every session request (chatplug.open_stream does)"
            )
        if not proxy.requests:
            raise ConformanceFailure(f"{what}: no request went through the proxy")
        _compare(answer, emulator.replies, what)


async def check_base_url(subject: Subject) -> None:
    from ..emulation import run_emulator
    from .upstream import ScriptedUpstream

    what = f"a conversation sent to a base_url with the path prefix {PREFIX}"
    async with run_emulator(subject.app()) as emulator:
        relay = _Relay(emulator.root, prefix=PREFIX)
        async with ScriptedUpstream(handler=relay) as upstream:
            base_url = upstream.url + PREFIX + _base_path(emulator)
            async with subject.client() as client:
                try:
                    answer = await _stream_text(client, subject, SIMPLE, base_url=base_url)
                except ConformanceFailure:
                    raise
                except Exception as error:
                    error_text = _describe(error)
                    caught: Optional[str] = error_text
                    answer = ""
                else:
                    caught = None
        if relay.outside:
            raise ConformanceFailure(
                f"{what}: the plugin dropped the prefix and requested {', '.join(relay.outside)}; "
                "build URLs as base_url + path (request.url(DEFAULT_URL, path)), not with urljoin"
            )
        if not upstream.requests:
            raise ConformanceFailure(
                f"{what}: no request reached the base_url {base_url}"
                f"{' (the plugin raised ' + caught + ')' if caught else ''}: use "
                "request.base_url (or request.url(DEFAULT_URL, path)) for every request"
            )
        if caught:
            raise ConformanceFailure(f"{what}: streaming failed with {caught}")
        _compare(answer, emulator.replies, what)


CHECKS: Tuple[Check, ...] = (
    Check("catalogue", "list_models: valid ids, one default, aliases resolve", check_catalogue),
    Check("unknown_model", "an unknown model raises ModelNotFoundError", check_unknown_model),
    Check(
        "emulator_answer",
        "the answer streamed via the emulator is its reply",
        check_emulator_answer,
    ),
    Check("utf8_split", "UTF-8 characters split across chunks decode whole", check_utf8_split),
    Check("http_500", "upstream HTTP 500 raises UpstreamHTTPError", check_http_500),
    Check("http_429", "upstream HTTP 429 raises RateLimitedError(retry_after)", check_http_429),
    Check("truncated", "a stream cut off halfway is an error, not success", check_truncated),
    Check("cancellation", "stopping early closes the upstream connection", check_cancellation),
    Check("idle_timeout", "a stalled stream raises UpstreamTimeoutError", check_idle_timeout),
    Check("proxy", "every request goes through request.proxy", check_proxy),
    Check("base_url", "every request goes to request.base_url", check_base_url),
)
CHECK_NAMES = tuple(check.name for check in CHECKS)


# ------------------------------------------------------------------------------ running


def select_checks(only: Iterable[str] = (), skip: Iterable[str] = ()) -> List[Check]:
    """The checks named in ``only`` (default: all) minus those in ``skip``."""
    only, skip = list(only), list(skip)
    unknown = [name for name in [*only, *skip] if name not in CHECK_NAMES]
    if unknown:
        raise ValueError(
            f"unknown conformance check(s): {', '.join(unknown)}; known: {', '.join(CHECK_NAMES)}"
        )
    return [c for c in CHECKS if (not only or c.name in only) and c.name not in skip]


def run_check(
    check: Check,
    provider: str,
    *,
    plugin: Optional[object] = None,
    emulator: Optional["AppFactory"] = None,
    client_options: Optional[Mapping[str, Any]] = None,
    limit: float = CHECK_LIMIT,
) -> CheckResult:
    """Run one check in a fresh event loop; never raises for a failing plugin."""
    subject = Subject(provider, plugin, emulator, dict(client_options or {}))
    started = time.monotonic()

    async def run() -> None:
        subject.require_provider()
        try:
            await asyncio.wait_for(check.run(subject), limit)
        except asyncio.TimeoutError:
            raise ConformanceFailure(
                f"the check did not finish within {limit:g}s (the plugin hangs?)"
            ) from None

    try:
        asyncio.run(run())
    except ConformanceFailure as failure:
        message = _strip_provider(str(failure), provider)
        return CheckResult(
            check.name, check.description, False, message, time.monotonic() - started
        )
    except Exception as error:
        message = f"the check itself failed unexpectedly: {_describe(error)}"
        return CheckResult(
            check.name, check.description, False, message, time.monotonic() - started
        )
    return CheckResult(check.name, check.description, True, "", time.monotonic() - started)


def run_conformance(
    provider: str,
    *,
    plugin: Optional[object] = None,
    emulator: Optional["AppFactory"] = None,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    client_options: Optional[Mapping[str, Any]] = None,
) -> List[CheckResult]:
    """Run the suite (or the checks in ``only``, minus ``skip``) against ``provider``."""
    return [
        run_check(check, provider, plugin=plugin, emulator=emulator, client_options=client_options)
        for check in select_checks(only, skip)
    ]


def conformance_tests(
    provider: str,
    *,
    plugin: Optional[object] = None,
    emulator: Optional["AppFactory"] = None,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    client_options: Optional[Mapping[str, Any]] = None,
) -> Callable[..., None]:
    """A pytest test function running each check as its own parametrized test.

    ``test_conformance = conformance_tests("acme")`` in a test module is all it takes.
    ``plugin``/``emulator`` check an in-process plugin instead of the installed one;
    ``only``/``skip`` select checks by name; ``client_options`` are extra
    :class:`~chatplug.AsyncClient` arguments (e.g. ``config=`` holding the provider's
    settings, such as a test API key).
    """
    import pytest

    checks = select_checks(only, skip)

    @pytest.mark.parametrize("check", [pytest.param(c, id=c.name) for c in checks])
    def test_conformance(check: Check) -> None:
        result = run_check(
            check, provider, plugin=plugin, emulator=emulator, client_options=client_options
        )
        if not result.passed:
            pytest.fail(f"conformance check {check.name!r} failed: {result.message}", pytrace=False)

    test_conformance.__doc__ = f"The chatplug conformance suite for provider {provider!r}."
    return test_conformance


@click.command("check")
@click.argument("name")
@click.option(
    "--only", "only", multiple=True, metavar="CHECK", help="Run only this check (repeatable)."
)
@click.option(
    "--skip", "skip", multiple=True, metavar="CHECK", help="Skip this check (repeatable)."
)
def check_command(name: str, only: Tuple[str, ...], skip: Tuple[str, ...]) -> None:
    """Run the plugin conformance suite against the installed provider NAME.

    The plugin's emulator serves on 127.0.0.1 (no network).  Prints PASS or FAIL per check,
    with what is wrong; exits with status 1 when a check fails.
    """
    try:
        checks = select_checks(only, skip)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    failed = 0
    for item in checks:
        result = run_check(item, name)
        if result.passed:
            mark = click.style("PASS", fg="green", bold=True)
            click.echo(f"{mark} {item.name:<16} {item.description} ({result.seconds:.1f}s)")
        else:
            failed += 1
            mark = click.style("FAIL", fg="red", bold=True)
            click.echo(f"{mark} {item.name:<16} {item.description}")
            for line in result.message.splitlines():
                click.echo(f"     {line}")
    total = len(checks)
    summary = f"{name}: {total - failed} of {total} conformance checks passed"
    click.echo(click.style(summary, fg="red" if failed else "green"))
    if failed:
        raise SystemExit(1)
