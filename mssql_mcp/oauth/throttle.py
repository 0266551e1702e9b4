"""Sign-in throttling: after a few failures, each further attempt waits exponentially longer.

Counted per username (any string typed, so it says nothing about which users exist) and per client IP
(behind the proxy: uvicorn's proxy_headers with FORWARDED_ALLOW_IPS). A success clears the username's
count; an IP's count only fades, so one good account cannot reset it. Kept in memory: a restart clears
it, and each replica counts alone (the shared store of a later issue can hold it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

MAX_DELAY = 900.0  # 15 minutes
FORGET_AFTER = 3600.0  # a key with no failure for this long starts again


@dataclass
class _Count:
    failures: int
    last: float


class Throttle:
    def __init__(self, *, free: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.free = free  # failures allowed before any delay
        self.clock = clock
        self._counts: TTLCache[str, _Count] = TTLCache(maxsize=100_000, ttl=FORGET_AFTER, timer=clock)

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(2.0 ** (failures - self.free), MAX_DELAY)

    def wait(self, key: str) -> float:
        """Seconds before `key` may try again (0: now)."""
        count = self._counts.get(key)
        if count is None:
            return 0.0
        return max(0.0, count.last + self.delay(count.failures) - self.clock())

    def failed(self, key: str) -> None:
        count = self._counts.get(key) or _Count(0, 0.0)
        self._counts[key] = _Count(count.failures + 1, self.clock())

    def succeeded(self, key: str) -> None:
        self._counts.pop(key, None)


class LoginThrottle:
    """The two counters a sign-in attempt is checked against."""

    def __init__(self, *, per_user: int = 5, per_ip: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.users = Throttle(free=per_user, clock=clock)
        self.ips = Throttle(free=per_ip, clock=clock)

    def wait(self, username: str, ip: str) -> float:
        return max(self.users.wait(_user_key(username)), self.ips.wait(ip))

    def failed(self, username: str, ip: str) -> None:
        self.users.failed(_user_key(username))
        self.ips.failed(ip)

    def succeeded(self, username: str) -> None:
        self.users.succeeded(_user_key(username))


def _user_key(username: str) -> str:
    return username.strip().lower()[:128]
