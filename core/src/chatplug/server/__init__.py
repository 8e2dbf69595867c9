"""``chatplug serve``: an OpenAI-compatible HTTP server over every installed provider.

``create_app`` builds the aiohttp.web application, ``ChatplugRunner`` serves it with the
connection limits and the graceful shutdown (``gunicorn chatplug.server:create_runner
--worker-class aiohttp.GunicornWebWorker``); :mod:`chatplug.server.runner` runs it.  The
command line is :mod:`chatplug.cli.serve` (``serve_command`` is still found here).  See
``docs/server.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .app import ChatplugRunner, ServerSettings, create_app, create_runner

__all__ = ["ChatplugRunner", "ServerSettings", "create_app", "create_runner", "serve_command"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "create_runner", "ChatplugRunner", "ServerSettings"):
        from . import app

        return getattr(app, name)
    if name == "serve_command":  # the click command lives in the CLI, loaded on first access
        import importlib

        return importlib.import_module("chatplug.cli.serve").serve_command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
