"""The conformance suite passes a correct plugin and explains what is wrong with broken ones.

The plugin under test is the one ``chatplug new-plugin`` generates, loaded in-process from
its source (no install); each broken variant patches that source the way real plugins go
wrong, and the suite must fail the right check with a message that says what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest
from chatplug.cli.check import check_command
from chatplug.scaffold import generate
from chatplug.testing.conformance import (
    CHECK_NAMES,
    CheckResult,
    conformance_tests,
    limits,
    run_conformance,
    select_checks,
)
from click.testing import CliRunner
from kitsource import Patch, load_source, replace

PROVIDER = "kit-acme"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    root = generate(PROVIDER, tmp_path_factory.mktemp("plugin") / "pkg")
    package = root / "src" / "chatplug_kit_acme"
    return {
        "plugin": (package / "__init__.py").read_text(encoding="utf-8"),
        "emulator": (package / "emulator.py").read_text(encoding="utf-8"),
    }


def swallow_errors(text: str) -> str:
    """Wrap the read loop of stream_completion in ``try: ... except Exception: return``."""
    anchor = "    async with open_stream("
    assert anchor in text, "the template changed"
    head, _, tail = text.partition(anchor)
    body = anchor + tail
    indented = "".join("    " + line if line.strip() else line for line in body.splitlines(True))
    return head + "    try:\n" + indented + "    except Exception:\n        return\n"


NAIVE_DECODER = """

async def _naive_lines(response):  # decodes each network chunk on its own
    import json

    buffer = ""
    async for chunk in response.content.iter_any():
        buffer += chunk.decode("utf-8", errors="replace")
        *lines, buffer = buffer.split("\\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
"""


def naive_decoding(text: str) -> str:
    return replace("iter_ndjson(response)", "_naive_lines(response)")(text) + NAIVE_DECODER


def run(
    source: Dict[str, str],
    tmp_path: Path,
    patches: Sequence[Patch] = (),
    only: Sequence[str] = (),
) -> Dict[str, CheckResult]:
    text = source["plugin"]
    for patch in patches:
        text = patch(text)
    plugin = load_source(text, tmp_path, "plugin")
    emulator = load_source(source["emulator"], tmp_path, "emulator")
    results = run_conformance(PROVIDER, plugin=plugin, emulator=emulator.create_app, only=only)
    return {result.name: result for result in results}


def test_the_generated_plugin_passes_every_check(source: Dict[str, str], tmp_path: Path) -> None:
    results = run(source, tmp_path)
    failures = {name: r.message for name, r in results.items() if not r.passed}
    assert failures == {}
    assert list(results) == list(CHECK_NAMES)
    not_applicable = [name for name, result in results.items() if result.message]
    assert not_applicable == ["parallel_tool_calls"]  # the generated plugin declares no tools


END_CHECK = (
    "    raise StreamProtocolError(\"the stream ended before its 'done' line (truncated)\")\n"
)
USAGE_LINE = (
    '        items.append(Usage(_count(usage, "input"), _count(usage, "output"), raw=usage))\n'
)
BROKEN: List[Tuple[str, List[Patch], str, List[str]]] = [
    (
        "wrong payload field",
        [replace('"prompt": request.prompt,', '"message": request.prompt,')],
        "emulator_answer",
        ["emulator rejected the plugin's request with HTTP 400", "unknown fields: message"],
    ),
    (
        "swallowed error",
        [swallow_errors],
        "http_500",
        ["ended without text and without an error", "swallows the HTTP error"],
    ),
    (
        "swallowed error",
        [swallow_errors],
        "truncated",
        ["returned a normal answer", "instead of raising StreamProtocolError"],
    ),
    (
        "proxy ignored",
        [
            replace(
                'session, request, "POST"',
                'session, __import__("dataclasses").replace(request, proxy=None), "POST"',
            )
        ],
        "proxy",
        ["bypassed the proxy", "proxy=request.proxy"],
    ),
    (
        "base_url ignored",
        [
            replace("url = request.url(DEFAULT_URL, CHAT_PATH)", "url = DEFAULT_URL + CHAT_PATH"),
            replace(
                'DEFAULT_URL = "https://api." + PROVIDER + ".example"',
                'DEFAULT_URL = "http://127.0.0.1:9"',
            ),
        ],
        "base_url",
        ["no request reached the base_url", "request.base_url"],
    ),
    (
        "prefix dropped from base_url",
        [
            replace(
                "url = request.url(DEFAULT_URL, CHAT_PATH)",
                'url = __import__("urllib.parse").parse.urljoin(request.base_url or DEFAULT_URL,'
                " CHAT_PATH)",
            )
        ],
        "base_url",
        ["dropped the prefix", "not with urljoin"],
    ),
    (
        "whole body read before yielding",
        [
            replace(
                "async for event in iter_ndjson(response):",
                "for event in [item async for item in iter_ndjson(response)]:",
            )
        ],
        "cancellation",
        ["wait for the whole response instead of yielding text as it arrives"],
    ),
    (
        "each chunk decoded on its own",
        [naive_decoding],
        "utf8_split",
        ["differs from the emulator's reply", "first difference at character"],
    ),
    (
        "request.timeout ignored",
        [
            replace(
                'session, request, "POST"',
                'session, __import__("dataclasses").replace(request, timeout='
                '__import__("chatplug").Timeout(idle=None)), "POST"',
            )
        ],
        "idle_timeout",
        ["still waiting", "pass request.timeout to the request"],
    ),
    (
        "two default models",
        [replace('name=TITLE + " Chat Large"', 'name=TITLE + " Chat Large", default=True')],
        "catalogue",
        ["exactly one model must have default=True; found 2"],
    ),
    (
        "two default models",
        [replace('name=TITLE + " Chat Large"', 'name=TITLE + " Chat Large", default=True')],
        "unknown_model",
        [
            "asking for an unknown model (provider= and model=) raised PluginLoadError",
            "several default models",
            "expected ModelNotFoundError (is the catalogue valid?)",
        ],
    ),
    (
        "foreign provider id in the catalogue",
        [
            replace(
                "LARGE_MODEL,\n            PROVIDER,", 'LARGE_MODEL,\n            "someone-else",'
            )
        ],
        "catalogue",
        ["provider='someone-else'; it must be 'kit-acme'"],
    ),
    (
        "HTTP errors mapped to a generic exception",
        [
            replace(
                """    async with open_stream(
        session, request, "POST", url, headers=headers, json=build_payload(request)
    ) as response:
""",
                """    async with session.post(
        url, headers=headers, json=build_payload(request), proxy=request.proxy
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"upstream failed with {response.status}")
""",
            )
        ],
        "http_429",
        ["expected RateLimitedError, got PluginError", "upstream failed with 429"],
    ),
    (
        "the end of the body taken as the end of the answer",
        [replace(END_CHECK, "    return\n")],
        "final_event",
        [
            "without its final event",
            'dropped: \'{"done": true',
            "returned a complete answer",
            "instead of raising StreamProtocolError",
        ],
    ),
    (
        "lines that do not parse skipped",
        [replace("iter_ndjson(response)", "iter_ndjson(response, skip_invalid=True)")],
        "malformed_event",
        [
            "one event in the middle made invalid JSON",
            'sent instead of an event: \'{"text":',
            "returned a complete answer",
        ],
    ),
    (
        "the upstream's max_tokens reported as stop",
        [replace('"max_tokens": "length"}', '"max_tokens": "stop"}')],
        "finish_length",
        [
            "with max_tokens=3",
            "finish reason 'stop' (upstream: 'max_tokens')",
            "expected the finish reason 'length'",
        ],
    ),
    (
        "max_tokens not sent upstream",
        [replace('payload["max_tokens"] = request.max_tokens', "pass")],
        "finish_length",
        ["finish reason 'stop' (upstream: 'stop')", "Send max_tokens upstream"],
    ),
    (
        "usage declared but not reported",
        [replace(USAGE_LINE, "        pass\n")],
        "usage",
        ["declares the 'usage' capability, but the plugin reported no usage"],
    ),
    (
        "token counts yielded as strings",
        [replace("    return value\n", "    return str(value)\n")],
        "usage",
        [
            "streaming failed with PluginError",
            "contract violation: usage input_tokens '",
            "is not an integer >= 0",
        ],
    ),
]


@pytest.mark.parametrize(
    ("patches", "check", "phrases"),
    [pytest.param(p, c, m, id=f"{what}-{c}") for what, p, c, m in BROKEN],
)
def test_a_broken_plugin_fails_the_check_that_explains_it(
    monkeypatch: pytest.MonkeyPatch,
    source: Dict[str, str],
    tmp_path: Path,
    patches: List[Patch],
    check: str,
    phrases: List[str],
) -> None:
    monkeypatch.setattr(limits, "FIRST_PIECE_WAIT", 1.0)  # a hang fails sooner
    monkeypatch.setattr(limits, "IDLE_SLACK", 1.5)
    result = run(source, tmp_path, patches, only=[check])[check]
    assert not result.passed
    for phrase in phrases:
        assert phrase in result.message, result.message


def test_the_wrong_payload_still_passes_the_checks_it_does_not_break(
    source: Dict[str, str], tmp_path: Path
) -> None:
    patches = [replace('"prompt": request.prompt,', '"message": request.prompt,')]
    results = run(source, tmp_path, patches, only=["catalogue", "unknown_model", "http_500"])
    assert all(result.passed for result in results.values())


def test_conformance_tests_makes_one_parametrized_test_per_check() -> None:
    test = conformance_tests("acme", skip=["proxy"])
    marks = [mark for mark in getattr(test, "pytestmark", []) if mark.name == "parametrize"]
    [mark] = marks
    ids = [param.id for param in mark.args[1]]
    assert ids == [name for name in CHECK_NAMES if name != "proxy"]


def test_unknown_check_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown conformance check"):
        select_checks(only=["no-such-check"])


def test_check_command_reports_each_failure_and_exits_1() -> None:
    result = CliRunner().invoke(
        check_command, ["chatplug-no-such-provider", "--only", "catalogue", "--only", "proxy"]
    )
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("FAIL catalogue")
    assert "'chatplug-no-such-provider' is not installed" in result.output
    assert "FAIL proxy" in result.output
    assert "0 of 2 conformance checks passed" in lines[-1]


def test_check_command_refuses_an_unknown_check() -> None:
    result = CliRunner().invoke(check_command, ["acme", "--only", "bogus"])
    assert result.exit_code == 2
    assert "unknown conformance check" in result.output


def test_the_check_command_is_still_found_in_the_conformance_package() -> None:
    from chatplug.testing import conformance

    assert conformance.check_command is check_command


def test_failure_messages_name_no_internal_detail(source: Dict[str, str], tmp_path: Path) -> None:
    result = run(source, tmp_path, [swallow_errors], only=["http_500"])["http_500"]
    assert not re.search(r"Traceback|_Relay|ScriptedUpstream", result.message)


def test_client_options_carry_the_providers_settings(
    source: Dict[str, str], tmp_path: Path
) -> None:
    needs_token = replace(
        "    base = request.base_url or DEFAULT_URL\n",
        "    if request.settings.get('token') != 'sekrit':\n"
        "        raise __import__('chatplug').InvalidRequestError('no token configured')\n"
        "    base = request.base_url or DEFAULT_URL\n",
    )
    plugin = load_source(needs_token(source["plugin"]), tmp_path, "plugin")
    emulator = load_source(source["emulator"], tmp_path, "emulator")
    config = {"providers": {PROVIDER: {"token": "sekrit"}}}
    [without] = run_conformance(
        PROVIDER, plugin=plugin, emulator=emulator.create_app, only=["emulator_answer"]
    )
    [with_settings] = run_conformance(
        PROVIDER,
        plugin=plugin,
        emulator=emulator.create_app,
        only=["emulator_answer"],
        client_options={"config": config},
    )
    assert "no token configured" in without.message
    assert with_settings.passed, with_settings.message


def test_a_missing_emulator_is_explained(source: Dict[str, str], tmp_path: Path) -> None:
    plugin = load_source(source["plugin"], tmp_path, "plugin")
    [result] = run_conformance(PROVIDER, plugin=plugin, only=["emulator_answer"])
    assert "no emulator is registered for 'kit-acme'" in result.message
    assert '[project.entry-points."chatplug.emulators"]' in result.message


def test_state_left_by_the_first_completion_fails_the_second(
    source: Dict[str, str], tmp_path: Path
) -> None:
    one_shot = replace(
        "    base = request.base_url or DEFAULT_URL\n",
        "    _TOKENS.append(1)\n"
        "    if len(_TOKENS) > 1:\n"
        "        raise RuntimeError('the first answer used up the token')\n"
        "    base = request.base_url or DEFAULT_URL\n",
    )
    patches = [one_shot, lambda text: text + "\n_TOKENS = []\n"]
    result = run(source, tmp_path, patches, only=["emulator_answer"])["emulator_answer"]
    assert not result.passed
    assert "a second completion on the same client failed" in result.message
    assert "the first answer used up the token" in result.message
