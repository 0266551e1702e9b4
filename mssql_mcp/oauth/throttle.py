"""What one sign-in attempt may cost: a throttle that holds under a burst, and a bound on password hashing.

The throttle counts attempts per username (any string typed, so it says nothing about which users exist)
and per client address (behind the proxy: uvicorn's proxy_headers with FORWARDED_ALLOW_IPS). It lives in
the store (`OAuthStore.throttle_*`), so every process sharing the store shares the counts, and a restart
forgets nothing.

Each attempt reserves a slot BEFORE the password is checked, and the store tests-and-counts in one atomic
step: 60 concurrent wrong passwords for one user get `free` checks (plus one per doubling of the time the
burst lasts, as the 1, 2, 4 ... second delays expire), and the rest a 429 without any hashing. A right
password clears the username's count and gives the address its slot back; an address's count otherwise
only fades, so one good account cannot reset it.

argon2id (RFC 9106's second recommended option) takes 64 MiB per check. Checks run on their own pool of
PASSWORD_HASH_CONCURRENCY threads, so a burst of attempts from many addresses and usernames queues for the
pool instead of taking N x 64 MiB at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mssql_mcp.oauth.store import OAuthStore, ThrottleSlot
from mssql_mcp.workers import WorkerPool


class LoginThrottle:
    def __init__(
        self,
        store: OAuthStore,
        *,
        per_user: int = 5,
        per_ip: int = 20,
        hash_workers: int = 2,
        clock: Callable[[], float] = time.time,  # wall-clock: the counts are shared between processes
    ) -> None:
        self.store = store
        self.per_user = per_user
        self.per_ip = per_ip
        self.clock = clock
        # The store's calls are short, but may wait on another process's write lock: off the event loop,
        # and never queued behind password checks.
        self._io = WorkerPool(1, name="login-throttle")
        self._hashing = WorkerPool(hash_workers, name="password-hash")

    def _slots(self, username: str, ip: str) -> tuple[ThrottleSlot, ThrottleSlot]:
        return ThrottleSlot(f"user:{_user_key(username)}", self.per_user), ThrottleSlot(f"ip:{ip}", self.per_ip)

    async def reserve(self, username: str, ip: str) -> float:
        """0.0 if this attempt may check a password (its slot is now counted as a failure), else the
        seconds to wait (nothing was counted)."""
        slots = self._slots(username, ip)
        return await self._io.run(lambda: self.store.throttle_reserve(slots, self.clock()))

    async def succeeded(self, username: str, ip: str) -> None:
        user, address = self._slots(username, ip)

        def forget() -> None:
            self.store.throttle_clear(user.key)
            self.store.throttle_release(address)

        await self._io.run(forget)

    async def check_password(self, check: Callable[[], bool]) -> bool:
        """Run one password check (argon2: slow and memory-hungry on purpose) on the bounded pool."""
        return await self._hashing.run(check)

    def close(self) -> None:
        self._io.close()
        self._hashing.close()


def _user_key(username: str) -> str:
    return username.strip().lower()[:128]
