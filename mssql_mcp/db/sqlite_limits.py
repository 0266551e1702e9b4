"""Bounds on the work one SQLite statement may do: how big a value it may build, and how long it may run.

- Length: `limit_length(con, n)` sets SQLITE_LIMIT_LENGTH, the largest string, blob or row SQLite builds
  (https://www.sqlite.org/limits.html#max_length). A function that would make a bigger one fails the
  statement with SQLITE_TOOBIG, which `too_big(exc)` recognises; the user gets `ValueTooLarge`, never a
  silently cut or NULL value. (SQLite's printf() is the exception: it answers NULL past the limit, so the
  T-SQL translation never emits it, and the gate refuses it.)
- Time: the backend's progress handler checks the clock every few thousand VM steps, but one step may be one
  expensive function call, run for every row. `WATCHDOG`, one thread for every connection of the process,
  calls `Connection.interrupt()` on a statement still running at its deadline
  (https://www.sqlite.org/c3ref/interrupt.html): it stops at the next step, so it overruns by at most one
  call, and the length limit bounds what one call can cost.

An interrupt is sent only while its statement's `watch` block is open (under the watchdog's lock), so it
never reaches the connection's next user. SQLite also clears a pending interrupt when a statement starts
with no other statement running.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator

SQLITE_TOOBIG = 18  # https://www.sqlite.org/rescode.html#toobig


def limit_length(con: sqlite3.Connection, max_bytes: int) -> None:
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_bytes)


def too_big(exc: sqlite3.Error) -> bool:
    """True when SQLite refused to build a string or blob past its length limit."""
    return getattr(exc, "sqlite_errorcode", None) == SQLITE_TOOBIG or "string or blob too big" in str(exc)


class Watchdog:
    """Interrupts each watched connection whose deadline passes while its block is still open."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadlines: list[tuple[float, int]] = []  # a heap of (deadline, ticket)
        self._open: dict[int, sqlite3.Connection] = {}  # tickets whose block has not ended
        self._tickets = itertools.count()
        self._thread: threading.Thread | None = None
        self.interrupts = 0  # how many statements it has stopped (for tests and the curious)

    @contextlib.contextmanager
    def watch(self, con: sqlite3.Connection, deadline: float) -> Iterator[None]:
        """Interrupt `con` if the block is still running at `deadline` (time.monotonic())."""
        ticket = next(self._tickets)
        with self._cond:
            self._open[ticket] = con
            heapq.heappush(self._deadlines, (deadline, ticket))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sqlite-watchdog", daemon=True)
                self._thread.start()
            if self._deadlines[0][1] == ticket:
                self._cond.notify()  # the new deadline is the nearest: wake the thread to wait for it
        try:
            yield
        finally:
            with self._cond:
                self._open.pop(ticket, None)  # gone already if the watchdog fired

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._deadlines and self._deadlines[0][1] not in self._open:
                    heapq.heappop(self._deadlines)  # that block ended in time
                if not self._deadlines:
                    self._cond.wait()
                    continue
                deadline, ticket = self._deadlines[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._deadlines)
                con = self._open.pop(ticket)
                with contextlib.suppress(sqlite3.Error):  # a connection closed meanwhile
                    con.interrupt()
                self.interrupts += 1


#: The process's one watchdog: a thread for all connections, not one per query.
WATCHDOG = Watchdog()
