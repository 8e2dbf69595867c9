"""Named API keys and their limits: requests and tokens per minute.

:class:`KeyRing` holds the server's keys (``[[server.keys]]``: ``name``, the key from
``key_env`` or a literal ``key``, optional ``rpm`` and ``tpm``) and finds the one a request
presents in constant time.  A rate limiter counts per key name, never per key:

- :class:`MemoryRateLimiter`: per process (the default, and the fallback while Redis is down).
- :class:`RedisRateLimiter`: shared by every process and machine using the same Redis; each
  check is one Lua script, so limits hold exactly however many workers ask at once.

Both use a **sliding window** of ``window`` seconds (60): a request is allowed when fewer
than ``rpm`` requests were allowed in the last 60 seconds and fewer than ``tpm`` tokens were
counted in them.  Tokens are known once an answer ends (:meth:`add_tokens`), so the request
that crosses ``tpm`` completes and the next ones wait.  Requests refused are not counted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import count
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
)

from ..config.server import KEY_NAME, ServerKey, parse_keys
from ..errors import ConfigError
from ..redis_store import RedisBackend, Script

WINDOW = 60.0
NAME = KEY_NAME
Verdict = Tuple[bool, float]  # (allowed, seconds to wait when not)


@dataclass(frozen=True)
class ApiKey:
    """One named key; ``repr`` never shows the key itself."""

    name: str
    key: str = field(repr=False)
    rpm: Optional[int] = None
    tpm: Optional[int] = None

    @property
    def limited(self) -> bool:
        return bool(self.rpm or self.tpm)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyRing:
    """The server's API keys, looked up by the key a request presents.

    The lookup hashes the presented key (SHA-256) and finds the digest in a dict, then
    compares with :func:`hmac.compare_digest`: its time does not depend on how much of a
    real key a guess shares.
    """

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self.keys: List[ApiKey] = list(keys)
        self._by_digest: Dict[bytes, ApiKey] = {}
        names = set()
        for entry in self.keys:
            if entry.name in names:
                raise ConfigError(f"[[server.keys]]: the name {entry.name!r} is used twice")
            names.add(entry.name)
            digest = _digest(entry.key)
            if digest in self._by_digest:
                other = self._by_digest[digest].name
                raise ConfigError(
                    f"[[server.keys]]: keys {other!r} and {entry.name!r} are the same key"
                )
            self._by_digest[digest] = entry

    @classmethod
    def from_config(
        cls,
        entries: Sequence[Mapping[str, Any]],
        environ: Optional[Mapping[str, str]] = None,
        where: str = "chatplug.toml",
    ) -> "KeyRing":
        """Keys from ``[[server.keys]]`` tables (``ConfigError`` naming what is wrong, never
        a key's value; a literal ``key`` works with a :class:`~chatplug.config.ConfigWarning`)."""
        return cls.from_server(parse_keys(entries, where), environ)

    @classmethod
    def from_server(
        cls, keys: Sequence[ServerKey], environ: Optional[Mapping[str, str]] = None
    ) -> "KeyRing":
        """Keys from the parsed ``[[server.keys]]`` of a configuration (each key read from
        its environment variable now)."""
        env = os.environ if environ is None else environ
        return cls(ApiKey(key.name, key.resolve(env), key.rpm, key.tpm) for key in keys)

    def lookup(self, presented: str) -> Optional[ApiKey]:
        """The key entry ``presented`` is, or ``None``."""
        entry = self._by_digest.get(_digest(presented))
        if entry is not None and hmac.compare_digest(entry.key.encode(), presented.encode()):
            return entry
        return None

    def names(self) -> List[str]:
        return [entry.name for entry in self.keys]

    def __len__(self) -> int:
        return len(self.keys)


class RateLimiter(Protocol):
    """Per-key-name limits.  A name without limits (or unknown) is always allowed."""

    async def check(self, name: str) -> Verdict:
        """Count one request of ``name`` if allowed; else ``(False, seconds to wait)``."""
        ...

    async def add_tokens(self, name: str, tokens: int) -> None:
        """Count ``tokens`` (prompt and completion) used by ``name`` now."""
        ...


def _limits(keys: Iterable[ApiKey]) -> Dict[str, ApiKey]:
    return {entry.name: entry for entry in keys if entry.limited}


class _Window:
    """One key's sliding window in the process: request times, and (time, tokens) pairs."""

    __slots__ = ("requests", "tokens", "total")

    def __init__(self) -> None:
        self.requests: Deque[float] = deque()
        self.tokens: Deque[Tuple[float, int]] = deque()
        self.total = 0


class MemoryRateLimiter:
    """Limits counted in this process (exact for one process)."""

    def __init__(
        self,
        keys: Iterable[ApiKey],
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = _limits(keys)
        self.window = window
        self._clock = clock
        self._windows: Dict[str, _Window] = {}

    def _expire(self, name: str, now: float) -> _Window:
        state = self._windows.get(name)
        if state is None:
            state = self._windows[name] = _Window()
        start = now - self.window
        while state.requests and state.requests[0] <= start:
            state.requests.popleft()
        while state.tokens and state.tokens[0][0] <= start:
            state.total -= state.tokens.popleft()[1]
        return state

    def check_now(self, name: str) -> Verdict:
        limits = self.limits.get(name)
        if limits is None:
            return True, 0.0
        now = self._clock()
        state = self._expire(name, now)
        if limits.tpm and state.total >= limits.tpm:
            excess = state.total - limits.tpm
            for at, tokens in state.tokens:  # wait until enough tokens leave the window
                excess -= tokens
                if excess < 0:
                    return False, at + self.window - now
        if limits.rpm and len(state.requests) >= limits.rpm:
            return False, state.requests[len(state.requests) - limits.rpm] + self.window - now
        state.requests.append(now)
        return True, 0.0

    def add_tokens_now(self, name: str, tokens: int) -> None:
        limits = self.limits.get(name)
        if limits is None or not limits.tpm or tokens <= 0:
            return
        now = self._clock()
        state = self._expire(name, now)
        state.tokens.append((now, tokens))
        state.total += tokens

    async def check(self, name: str) -> Verdict:
        return self.check_now(name)

    async def add_tokens(self, name: str, tokens: int) -> None:
        self.add_tokens_now(name, tokens)


# KEYS: requests zset, tokens zset, tokens total; ARGV: rpm, tpm (0: none), window ms, id
# -> {1, 0} allowed (and counted) or {0, ms to wait}
_CHECK = Script(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm, tpm, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local start = now - window
if tpm > 0 then
  local total = tonumber(redis.call('GET', KEYS[3])) or 0
  local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', start)
  if #old > 0 then
    for _, entry in ipairs(old) do total = total - tonumber(string.match(entry, ':(%d+)$')) end
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', start)
    if total > 0 then
      redis.call('SET', KEYS[3], total, 'KEEPTTL')
    else
      redis.call('DEL', KEYS[3])
    end
  end
  if total >= tpm then
    local excess = total - tpm
    local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    for i = 1, #entries, 2 do
      excess = excess - tonumber(string.match(entries[i], ':(%d+)$'))
      if excess < 0 then return {0, tonumber(entries[i + 1]) + window - now} end
    end
  end
end
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', start)
  local used = redis.call('ZCARD', KEYS[1])
  if used >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], used - rpm, used - rpm, 'WITHSCORES')
    return {0, tonumber(oldest[2]) + window - now}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
end
return {1, 0}
"""
)

# KEYS: tokens zset, tokens total; ARGV: tokens, window ms, id
_TOKENS = Script(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[3] .. ':' .. ARGV[1])
redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"""
)


class RedisRateLimiter:
    """Limits shared through Redis: keys ``<namespace>:limit:{<name>}:requests|tokens|total``
    (the name, never the key; one hash slot per name), expiring with the window.  While
    Redis is down, a :class:`MemoryRateLimiter` counts per process."""

    def __init__(
        self, backend: RedisBackend, keys: Iterable[ApiKey], window: float = WINDOW
    ) -> None:
        self.backend = backend
        self.limits = _limits(keys)
        self.window_ms = int(window * 1000)
        self.local = MemoryRateLimiter(self.limits.values(), window)
        self._ids = count()
        self._prefix = os.urandom(6).hex()  # unique members across processes

    def _keys(self, name: str) -> List[str]:
        base = self.backend.key("limit", "{" + name + "}")
        return [f"{base}:requests", f"{base}:tokens", f"{base}:total"]

    def _id(self) -> str:
        return f"{self._prefix}{next(self._ids)}"

    async def check(self, name: str) -> Verdict:
        limits = self.limits.get(name)
        if limits is None:
            return True, 0.0

        async def shared() -> Verdict:
            args = (limits.rpm or 0, limits.tpm or 0, self.window_ms, self._id())
            allowed, wait = await self.backend.eval(_CHECK, self._keys(name), args)
            return bool(allowed), max(0.0, int(wait) / 1000)

        return await self.backend.run(shared, lambda: self.local.check_now(name))

    async def add_tokens(self, name: str, tokens: int) -> None:
        limits = self.limits.get(name)
        if limits is None or not limits.tpm or tokens <= 0:
            return

        async def shared() -> None:
            keys = self._keys(name)[1:]
            await self.backend.eval(_TOKENS, keys, (int(tokens), self.window_ms, self._id()))

        await self.backend.run(shared, lambda: self.local.add_tokens_now(name, tokens))
