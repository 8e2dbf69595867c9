"""A plugin that blocks the event loop is named in a warning; one whose ``list_models``
hangs is marked failed after the time limit instead of stalling start-up."""

from __future__ import annotations

import re
import time
from typing import Dict

import pytest
from rawhttp import RawConnection, chat, get
from server_harness import start_server_with

pytestmark = pytest.mark.timeout(60)


def test_a_plugin_blocking_the_event_loop_is_named_with_the_duration(
    faulty_env: Dict[str, str],
) -> None:
    server = start_server_with(dict(faulty_env, CHATPLUG_SERVER_BLOCK_WARNING="0.2"))
    try:
        assert server.url is not None
        with RawConnection.to(server.url) as connection:
            answer = connection.request(chat("block:1.0", stream=False))
        assert answer.status == 200
        line = server.wait_for_line("blocked the event loop")
        assert line.startswith("plugin 'faulty' blocked the event loop for ")
        seconds = float(re.search(r"for ([0-9.]+)s", line).group(1))  # type: ignore[union-attr]
        assert 0.9 <= seconds < 2
        assert "chatplug_faulty.py" in line and "stream_completion" in line
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("prompt", "threshold"),
    [("wait:1.0", "0.2"), ("block:1.0", "0")],
    ids=["waiting-is-not-blocking", "the-warning-is-off-at-0"],
)
def test_no_blocking_warning(faulty_env: Dict[str, str], prompt: str, threshold: str) -> None:
    server = start_server_with(dict(faulty_env, CHATPLUG_SERVER_BLOCK_WARNING=threshold))
    try:
        assert server.url is not None
        with RawConnection.to(server.url) as connection:
            assert connection.request(chat(prompt, stream=False)).status == 200
        time.sleep(0.3)
        assert not any("blocked the event loop" in line for line in server.lines)
    finally:
        server.stop()


def test_a_hanging_list_models_marks_the_plugin_failed_without_stalling_start_up(
    faulty_env: Dict[str, str],
) -> None:
    env = dict(faulty_env, CHATPLUG_PLUGINS="faulty,hangs", CHATPLUG_LIST_MODELS_TIMEOUT="1")
    started = time.monotonic()
    server = start_server_with(env)
    try:
        assert time.monotonic() - started < 10  # the plugin sleeps for an hour
        assert server.url is not None
        line = server.wait_for_line("'hangs' is unavailable")
        assert "list_models did not return within 1s" in line
        with RawConnection.to(server.url) as connection:
            health = connection.request(get("/health")).json()
            answer = connection.request(chat("hello", stream=False))
            missing = connection.request(chat("hello", stream=False, model="hangs/m"))
        statuses = {item["name"]: item["status"] for item in health["providers"]}
        assert statuses == {"faulty": "loaded", "hangs": "failed"}
        assert answer.status == 200
        assert missing.status == 503
    finally:
        server.stop()
