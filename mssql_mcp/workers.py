"""Thread pools for blocking database calls, laid out so the event loop always comes first; and fair shares.

    event loop (nice 0)  --submit-->  "db" pool: DB_WORKERS threads, nice +10 (background priority)
                         --submit-->  "health" pool: 1 thread, nice 0, only for /health's ping

Why:
- A CPU-bound query (SQLite runs in-process; sqlite3 releases the GIL while it steps) competes with the
  event loop for the CPU. At a lower priority the scheduler lets the loop run first, so /health and
  every other request keep answering while 8 slow queries grind (/health p99 < 20 ms).
  Linux's nice value is per thread (setpriority(2), NOTES), so only these threads are demoted.
- /health must not queue behind busy workers, nor run on a demoted thread: it has its own thread.
- A plain executor costs fewer instructions per call than anyio's `to_thread` (no limiter, no extra
  checkpoints), and still lets a cancelled caller abandon a call that has not started.
- A call can be given a time after which it counts as *stuck*: it should have ended (its statement was
  cancelled) but its thread is still busy. `stuck()` counts those threads, so the query service can answer
  "busy" at once when every worker is stuck, rather than queueing calls into timeouts.

`CallerShares` bounds how many calls one caller (a person, or a client address) has in flight, so one
caller cannot take every worker: the others' calls still find a free one.

Where the platform cannot set a thread's priority, the pool works the same at normal priority.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

#: Nice value of database worker threads: the event loop (0) gets ~10x their CPU share when both want it.
DB_THREAD_NICE = 10


def _demote(nice: int) -> None:
    if nice and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):  # not permitted or not supported: run at normal priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class WorkerPool:
    """A bounded pool of threads at a given nice value; `await pool.run(fn)` runs `fn()` on one of them."""

    def __init__(self, workers: int, *, name: str, nice: int = 0) -> None:
        self.size = workers
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=name, initializer=_demote, initargs=(nice,)
        )
        self._lock = threading.Lock()
        self._stuck_at: dict[int, float] = {}  # running call -> monotonic time past which it counts as stuck

    def submit(self, fn: Callable[[], T], *, stuck_after: float | None = None) -> Future[T]:
        """Queue `fn()`. Once running, it counts as stuck `stuck_after` seconds later until it returns."""
        ctx = contextvars.copy_context()  # the caller's context variables travel with it, as with anyio.to_thread
        if stuck_after is None:
            return self._executor.submit(ctx.run, fn)

        def tracked() -> T:
            key = id(threading.current_thread())
            with self._lock:
                self._stuck_at[key] = time.monotonic() + stuck_after
            try:
                return ctx.run(fn)
            finally:
                with self._lock:
                    del self._stuck_at[key]

        return self._executor.submit(tracked)

    async def run(self, fn: Callable[[], T], *, stuck_after: float | None = None) -> T:
        return await asyncio.wrap_future(self.submit(fn, stuck_after=stuck_after))

    def stuck(self) -> int:
        """How many threads are still busy with a call past its time."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for t in self._stuck_at.values() if now > t)

    def close(self) -> None:
        # Queued calls are dropped; a running one is abandoned (it ends at its own timeout).
        self._executor.shutdown(wait=False, cancel_futures=True)


class ShareExhausted(Exception):
    """A caller waited its whole allowance for one of its own calls to finish."""


class CallerShares:
    """At most `limit` calls in flight per caller key; more wait in order for one of that caller's to end.

    Used from the event loop only; `release` may be scheduled from a thread with `call_soon_threadsafe`.
    A slot is handed straight to the next waiter, so a caller's turn order is first come, first served.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: collections.Counter[str] = collections.Counter()
        self._waiting: dict[str, collections.deque[asyncio.Future[None]]] = {}

    def held(self, key: str) -> int:
        return self._held[key]

    async def acquire(self, key: str, wait: float) -> None:
        """Take a slot for `key`, waiting at most `wait` seconds; raise ShareExhausted past that."""
        queue = self._waiting.get(key)
        if self._held[key] < self.limit and not queue:
            self._held[key] += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, collections.deque()).append(waiter)
        try:
            async with asyncio.timeout(wait):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.release(key)  # a slot reached us just as we gave up: pass it on
            else:
                waiter.cancel()
                self._forget(key, waiter)
            if isinstance(exc, TimeoutError):
                raise ShareExhausted from None
            raise

    def release(self, key: str) -> None:
        queue = self._waiting.get(key)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the next waiter; the count stays
                if not queue:
                    del self._waiting[key]
                return
        self._waiting.pop(key, None)
        self._held[key] -= 1
        if self._held[key] <= 0:
            del self._held[key]

    def _forget(self, key: str, waiter: asyncio.Future[None]) -> None:
        queue = self._waiting.get(key)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(waiter)
            if not queue:
                del self._waiting[key]
