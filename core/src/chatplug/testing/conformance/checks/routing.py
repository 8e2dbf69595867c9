"""``proxy`` and ``base_url``: every request goes where the request says."""

from __future__ import annotations

from typing import Optional

from ..answers import answer, compare, stream_text
from ..relay import Recorder, Relay, base_path
from ..subject import PREFIX, PROXY_HEADER, SIMPLE, ConformanceFailure, Subject, describe


async def check_proxy(subject: Subject) -> None:
    from ....emulation import run_emulator
    from ...proxy import ForwardProxy

    what = "a conversation streamed through an HTTP proxy"
    recorder = Recorder()
    app = recorder.install(subject.app())
    async with (
        run_emulator(app) as emulator,
        ForwardProxy(add_headers={PROXY_HEADER: "1"}) as proxy,
    ):
        async with subject.client(
            base_urls={subject.provider: emulator.url}, proxy=proxy.url
        ) as client:
            text = await answer(client, subject, what)
        direct = [f"{method} {path}" for method, path, via in recorder.requests if not via]
        if direct:
            raise ConformanceFailure(
                f"{what}: {len(direct)} request(s) bypassed the proxy ({', '.join(direct)}): "
                "pass proxy=request.proxy to every session request (chatplug.open_stream does)"
            )
        if not proxy.requests:
            raise ConformanceFailure(f"{what}: no request went through the proxy")
        compare(text, emulator.replies, what)


async def check_base_url(subject: Subject) -> None:
    from ....emulation import run_emulator
    from ...upstream import ScriptedUpstream

    what = f"a conversation sent to a base_url with the path prefix {PREFIX}"
    async with run_emulator(subject.app()) as emulator:
        relay = Relay(emulator.root, prefix=PREFIX)
        async with ScriptedUpstream(handler=relay) as upstream:
            base_url = upstream.url + PREFIX + base_path(emulator)
            async with subject.client() as client:
                try:
                    text = await stream_text(client, subject, SIMPLE, base_url=base_url)
                except ConformanceFailure:
                    raise
                except Exception as error:
                    caught: Optional[str] = describe(error)
                    text = ""
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
        compare(text, emulator.replies, what)
