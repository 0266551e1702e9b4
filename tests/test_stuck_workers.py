"""A worker that cannot be stopped is counted, and when every worker is stuck the server says so at once.

Neither real backend here can be wedged on purpose: SQLite's watchdog and length limit stop it, and both
ODBC drivers give up on a SQL Server that goes silent (tried through a loopback forwarder that drops every
byte: the call ends at its timeout). So the one fake in this file stands in for what cannot run here, a
driver call that never returns: a `Database` whose `execute` blocks until the test lets it go.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from mssql_mcp.db.base import QueryResult, TableDetail, TableInfo, TableRef
from mssql_mcp.errors import QueryTimeout, ServerBusy
from mssql_mcp.queries import QueryService, caller_scope

pytestmark = pytest.mark.anyio

TIMEOUT = 0.5


class WedgedDriver:
    """Statements containing WEDGE block until `release`; everything else answers at once."""

    kind = "sqlite"

    def __init__(self) -> None:
        self.gate = threading.Event()

    def release(self) -> None:
        self.gate.set()

    def list_tables(self) -> list[TableInfo]:
        return []

    def describe_table(self, table: TableRef) -> TableDetail:
        raise NotImplementedError

    def sample(self, table: TableRef, limit: int, timeout: float) -> QueryResult:
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] = (), **_: Any) -> QueryResult:
        if "WEDGE" in sql:
            self.gate.wait(60)
        return QueryResult(["one"], [(1,)], False, 1)

    def ping(self) -> None:
        pass

    def close(self) -> None:
        pass


async def test_when_every_worker_is_stuck_new_queries_hear_busy_at_once() -> None:
    driver = WedgedDriver()
    queries = QueryService(driver, max_rows=50, timeout=TIMEOUT, workers=2, read_only=True)
    outcomes: list[str] = []

    async def wedge(who: str) -> None:
        with caller_scope(who):
            try:
                await queries.run("SELECT 1 AS WEDGE")
            except QueryTimeout:
                outcomes.append("timeout")

    try:
        async with anyio.create_task_group() as tg:  # two people, one worker each: the pool is full
            tg.start_soon(wedge, "user:a")
            tg.start_soon(wedge, "user:b")
        assert outcomes == ["timeout", "timeout"]  # each caller heard of its timeout (timeout + grace)
        assert queries.stuck_workers() == 2  # but their threads are still inside the driver
        assert queries.in_flight("user:a") == 1  # and still count in their callers' shares

        began = time.perf_counter()
        with caller_scope("user:c"), pytest.raises(ServerBusy, match="every database worker"):
            await queries.run("SELECT 1")
        assert time.perf_counter() - began < 0.1  # at once, not after another timeout in a queue
        assert await queries.health() is not None  # /health says degraded

        driver.release()  # the driver comes back: the workers are free again
        deadline = time.monotonic() + 5
        while queries.stuck_workers() and time.monotonic() < deadline:
            await anyio.sleep(0.02)
        assert queries.stuck_workers() == 0 and queries.in_flight("user:a") == 0
        with caller_scope("user:c"):
            assert (await queries.run("SELECT 1")).result.rows == [(1,)]
        assert await queries.health() is None
    finally:
        driver.release()
        queries.close()


async def test_one_stuck_worker_does_not_stop_the_others() -> None:
    driver = WedgedDriver()
    queries = QueryService(driver, max_rows=50, timeout=TIMEOUT, workers=2, read_only=True)
    try:
        with caller_scope("user:a"), pytest.raises(QueryTimeout):
            await queries.run("SELECT 1 AS WEDGE")
        assert queries.stuck_workers() == 1
        with caller_scope("user:b"):
            assert (await queries.run("SELECT 1")).result.rows == [(1,)]
        assert await queries.health() is None
    finally:
        driver.release()
        queries.close()
