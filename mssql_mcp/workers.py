"""Thread pools for blocking database calls, laid out so the event loop always comes first.

    event loop (nice 0)  --submit-->  "db" pool: DB_WORKERS threads, nice +10 (background priority)
                         --submit-->  "health" pool: 1 thread, nice 0, only for /health's ping

Why:
- A CPU-bound query (SQLite runs in-process; sqlite3 releases the GIL while it steps) competes with the
  event loop for the CPU. At a lower priority the scheduler lets the loop run first, so /health and
  every other request keep answering while 8 slow queries grind (issue 7: /health p99 < 20 ms).
  Linux's nice value is per thread (setpriority(2), NOTES), so only these threads are demoted.
- /health must not queue behind busy workers, nor run on a demoted thread: it has its own thread.
- A plain executor costs fewer instructions per call than anyio's `to_thread` (no limiter, no extra
  checkpoints), and still lets a cancelled caller abandon a call that has not started.

Where the platform cannot set a thread's priority, the pool works the same at normal priority.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=name, initializer=_demote, initargs=(nice,)
        )

    async def run(self, fn: Callable[[], T]) -> T:
        # The caller's context variables travel with the call, as with anyio.to_thread.
        future = self._executor.submit(contextvars.copy_context().run, fn)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        # Queued calls are dropped; a running one is abandoned (it ends at its own timeout).
        self._executor.shutdown(wait=False, cancel_futures=True)
