"""Run T-SQL batches and RPC statements on SQLite, and turn the outcome into TDS tokens.

One `Session` per client connection: its own SQLite connection (autocommit off at the SQLite level, so
BEGIN/COMMIT/ROLLBACK are exactly what the client asked for), SQL Server's transaction state
(`SET IMPLICIT_TRANSACTIONS`, TM requests, BEGIN TRAN/COMMIT/ROLLBACK) and its prepared handles.
Every COMMIT and ROLLBACK is recorded in the server's event log, which is what tests assert on.
"""

from __future__ import annotations

import re
import sqlite3
import struct
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from mssql_mcp.db.tsql_functions import register as register_tsql_functions
from mssql_mcp.db.tsql_sqlite import translate
from mssql_mcp.errors import TranslationError
from tests.support.tds import security, wire
from tests.support.tds.sqlvalues import bind_value, row_tokens
from tests.support.tds.types import SqlType, infer, parse_type, type_info

if TYPE_CHECKING:
    from tests.support.tds.server import TdsServer

Emit = Callable[[bytes], None]


class SqlError(Exception):
    def __init__(self, number: int, text: str, severity: int = 16) -> None:
        super().__init__(text)
        self.number, self.text, self.severity = number, text, severity


class Cancelled(Exception):
    """An ATTENTION arrived: stop, and let the connection acknowledge it."""


class DropConnection(Exception):
    """Fault injection: close the socket in the middle of a result."""


# DONE's CurCmd: the statement kind (sys.dm_exec_requests command codes), which drivers use for row counts
_CURCMD = {"SELECT": 0xC1, "WITH": 0xC1, "INSERT": 0xC3, "DELETE": 0xC4, "UPDATE": 0xC5, "MERGE": 0x117}
_SET = re.compile(r"^SET\s+(\w+)(?:\s+(.*))?$", re.I | re.S)
_BEGIN = re.compile(r"^BEGIN\s+TRAN(SACTION)?\b", re.I)
_END = re.compile(r"^(IF\s+@@TRANCOUNT\s*>\s*0\s+)?(COMMIT|ROLLBACK)(\s+(TRAN|TRANSACTION|WORK)\b.*)?$", re.I | re.S)
_WAITFOR = re.compile(r"^WAITFOR\s+DELAY\s+'(\d+):(\d+):(\d+(?:\.\d+)?)'$", re.I)
_EXEC = re.compile(r"^EXEC(UTE)?\s+([\w.\[\]]+)", re.I)


def split_batch(sql: str) -> list[str]:
    """Statements separated by ';' (outside strings, brackets and comments); blank ones dropped."""
    out, buf, i, n = [], [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'[\"":
            close = "]" if ch == "[" else ch
            j = i + 1
            while j < n and not (sql[j] == close and sql[j + 1 : j + 2] != close):
                j += 2 if sql[j] == close else 1
            buf.append(sql[i : j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i)
            i = n if j < 0 else j + 2
        elif ch == ";":
            out.append("".join(buf))
            buf = []
            i += 1
        else:
            buf.append(ch)
            i += 1
    out.append("".join(buf))
    return [s.strip() for s in out if s.strip()]


class Session:
    def __init__(self, server: TdsServer, spid: int, login: str) -> None:
        self.server, self.spid, self.login = server, spid, login
        self.db = sqlite3.connect(server.db_path, isolation_level=None, check_same_thread=False, timeout=10)
        self.catalog_version = -1
        self._attach_catalog()
        register_tsql_functions(self.db)  # the collation, LIKE and conversions the translation calls for
        self.db.create_function("IS_ROLEMEMBER", 1, lambda r: int(str(r).lower() in server.roles))
        self.db.create_function("IS_SRVROLEMEMBER", 1, lambda r: int(str(r).lower() in server.roles))
        self.implicit = False
        self.tran = 0  # current transaction descriptor; 0 = none
        self.prepared: dict[int, tuple[str, list[str]]] = {}
        self.options: dict[str, str] = {}
        # sp_set_session_context: key -> (value, read_only); SESSION_CONTEXT(N'key') reads it (server.py)
        self.context: dict[str, tuple[Any, bool]] = {}
        self.impersonating: list[tuple[str, bytes | None]] = []  # EXECUTE AS USER: (principal, cookie)
        self.variables: dict[str, Any] = {}  # DECLAREd in the current batch
        self._cancel = threading.Event()

    def _attach_catalog(self) -> None:
        """Attach the server's current sys views, so that a rebuilt catalog is seen by open connections too."""
        if self.catalog_version == self.server.catalog_version:
            return
        fresh = True
        for name, path in (("sys", self.server.sys_path), ("INFORMATION_SCHEMA", self.server.info_path)):
            if self.catalog_version >= 0:
                try:
                    self.db.execute(f"DETACH DATABASE {name}")
                except sqlite3.OperationalError:  # read in this transaction ("locked"): swap it later
                    fresh = False
                    continue
            self.db.execute("ATTACH DATABASE ? AS " + name, (str(path),))
        if fresh:
            self.catalog_version = self.server.catalog_version

    # -- control ---------------------------------------------------------------------------

    def cancel(self) -> None:
        self._cancel.set()
        self.db.interrupt()

    def reset_cancel(self) -> None:
        self._cancel.clear()

    def check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def close(self) -> None:
        try:
            if self.db.in_transaction:
                self.db.rollback()
                self.server.record(self.spid, "rollback", "connection closed")
        finally:
            self.db.close()

    def begin(self, emit: Emit) -> None:
        if self.tran == 0:
            self.db.execute("BEGIN")
            self.tran = self.server.next_transaction()
            self.server.record(self.spid, "begin", "")
            emit(wire.env_bytes(wire.ENV_BEGIN_TRAN, struct.pack("<Q", self.tran)))

    def end(self, commit: bool, emit: Emit, how: str) -> None:
        if self.tran == 0:
            return
        old = struct.pack("<Q", self.tran)
        if commit and self.server.faults.drop_on_commit:
            self.db.execute("ROLLBACK")
            self.tran = 0
            self.server.record(self.spid, "rollback", f"connection dropped at COMMIT ({how})")
            raise DropConnection()
        if commit:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
        self.tran = 0
        self.server.record(self.spid, "commit" if commit else "rollback", how)
        emit(wire.env_bytes(wire.ENV_COMMIT_TRAN if commit else wire.ENV_ROLLBACK_TRAN, b"", old))

    # -- statements ------------------------------------------------------------------------

    def execute(self, sql: str, params: dict[str, Any], emit: Emit, *, in_proc: bool = False) -> bool:
        """Run a batch (or a procedure's statement), emitting each statement's tokens and DONE; False on error.

        Each statement ends with DONE (DONEINPROC inside an RPC), flagged MORE unless it ends the response.
        An error ends the batch with ERROR and DONE(ERROR), as a compile error does on SQL Server.
        """
        statements = split_batch(sql)
        if not in_proc:
            self.variables = {}  # a batch's variables end with it
        token = wire.TOKEN_DONEINPROC if in_proc else wire.TOKEN_DONE
        if not statements:
            emit(wire.done(wire.DONE_MORE if in_proc else 0, token=token))
            return True
        for i, statement in enumerate(statements):
            self.check_cancel()
            more = in_proc or i < len(statements) - 1
            try:
                count = self._statement(statement, params, emit)
            except SqlError as exc:
                emit(wire.message(exc.number, exc.text, severity=exc.severity))
                emit(wire.done(wire.DONE_ERROR | (wire.DONE_MORE if in_proc else 0), token=token))
                return False
            status = (wire.DONE_MORE if more else 0) | (wire.DONE_INXACT if self.tran else 0)
            verb = statement.split(None, 1)[0].upper()
            emit(wire.done(status, rows=count, token=token, curcmd=_CURCMD.get(verb, 0xC1)))
        return True

    def textsize(self) -> int | None:
        """SET TEXTSIZE: bytes sent of a (max) value. ODBC logins start unbounded; 0 means the default, 4 KB."""
        value = self.options.get("TEXTSIZE")
        if value is None or not value.lstrip("-").isdigit():
            return None
        size = int(value)
        return 4096 if size == 0 else None if size < 0 else size

    def _statement(self, sql: str, params: dict[str, Any], emit: Emit) -> int | None:
        self.server.record(self.spid, "statement", sql)
        self._attach_catalog()
        m = _SET.match(sql)
        if m:
            option, value = m.group(1).upper(), (m.group(2) or "").strip()
            if option == "IMPLICIT_TRANSACTIONS":
                self.implicit = value.upper() == "ON"
            self.options[option] = value
            return None
        if _BEGIN.match(sql):
            self.begin(emit)
            return None
        m = _END.match(sql)
        if m:
            self.end(m.group(2).upper() == "COMMIT", emit, f"batch: {sql}")
            return None
        m = _WAITFOR.match(sql)
        if m:
            self._sleep(int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]))
            return None
        if security.statement(self, sql, params):  # session context, EXECUTE AS, REVERT, DECLARE
            return None
        m = _EXEC.match(sql)
        if m:
            name = m.group(2).strip("[]")
            raise SqlError(2812, f"Could not find stored procedure '{name}'.")
        return self._query(sql, params, emit)

    def _sleep(self, seconds: float) -> None:
        if self._cancel.wait(seconds):
            raise Cancelled()

    def _query(self, sql: str, params: dict[str, Any], emit: Emit) -> int | None:
        fault = self.server.faults.match(sql)
        if fault is not None:
            if fault.delay:
                self._sleep(fault.delay)
            if fault.error is not None:
                raise SqlError(fault.error, fault.error_text or f"Injected error {fault.error}.")
        sql = security.secure(self, sql)  # the principal's grants, the row filter, batch variables
        sql = self.server.substitute(sql, self)
        names, types = self._shape(sql)
        try:
            lite = translate(sql, self.server.schema)
        except TranslationError as exc:
            raise SqlError(102, f"Incorrect syntax: {exc.message}") from None
        if self.implicit:
            self.begin(emit)
        try:
            cursor = self.db.execute(lite, {k: bind_value(v) for k, v in params.items() if f"@{k}" in lite})
            if cursor.description is None:
                return max(cursor.rowcount, 0)
            return self._result(cursor, names, types, emit, drop=bool(fault and fault.drop))
        except sqlite3.Error as exc:
            if self._cancel.is_set():
                raise Cancelled() from None
            raise _sql_error(exc) from None

    def _shape(self, sql: str) -> tuple[list[str] | None, list[SqlType | None]]:
        """Column names and SQL Server types of a SELECT's projections, from the T-SQL itself."""
        try:
            tree = sqlglot.parse_one(sql, read="tsql")
        except Exception:
            return None, []
        select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
        if select is None:
            return None, []
        names = None
        if not any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and p.is_star) for p in select.selects):
            names = [
                p.alias if isinstance(p, exp.Alias) else p.name if isinstance(p, exp.Column) else ""
                for p in select.selects
            ]
        try:
            schema = self.server.sqlglot_schema(tree)
            try:
                tree = qualify(tree, schema=schema, dialect="tsql", validate_qualify_columns=False)
            except Exception:
                pass
            tree = annotate_types(tree, schema=schema, dialect="tsql")
            select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
            assert select is not None
            types = [_declared_type(p.type) for p in select.selects]
        except Exception:
            types = []
        return names, types

    def _result(
        self, cursor: sqlite3.Cursor, names: list[str] | None, types: list[SqlType | None], emit: Emit, *, drop: bool
    ) -> int:
        description = cursor.description
        width = len(description)
        if names is None or len(names) != width:
            names = [d[0] for d in description]
        first = cursor.fetchmany(200)
        if len(types) != width:
            types = [None] * width
        final = [
            _fits(t, [row[i] for row in first]) if t else infer([row[i] for row in first]) for i, t in enumerate(types)
        ]
        meta = struct.pack("<BH", wire.TOKEN_COLMETADATA, width)
        for name, t in zip(names, final, strict=True):
            meta += struct.pack("<IH", 0, 0x0001 | 0x0008) + type_info(t) + wire.b_varchar(name)  # nullable, updatable
        emit(meta)
        textsize = self.textsize()
        if drop:  # the metadata and one row reach the client, then the link dies
            emit(row_tokens(final, first[:1], textsize))
            raise DropConnection()
        count = 0
        batch = first
        while batch:
            self.check_cancel()
            emit(row_tokens(final, batch, textsize))
            count += len(batch)
            batch = cursor.fetchmany(500)
        return count


def _declared_type(annotated: exp.DataType | None) -> SqlType | None:
    """The annotator's type when it is one SQL Server would report; a length-less string type (a literal's
    VARCHAR) is left to inference from the values, since its length is what the driver checks them against."""
    if annotated is None or annotated.is_type(exp.DataType.Type.UNKNOWN):
        return None
    text = annotated.sql("tsql")
    found = parse_type(text)
    if (
        found is not None
        and found.name in ("char", "varchar", "nchar", "nvarchar", "binary", "varbinary")
        and "(" not in text
    ):
        return None
    return found


def _fits(t: SqlType, values: list[Any]) -> SqlType:
    """A string type too narrow for the values (`a + b` typed as a's length) becomes (max): drivers reject a
    value longer than its column's declared length as a protocol error."""
    if t.length is None or t.length == -1 or t.name not in ("nvarchar", "varchar", "varbinary"):
        return t
    longest = max((len(v) for v in values if isinstance(v, str | bytes)), default=0)
    return t if longest <= t.length else SqlType(t.name, length=-1)


def _sql_error(exc: sqlite3.Error) -> SqlError:
    text = str(exc)
    m = re.match(r"no such table: (?:\w+\.)?(.+)", text)
    if m:
        return SqlError(208, f"Invalid object name '{m.group(1)}'.")
    m = re.match(r"no such column: (.+)", text)
    if m:
        return SqlError(207, f"Invalid column name '{m.group(1).split('.')[-1]}'.")
    if "syntax error" in text or "incomplete input" in text:
        return SqlError(102, f"Incorrect syntax: {text}.", 15)
    if "database is locked" in text:
        return SqlError(1222, "Lock request time out period exceeded.")
    if "UNIQUE constraint" in text or "PRIMARY KEY" in text:
        return SqlError(2627, f"Violation of PRIMARY KEY or UNIQUE constraint: {text}.", 14)
    if "readonly" in text or "read-only" in text:
        return SqlError(3906, "Failed to update database because the database is read-only.")
    return SqlError(50000, text)
