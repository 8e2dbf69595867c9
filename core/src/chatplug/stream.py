"""The :class:`Stream` an :class:`~chatplug.AsyncClient` returns: an answer being streamed."""

from __future__ import annotations

from typing import Any, AsyncIterator, List, Optional, Tuple


class _Progress:
    """What the generator reports to its :class:`Stream`.

    Kept apart from the stream so that the stream and its generator form no reference
    cycle: a consumer dropping the stream (``break`` out of ``async for``) frees it at once,
    and the event loop's async-generator finalizer then closes the upstream response.
    """

    __slots__ = ("attempts", "model", "provider", "text_length")

    def __init__(self) -> None:
        self.provider: Optional[str] = None
        self.model: Optional[str] = None
        self.text_length = 0
        self.attempts: List[Tuple[str, str]] = []


class Stream:
    """An answer being streamed: iterate it for text pieces (``async for``).

    Use it as an async context manager (or call :meth:`aclose`) to release the upstream
    connection at once when you stop early.  After the first piece, ``provider`` and
    ``model`` say who is answering; ``text_length`` counts the characters yielded (set at
    the first piece and when the stream ends or fails, not on every piece).
    """

    __slots__ = ("_agen", "_progress")

    def __init__(self) -> None:
        self._agen: AsyncIterator[str]
        self._progress = _Progress()

    @property
    def provider(self) -> Optional[str]:
        return self._progress.provider

    @property
    def model(self) -> Optional[str]:
        return self._progress.model

    @property
    def text_length(self) -> int:
        return self._progress.text_length

    @property
    def attempts(self) -> List[Tuple[str, str]]:
        """``(provider, model)`` of every attempt so far, retries included."""
        return self._progress.attempts

    def __aiter__(self) -> AsyncIterator[str]:
        # ``async for`` drives the generator itself: no Python-level __anext__ per piece.
        # (The generator holds the _Progress, not the stream, so dropping the stream is fine.)
        return self._agen

    def __anext__(self) -> Any:
        return self._agen.__anext__()

    async def aclose(self) -> None:
        await self._agen.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> "Stream":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
