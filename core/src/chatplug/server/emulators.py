"""Provider emulators next to the server: the whole server offline.

:func:`running_emulators` starts the emulators of some (or every installed) provider on
127.0.0.1 in the running event loop and yields their base URLs, for
``create_app(base_urls=...)``: ``chatplug serve --emulate`` then answers every request from
the emulators.  :func:`serve_emulator` runs one emulator on its own until SIGTERM/SIGINT
(``chatplug emulate PROVIDER``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from typing import AsyncIterator, Dict, List, Optional, Sequence

from ..errors import ChatplugError
from ..registry import EMULATOR_GROUP, entry_points
from .runner import stop_signals

#: seconds an emulator gives requests still in flight when it stops
SHUTDOWN = 1.0


def installed_emulators() -> List[str]:
    """The providers whose plugin ships an emulator (entry points ``chatplug.emulators``)."""
    return sorted({entry.name for entry in entry_points(EMULATOR_GROUP)})


def emulated_providers(
    requested: Optional[Sequence[str]], enabled: Optional[Sequence[str]] = None
) -> List[str]:
    """The providers to emulate: ``requested`` (each must ship an emulator), or when empty
    every installed emulator whose provider is ``enabled`` (``None``: all)."""
    installed = installed_emulators()
    if requested:
        unknown = [name for name in requested if name not in installed]
        if unknown:
            raise ChatplugError(
                f"no emulator for {', '.join(map(repr, unknown))}; providers with one: "
                f"{', '.join(installed) or 'none'}",
                hint="Pick providers that ship an emulator, or leave out the names to "
                "emulate every one.",
            )
        return list(dict.fromkeys(requested))
    return [name for name in installed if enabled is None or name in enabled]


async def start_emulator(
    stack: contextlib.AsyncExitStack, provider: str, host: str = "127.0.0.1", port: int = 0
) -> str:
    """Start ``provider``'s emulator for as long as ``stack`` is open; its base URL."""
    from ..emulation import emulator_factory, run_emulator

    app = emulator_factory(provider)()
    running = await stack.enter_async_context(
        run_emulator(app, host, port, shutdown_timeout=SHUTDOWN)
    )
    return running.url


@contextlib.asynccontextmanager
async def running_emulators(
    providers: Sequence[str], host: str = "127.0.0.1"
) -> AsyncIterator[Dict[str, str]]:
    """Run the emulators of ``providers`` in this loop; yield ``{provider: base_url}``."""
    async with contextlib.AsyncExitStack() as stack:
        urls = {}
        for provider in providers:
            urls[provider] = await start_emulator(stack, provider, host)
        yield urls


async def serve_emulator(provider: str, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve ``provider``'s emulator until SIGTERM/SIGINT; says its base URL on stderr."""
    with stop_signals() as stop:
        async with contextlib.AsyncExitStack() as stack:
            url = await start_emulator(stack, provider, host, port)
            print(f"chatplug emulate: {provider} emulator on {url}", file=sys.stderr, flush=True)
            await stop.wait()


class EmulatorProcess:
    """The emulators of ``providers`` in a child process (for a server whose workers are
    processes of their own): ``with EmulatorProcess(["openai"]) as urls: ...``."""

    def __init__(self, providers: Sequence[str], host: str = "127.0.0.1") -> None:
        self.providers = list(providers)
        self.host = host
        self.urls: Dict[str, str] = {}
        self._proc: Optional["subprocess.Popen[str]"] = None

    def __enter__(self) -> Dict[str, str]:
        if not self.providers:
            return self.urls
        args = [sys.executable, "-m", __name__, "--host", self.host, *self.providers]
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        for _ in self.providers:
            line = self._proc.stdout.readline()
            if not line:
                self.__exit__()
                raise ChatplugError("the emulators did not start (see the messages above)")
            provider, url = line.split()
            self.urls[provider] = url
        return self.urls

    def __exit__(self, *exc_info: object) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(SHUTDOWN + 10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()


async def _serve_many(providers: Sequence[str], host: str) -> None:
    with stop_signals() as stop:
        async with running_emulators(providers, host) as urls:
            for provider, url in urls.items():
                print(provider, url, flush=True)
            await stop.wait()


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``python -m chatplug.server.emulators [--host H] PROVIDER...``: one ``provider url``
    line per emulator on stdout once they listen, then serve until SIGTERM/SIGINT."""
    import argparse

    parser = argparse.ArgumentParser(description="Serve provider emulators.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("providers", nargs="+")
    options = parser.parse_args(argv)
    asyncio.run(_serve_many(options.providers, options.host))


if __name__ == "__main__":  # pragma: no cover
    main()
