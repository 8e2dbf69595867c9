"""Named API keys (``[[server.keys]]``) and the per-process sliding-window limiter."""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from chatplug.config import ConfigWarning
from chatplug.errors import ConfigError
from chatplug.server.limits import ApiKey, KeyRing, MemoryRateLimiter

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECRET = "sk-team-a-0123456789"
DEPLOYMENT = Path(__file__).parents[2] / "docs" / "deployment.md"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ring(*entries: Dict[str, Any], **environ: str) -> KeyRing:
    return KeyRing.from_config(list(entries), environ=environ)


def limiter(**limits: int) -> Tuple[MemoryRateLimiter, Clock]:
    clock = Clock()
    return MemoryRateLimiter([ApiKey("team", "k", **limits)], clock=clock), clock


# -- the key ring ---------------------------------------------------------------------------


def test_a_key_comes_from_the_named_environment_variable() -> None:
    keys = ring({"name": "team", "key_env": "TEAM_KEY", "rpm": 30, "tpm": 9000}, TEAM_KEY=SECRET)
    entry = keys.lookup(SECRET)
    assert entry == ApiKey("team", SECRET, rpm=30, tpm=9000)


def test_lookup_finds_only_the_exact_key() -> None:
    keys = ring({"name": "a", "key_env": "A"}, {"name": "b", "key_env": "B"}, A=SECRET, B="other")
    assert keys.lookup(SECRET).name == "a"  # type: ignore[union-attr]
    assert keys.lookup("other").name == "b"  # type: ignore[union-attr]
    for wrong in ("", SECRET[:-1], SECRET + "x", SECRET.upper()):
        assert keys.lookup(wrong) is None


def test_a_missing_environment_variable_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"\(team\): the environment variable TEAM_KEY"):
        ring({"name": "team", "key_env": "TEAM_KEY"})


def test_a_literal_key_works_with_a_warning_that_does_not_show_it() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keys = ring({"name": "team", "key": SECRET})
    assert keys.lookup(SECRET) is not None
    (warning,) = caught
    assert warning.category is ConfigWarning and "key_env" in str(warning.message)
    assert SECRET not in str(warning.message)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"key_env": "K"}, "'name' must be"),
        ({"name": "has space", "key_env": "K"}, "'name' must be"),
        ({"name": "t"}, "exactly one of 'key_env' and 'key'"),
        ({"name": "t", "key_env": "K", "key": "x"}, "exactly one of"),
        ({"name": "t", "key_env": "K", "rpm": 0}, "'rpm' must be a positive integer"),
        ({"name": "t", "key_env": "K", "tpm": "9000"}, "'tpm' must be a positive integer"),
        ({"name": "t", "key_env": "K", "rpm": True}, "'rpm' must be a positive integer"),
        ({"name": "t", "key_env": "K", "burst": 3}, "unknown setting"),
    ],
)
def test_an_invalid_entry_is_a_config_error(entry: Dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ring(entry, K="x")


def test_a_name_used_twice_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'team' is used twice"):
        ring({"name": "team", "key_env": "A"}, {"name": "team", "key_env": "B"}, A="a", B="b")


def test_a_key_used_twice_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        ring({"name": "a", "key_env": "K"}, {"name": "b", "key_env": "K"}, K=SECRET)
    assert "same key" in str(caught.value) and SECRET not in str(caught.value)


def test_the_repr_of_a_key_shows_its_name_not_the_key() -> None:
    text = repr(ring({"name": "team", "key_env": "K", "rpm": 3}, K=SECRET).keys)
    assert "team" in text and SECRET not in text


def test_the_documented_example_makes_a_key_ring() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DEPLOYMENT.read_text(encoding="utf-8"), re.S)
    (example,) = [block for block in blocks if "[[server.keys]]" in block]
    entries = tomllib.loads(example)["server"]["keys"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keys = KeyRing.from_config(entries, environ={"TEAM_A_KEY": "a", "BATCH_KEY": "b"})
    assert [warning.category for warning in caught] == [ConfigWarning]  # the literal key
    assert keys.lookup("a") == ApiKey("team-a", "a", rpm=60, tpm=200000)
    assert keys.names() == ["team-a", "batch", "local-test"]


# -- the per-process limiter --------------------------------------------------------------


async def test_rpm_lets_exactly_rpm_requests_through_in_a_minute() -> None:
    limits, _ = limiter(rpm=30)
    verdicts = [(await limits.check("team"))[0] for _ in range(100)]
    assert verdicts.count(True) == 30 and verdicts[:30] == [True] * 30


async def test_a_refused_request_waits_until_the_oldest_leaves_the_window() -> None:
    limits, clock = limiter(rpm=2)
    await limits.check("team")
    clock.now += 10
    await limits.check("team")
    clock.now += 5
    assert await limits.check("team") == (False, 45.0)
    clock.now += 45
    assert await limits.check("team") == (True, 0.0)


async def test_the_window_slides_rather_than_resetting_each_minute() -> None:
    limits, clock = limiter(rpm=2)
    clock.now = 1059.0  # the end of a wall-clock minute
    await limits.check("team")
    await limits.check("team")
    clock.now = 1061.0  # a new minute: a fixed window would allow two more
    assert not (await limits.check("team"))[0]


async def test_refused_requests_do_not_count() -> None:
    limits, clock = limiter(rpm=1)
    await limits.check("team")
    for _ in range(10):
        clock.now += 1
        await limits.check("team")
    clock.now = 1060.0
    assert (await limits.check("team"))[0]


async def test_tpm_refuses_requests_once_the_tokens_of_the_minute_reach_it() -> None:
    limits, clock = limiter(tpm=1000)
    await limits.add_tokens("team", 700)
    clock.now += 20
    assert (await limits.check("team"))[0]
    await limits.add_tokens("team", 400)  # the answer that crossed the limit is counted
    assert await limits.check("team") == (False, 40.0)  # until the 700 leave
    clock.now += 40
    assert (await limits.check("team"))[0]


async def test_a_name_without_limits_is_always_allowed() -> None:
    limits = MemoryRateLimiter([ApiKey("free", "k"), ApiKey("team", "t", rpm=1)])
    for name in ("free", "free", "unknown", "unknown"):
        assert await limits.check(name) == (True, 0.0)


async def test_limits_are_per_key_name() -> None:
    limits = MemoryRateLimiter([ApiKey("a", "ka", rpm=1), ApiKey("b", "kb", rpm=1)])
    results: List[bool] = [(await limits.check(n))[0] for n in ("a", "a", "b")]
    assert results == [True, False, True]
