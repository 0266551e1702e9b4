"""The embedded backend: any SQLite file, served with SQL Server-style names and T-SQL input.

Safety layers here (the gate in `sqlgate/` runs before any of this):
- read-only mode opens the file with `mode=ro` and sets `PRAGMA query_only`, so even a statement that got
  past the gate cannot write (https://www.sqlite.org/pragma.html#pragma_query_only);
- reads are never committed: every call ends with a rollback unless it is a write-mode write;
- an authorizer allows a user's statement only SQLite functions on a list, and no pragma (`sqlite_guard`);
- a progress handler cancels a statement past its timeout (https://www.sqlite.org/c3ref/progress_handler.html),
  and a watchdog thread interrupts one whose steps are single expensive calls (`sqlite_limits`);
- a length limit bounds every value a statement builds (MAX_VALUE_BYTES, `sqlite_limits`);
- rows are read through `cells.fetch_bounded`: at most max_rows, long cells cut, the result's bytes capped.

Connections are pooled (one per worker thread at most, `check_same_thread=False` because the worker that
returns a connection is not the one that opened it; a connection is only ever used by one thread at a time).
"""

from __future__ import annotations

import contextlib
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from sqlglot import exp

from mssql_mcp.db.base import (
    ColumnInfo,
    ForeignKey,
    IndexInfo,
    QueryResult,
    TableDetail,
    TableInfo,
    TableRef,
)
from mssql_mcp.db.bulk_columns import ColumnRow, sqlite_columns
from mssql_mcp.db.cells import fetch_bounded
from mssql_mcp.db.sqlite_errors import sqlite_error
from mssql_mcp.db.sqlite_guard import Authorizer
from mssql_mcp.db.sqlite_limits import WATCHDOG, limit_length, too_big
from mssql_mcp.db.tsql_dates import statement_clock
from mssql_mcp.db.tsql_functions import register as register_tsql_functions
from mssql_mcp.db.tsql_sqlite import Schema, translate
from mssql_mcp.errors import (
    DatabaseUnavailable,
    QueryError,
    QueryRefused,
    QueryTimeout,
    TranslationError,
    ValueTooLarge,
)

SCHEMA = "dbo"  # SQLite has no schemas; the catalog shows every table as dbo.X, as SQL Server would
COUNT_BUDGET_SECONDS = 2.0  # list_tables spends at most this on exact row counts
_PROGRESS_STEPS = 2_000  # VM instructions between deadline checks: cheap, and well under a millisecond
_MISSING_FUNCTION = re.compile(r"no such function: (\w+)", re.IGNORECASE)


def _decimal(raw: bytes) -> Decimal | str:
    text = raw.decode("utf-8", "replace")
    try:
        return Decimal(text)
    except InvalidOperation:  # a file that is not ours may store anything in a DECIMAL column
        return text


def _bit(raw: bytes) -> bool | str:
    text = raw.decode("utf-8", "replace")
    return text == "1" if text in ("0", "1") else text


# Declared SQL Server types the demo (and SQL Server exports) use; SQLite stores them as plain numbers,
# and these converters give callers the exact values back (https://docs.python.org/3/library/sqlite3.html).
sqlite3.register_converter("DECIMAL", _decimal)
sqlite3.register_converter("MONEY", _decimal)
sqlite3.register_converter("SMALLMONEY", _decimal)
sqlite3.register_converter("BIT", _bit)


def quote(name: str) -> str:
    """Quote an identifier that came from the catalog (never from a caller directly)."""
    return '"' + name.replace('"', '""') + '"'


class SqliteDatabase:
    kind = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = True,
        pool_size: int = 8,
        count_budget: float = COUNT_BUDGET_SECONDS,
        max_value_bytes: int = 16 * 1024 * 1024,
        max_cell_bytes: int = 65_536,
        max_result_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.path = Path(path)
        self.max_value_bytes, self.max_cell_bytes, self.max_result_bytes = (
            max_value_bytes,
            max_cell_bytes,
            max_result_bytes,
        )
        self.count_budget = count_budget
        self.read_only = read_only
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue(maxsize=pool_size)
        self._types_lock = threading.Lock()
        self._schema: Schema | None = None

    # -- connections -----------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        # Percent-encoded: a '?', '#' or '%' in the file's path must not end the URI's path early.
        uri = f"file:{pathname2url(str(self.path.resolve()))}?mode={'ro' if self.read_only else 'rw'}"
        try:
            con = sqlite3.connect(
                uri, uri=True, check_same_thread=False, detect_types=sqlite3.PARSE_DECLTYPES, timeout=5.0
            )
            limit_length(con, self.max_value_bytes)
            register_tsql_functions(con)  # SQL Server's collation, LIKE and conversions (db/tsql_functions.py)
            if self.read_only:
                con.execute("PRAGMA query_only = ON")
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails now on a file that is no database
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(f"Cannot open the SQLite database {self.path.name}: {exc}") from None
        return con

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            con = self._idle.get_nowait()
        except queue.Empty:
            con = self._open()
        try:
            yield con
        finally:
            try:
                con.rollback()  # nothing a read did may outlive the call
                self._idle.put_nowait(con)
            except (sqlite3.Error, queue.Full):
                con.close()

    @contextlib.contextmanager
    def _deadline(self, con: sqlite3.Connection, timeout: float) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        con.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_STEPS)
        try:
            with WATCHDOG.watch(con, deadline):
                yield
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc) and time.monotonic() > deadline:
                raise QueryTimeout(timeout) from None
            raise
        finally:
            con.set_progress_handler(None, 0)

    # -- catalog ---------------------------------------------------------------------------

    def list_tables(self) -> list[TableInfo]:
        with self._connection() as con:
            rows = con.execute(
                "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            ).fetchall()
            tables = []
            deadline = time.monotonic() + self.count_budget
            for name, kind in rows:
                # Views may be expensive to count; SQL Server reports no row count for them either.
                count = self._count(con, name, deadline) if kind == "table" else None
                tables.append(TableInfo(TableRef(SCHEMA, name), "TABLE" if kind == "table" else "VIEW", count))
        return tables

    def list_columns(self) -> list[ColumnRow]:
        """Every column of every table and view, in one statement (the schema search's index)."""
        with self._connection() as con:
            return sqlite_columns(con, SCHEMA)

    def _count(self, con: sqlite3.Connection, name: str, deadline: float) -> int | None:
        """Exact row count, or None (unknown) once the catalog's time budget is spent: a file with huge
        tables still lists them promptly."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            with self._deadline(con, remaining):
                return int(con.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0])
        except QueryTimeout:
            return None

    def describe_table(self, table: TableRef) -> TableDetail:
        name = table.name
        with self._connection() as con:
            (kind,) = con.execute("SELECT type FROM sqlite_master WHERE name = ?", (name,)).fetchone()
            count = con.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0] if kind == "table" else None
            cols = con.execute(
                'SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)', (name,)
            ).fetchall()
            fks = con.execute(
                'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq', (name,)
            ).fetchall()
            index_rows = con.execute('SELECT name, "unique", origin FROM pragma_index_list(?)', (name,)).fetchall()
            indexes = []
            for ix_name, unique, origin in index_rows:
                ix_cols = con.execute("SELECT name FROM pragma_index_info(?) ORDER BY seqno", (ix_name,)).fetchall()
                names = tuple(c[0] or "<expr>" for c in ix_cols)
                indexes.append(
                    IndexInfo(_index_name(name, ix_name, origin, names), names, bool(unique), origin == "pk")
                )
        # A rowid alias (INTEGER PRIMARY KEY) has no index entry: report the key as the index SQL Server would show.
        pk_cols = tuple(c[0] for c in sorted((c for c in cols if c[4]), key=lambda c: c[4]))
        if pk_cols and not any(ix.primary_key for ix in indexes):
            indexes.insert(0, IndexInfo(f"PK_{name}", pk_cols, True, primary_key=True))
        identity = len(pk_cols) == 1 and _is_rowid_alias(cols, pk_cols[0])
        columns = tuple(
            # Spelled as SQL Server's sys.types does (nvarchar(80)), so both backends describe tables alike.
            ColumnInfo(
                col,
                (ctype or "").strip('"').lower() or "any",
                not notnull and not pk,
                default,
                bool(pk),
                identity=identity and col == pk_cols[0],
            )
            for col, ctype, notnull, default, pk in cols
        )
        grouped: dict[int, list[tuple[str, str, str]]] = {}
        for fk_id, target, src, dst in fks:
            grouped.setdefault(fk_id, []).append((target, src, dst))
        foreign_keys = tuple(
            ForeignKey(
                None, tuple(p[1] for p in parts), TableRef(SCHEMA, parts[0][0]), tuple(p[2] or "" for p in parts)
            )
            for parts in grouped.values()
        )
        info = TableInfo(table, "TABLE" if kind == "table" else "VIEW", count)
        return TableDetail(
            info,
            columns,
            foreign_keys,
            tuple(indexes),
        )

    def schema(self) -> Schema:
        """Declared types by table and column, for translating `+` on text into `||`; read once per schema."""
        with self._types_lock:
            if self._schema is None:
                with self._connection() as con:
                    names = [
                        r[0]
                        for r in con.execute(
                            "SELECT name FROM sqlite_master"
                            " WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
                        )
                    ]
                    self._schema = Schema(
                        {
                            n.lower(): {
                                c.lower(): (t or "").upper()
                                for c, t in con.execute("SELECT name, type FROM pragma_table_info(?)", (n,))
                            }
                            for n in names
                        }
                    )
            return self._schema

    # -- queries ---------------------------------------------------------------------------

    def sample(self, table: TableRef, limit: int, timeout: float) -> QueryResult:
        # The name comes from the catalog (TableRef) and is quoted; the limit is a bound parameter.
        return self._run(
            f"SELECT * FROM {quote(table.name)} LIMIT ?", (limit,), max_rows=limit, timeout=timeout, write=False
        )

    def execute(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        max_rows: int,
        timeout: float,
        write: bool = False,
        statement: exp.Expr | None = None,
    ) -> QueryResult:
        translated = translate(sql, self.schema(), statement=statement)
        result = self._run(translated, params, max_rows=max_rows, timeout=timeout, write=write, guard=True)
        if write:
            with self._types_lock:
                self._schema = None  # DDL may have changed the schema
        return result

    def _run(
        self, sql: str, params: Sequence[Any], *, max_rows: int, timeout: float, write: bool, guard: bool = False
    ) -> QueryResult:
        """Run one statement. `guard` (user statements) installs the authorizer while it is prepared."""
        if write and self.read_only:  # the gate should never let this happen; fail closed if it does
            raise QueryError("The database is open read-only.")
        authorizer = Authorizer() if guard else None
        with (
            self._connection() as con,
            self._deadline(con, timeout),
            _authorized(con, authorizer),
            statement_clock(),
        ):
            try:
                cur = con.execute(sql, tuple(params))
                if cur.description is None:
                    affected = cur.rowcount
                    if write:
                        con.commit()
                    return QueryResult([], [], False, max(affected, 0))
                columns = [d[0] for d in cur.description]
                got = fetch_bounded(
                    cur, max_rows=max_rows, cell_limit=self.max_cell_bytes, result_limit=self.max_result_bytes
                )
                cur.close()
                if write:
                    con.commit()
                return QueryResult(columns, got.rows, got.truncated, len(got.rows), got.reason, got.size)
            except sqlite3.DatabaseError as exc:
                if too_big(exc):
                    raise ValueTooLarge(self.max_value_bytes) from None
                if authorizer is not None and authorizer.refused:
                    raise QueryRefused(
                        f"Refused: the embedded SQLite database does not allow {authorizer.refused}."
                    ) from None
                if not isinstance(exc, sqlite3.OperationalError):
                    raise sqlite_error(exc, sql) from None
                missing = _MISSING_FUNCTION.search(str(exc))
                if missing:
                    raise TranslationError(
                        f"The function {missing.group(1).upper()} is not available on the embedded SQLite database."
                    ) from None
                if "interrupted" in str(exc):
                    raise
                raise sqlite_error(exc, sql) from None
            except sqlite3.Error as exc:
                raise sqlite_error(exc, sql) from None

    def ping(self) -> None:
        with self._connection() as con:
            try:
                con.execute("SELECT 1").fetchone()
            except sqlite3.Error as exc:
                raise DatabaseUnavailable(f"SQLite: {exc}") from None

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


@contextlib.contextmanager
def _authorized(con: sqlite3.Connection, authorizer: Authorizer | None) -> Iterator[None]:
    if authorizer is None:
        yield
        return
    con.set_authorizer(authorizer)
    try:
        yield
    finally:
        con.set_authorizer(None)  # the backend's own catalog queries (pragma_table_info, ...) run unguarded


def _index_name(table: str, name: str, origin: str, columns: tuple[str, ...]) -> str:
    """SQLite names the indexes of PRIMARY KEY and UNIQUE constraints sqlite_autoindex_<table>_<n>; SQL Server
    users see constraint names, here PK_<table> and UQ_<table>_<columns> (SQL Server's own generated names
    add a random suffix, which a file without them cannot have)."""
    if not name.lower().startswith("sqlite_autoindex_"):
        return name
    return f"PK_{table}" if origin == "pk" else f"UQ_{table}_{'_'.join(columns)}"


def _is_rowid_alias(cols: list[tuple[Any, ...]], pk: str) -> bool:
    """INTEGER PRIMARY KEY makes a column the rowid, which SQLite assigns like an IDENTITY column."""
    return any(c[0] == pk and (c[1] or "").upper() == "INTEGER" for c in cols)
