"""The database backend Protocol and the plain data it returns.

Backends are synchronous and blocking on purpose: they are simple to write and test, and the query
service (`mssql_mcp/queries.py`) runs every call on a bounded pool of worker threads, so the event
loop never waits on a database. Backends know nothing of MCP, HTTP or the SQL gate.

Names follow SQL Server: every table has a schema (`dbo` for SQLite, which has none).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from sqlglot import exp

TableType = Literal["TABLE", "VIEW"]


_REGULAR_IDENT = re.compile(r"[^\W\d][\w@$#]*\Z")  # a T-SQL regular identifier (Unicode letters too)


def is_regular_ident(name: str) -> bool:
    """True for a name T-SQL accepts unquoted as a regular identifier (`Orders`, `Città`; not `Order Details`)."""
    return _REGULAR_IDENT.match(name) is not None


def quote_ident(name: str, *, minimal: bool = False) -> str:
    """T-SQL bracket quoting (QUOTENAME's rule: `]` doubles). Only for names that came from the catalog.

    `minimal` leaves a regular identifier bare, for text people read (the ChatGPT face's ids), not for SQL:
    a bare reserved word such as `Order` would not parse there.
    """
    return name if minimal and is_regular_ident(name) else "[" + name.replace("]", "]]") + "]"


@dataclass(frozen=True, order=True)
class TableRef:
    """A table that exists in the catalog. Only the catalog creates these, so they are safe to quote."""

    schema: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def quoted(self) -> str:
        """[schema].[name], safe to put into T-SQL."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


@dataclass(frozen=True)
class TableInfo:
    ref: TableRef
    type: TableType
    row_count: int | None  # an estimate where the backend only has one (SQL Server partition stats)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str  # SQL Server style, with length/precision: nvarchar(40), decimal(10,2), int
    nullable: bool
    default: str | None = None
    primary_key: bool = False
    identity: bool = False
    description: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    name: str | None
    columns: tuple[str, ...]
    references: TableRef
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True)
class IndexInfo:
    name: str
    columns: tuple[str, ...]
    unique: bool
    primary_key: bool = False


@dataclass(frozen=True)
class TableDetail:
    info: TableInfo
    columns: tuple[ColumnInfo, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    indexes: tuple[IndexInfo, ...] = ()
    description: str | None = None


@dataclass
class QueryResult:
    """One statement's outcome. `rows` holds raw driver values; `mssql_mcp.serialize` makes them JSON.

    For a SELECT, `row_count` is len(rows) and `truncated` says that more rows existed past the cap;
    `truncated_reason` says which cap: "rows" (MAX_ROWS) or "bytes" (MAX_RESULT_BYTES, `db/cells.py`).
    `size_bytes` is the rows' estimated JSON size when the backend measured it while reading.
    For a write, `columns`/`rows` are empty and `row_count` is the number of rows affected.
    """

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    row_count: int
    truncated_reason: str | None = None
    size_bytes: int | None = None


class Database(Protocol):
    """What the query service needs from a database. Every method may block."""

    #: "sqlite" or "mssql"; shown in /health.
    kind: str

    def list_tables(self) -> list[TableInfo]:
        """Every table and view the login can see."""
        ...

    def describe_table(self, table: TableRef) -> TableDetail:
        """Columns, keys and indexes of a table from `list_tables()`."""
        ...

    def sample(self, table: TableRef, limit: int, timeout: float) -> QueryResult:
        """The first `limit` rows of a catalog table, quoted safely by the backend."""
        ...

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
        """Run one T-SQL statement that the gate has already checked.

        `statement` is `sql` as the gate parsed it (sqlglot, tsql), when the caller has it: a backend that
        translates may use it instead of parsing again. It is shared, so a backend never changes it.

        Reads: at most `max_rows` rows are kept (fetchmany(max_rows + 1) decides `truncated`).
        In read-only mode nothing is ever committed, whatever the statement.
        `write=True` (write mode only) commits a DML/DDL statement.
        Past `timeout` seconds the statement is cancelled and QueryTimeout raised.
        """
        ...

    def ping(self) -> None:
        """Raise DatabaseUnavailable unless a trivial query succeeds now."""
        ...

    def close(self) -> None: ...
