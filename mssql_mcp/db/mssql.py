"""The SQL Server backend: pyodbc through ODBC Driver 18 (or FreeTDS), a bounded pool, rollback-only reads.

Every call blocks; the query service runs it on a worker thread. A statement runs like this:

    lease a connection (checked if idle; dead ones replaced)  -> mssql_pool.py: Pool.lease
    connection.timeout = QUERY_TIMEOUT_SECONDS               (the driver sends ATTENTION past it)
    cursor.execute(sql, *params); fetchmany(max_rows + 1)    (the row cap decides `truncated`)
    the lease ends: rollback, always, unless this is a write  (autocommit is off; `with conn:` would COMMIT)
    in write mode, then COMMIT; release, or discard

A timeout or a lost link breaks the lease, so the connection is discarded (its state is unknown); a read
that lost its link before any result is retried once on a fresh connection, a write never is. A COMMIT
that fails is an error: the write is reported as not done. Errors keep SQL Server's error number.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mssql_mcp.db import mssql_catalog, mssql_types
from mssql_mcp.db.base import QueryResult, TableDetail, TableInfo, TableRef
from mssql_mcp.db.bulk_columns import ColumnRow
from mssql_mcp.db.cells import collect
from mssql_mcp.db.drivers import ensure_driver
from mssql_mcp.db.identity import PERSON, context_batch
from mssql_mcp.db.mssql_conn import (
    commit_error,
    connect_error,
    connection_string,
    describe,
    is_connection_lost,
    is_timeout,
    lost_error,
    query_error,
)
from mssql_mcp.db.mssql_impersonate import as_principal
from mssql_mcp.db.mssql_people import PersonPools, person_pools, token_connector
from mssql_mcp.db.mssql_perms import PermissionReport, check_permissions, writable_message
from mssql_mcp.db.mssql_pool import Lease, Pool, alive
from mssql_mcp.errors import ConfigError, DatabaseUnavailable, MssqlMcpError, QueryError, QueryTimeout
from mssql_mcp.identity_map import IdentityMap
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.db.mssql")
T = TypeVar("T")
PING_WAIT_SECONDS = 1.0
OUTAGE_MEMORY_SECONDS = 1.0


class _Lost(Exception):
    """The link died before any result: safe to retry a read on a fresh connection."""

    def __init__(self, error: DatabaseUnavailable) -> None:
        self.error = error


class MssqlDatabase:
    kind = "mssql"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.driver = ensure_driver(settings.mssql_driver)  # before pyodbc's first use (ODBCSYSINI)
        import pyodbc

        self._pyodbc = pyodbc
        self._conn_str = connection_string(settings, self.driver)
        self.where = settings.mssql_host or "MSSQL_CONNECTION_STRING"
        self.description = describe(settings, self.driver)
        self.read_only = settings.read_only_mode
        # DB_IDENTITY=impersonate: each statement runs as the person's database user (mssql_impersonate.py).
        self.identity_map = IdentityMap(settings) if settings.db_identity == "impersonate" else None
        # One connection per worker thread, plus room for /health and the start-up check.
        self.pool = Pool(self._connect, size=settings.db_workers + 2)
        # DB_IDENTITY=entra_obo: each person's calls use their own pool, signed in with their token.
        self.people: PersonPools | None = None
        if settings.db_identity == "entra_obo":
            connect = token_connector(settings, self.driver, self._prepare, self.where)
            self.people = person_pools(settings, connect)
        self.permissions: PermissionReport | None = None
        self._refusal: str | None = None
        self._check_lock = threading.Lock()
        self._last_failure: tuple[float, DatabaseUnavailable | None] = (0.0, None)
        log.info("SQL Server backend: %s (driver from %s)", self.description, self.driver.source)
        if self.read_only and settings.mssql_refuse_writable_login:
            self._startup_check()  # blocking: a writable login must stop the start
            if self._refusal:
                raise ConfigError(f"MSSQL_REFUSE_WRITABLE_LOGIN: {self._refusal}")
        elif self.read_only:
            threading.Thread(target=self._startup_check, name="mssql-startup-check", daemon=True).start()

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> Any:
        # During an outage every call would dial again, and a silently dropped SYN (a firewall) costs Driver 18
        # the whole login timeout per call and per worker: for a moment after a failure, repeat it instead.
        failed_at, failure = self._last_failure
        if failure is not None and time.monotonic() - failed_at < OUTAGE_MEMORY_SECONDS:
            raise DatabaseUnavailable(failure.message, failure.number)  # a fresh one: threads share the record
        try:
            conn = self._pyodbc.connect(self._conn_str, timeout=self.settings.mssql_login_timeout, autocommit=False)
        except self._pyodbc.Error as exc:
            error = connect_error(exc, self.where)
            self._last_failure = (time.monotonic(), error)  # at most this long stale once the server is back
            raise error from None
        self._last_failure = (0.0, None)
        self._prepare(conn)
        if self.read_only and self.permissions is None:
            self._check_permissions(conn)
        return conn

    def _prepare(self, conn: Any) -> None:
        mssql_types.install(conn)
        # Wait for locks a little less than the query timeout, so a blocked read reports error 1222
        # (lock timeout) rather than a bare timeout; READ COMMITTED is SQL Server's default, set explicitly.
        # TEXTSIZE bounds what the server sends of one long value (mssql_types: long values).
        lock_ms = max(100, int(self.settings.query_timeout_seconds * 800))
        try:
            cursor = conn.cursor()
            cursor.execute(
                f"SET LOCK_TIMEOUT {lock_ms}; SET TRANSACTION ISOLATION LEVEL READ COMMITTED; "
                f"SET TEXTSIZE {mssql_types.textsize(self.settings.max_cell_bytes)}"
            )
            cursor.close()
            conn.rollback()
        except self._pyodbc.Error as exc:  # the link died right after the login
            conn.close()
            raise connect_error(exc, self.where) from None

    def forget_person(self, key: str) -> bool:
        """Close a person's pooled connections now (their tokens were revoked); False if they had none."""
        return self.people.drop(key, "revoked") if self.people is not None else False

    def _check_permissions(self, conn: Any) -> None:
        with self._check_lock:
            if self.permissions is not None:
                return
            try:
                report = check_permissions(conn.cursor())
                conn.rollback()
            except self._pyodbc.Error as exc:
                log.warning("could not check the login's permissions: %s", query_error(exc).message)
                return
            self.permissions = report
            if report.can_write:
                message = writable_message(report)
                if self.settings.mssql_refuse_writable_login:
                    self._refusal = message
                    log.error("REFUSING to serve: %s", message)
                else:
                    log.warning("!!! %s", message)
            else:
                log.info("permissions: %s", report.summary())

    def _startup_check(self) -> None:
        try:
            self.ping()
        except MssqlMcpError as exc:
            log.warning("SQL Server is not reachable at start (the server keeps running): %s", exc.message)
        except Exception as exc:  # a background thread: nothing above it would see the error
            log.warning("SQL Server start-up check failed: %s: %s", type(exc).__name__, exc)

    def _guard(self) -> None:
        if self._refusal:
            raise DatabaseUnavailable(f"Refusing to query: {self._refusal}")

    def _with_connection(
        self,
        fn: Callable[[Any], T],
        *,
        timeout: float,
        retry: bool,
        commit: bool = False,
        person: bool = True,
        impersonate: bool = False,
    ) -> T:
        """Run `fn` on a leased connection; the lease ends the transaction (see mssql_pool.Pool.lease).

        With `person`, the session context names the caller first (db/identity.py), on that connection;
        with `impersonate` too, under DB_IDENTITY=impersonate `fn` runs as their database user, and under
        entra_obo on their own connection, signed in with their token. The catalog reads impersonate as well,
        so SQL Server's metadata visibility shows each person only the tables they may see; queries.py caches
        them per principal (`cache_scope`)."""
        self._guard()
        write = commit and not self.read_only
        # An unmapped person is refused here, before any connection is touched.
        as_person = person and impersonate and self.identity_map is not None
        principal = self.identity_map.principal(PERSON.get()) if as_person and self.identity_map else None
        # The session context this call needs. A pooled connection that already holds exactly this batch
        # (set by an earlier call of the same person) keeps it: only sp_set_session_context changes it,
        # and the gate refuses EXEC in every mode. A write forgets it all the same, to be safe.
        batch = context_batch(PERSON.get(), self.settings.db_identity_groups) if person else None
        obo = self.people is not None and person and impersonate  # entra_obo: as the person, like impersonate
        with self.people.using(PERSON.get()) if obo and self.people else contextlib.nullcontext(self.pool) as pool:
            return self._leased(pool, fn, timeout, retry, write, batch, principal)

    def _leased(
        self,
        pool: Pool,
        fn: Callable[[Any], T],
        timeout: float,
        retry: bool,
        write: bool,
        batch: str | None,
        principal: str | None,
    ) -> T:
        for attempt in (1, 2):
            try:
                with pool.lease(wait=timeout, commit=write and principal is None, context=batch) as lease:
                    if batch is not None and lease.context != batch:
                        lease.context = None  # unknown until the batch has run
                        self._attempt(lease, lambda conn: self._set_context(conn, batch), timeout, context=True)
                        lease.context = batch
                    if write:
                        lease.context = None
                    if principal is None:
                        result = self._attempt(lease, fn, timeout)
                    else:
                        result = self._as_person(lease, principal, fn, timeout, commit=write)
            except _Lost as lost:
                pool.clear_idle()  # its siblings went through the same outage
                if retry and attempt == 1:
                    log.info("connection lost before any result; retrying once on a fresh connection")
                    continue
                raise lost.error from None
            except self._pyodbc.Error as exc:  # only the COMMIT raises one here: _attempt maps the call's own
                raise commit_error(exc, self.where) from None
            self._guard()
            return result
        raise AssertionError("unreachable")

    def _as_person(self, lease: Lease, principal: str, fn: Callable[[Any], T], timeout: float, *, commit: bool) -> T:
        """`fn` as `principal` (mssql_impersonate.as_principal), within the call's time limit."""
        return as_principal(
            lease,
            principal,
            lambda: self._attempt(lease, fn, timeout),
            commit=commit,
            errors=self._pyodbc.Error,
            where=self.where,
        )

    def _set_context(self, conn: Any, batch: str) -> None:
        """Name the caller in the session context (every key, NULL where they lack it): its own batch."""
        cursor = conn.cursor()
        cursor.execute(batch)
        while cursor.nextset():  # an error in a later EXEC of the batch surfaces only here
            pass
        cursor.close()

    def _attempt(self, lease: Lease, fn: Callable[[Any], T], timeout: float, *, context: bool = False) -> T:
        """Call `fn`, mapping driver errors to ours; a connection left in an unknown state breaks the lease.

        `context`: `fn` sets the session context. If it fails, the connection may still hold the previous
        person's keys, so it is discarded, and nothing else runs on it."""
        conn = lease.conn
        conn.timeout = max(1, math.ceil(timeout))  # pyodbc: whole seconds; 0 would mean no timeout
        try:
            return fn(conn)
        except self._pyodbc.Error as exc:
            if is_timeout(exc):
                lease.broken()
                raise QueryTimeout(timeout) from None
            error = query_error(exc)
            lost = is_connection_lost(exc) or (error.number is None and not alive(conn))
            if context and not lost:
                lease.broken()
                raise DatabaseUnavailable(
                    f"Could not name you to the database (session context): {error.message}", error.number
                ) from None
            # FreeTDS first reports a dead socket as HY000 "Unknown error": with no server error number,
            # ask the link itself (above) before blaming the statement.
            if lost:
                lease.broken()
                raise _Lost(lost_error(exc, self.where)) from None
            raise error from None
        except MssqlMcpError:
            raise  # the call's own verdict (an unknown table): the connection is fine
        except Exception as exc:
            # pyodbc can fail converting a value the driver half-read from a dying link (Driver 18 hands it
            # an empty decimal): if the link is gone, this is a lost connection, not a bad statement.
            lease.broken()  # alive or not, a result was left half-read
            if not alive(conn):
                raise _Lost(
                    DatabaseUnavailable(
                        f"Connection to SQL Server at {self.where} was lost "
                        f"({type(exc).__name__} while reading the result)."
                    )
                ) from None
            raise QueryError(f"Could not read the result: {type(exc).__name__}: {exc}") from None

    def cache_scope(self) -> str | None:
        """Whose view of the database the current call has, for the caches above this layer: None when
        everyone queries as the service login; else the database user the person runs as (Unmapped, one
        line, when they have none). Two people mapped to one user share its view, as SQL Server would."""
        if self.settings.db_identity == "service":
            return None
        person = PERSON.get()
        if self.identity_map is not None:
            return "user:" + self.identity_map.principal(person).casefold()
        return None if person is None else "person:" + person.key

    def audit_principal(self) -> str | None:
        """Whom the current call's statements run as, for the audit line: the person's database user under
        DB_IDENTITY=impersonate (Unmapped when none), their Entra name under entra_obo once exchanged for, else
        the service login (`login:NAME`, once known)."""
        if self.identity_map is not None:
            return self.identity_map.principal(PERSON.get())
        person = PERSON.get()
        if self.people is not None and person is not None:  # entra_obo: the name Azure SQL knows them by
            return self.people.tokens.principal(person.key)
        login = self.permissions.login if self.permissions is not None else self.settings.mssql_user
        return f"login:{login}" if login else None

    # -- the Database protocol -------------------------------------------------------------

    def list_tables(self) -> list[TableInfo]:
        return self._with_connection(
            lambda conn: mssql_catalog.list_tables(conn.cursor()),
            timeout=self.settings.query_timeout_seconds,
            retry=True,
            impersonate=True,
        )

    def list_columns(self) -> list[ColumnRow]:
        """Every column of every table and view in a fixed number of statements (the schema search's index)."""
        return self._with_connection(
            lambda conn: mssql_catalog.list_columns(conn.cursor()),
            timeout=max(self.settings.query_timeout_seconds, 120.0),  # 50,000 tables' columns take a while
            retry=True,
            impersonate=True,
        )

    def describe_table(self, table: TableRef) -> TableDetail:
        return self._with_connection(
            lambda conn: mssql_catalog.describe_table(conn.cursor(), table),
            timeout=self.settings.query_timeout_seconds,
            retry=True,
            impersonate=True,
        )

    def sample(self, table: TableRef, limit: int, timeout: float) -> QueryResult:
        sql = f"SELECT TOP ({int(limit)}) * FROM {table.quoted}"
        return self.execute(sql, (), max_rows=limit, timeout=timeout)

    def execute(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        max_rows: int,
        timeout: float,
        write: bool = False,
        statement: object = None,  # the gate's parsed tree: SQL Server runs the text itself
    ) -> QueryResult:
        def run(conn: Any) -> QueryResult:
            cursor = conn.cursor()
            cursor.execute(sql, *params)
            result = collect(cursor, max_rows, self.settings.max_cell_bytes, self.settings.max_result_bytes)
            if result.truncated:
                cursor.cancel()  # stop the server streaming rows nobody will read
            cursor.close()
            return result

        # A write is never retried: its first attempt may have reached the server.
        return self._with_connection(run, timeout=timeout, retry=not write, commit=write, impersonate=True)

    def ping(self) -> None:
        self._with_connection(
            lambda conn: conn.cursor().execute("SELECT 1").fetchall(),
            timeout=PING_WAIT_SECONDS,
            retry=True,
            person=False,  # /health and the start-up check run for nobody, and read nothing
        )

    def close(self) -> None:
        self.pool.close()
        if self.people is not None:
            self.people.close()
