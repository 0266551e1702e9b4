"""The query service: what the tools ask of the database, with every safety layer applied.

    tools -> QueryService -> sqlgate.check (pure)  -> Database backend (on a worker thread)

- Blocking backend calls run on a bounded pool of worker threads (DB_WORKERS), never on the event loop.
- Every statement has a timeout (the backend cancels it) and a row cap that says when it truncated.
- The catalog is cached briefly, so name resolution costs no database round trip per call. Its refresh
  is single-flight: calls that miss together wait for one load (and share its result or its error).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from cachetools import TTLCache

from mssql_mcp import sqlgate
from mssql_mcp.catalog import Catalog
from mssql_mcp.db.base import Database, QueryResult, TableDetail, TableInfo, TableRef
from mssql_mcp.errors import DatabaseUnavailable, InvalidArgument, MssqlMcpError, QueryTimeout
from mssql_mcp.workers import DB_THREAD_NICE, WorkerPool

T = TypeVar("T")

# The catalog changes rarely; a short TTL keeps name resolution off the database on the hot path
# while a new table still shows up within seconds.
CATALOG_TTL_SECONDS = 30.0
# A backend that ignores its own timeout (a wedged driver) must not wedge the caller too.
TIMEOUT_GRACE_SECONDS = 5.0
HEALTH_TIMEOUT_SECONDS = 1.0
MAX_SAMPLE_ROWS = 1000


@dataclass
class QueryOutcome:
    """A finished statement, with its raw rows (the tools serialise them)."""

    result: QueryResult
    elapsed_ms: float
    kind: sqlgate.StatementKind
    table: TableRef | None = None  # set by sample()


class QueryService:
    def __init__(
        self,
        database: Database,
        *,
        max_rows: int,
        timeout: float,
        workers: int,
        read_only: bool,
        allow_ddl: bool = False,
    ) -> None:
        self.database = database
        self.max_rows = max_rows
        self.timeout = timeout
        self.read_only = read_only
        self.allow_ddl = allow_ddl
        # Database threads run below the event loop's priority; /health pings get their own thread so a
        # pool full of slow queries cannot delay them (see mssql_mcp/workers.py).
        self._pool = WorkerPool(workers, name="db", nice=DB_THREAD_NICE)
        self._health_pool = WorkerPool(1, name="health")
        self._catalog_cache: TTLCache[str, Catalog] = TTLCache(maxsize=1, ttl=CATALOG_TTL_SECONDS)
        self._catalog_lock = anyio.Lock()
        self._catalog_loads = 0  # loads started, so a waiter can tell that one finished while it waited
        self._catalog_error: MssqlMcpError | None = None  # how the last load failed, if it did
        self._catalog_generation = 0  # bumped by invalidate_catalog: a load begun before it is not cached

    # -- plumbing --------------------------------------------------------------------------

    async def _call(self, fn: Callable[[], T], *, timeout: float | None = None) -> T:
        """Run a blocking backend call on the worker pool, with a last-resort deadline."""
        deadline = (timeout if timeout is not None else self.timeout) + TIMEOUT_GRACE_SECONDS
        try:
            with anyio.fail_after(deadline):
                return await self._pool.run(fn)
        except TimeoutError:
            raise QueryTimeout(deadline - TIMEOUT_GRACE_SECONDS) from None
        except MssqlMcpError:
            raise
        except Exception as exc:  # a backend bug must become a clean tool error, not a dropped stream
            raise DatabaseUnavailable(f"Database call failed: {type(exc).__name__}: {exc}") from exc

    async def catalog(self) -> Catalog:
        cached = self._catalog_cache.get("catalog")
        if cached is not None:
            return cached
        loads = self._catalog_loads
        async with self._catalog_lock:  # single flight: one load at a time, the others wait for it
            cached = self._catalog_cache.get("catalog")
            if cached is not None:
                return cached
            if self._catalog_loads != loads and self._catalog_error is not None:
                # The load this call waited for failed: the same answer now, not one more wait per caller.
                raise self._catalog_error
            self._catalog_loads += 1
            self._catalog_error = None
            generation = self._catalog_generation
            try:
                catalog = Catalog(await self._call(self.database.list_tables))
            except MssqlMcpError as exc:
                self._catalog_error = exc
                raise
            if generation == self._catalog_generation:  # no DDL invalidated it while it loaded
                self._catalog_cache["catalog"] = catalog
            return catalog

    def invalidate_catalog(self) -> None:
        self._catalog_generation += 1
        self._catalog_cache.clear()

    # -- operations ------------------------------------------------------------------------

    async def list_tables(self) -> list[TableInfo]:
        return (await self.catalog()).tables

    async def resolve(self, table_name: str) -> TableInfo:
        """A table from the name a person or model wrote (parsed, then matched against the catalog)."""
        return (await self.catalog()).resolve(table_name)

    async def lookup(self, schema: str, name: str) -> TableInfo:
        """A table from a name already split into its schema and name (an id's): matched, never parsed."""
        return (await self.catalog()).lookup(schema, name)

    async def _ref(self, table: str | TableRef) -> TableRef:
        """A `TableRef` came from the catalog already; text is resolved against it."""
        return table if isinstance(table, TableRef) else (await self.resolve(table)).ref

    async def describe(self, table: str | TableRef) -> TableDetail:
        ref = await self._ref(table)
        return await self._call(lambda: self.database.describe_table(ref))

    async def sample(self, table: str | TableRef, limit: int) -> QueryOutcome:
        if not 1 <= limit <= MAX_SAMPLE_ROWS:
            raise InvalidArgument(f"limit must be between 1 and {MAX_SAMPLE_ROWS} (got {limit}).")
        ref = await self._ref(table)
        started = time.perf_counter()
        result = await self._call(lambda: self.database.sample(ref, min(limit, self.max_rows), self.timeout))
        return QueryOutcome(result, (time.perf_counter() - started) * 1000, "read", ref)

    async def run(
        self, sql: str, params: tuple[Any, ...] = (), *, force_read_only: bool = False, timeout: float | None = None
    ) -> QueryOutcome:
        """Gate, then execute. `force_read_only` applies the read-only gate whatever READ_ONLY_MODE says.

        `timeout` can only shorten QUERY_TIMEOUT_SECONDS (the ChatGPT keyword search spends a time budget).
        """
        if not sql or not sql.strip():
            raise InvalidArgument("query is empty.")
        read_only = self.read_only or force_read_only
        verdict = sqlgate.check(sql, read_only=read_only, allow_ddl=self.allow_ddl)
        write = verdict.kind != "read"
        limit = self.timeout if timeout is None else max(0.001, min(timeout, self.timeout))
        started = time.perf_counter()
        result = await self._call(
            lambda: self.database.execute(
                sql, params, max_rows=self.max_rows, timeout=limit, write=write, statement=verdict.statement
            ),
            timeout=limit,
        )
        if verdict.kind == "ddl":
            self.invalidate_catalog()
        return QueryOutcome(result, (time.perf_counter() - started) * 1000, verdict.kind)

    async def health(self) -> str | None:
        """None when the database answers now; otherwise a one-line reason."""
        try:
            with anyio.fail_after(HEALTH_TIMEOUT_SECONDS):
                await self._health_pool.run(self.database.ping)
        except TimeoutError:
            return f"database did not answer within {HEALTH_TIMEOUT_SECONDS:g} s"
        except MssqlMcpError as exc:
            return exc.message
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def close(self) -> None:
        self._pool.close()
        self._health_pool.close()
        self.database.close()
