"""A small, bounded pool of pyodbc connections with health checks.

- At most `size` connections exist; a caller past that waits (up to `wait` seconds) for one to come back.
- A connection idle for more than `recheck_after` seconds is checked with `SELECT 1` before it is handed
  out; a dead one is closed and replaced, never handed out.
- A connection that failed (timeout, lost link, unknown state) is discarded by the caller, not returned.
pyodbc connections are not shared between threads at once (threadsafety = 1): one lease, one thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mssql_mcp.errors import DatabaseUnavailable

log = logging.getLogger("mssql_mcp.db.pool")


class Pool:
    def __init__(self, connect: Callable[[], Any], size: int, *, recheck_after: float = 5.0) -> None:
        self._connect = connect
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[tuple[Any, float]] = []
        self._lock = threading.Lock()
        self._recheck_after = recheck_after
        self._closed = False
        self.created = 0  # connections opened so far (tests and doctor read it)
        self.discarded = 0

    def acquire(self, wait: float) -> Any:
        if not self._slots.acquire(timeout=wait):
            raise DatabaseUnavailable(f"All database connections stayed busy for {wait:g} s; try again.")
        try:
            return self._checked_out()
        except BaseException:
            self._slots.release()
            raise

    def _checked_out(self) -> Any:
        while True:
            with self._lock:
                if self._closed:
                    raise DatabaseUnavailable("The database pool is closed.")
                conn, last = self._idle.pop() if self._idle else (None, 0.0)
            if conn is None:
                conn = self._connect()
                self.created += 1
                return conn
            if time.monotonic() - last < self._recheck_after or alive(conn):
                return conn
            log.info("discarding a dead pooled connection")
            self._close(conn)

    def release(self, conn: Any) -> None:
        """Give back a healthy connection (its transaction already ended)."""
        with self._lock:
            if not self._closed:
                self._idle.append((conn, time.monotonic()))
                conn = None
        if conn is not None:
            self._close(conn)
        self._slots.release()

    def discard(self, conn: Any) -> None:
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
        self.discarded += 1
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
