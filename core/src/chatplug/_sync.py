"""The synchronous client: :class:`Client` and :class:`SyncStream`, over :class:`AsyncClient`."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Iterator, List, Optional, Tuple, Union

from ._async import AsyncClient
from .events import Event, Finish, ResponseMetadata, ToolCall, Usage
from .messages import MessagesInput
from .registry import PluginInfo
from .stream import Completion, Stream
from .types import ModelInfo


class Client:
    """The synchronous client: the same API as :class:`AsyncClient`, without ``await``.

    Runs a private event loop in the calling thread; use :class:`AsyncClient` inside
    async code.  ``with Client() as client:`` closes the session on exit.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._async = AsyncClient(**kwargs)
        self._open: "weakref.WeakSet[SyncStream]" = weakref.WeakSet()

    @property
    def async_client(self) -> AsyncClient:
        return self._async

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._loop.is_closed():
            for stream in list(self._open):  # before the session: each releases its response
                stream.close()
            self._run(self._async.aclose())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _run(self, awaitable: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            if hasattr(awaitable, "close"):
                awaitable.close()
            raise RuntimeError("chatplug.Client cannot run inside an event loop; use AsyncClient")
        task = asyncio.ensure_future(awaitable, loop=self._loop)
        try:
            return self._loop.run_until_complete(task)
        except BaseException:
            if not task.done():  # interrupted (Ctrl-C) while waiting: unwind the stream now
                task.cancel()
                try:
                    self._loop.run_until_complete(task)
                except (asyncio.CancelledError, Exception):
                    pass
            raise

    def providers(self) -> List[PluginInfo]:
        return self._async.providers()

    def models(self, provider: Optional[str] = None) -> List[ModelInfo]:
        return self._async.models(provider)

    def stream(self, messages: MessagesInput, **kwargs: Any) -> "SyncStream":
        """Stream the answer's text pieces: ``for text in client.stream(...)``.

        Breaking out of the loop (or leaving ``with client.stream(...) as stream:``)
        closes the upstream response.
        """
        stream = SyncStream(self, self._async.stream(messages, **kwargs))
        self._open.add(stream)
        return stream

    def complete(self, messages: MessagesInput, **kwargs: Any) -> str:
        return "".join(self.stream(messages, **kwargs))

    def respond(self, messages: MessagesInput, **kwargs: Any) -> Completion:
        """The whole answer with everything the plugin reported (see AsyncClient.respond)."""
        with self.stream(messages, **kwargs) as stream:
            text = "".join(stream)
        return stream._stream.completion(text)


class SyncStream:
    """An answer being streamed by :class:`Client`: iterate it for text pieces.

    The synchronous twin of :class:`Stream`: a context manager (``close()`` releases the
    upstream connection at once), with ``provider``, ``model``, ``text_length``,
    ``attempts`` and what the plugin reported besides text (``usage``, ``finish``,
    ``finish_reason``, ``tool_calls``, ``reasoning``, ``response``); :meth:`events`
    iterates everything.  Dropping it unfinished (``break``) closes it too.
    """

    __slots__ = ("__weakref__", "_client", "_closed", "_stream")

    def __init__(self, client: Client, stream: Stream) -> None:
        self._client = client
        self._stream = stream
        self._closed = False

    @property
    def provider(self) -> Optional[str]:
        return self._stream.provider

    @property
    def model(self) -> Optional[str]:
        return self._stream.model

    @property
    def text_length(self) -> int:
        return self._stream.text_length

    @property
    def attempts(self) -> List[Tuple[str, str]]:
        return self._stream.attempts

    @property
    def usage(self) -> Optional[Usage]:
        return self._stream.usage

    @property
    def finish(self) -> Optional[Finish]:
        return self._stream.finish

    @property
    def finish_reason(self) -> Optional[str]:
        return self._stream.finish_reason

    @property
    def tool_calls(self) -> List[ToolCall]:
        return self._stream.tool_calls

    @property
    def reasoning(self) -> str:
        return self._stream.reasoning

    @property
    def response(self) -> Optional[ResponseMetadata]:
        return self._stream.response

    def events(self) -> Iterator[Union[str, Event]]:
        """Iterate everything: ``str`` for text, :mod:`chatplug.events` objects otherwise
        (instead of text only; leaving the loop early closes the stream)."""
        agen = self._stream.events()
        try:
            while not self._closed:
                try:
                    item = self._client._run(agen.__anext__())
                except StopAsyncIteration:
                    return
                yield item
        finally:
            self.close()

    def __iter__(self) -> "SyncStream":
        return self

    def __next__(self) -> str:
        if self._closed:
            raise StopIteration
        try:
            return self._client._run(self._stream.__anext__())  # type: ignore[no-any-return]
        except StopAsyncIteration:
            self.close()
            raise StopIteration from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the upstream response (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop = self._client._loop
        if loop.is_closed():
            return
        if loop.is_running():  # finalised from inside the loop: close on its next turn
            loop.create_task(self._stream.aclose())
        else:
            self._client._run(self._stream.aclose())

    def __enter__(self) -> "SyncStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not self._closed:
            try:
                self.close()
            except Exception:  # pragma: no cover - interpreter shutdown
                pass
