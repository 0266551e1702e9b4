"""A small, bounded pool of pyodbc connections with health checks, lent out one lease per call.

- At most `size` connections exist; a caller past that waits (up to `wait` seconds) for one to come back.
- A connection idle for more than `recheck_after` seconds is checked with `SELECT 1` before it is handed
  out; a dead one is closed and replaced, never handed out.
- With `lifetime`, each new connection is given a deadline (seconds from now, asked right after it opened):
  past it, an idle connection is closed instead of handed out (DB_IDENTITY=entra_obo: its access token
  expires, so the next connection signs in with a fresh one).
- `lease()` is the only way in and out: it acquires, ends the transaction, and gives the connection back
  or closes it, in one place. A call that finds the link in an unknown state (timeout, lost link) marks
  its lease broken, and the connection is closed instead of returned.
- Each idle connection remembers the session context it holds (`Lease.context`: the batch that set it,
  db/identity.py). A lease asks for the context its call needs and gets an idle connection that holds it
  when there is one, so the backend can skip that round trip (mssql.py).
pyodbc connections are not shared between threads at once (threadsafety = 1): one lease, one thread.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from mssql_mcp.errors import DatabaseUnavailable

log = logging.getLogger("mssql_mcp.db.pool")


class Lease:
    """One connection lent to one call. `broken()` says its state is unknown: it is closed, never reused."""

    __slots__ = ("conn", "context", "ended", "usable")

    def __init__(self, conn: Any, context: str | None = None) -> None:
        self.conn = conn
        self.usable = True
        self.ended = False  # the call ended its transaction itself (mssql_impersonate.py): give it back as is
        self.context = context  # the session-context batch the connection holds; None: unknown or none

    def broken(self) -> None:
        self.usable = False


class Pool:
    def __init__(
        self,
        connect: Callable[[], Any],
        size: int,
        *,
        recheck_after: float = 5.0,
        lifetime: Callable[[], float] | None = None,
    ) -> None:
        self._connect = connect
        self._lifetime = lifetime
        self._deadlines: dict[int, float] = {}
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[tuple[Any, float]] = []
        self._lock = threading.Lock()
        self._recheck_after = recheck_after
        self._closed = False
        self.created = 0  # connections opened so far (tests and doctor read it)
        self.discarded = 0
        self._contexts: dict[int, str] = {}  # id(conn) -> the session-context batch an idle connection holds

    @contextlib.contextmanager
    def lease(self, wait: float, *, commit: bool = False, context: str | None = None) -> Iterator[Lease]:
        """Lend one connection for one call, then end its transaction and give it back or close it.

        When the call returns, its transaction is committed if `commit`, else rolled back (a read keeps
        nothing, whatever ran). When it raises, the transaction is rolled back. A broken lease, or a
        connection whose ROLLBACK fails, is closed rather than returned. A COMMIT that fails closes the
        connection and raises the driver's error: the caller must not report the write as done.
        `context`: prefer an idle connection whose session context is this batch.
        """
        conn = self._acquire(wait, context)
        with self._lock:
            lease = Lease(conn, self._contexts.pop(id(conn), None))
        try:
            yield lease
        except BaseException as exc:
            if not isinstance(exc, Exception):  # interrupted midway: the connection's state is unknown
                lease.broken()
            self._end(lease, commit=False)
            raise
        self._end(lease, commit=commit)

    def _end(self, lease: Lease, *, commit: bool) -> None:
        conn = lease.conn
        if not lease.usable:
            self._discard(conn)
            return
        if lease.ended:
            self._release(conn, lease.context)
            return
        try:
            if commit:
                conn.commit()
            else:
                conn.rollback()
        except Exception:
            self._discard(conn)
            if commit:
                raise
            return  # a read's rollback that fails loses nothing: the server rolls back when the link ends
        self._release(conn, lease.context)

    def _acquire(self, wait: float, context: str | None = None) -> Any:
        if not self._slots.acquire(timeout=wait):
            raise DatabaseUnavailable(f"All database connections stayed busy for {wait:g} s; try again.")
        try:
            return self._checked_out(context)
        except BaseException:
            self._slots.release()
            raise

    def _checked_out(self, context: str | None = None) -> Any:
        while True:
            with self._lock:
                if self._closed:
                    raise DatabaseUnavailable("The database pool is closed.")
                conn, last = self._idle.pop(self._holding(context)) if self._idle else (None, 0.0)
            if conn is None:
                conn = self._connect()
                self.created += 1
                if self._lifetime is not None:
                    self._deadlines[id(conn)] = time.monotonic() + self._lifetime()
                return conn
            if time.monotonic() >= self._deadlines.get(id(conn), math.inf):
                log.info("retiring a pooled connection whose sign-in expires")
                self._close(conn)
                continue
            if time.monotonic() - last < self._recheck_after or alive(conn):
                return conn
            log.info("discarding a dead pooled connection")
            self._close(conn)

    def _holding(self, context: str | None) -> int:
        """The index of the most recently used idle connection that holds `context`, else of the last one."""
        if context is not None:
            for i in range(len(self._idle) - 1, -1, -1):
                if self._contexts.get(id(self._idle[i][0])) == context:
                    return i
        return -1

    def _release(self, conn: Any, context: str | None = None) -> None:
        """Give back a healthy connection (its transaction already ended), with the context it holds."""
        with self._lock:
            if not self._closed:
                self._idle.append((conn, time.monotonic()))
                if context is not None:
                    self._contexts[id(conn)] = context
                conn = None
        if conn is not None:
            self._close(conn)
        self._slots.release()

    def _discard(self, conn: Any) -> None:
        """Drop a connection in an unknown state (timed out, link lost); its slot is freed."""
        self._close(conn)
        self._slots.release()

    def clear_idle(self) -> None:
        """Close every idle connection (after an outage, so that none of them is reused)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._close(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.clear_idle()

    def _close(self, conn: Any) -> None:
        with self._lock:
            self._contexts.pop(id(conn), None)
        self.discarded += 1
        self._deadlines.pop(id(conn), None)
        with contextlib.suppress(Exception):
            conn.close()


def alive(conn: Any) -> bool:
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT 1").fetchall()
        cursor.close()
        return True
    except Exception:
        return False
