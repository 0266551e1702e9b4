"""What /health says in public, and what only the operator learns.

/health (and the landing page) answer anyone, without a token. So the reason they give for "degraded" is
one of a few generic phrases: the SQL Server login name, its host and port and the driver's message
(which names both) stay out of it. The detail goes to the log, and `mssql-mcp doctor` checks the way to
the database step by step.

A load balancer may probe every second: the log gets a line when the state changes (ok -> degraded,
degraded -> ok, one generic reason -> another), and while it stays degraded, a new detail at most once
per `REPEAT_SECONDS`, so a probe cannot flood the log and an operator still sees a changed cause.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mssql_mcp.logs import event

log = logging.getLogger("mssql_mcp.health")

# The only reasons /health gives.
UNAVAILABLE = "database unavailable"
NOT_ANSWERING = "database not answering"
BUSY = "database workers busy"
STORE_UNAVAILABLE = "authorization store unavailable"  # sign-in state (Redis) cannot be reached

REPEAT_SECONDS = 300.0


class HealthLog:
    """Turns each health probe's outcome into its public reason, logging the detail on a change."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # the face apps of one process may share a query service
        self._reason: str | None = None  # None: ok (the state before the first probe)
        self._detail: str | None = None
        self._logged_at = 0.0

    def ok(self) -> None:
        """The database answered: None, the public "no reason"."""
        with self._lock:
            if self._reason is not None:
                event(log, "health_ok", previous=self._reason)
            self._reason, self._detail = None, None

    def degraded(self, reason: str, detail: str) -> str:
        """`reason` (one of this module's phrases) for the public; `detail` (may name the server) to the log."""
        with self._lock:
            now = self._clock()
            changed = reason != self._reason
            if changed or (detail != self._detail and now - self._logged_at >= REPEAT_SECONDS):
                event(log, "health_degraded", level=logging.WARNING, reason=reason, detail=detail)
                self._logged_at = now
                self._detail = detail
            self._reason = reason
        return reason
