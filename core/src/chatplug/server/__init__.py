"""``chatplug serve``: an OpenAI-compatible HTTP server over every installed provider.

``serve_command`` is the click command (light to import); ``create_app`` builds the
aiohttp.web application (``gunicorn 'chatplug.server:create_app()' --worker-class
aiohttp.GunicornWebWorker``).  See ``docs/server.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .command import serve_command

if TYPE_CHECKING:  # pragma: no cover
    from .app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app", "serve_command"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "ServerSettings"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
