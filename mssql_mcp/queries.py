"""The query service: what the tools ask of the database, with every safety layer applied.

    tools -> QueryService -> sqlgate.check (pure)  -> Database backend (on a worker thread)

- Blocking backend calls run on a bounded pool of worker threads (DB_WORKERS), never on the event loop.
  So does the gate's parse of a statement, with a time budget: a long expression cannot stall the loop.
- One caller (a signed-in person, or a client address without sign-in; `caller_scope`) holds at most
  DB_WORKERS_PER_CALLER of those threads at once; their further calls wait their turn, up to their timeout.
- A thread still busy past its call's deadline counts as stuck; when every worker is stuck, calls are
  answered "busy" at once and /health says degraded.
- Every statement has a size limit (checked before parsing), a timeout (the backend cancels it), a row
  cap and a byte cap (MAX_RESULT_BYTES) that say when and why they truncated.
- The catalog is cached briefly, so name resolution costs no database round trip per call: one per
  database principal when people query as themselves (catalog_cache.py). Its refresh is single-flight:
  calls that miss together wait for one load (and share its result or its error).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from mssql_mcp import sqlgate
from mssql_mcp.catalog import Catalog
from mssql_mcp.catalog_cache import CATALOG_TTL_SECONDS, DEFAULT_PRINCIPALS, CatalogCache
from mssql_mcp.db.base import Database, QueryResult, TableDetail, TableInfo, TableRef
from mssql_mcp.db.cells import cap_result
from mssql_mcp.errors import (
    DatabaseUnavailable,
    InvalidArgument,
    MssqlMcpError,
    QueryRefused,
    QueryTimeout,
    ServerBusy,
)
from mssql_mcp.health import BUSY, NOT_ANSWERING, UNAVAILABLE, HealthLog
from mssql_mcp.workers import DB_THREAD_NICE, CallerShares, ShareExhausted, WorkerPool

T = TypeVar("T")
log = logging.getLogger("mssql_mcp.queries")

# Listing 50,000 tables (and the search index's columns) takes longer than one query may: loads get this long.
CATALOG_LOAD_SECONDS = 120.0
# A backend that ignores its own timeout (a wedged driver) must not wedge the caller too.
TIMEOUT_GRACE_SECONDS = 5.0
HEALTH_TIMEOUT_SECONDS = 1.0
MAX_SAMPLE_ROWS = 1000
# The gate parses in linear time, but a 64 KiB expression still takes seconds of CPU: past this budget
# the statement is refused (its parse finishes in the background, still counted in the caller's share).
GATE_BUDGET_SECONDS = 5.0
# Parsing is pure Python and holds the GIL: several long parses at once would starve the event loop of it
# (measured: 4 parallel 64 KiB parses put a thread hop from the loop at a 135 ms median; 1 parse, 0.5 ms).
# So statements longer than this are parsed one at a time, on their own thread, and each caller has one such
# statement in progress at a time (its translation for SQLite is as costly as its parse).
LONG_STATEMENT_BYTES = 4096
DEFAULT_MAX_STATEMENT_BYTES = 65_536
DEFAULT_MAX_RESULT_BYTES = 4 * 1024 * 1024

#: Who is calling: "user:<name>" when signed in, "addr:<ip>" otherwise; None (in-process) has no share limit.
CALLER: contextvars.ContextVar[str | None] = contextvars.ContextVar("mssql_mcp_caller", default=None)


@contextlib.contextmanager
def caller_scope(key: str | None) -> Iterator[None]:
    """Attribute the query service calls made inside the block to `key` (a face sets it per tool call)."""
    token = CALLER.set(key)
    try:
        yield
    finally:
        CALLER.reset(token)


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
        max_statement_bytes: int = DEFAULT_MAX_STATEMENT_BYTES,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        per_caller: int = 0,
        gate_policy: sqlgate.Policy = sqlgate.DEFAULT_POLICY,
        cache_principals: int = DEFAULT_PRINCIPALS,
    ) -> None:
        self.database = database
        self.max_rows = max_rows
        self.timeout = timeout
        self.read_only = read_only
        self.allow_ddl = allow_ddl
        self.gate_policy = gate_policy  # ALLOW_USER_FUNCTIONS, ALLOW_SERVER_VIEWS
        self.max_statement_bytes = max_statement_bytes
        self.max_result_bytes = max_result_bytes
        # Database threads run below the event loop's priority; /health pings get their own thread so a
        # pool full of slow queries cannot delay them (see mssql_mcp/workers.py).
        self._pool = WorkerPool(workers, name="db", nice=DB_THREAD_NICE)
        self._gate_pool = WorkerPool(workers, name="gate", nice=DB_THREAD_NICE)
        self._long_gate_pool = WorkerPool(1, name="gate-long", nice=DB_THREAD_NICE)
        self._health_pool = WorkerPool(1, name="health")
        self._health_log = HealthLog()  # a degraded state's detail goes to the log, not to /health
        self._shares = CallerShares(per_caller or max(1, workers // 2))
        self._long_shares = CallerShares(1)
        # One catalog per database principal when people query as themselves; one shared one otherwise.
        self._catalogs = CatalogCache(self._load_tables, principals=cache_principals, ttl=CATALOG_TTL_SECONDS)

    # -- plumbing --------------------------------------------------------------------------

    @property
    def cache_principals(self) -> int:
        """How many principals' catalogs (and schema indexes) are kept at once (DB_IDENTITY_CACHE_PRINCIPALS)."""
        return self._catalogs.principals

    def catalog_scopes(self) -> list[Hashable]:
        """The scopes whose catalogs are held now, least recently used first."""
        return self._catalogs.scopes()

    @property
    def catalog_loads(self) -> int:
        return self._catalogs.loads

    @property
    def per_caller(self) -> int:
        return self._shares.limit

    def in_flight(self, key: str) -> int:
        """How many workers the caller `key` holds now (queued or running)."""
        return self._shares.held(key)

    def stuck_workers(self) -> int:
        """Database threads still busy with a call past its deadline (its statement would not stop)."""
        return self._pool.stuck()

    async def _offload(
        self, pool: WorkerPool, fn: Callable[[], T], limit: float, *, budget: float | None = None, long: bool = False
    ) -> T:
        """Run `fn` on `pool` within the caller's share; their slot is freed when the thread is, not before.

        The caller waits at most `limit` for a slot of their share, then at most `budget` (if given) for the
        call itself: TimeoutError past it, while the thread finishes in the background. A `long` statement
        also takes the caller's one slot for long statements, at the gate and in the database alike.
        """
        if self._pool.stuck() >= self._pool.size:
            raise ServerBusy(
                "The server is busy: every database worker is still finishing a statement that would not stop. "
                "Try again in a minute."
            )
        stuck_after = limit + TIMEOUT_GRACE_SECONDS
        key = CALLER.get()
        if key is None:  # in-process callers (tests, the CLI) have no share to keep
            future = pool.submit(fn, stuck_after=stuck_after)
        else:
            held = await self._take_turn(key, limit, long=long)
            try:
                future = pool.submit(fn, stuck_after=stuck_after)
            except BaseException:
                for shares in held:
                    shares.release(key)
                raise
            loop = asyncio.get_running_loop()

            def release(_: object) -> None:
                for shares in held:
                    with contextlib.suppress(RuntimeError):  # the loop closed at shutdown: nothing left to share
                        loop.call_soon_threadsafe(shares.release, key)

            future.add_done_callback(release)
        if budget is None:
            return await asyncio.wrap_future(future)
        async with asyncio.timeout(budget):
            return await asyncio.wrap_future(future)

    async def _take_turn(self, key: str, limit: float, *, long: bool) -> list[CallerShares]:
        """Acquire the caller's slot (and their long-statement slot), or raise ServerBusy after `limit` s."""
        wanted = [self._shares, self._long_shares] if long else [self._shares]
        held: list[CallerShares] = []
        try:
            for shares in wanted:
                await shares.acquire(key, wait=limit)
                held.append(shares)
        except ShareExhausted:
            for shares in held:
                shares.release(key)
            what = (
                f"a statement over {LONG_STATEMENT_BYTES} bytes in progress, and those go one at a time"
                if len(held) == 1
                else f"{self._shares.limit} queries running, the most one person may run at once "
                "(DB_WORKERS_PER_CALLER)"
            )
            raise ServerBusy(
                f"Busy: you already have {what}; this one waited its whole {limit:g} s timeout for a turn. "
                "Try again when one of them has finished."
            ) from None
        except BaseException:
            for shares in held:
                shares.release(key)
            raise
        return held

    async def _call(self, fn: Callable[[], T], *, timeout: float | None = None, long: bool = False) -> T:
        """Run a blocking backend call on the worker pool, with a last-resort deadline."""
        limit = timeout if timeout is not None else self.timeout
        try:
            with anyio.fail_after(limit + TIMEOUT_GRACE_SECONDS):
                return await self._offload(self._pool, fn, limit, long=long)
        except TimeoutError:
            raise QueryTimeout(limit) from None
        except MssqlMcpError:
            raise
        except RecursionError:  # a deeply nested statement the gate accepted but the translation cannot render
            raise QueryRefused("Refused: the statement is nested too deeply to run. Simplify it.") from None
        except Exception as exc:  # a backend bug must become a clean tool error, not a dropped stream
            # The operator gets the trace; the caller gets one line without library names or driver text.
            log.exception("database call failed unexpectedly")
            raise DatabaseUnavailable(
                "Database call failed unexpectedly; the server log has the details. Try again, or ask the operator."
            ) from exc

    async def _check(self, sql: str, *, read_only: bool) -> sqlgate.Verdict:
        """The gate's verdict, parsed on a worker thread within GATE_BUDGET_SECONDS."""
        size = _size(sql)
        if size > self.max_statement_bytes:  # before parsing: a huge text must not cost a parse
            raise QueryRefused(
                f"Refused: the statement is {size} bytes; the limit is {self.max_statement_bytes} "
                "(MAX_STATEMENT_BYTES). Send a shorter statement."
            )
        budget = min(GATE_BUDGET_SECONDS, self.timeout)
        check = functools.partial(
            sqlgate.check, sql, read_only=read_only, allow_ddl=self.allow_ddl, policy=self.gate_policy
        )
        long = size > LONG_STATEMENT_BYTES
        pool = self._long_gate_pool if long else self._gate_pool
        try:
            return await self._offload(pool, check, budget, budget=budget, long=long)
        except TimeoutError:
            raise QueryRefused(
                f"Refused: the statement is too complex to check within {budget:g} s. Simplify it."
            ) from None
        except RecursionError:
            raise QueryRefused("Refused: the statement is nested too deeply to check. Simplify it.") from None

    def scope(self) -> Hashable:
        """Whose view of the database this call has: None when everyone shares the service login's; else the
        database principal the backend runs the call's person as (their catalog and caches are theirs)."""
        scope = getattr(self.database, "cache_scope", None)  # a backend without one: a single view
        return scope() if scope is not None else None

    def background_context(self, scope: Hashable) -> contextvars.Context:
        """The context a background refresh for `scope` runs in, on no caller's share of the workers: for a
        principal's own view, the caller's person (so the load sees what they may see); for the shared view,
        nobody's, as in service mode it always was."""
        if scope is None:
            return contextvars.Context()
        context = contextvars.copy_context()
        context.run(CALLER.set, None)
        return context

    async def catalog(self) -> Catalog:
        """The catalog the caller may see (catalog_cache.py): cached per database principal, and once one has
        loaded, an expired one is still served while a fresh one loads in the background."""
        scope = self.scope()
        return await self._catalogs.get(scope, self.background_context(scope))

    async def _load_tables(self) -> list[TableInfo]:
        return await self._call(self.database.list_tables, timeout=max(self.timeout, CATALOG_LOAD_SECONDS))

    async def load_catalog_part(self, fn: Callable[[], T]) -> T:
        """A catalog-sized backend read (the schema search's columns), with the catalog's time limit."""
        return await self._call(fn, timeout=max(self.timeout, CATALOG_LOAD_SECONDS))

    def invalidate_catalog(self) -> None:
        self._catalogs.invalidate()  # after DDL the next call waits for the new catalog, not the old one

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
        cap_result(result, self.max_result_bytes)
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
        verdict = await self._check(sql, read_only=read_only)
        write = verdict.kind != "read"
        limit = self.timeout if timeout is None else max(0.001, min(timeout, self.timeout))
        started = time.perf_counter()
        result = await self._call(
            lambda: self.database.execute(
                sql, params, max_rows=self.max_rows, timeout=limit, write=write, statement=verdict.statement
            ),
            timeout=limit,
            long=_size(sql) > LONG_STATEMENT_BYTES,
        )
        if verdict.kind == "ddl":
            self.invalidate_catalog()
        cap_result(result, self.max_result_bytes)
        return QueryOutcome(result, (time.perf_counter() - started) * 1000, verdict.kind)

    async def health(self) -> str | None:
        """None when the database answers now; otherwise a generic reason (mssql_mcp/health.py).

        /health shows the reason to anyone, so it never names the login, the host or the driver's message:
        those go to the log, once per change of state.
        """
        if self._pool.stuck() >= self._pool.size:
            return self._health_log.degraded(
                BUSY, f"all {self._pool.size} database workers are busy with statements that would not stop"
            )
        try:
            with anyio.fail_after(HEALTH_TIMEOUT_SECONDS):
                await self._health_pool.run(self.database.ping)
        except TimeoutError:
            return self._health_log.degraded(
                NOT_ANSWERING, f"the database did not answer a ping within {HEALTH_TIMEOUT_SECONDS:g} s"
            )
        except MssqlMcpError as exc:
            return self._health_log.degraded(UNAVAILABLE, exc.message)
        except Exception as exc:
            return self._health_log.degraded(UNAVAILABLE, f"{type(exc).__name__}: {exc}")
        self._health_log.ok()
        return None

    def close(self) -> None:
        self._pool.close()
        self._gate_pool.close()
        self._long_gate_pool.close()
        self._health_pool.close()
        self.database.close()


def _size(sql: str) -> int:
    """The statement's length in UTF-8 bytes (what MAX_STATEMENT_BYTES counts)."""
    return len(sql) if sql.isascii() else len(sql.encode("utf-8", "surrogatepass"))
