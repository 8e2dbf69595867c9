"""The conformance checks, one module per check or group of related checks.

Each check is ``async def check_<name>(subject)``; it raises
:class:`~chatplug.testing.conformance.ConformanceFailure` saying what is wrong.
:data:`CHECKS` lists them in the order the suite runs them.
"""

from __future__ import annotations

from typing import Tuple

from ..subject import Check
from .answer import check_emulator_answer, check_utf8_split
from .catalogue import check_catalogue, check_unknown_model
from .event_faults import check_final_event, check_malformed_event
from .http_errors import check_http_429, check_http_500
from .reported import check_finish_length, check_parallel_tool_calls, check_usage
from .routing import check_base_url, check_proxy
from .stalls import check_cancellation, check_idle_timeout
from .truncated import check_truncated

CHECKS: Tuple[Check, ...] = (
    Check("catalogue", "list_models: valid ids, one default, aliases resolve", check_catalogue),
    Check("unknown_model", "an unknown model raises ModelNotFoundError", check_unknown_model),
    Check(
        "emulator_answer",
        "the answer streamed via the emulator is its reply",
        check_emulator_answer,
    ),
    Check("utf8_split", "UTF-8 characters split across chunks decode whole", check_utf8_split),
    Check("http_500", "upstream HTTP 500 raises UpstreamHTTPError", check_http_500),
    Check("http_429", "upstream HTTP 429 raises RateLimitedError(retry_after)", check_http_429),
    Check("truncated", "a stream cut off halfway is an error, not success", check_truncated),
    Check("final_event", "a body without its final event is an error", check_final_event),
    Check(
        "malformed_event",
        "a malformed event in the middle is an error, not skipped",
        check_malformed_event,
    ),
    Check("cancellation", "stopping early closes the upstream connection", check_cancellation),
    Check("idle_timeout", "a stalled stream raises UpstreamTimeoutError", check_idle_timeout),
    Check("proxy", "every request goes through request.proxy", check_proxy),
    Check("base_url", "every request goes to request.base_url", check_base_url),
    Check(
        "parallel_tool_calls",
        "two tools asked for: two tool calls, indexed 0 and 1",
        check_parallel_tool_calls,
    ),
    Check("finish_length", "max_tokens reached: finish reason length", check_finish_length),
    Check("usage", "usage reported when declared, numbers consistent", check_usage),
)
