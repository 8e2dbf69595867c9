"""Running the checks: one in a fresh event loop, the suite, or one pytest test per check."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Mapping, Optional

from . import limits
from .checks import CHECKS
from .subject import (
    Check,
    CheckResult,
    ConformanceFailure,
    NotApplicable,
    Subject,
    describe,
    strip_provider,
)

if TYPE_CHECKING:  # pragma: no cover
    from ...emulation import AppFactory

CHECK_NAMES = tuple(check.name for check in CHECKS)


def select_checks(only: Iterable[str] = (), skip: Iterable[str] = ()) -> List[Check]:
    """The checks named in ``only`` (default: all) minus those in ``skip``."""
    only, skip = list(only), list(skip)
    unknown = [name for name in [*only, *skip] if name not in CHECK_NAMES]
    if unknown:
        raise ValueError(
            f"unknown conformance check(s): {', '.join(unknown)}; known: {', '.join(CHECK_NAMES)}"
        )
    return [c for c in CHECKS if (not only or c.name in only) and c.name not in skip]


def run_check(
    check: Check,
    provider: str,
    *,
    plugin: Optional[object] = None,
    emulator: Optional["AppFactory"] = None,
    client_options: Optional[Mapping[str, Any]] = None,
    limit: Optional[float] = None,
) -> CheckResult:
    """Run one check in a fresh event loop; never raises for a failing plugin.

    A check that does not apply to the plugin passes, its ``message`` saying why
    (``not applicable: ...``).

    ``limit``: seconds the check may take in all (default :data:`limits.CHECK_LIMIT`).
    """
    seconds = limits.CHECK_LIMIT if limit is None else limit
    subject = Subject(provider, plugin, emulator, dict(client_options or {}))
    started = time.monotonic()

    async def run() -> None:
        subject.require_provider()
        try:
            await asyncio.wait_for(check.run(subject), seconds)
        except asyncio.TimeoutError:
            raise ConformanceFailure(
                f"the check did not finish within {seconds:g}s (the plugin hangs?)"
            ) from None

    passed, message = True, ""
    try:
        asyncio.run(run())
    except NotApplicable as reason:
        message = f"not applicable: {reason}"
    except ConformanceFailure as failure:
        passed, message = False, strip_provider(str(failure), provider)
    except Exception as error:
        passed, message = False, f"the check itself failed unexpectedly: {describe(error)}"
    return CheckResult(check.name, check.description, passed, message, time.monotonic() - started)


def run_conformance(
    provider: str,
    *,
    plugin: Optional[object] = None,
    emulator: Optional["AppFactory"] = None,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    client_options: Optional[Mapping[str, Any]] = None,
) -> List[CheckResult]:
    """Run the suite (or the checks in ``only``, minus ``skip``) against ``provider``."""
    return [
        run_check(check, provider, plugin=plugin, emulator=emulator, client_options=client_options)
        for check in select_checks(only, skip)
    ]


def conformance_tests(
    provider: str,
    *,
    plugin: Optional[object] = None,
    emulator: Optional["AppFactory"] = None,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    client_options: Optional[Mapping[str, Any]] = None,
) -> Callable[..., None]:
    """A pytest test function running each check as its own parametrized test.

    ``test_conformance = conformance_tests("acme")`` in a test module is all it takes.
    ``plugin``/``emulator`` check an in-process plugin instead of the installed one;
    ``only``/``skip`` select checks by name; ``client_options`` are extra
    :class:`~chatplug.AsyncClient` arguments (e.g. ``config=`` holding the provider's
    settings, such as a test API key).
    """
    import pytest

    checks = select_checks(only, skip)

    @pytest.mark.parametrize("check", [pytest.param(c, id=c.name) for c in checks])
    def test_conformance(check: Check) -> None:
        result = run_check(
            check, provider, plugin=plugin, emulator=emulator, client_options=client_options
        )
        if not result.passed:
            pytest.fail(f"conformance check {check.name!r} failed: {result.message}", pytrace=False)

    test_conformance.__doc__ = f"The chatplug conformance suite for provider {provider!r}."
    return test_conformance
