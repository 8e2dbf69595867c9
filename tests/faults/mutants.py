# ruff: noqa: E501  (the mutants are exact source lines)
"""Mutation check: remove one reliability mechanism at a time; a fault test must fail.

Run from the repository root: ``python tests/faults/mutants.py [name-filter ...]``.
Each mutant is applied to a copy of ``core/src/chatplug`` put first on ``PYTHONPATH``;
the working tree is never modified.  Every line should read CAUGHT.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "core" / "src" / "chatplug"
MUTANTS = [
    (
        "proxy refusal as HTTP error",
        "http.py",
        "    if isinstance(error, aiohttp.ClientHttpProxyError):  # the proxy refused the tunnel",
        "    if False:",
        "tests/faults/test_transport_faults.py -k proxy",
    ),
    (
        "malformed HTTP as connection error",
        "http.py",
        "        if error.headers is None and error.status == 400:",
        "        if False:",
        "tests/faults/test_stream_faults.py -k malformed_http",
    ),
    (
        "first-byte timer off",
        "_attempts.py",
        "if limit is None:\n        return await _first_nonempty(agen)",
        "if True:\n        return await _first_nonempty(agen)",
        "tests/faults/test_transport_faults.py -k first_byte",
    ),
    (
        "fallback after text",
        "_attempts.py",
        "if yielded or stream.committed:  # out",
        "if False:  # out",
        "tests/faults/test_transport_faults.py -k reset_mid",
    ),
    (
        "no retries",
        "_attempts.py",
        '    if not getattr(error, "retryable", False) or attempt >= retry.attempts:',
        "    if True:",
        "tests/faults/test_http_faults.py -k 503_then",
    ),
    (
        "retry-after ignored",
        "types.py",
        "            return max(0.0, retry_after)",
        "            pass",
        "tests/faults/test_http_faults.py -k retry_after_waits",
    ),
    (
        "4xx retried",
        "errors.py",
        "        self.retryable = status >= 500",
        "        self.retryable = True",
        "tests/faults/test_http_faults.py -k 4xx_is_never",
    ),
    (
        "breaker never skips",
        "_attempts.py",
        "        if skip_resting and not breaker.available(name):",
        "        if False:",
        "tests/faults/test_fallback.py -k skipped_for_the_cool_down",
    ),
    (
        "breaker skips even when all rest",
        "_attempts.py",
        "    skip_resting = len(candidates) > 1 and any(",
        "    skip_resting = len(candidates) > 1 or any(",
        "tests/faults/test_fallback.py -k every_candidate_is_resting",
    ),
    (
        "line bound off",
        "decoders.py",
        '        if self._size > self.max_size:\n            raise _too_large("line"',
        '        if False:\n            raise _too_large("line"',
        "tests/faults/test_stream_faults.py -k 10mb",
    ),
    (
        "utf-8 errors replaced",
        "decoders.py",
        'codecs.getincrementaldecoder("utf-8")()',
        'codecs.getincrementaldecoder("utf-8")("replace")',
        "tests/faults/test_stream_faults.py -k utf8",
    ),
    (
        "connect timeout as idle",
        "http.py",
        '            return UpstreamTimeoutError("connect", timeout.connect, provider=provider)',
        '            return UpstreamTimeoutError("idle", timeout.idle, provider=provider)',
        "tests/faults/test_transport_faults.py -k connect_timeout",
    ),
    (
        "lost connection as protocol error",
        "http.py",
        'if str(error).startswith("Response payload is not completed"):',
        "if False:",
        "tests/faults/test_transport_faults.py -k reset_mid",
    ),
    (
        "total as idle",
        "http.py",
        '        return UpstreamTimeoutError("total", timeout.total, provider=provider)',
        '        return UpstreamTimeoutError("idle", timeout.idle, provider=provider)',
        "tests/faults/test_transport_faults.py -k total",
    ),
    (
        "stream/generator cycle",
        "stream.py",
        "        self._progress = _Progress()\n",
        "        self._progress = _Progress()\n        self._progress.attempts.append(self)  # type: ignore[arg-type]\n",
        "tests/faults/test_cleanup.py -k bare_async_for",
    ),
    (
        "ctrl-c not unwound",
        "_sync.py",
        "            if not task.done():  # interrupted",
        "            if False:  # interrupted",
        "tests/faults/test_cleanup.py -k ctrl_c",
    ),
    (
        "plugin agen not closed",
        "_attempts.py",
        "                if agen is not None:\n                    await _close(agen, name)",
        "                if False:\n                    await _close(agen, name)",
        "tests/faults/test_cleanup.py tests/faults/test_fallback.py",
    ),
    (
        "truncated SSE line accepted",
        "decoders.py",
        '        if self._lines.close() is not None:\n            raise StreamProtocolError("the stream ended in the middle of a server-sent event")',
        "        if self._lines.close() is not None:\n            pass",
        "tests/faults/test_stream_faults.py -k truncated_final",
    ),
    (
        "partial_length not set",
        "_attempts.py",
        "                    failure.partial_length = yielded",
        "                    pass",
        "tests/faults/test_stream_faults.py -k truncated",
    ),
    (
        "plugin exceptions not wrapped",
        "_attempts.py",
        '    return PluginError(f"the plugin raised',
        '    raise error\n    return PluginError(f"the plugin raised',
        "tests/faults/test_fallback.py -k plugin",
    ),
    (
        "empty stream accepted",
        "_attempts.py",
        "                elif not yielded:  # neither text nor a Finish",
        "                elif False:  # neither text nor a Finish",
        "tests/faults/test_stream_faults.py core/tests/test_stream.py -k empty_200 or neither_text_nor_finish",
    ),
    (
        "ndjson truncation accepted",
        "decoders.py",
        '            raise StreamProtocolError(\n                "the stream ended in the middle of a JSON line (truncated)"\n            ) from None',
        "            return",
        "tests/faults/test_stream_faults.py -k truncated",
    ),
    (
        "ndjson junk not skipped",
        "decoders.py",
        "        if skip_invalid:\n            return _SKIP",
        "        if False:\n            return _SKIP",
        "tests/faults/test_stream_faults.py -k keepalive",
    ),
    (
        "idle timeout off",
        "types.py",
        "total=self.total, sock_connect=self.connect, sock_read=self.idle",
        "total=self.total, sock_connect=self.connect, sock_read=None",
        "tests/faults/test_transport_faults.py -k stall_mid",
    ),
    (
        "retry time unbounded",
        "_attempts.py",
        "    if elapsed + wait > retry.max_time:",
        "    if False:",
        "tests/faults/test_http_faults.py -k budget or total_time",
    ),
    (
        "plugin BaseException not guarded",
        "_attempts.py",
        "            except BaseException as raw:  # plugin code may raise anything",
        "            except Exception as raw:  # plugin code may raise anything",
        "tests/faults/test_plugin_guard.py -k base_exception_before and CancelledError",
    ),
    (
        "caller's cancellation taken as a plugin's",
        "_guard.py",
        "        return task is not None and (cancelling is None or cancelling() > 0)",
        "        return False",
        "tests/faults/test_plugin_guard.py -k callers_own",
    ),
    (
        "list_models without a time limit",
        "_guard.py",
        "        return future.result(None if wait is None else max(0.0, wait))",
        "        return future.result()",
        "tests/faults/test_plugin_guard.py -k hanging_list_models",
    ),
    (
        "no request head timeout",
        "server/connection.py",
        "        super().connection_made(transport)\n        self._arm_head_timer()",
        "        super().connection_made(transport)",
        "tests/server/hardening/test_timeouts.py -k sends_nothing",
    ),
    (
        "no slow-reader timeout",
        "server/connection.py",
        "        if self._write_timer is None:",
        "        if False:",
        "tests/server/hardening/test_timeouts.py -k stops_reading",
    ),
    (
        "no request body timeout",
        "server/middlewares.py",
        "    if request.can_read_body:",
        "    if False:",
        "tests/server/hardening/test_timeouts.py -k body_that_stops",
    ),
    (
        "aiohttp's shutdown instead of the grace",
        "server/connection.py",
        "            await self.drain()",
        "            pass",
        "tests/server/hardening/test_grace.py -k exits_after",
    ),
    (
        "accept failures reported each time",
        "server/connection.py",
        '        if context.get("message") != ACCEPT_FAILED:',
        "        if True:",
        "tests/server/hardening/test_fd_exhaustion.py -k burst",
    ),
    (
        "no error event after a server bug",
        "server/sse.py",
        "    except Exception:  # a bug",
        "    except ZeroDivisionError:  # a bug",
        "tests/server/hardening/test_server_bug.py",
    ),
    (
        "aiohttp's own plain-text 400s",
        "server/connection.py",
        "    def handle_error(",
        "    def _unused_handle_error(",
        "tests/server/hardening/test_bad_input.py -k aiohttp_rejects",
    ),
]


def main(only: list[str]) -> int:
    survived = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, file, old, new, tests in MUTANTS:
            if only and not any(word in name for word in only):
                continue
            copy = Path(tmp) / "chatplug"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
            path = copy / file
            text = path.read_text()
            if text.count(old) != 1:
                print(f"{name:38} PATTERN NOT FOUND ({text.count(old)}): update this mutant")
                survived += 1
                continue
            path.write_text(text.replace(old, new))
            paths, _, keyword = tests.partition(" -k ")
            cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
            cmd += paths.split() + (["-k", keyword] if keyword else [])
            env = {**os.environ, "PYTHONPATH": tmp}
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            last = (proc.stdout.strip().splitlines() or ["?"])[-1]
            caught = proc.returncode == 1
            survived += not caught
            print(f"{name:38} {'CAUGHT' if caught else f'SURVIVED rc={proc.returncode}'} | {last}")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
