"""``chatplug serve``: an OpenAI-compatible HTTP server over every installed provider.

``serve_command`` is the click command (light to import); ``create_app`` builds the
aiohttp.web application, ``ChatplugRunner`` serves it with the connection limits and the
graceful shutdown (``gunicorn chatplug.server:create_runner --worker-class
aiohttp.GunicornWebWorker``).  See ``docs/server.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .command import serve_command

if TYPE_CHECKING:  # pragma: no cover
    from .app import ChatplugRunner, ServerSettings, create_app, create_runner

__all__ = ["ChatplugRunner", "ServerSettings", "create_app", "create_runner", "serve_command"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "create_runner", "ChatplugRunner", "ServerSettings"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
