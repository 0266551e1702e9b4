"""Fault injection for the TDS test server: what a flaky SQL Server or network does to a client."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    pattern: str  # a statement containing this text (case-insensitive) triggers the fault
    delay: float = 0.0  # seconds to stall before running it (an ATTENTION cuts the stall short)
    drop: bool = False  # close the socket after the first packet of its result
    error: int | None = None  # answer with this SQL Server error number instead
    error_text: str | None = None
    times: int | None = None  # how many statements it hits; None = until removed


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.refuse_logins = False
        # Close the socket when a COMMIT arrives, before committing: the link dies under the client's
        # COMMIT, and (as SQL Server does for a connection that ends) the transaction is rolled back.
        self.drop_on_commit = False

    def add(self, pattern: str, **kwargs: object) -> Fault:
        fault = Fault(pattern, **kwargs)  # type: ignore[arg-type]
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
        self.refuse_logins = False
        self.drop_on_commit = False

    def match(self, sql: str) -> Fault | None:
        low = sql.lower()
        with self._lock:
            for fault in self._faults:
                if fault.pattern.lower() in low:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None
