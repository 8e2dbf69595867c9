"""Guarding plugin code: what a plugin raises becomes a :class:`~chatplug.PluginError`.

Every call into a plugin (its import, its hooks, each step of its stream) may raise
anything, ``BaseException`` included: ``SystemExit``, ``KeyboardInterrupt``, a stray
``GeneratorExit`` or ``CancelledError``.  None of it may take the process down or leave a
request unanswered, so the core turns it into a ``PluginError`` naming the plugin, for
that request only.  Two things raised while plugin code runs are the caller's, not the
plugin's, and propagate unchanged (:func:`belongs_to_caller`): the cancellation of the
caller's own task, and a Ctrl-C where Python's default SIGINT handler is in charge.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

from .errors import ChatplugError, PluginError

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future

# threading, signal and concurrent.futures are imported when needed: ``chatplug plugins``
# imports this module and should start fast.


def belongs_to_caller(error: BaseException) -> bool:
    """Whether ``error``, raised while plugin code ran, is the caller's to handle.

    A ``CancelledError`` is the caller's when its task is being cancelled (``Task.cancelling``,
    Python 3.11+; before 3.11 every ``CancelledError`` is taken as the caller's).  A
    ``KeyboardInterrupt`` is the caller's in the main thread while Python's default SIGINT
    handler is installed (a Ctrl-C may land in any code); where something else handles
    SIGINT (``chatplug serve``, ``asyncio.run``) only the plugin can have raised it.
    """
    asyncio = sys.modules.get("asyncio")  # not imported: it cannot be a CancelledError
    if asyncio is not None and isinstance(error, asyncio.CancelledError):
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running loop: a synchronous hook raised it itself
            return False
        cancelling = getattr(task, "cancelling", None)
        return task is not None and (cancelling is None or cancelling() > 0)
    if isinstance(error, KeyboardInterrupt):
        import signal
        import threading

        return (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
    return False


def plugin_failure(error: BaseException, provider: str, during: str = "") -> PluginError:
    """The :class:`PluginError` reporting that the plugin raised ``error`` (its cause)."""
    where = f" in {during}" if during else ""
    detail = str(error)
    failure = PluginError(
        f"the plugin raised {type(error).__name__}{where}" + (f": {detail}" if detail else ""),
        provider=provider,
    )
    failure.__cause__ = error
    return failure


def start_in_thread(function: Callable[[], Any], name: str) -> "Future[Any]":
    """Run ``function()`` in a daemon thread; the future holds its result or what it raised
    (``BaseException`` included: in its own thread nothing it raises is the caller's)."""
    import contextvars
    import threading
    from concurrent.futures import Future

    future: "Future[Any]" = Future()

    def run() -> None:
        try:
            future.set_result(function())
        except BaseException as error:
            future.set_exception(error)

    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(run,), name=name, daemon=True).start()
    return future


def wait_in_thread(
    future: "Future[Any]",
    wait: Optional[float],
    provider: str,
    during: str,
    limit: Optional[float] = None,
) -> Any:
    """The result of :func:`start_in_thread`'s ``future``, waited for at most ``wait``
    seconds (the rest of its time ``limit``).

    What the function raised comes back as a :class:`PluginError` (a ``ChatplugError`` as
    is); running over the limit is a ``PluginError`` too, and the thread is left to finish
    (or hang) on its own.
    """
    from concurrent.futures import TimeoutError as FutureTimeout

    try:
        return future.result(None if wait is None else max(0.0, wait))
    except FutureTimeout:
        raise PluginError(
            f"{during} did not return within {limit if limit is not None else wait:g}s",
            provider=provider,
            hint="The plugin hangs or blocks; it is left out. Report it to its authors.",
        ) from None
    except ChatplugError:
        raise
    except BaseException as error:  # raised in the plugin's thread: never the caller's
        raise plugin_failure(error, provider, during) from error
