"""The plugin author kit: test helpers, pytest fixtures and the conformance suite.

Importable without pytest (only :mod:`.plugin`, :mod:`.fixtures` and :mod:`.fault_tests`
import it).  Names load
lazily, so importing this package (as pytest does for the ``pytest11`` plugin) is cheap.

- :class:`ScriptedUpstream` / :class:`Reply`: an HTTP server on 127.0.0.1 that answers
  exactly as scripted (status, headers, chunks, delays, then finish, close, reset or hang)
  and records requests and whether the client closed (see :mod:`chatplug.testing.upstream`);
  :class:`SSEEvent`: a named Server-Sent Event (``event: x``) for ``Reply.sse``.
- :class:`ForwardProxy`: a recording HTTP forward proxy on 127.0.0.1.
- :func:`start_emulator` / :func:`emulator_thread`: run a plugin's emulator on 127.0.0.1.
- :func:`make_client` / :func:`make_sync_client` / :func:`make_registry`: a client (or
  registry) bound to one provider.
- :func:`write_distribution`: install a plugin for a test (modules and a ``.dist-info``
  in a directory), discovered through its entry points like a pip-installed one.
- :func:`conformance_tests` / :func:`run_conformance`: the conformance suite
  (:mod:`chatplug.testing.conformance`).
- pytest fixtures (registered by the ``pytest11`` entry point, :mod:`chatplug.testing.plugin`):
  ``chatplug_client``, ``chatplug_sync_client``, ``chatplug_emulator``,
  ``scripted_upstream``, ``forward_proxy``; option ``--chatplug PROVIDER``.
- :func:`plugin_fixtures`: a plugin's own async fixtures (``emulator``, ``client``,
  ``registry``, ``wait_until``) in one conftest line (:mod:`chatplug.testing.fixtures`);
  :func:`wait_until`: poll a condition; :func:`clean_environment`: an autouse fixture
  hiding the user's keys, proxies and configuration; :func:`running_emulator`: the
  healthy emulator as a fixture.
- :func:`completion_request` / :func:`collect_items` / :func:`text_of` / :func:`of_type`:
  call a plugin's ``stream_completion`` hook directly (:mod:`chatplug.testing.hooks`);
  :func:`parse_chunks`: its parser alone, fed a body's chunks;
  :data:`CONVERSATION`: a sample multi-turn conversation.
- :func:`run_cli` / :func:`emulator_process`: ``python -m chatplug ...`` and an emulator
  served alone, as subprocesses (:mod:`chatplug.testing.processes`).
- :func:`raw_request`: one raw HTTP request to an emulator, its answer read whole;
  :func:`sent_request`: what the emulator received (:mod:`chatplug.testing.raw`);
  :func:`record_writes`: the pieces an emulator of the kit writes.
- :class:`EmulatorFaultTests`: ready-made tests of how a plugin reports its emulator's
  scripted faults (:mod:`chatplug.testing.fault_tests`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict

if TYPE_CHECKING:  # pragma: no cover
    from .conformance import (
        CHECKS,
        Check,
        CheckResult,
        ConformanceFailure,
        conformance_tests,
        run_conformance,
    )
    from .fault_tests import EmulatorFaultTests
    from .fixtures import (
        PluginFixtures,
        StartEmulator,
        clean_environment,
        plugin_fixtures,
        record_writes,
        running_emulator,
        wait_until,
    )
    from .helpers import (
        distribution_problems,
        emulator_thread,
        make_client,
        make_registry,
        make_sync_client,
        start_emulator,
    )
    from .hooks import (
        CONVERSATION,
        collect_items,
        completion_request,
        of_type,
        parse_chunks,
        text_of,
    )
    from .install import write_distribution
    from .processes import EmulatorProcess, emulator_process, free_port, run_cli
    from .proxy import ForwardProxy, ProxiedRequest
    from .raw import RawAnswer, raw_request, sent_request
    from .replies import Reply, SSEEvent, split_bytes, split_utf8
    from .upstream import ConnectionRecord, RecordedRequest, ScriptedUpstream

_NAMES: Dict[str, str] = {
    "ConnectionRecord": "upstream",
    "RecordedRequest": "upstream",
    "Reply": "replies",
    "SSEEvent": "replies",
    "ScriptedUpstream": "upstream",
    "split_bytes": "replies",
    "split_utf8": "replies",
    "ForwardProxy": "proxy",
    "ProxiedRequest": "proxy",
    "distribution_problems": "helpers",
    "emulator_thread": "helpers",
    "make_client": "helpers",
    "make_registry": "helpers",
    "make_sync_client": "helpers",
    "start_emulator": "helpers",
    "write_distribution": "install",
    "PluginFixtures": "fixtures",
    "StartEmulator": "fixtures",
    "plugin_fixtures": "fixtures",
    "wait_until": "fixtures",
    "EmulatorFaultTests": "fault_tests",
    "clean_environment": "fixtures",
    "running_emulator": "fixtures",
    "record_writes": "fixtures",
    "RawAnswer": "raw",
    "raw_request": "raw",
    "sent_request": "raw",
    "CONVERSATION": "hooks",
    "collect_items": "hooks",
    "completion_request": "hooks",
    "of_type": "hooks",
    "parse_chunks": "hooks",
    "text_of": "hooks",
    "EmulatorProcess": "processes",
    "emulator_process": "processes",
    "free_port": "processes",
    "run_cli": "processes",
    "CHECKS": "conformance",
    "Check": "conformance",
    "CheckResult": "conformance",
    "ConformanceFailure": "conformance",
    "conformance_tests": "conformance",
    "run_conformance": "conformance",
}

__all__ = [
    "EmulatorFaultTests",
    "EmulatorProcess",
    "clean_environment",
    "collect_items",
    "completion_request",
    "emulator_process",
    "free_port",
    "of_type",
    "parse_chunks",
    "RawAnswer",
    "raw_request",
    "record_writes",
    "sent_request",
    "CONVERSATION",
    "run_cli",
    "running_emulator",
    "text_of",
    "distribution_problems",
    "CHECKS",
    "Check",
    "CheckResult",
    "ConformanceFailure",
    "ConnectionRecord",
    "ForwardProxy",
    "PluginFixtures",
    "StartEmulator",
    "ProxiedRequest",
    "RecordedRequest",
    "Reply",
    "SSEEvent",
    "ScriptedUpstream",
    "conformance_tests",
    "emulator_thread",
    "make_client",
    "make_registry",
    "make_sync_client",
    "plugin_fixtures",
    "run_conformance",
    "split_bytes",
    "split_utf8",
    "start_emulator",
    "wait_until",
    "write_distribution",
]


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'chatplug.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> Any:
    return sorted(list(globals()) + list(_NAMES))
