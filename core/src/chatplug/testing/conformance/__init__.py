"""The conformance suite: what every provider plugin must do, checked against its emulator.

One line in a plugin's tests runs it (one pytest test per check)::

    from chatplug.testing.conformance import conformance_tests

    test_conformance = conformance_tests("acme")

or ``pytest --chatplug acme``, or ``chatplug check acme``.  The checks (see :data:`CHECKS`):

- ``catalogue``: ``list_models`` returns ModelInfo items with valid, unique ids, the
  provider's id, exactly one default, and aliases that resolve to their model.
- ``unknown_model``: an unknown model is rejected with ``ModelNotFoundError``.
- ``emulator_answer``: a conversation streamed through the plugin's emulator gives exactly
  the reply the emulator recorded (``chatplug.emulation.record_reply``), and so does a
  second completion on the same client.
- ``utf8_split``: the same, with the emulator's bytes cut inside every UTF-8 character.
- ``http_500`` / ``http_429``: an upstream answering 500 (or 429 with ``Retry-After``)
  raises ``UpstreamHTTPError`` (status and body excerpt) / ``RateLimitedError``
  (``retry_after``).
- ``truncated``: a stream that stops halfway (inside a UTF-8 character) raises
  ``StreamProtocolError``; a connection dropped halfway raises ``StreamProtocolError`` or
  ``UpstreamConnectionError`` — never success.
- ``final_event``: the emulator's body without its last event (a well-formed body of
  Server-Sent Events or NDJSON that stops at an event boundary: ``[DONE]``,
  ``message_stop``, the ``done`` record dropped) raises ``StreamProtocolError``.
- ``malformed_event``: the emulator's body with one JSON event in the middle made invalid
  raises ``StreamProtocolError`` (it is not skipped).
- ``cancellation``: stopping after the first piece closes the upstream connection.
- ``idle_timeout``: a stream that stalls raises ``UpstreamTimeoutError`` after the
  request's idle timeout (``request.timeout``).
- ``proxy``: every request goes through ``request.proxy``.
- ``base_url``: every request goes to ``request.base_url``, path prefix included.
- ``parallel_tool_calls``: a model declaring ``tools``, asked to call two tools by name,
  streams two calls (indexes 0 and 1, distinct ids, JSON object arguments, finish
  ``tool_calls``).
- ``finish_length``: a model declaring any capability finishes with ``length`` when
  ``max_tokens`` is small.
- ``usage``: a model declaring ``usage`` reports it; reported counts are consistent.

A check that does not concern the plugin passes, saying why (:class:`NotApplicable`): the
event checks need a body of events (not plain text), and ``final_event`` an upstream with an
end-of-answer signal (a plugin that reports ``Finish`` without ``raw`` has none); the last
three need a model declaring the capability, so a text-only (contract 0.1) plugin is not
concerned.  Answers go through :class:`~chatplug.AsyncClient`, so the core's stream rules
hold in every check (a violation fails it with the core's ``PluginError``).

The faults are injected with a :class:`~chatplug.testing.ScriptedUpstream` that relays
the plugin's requests to its emulator and alters the emulator's answer (the last request
of a completion is taken as the streaming one).  Each failure says what is wrong.
The plugin must register an emulator (entry-point group ``chatplug.emulators``) or one
must be given (``emulator=``).

Layout: :mod:`.subject` (what is checked, the fixed inputs, results), :mod:`.limits`
(time limits, read when a check runs), :mod:`.checks` (one module per check or group of
related checks), :mod:`.relay` (fault injection between the plugin and its emulator),
:mod:`.framing` (the events of a body, for the event faults) and :mod:`.runner` (running
checks).  The ``chatplug check`` command is
:mod:`chatplug.cli.check`: nothing here imports click.
"""

from __future__ import annotations

from typing import Any

from .checks import CHECKS
from .checks.answer import check_emulator_answer, check_utf8_split
from .checks.catalogue import check_catalogue, check_unknown_model
from .checks.event_faults import check_final_event, check_malformed_event
from .checks.http_errors import check_http_429, check_http_500
from .checks.reported import check_finish_length, check_parallel_tool_calls, check_usage
from .checks.routing import check_base_url, check_proxy
from .checks.stalls import check_cancellation, check_idle_timeout
from .checks.truncated import check_truncated
from .limits import (
    CHECK_LIMIT,
    CHECK_TIMEOUT,
    CLOSE_WAIT,
    FIRST_PIECE_WAIT,
    IDLE_SLACK,
    IDLE_TIMEOUT,
    NO_RETRY,
)
from .runner import CHECK_NAMES, conformance_tests, run_check, run_conformance, select_checks
from .subject import (
    CONVERSATION,
    MAX_TOKENS,
    PREFIX,
    PROXY_HEADER,
    SIMPLE,
    TOOL_QUESTION,
    TOOLS,
    UNKNOWN_MODEL,
    Check,
    CheckResult,
    ConformanceFailure,
    NotApplicable,
    Subject,
)

__all__ = [
    "CHECKS",
    "CHECK_LIMIT",
    "CHECK_NAMES",
    "CHECK_TIMEOUT",
    "CLOSE_WAIT",
    "CONVERSATION",
    "FIRST_PIECE_WAIT",
    "IDLE_SLACK",
    "IDLE_TIMEOUT",
    "MAX_TOKENS",
    "NO_RETRY",
    "PREFIX",
    "PROXY_HEADER",
    "SIMPLE",
    "TOOLS",
    "TOOL_QUESTION",
    "UNKNOWN_MODEL",
    "Check",
    "CheckResult",
    "ConformanceFailure",
    "NotApplicable",
    "Subject",
    "check_base_url",
    "check_cancellation",
    "check_catalogue",
    "check_emulator_answer",
    "check_final_event",
    "check_finish_length",
    "check_http_429",
    "check_http_500",
    "check_idle_timeout",
    "check_malformed_event",
    "check_parallel_tool_calls",
    "check_proxy",
    "check_truncated",
    "check_unknown_model",
    "check_usage",
    "check_utf8_split",
    "conformance_tests",
    "run_check",
    "run_conformance",
    "select_checks",
]


def __getattr__(name: str) -> Any:
    # The click command lives in the CLI, loaded on first access: the suite itself must not
    # import click (``chatplug.testing.conformance.check_command`` keeps working).
    if name == "check_command":
        import importlib

        return importlib.import_module("chatplug.cli.check").check_command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
