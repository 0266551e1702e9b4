"""A TDS 7.4 server on loopback, backed by SQLite, for testing the real ODBC drivers end to end.

    server = TdsServer(sqlite_path, work_dir, tls=True); server.start()
    ... connect with pyodbc + FreeTDS or ODBC Driver 18 to 127.0.0.1,server.port ...
    server.events       # every statement, BEGIN, COMMIT and ROLLBACK, per connection (spid)
    server.faults       # refuse logins, delay or fail statements, drop connections mid-result
    server.stop()

Each connection gets a thread that reads requests and a worker thread per request, so an ATTENTION
(the client cancelling on timeout) is seen while a statement runs (MS-TDS 2.2.1.7, 3.3.5.5).
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp
from sqlglot.schema import MappingSchema

from mssql_mcp.db.tsql_sqlite import Schema
from tests.support.tds import login as login_mod
from tests.support.tds import security
from tests.support.tds.faults import Faults
from tests.support.tds.requests import Connection
from tests.support.tds.syscat import Descriptions, build, build_information_schema, declared_types
from tests.support.tds.tls import make_certificate, server_context, strict_context

log = logging.getLogger("tds")


@dataclass(frozen=True)
class Event:
    spid: int
    kind: str  # connect | login_failed | statement | rpc | begin | commit | rollback | attention | closed
    detail: str


@dataclass
class TdsServer:
    db_path: Path
    work_dir: Path
    user: str = "mcp_reader"
    password: str = "S3cret;{pass=word"
    database: str = "demo"
    tls: bool = False
    descriptions: Descriptions = field(default_factory=dict)
    permissions: tuple[str, ...] = ("CONNECT", "SELECT", "VIEW DEFINITION")
    roles: set[str] = field(default_factory=lambda: {"public", "db_datareader"})
    # EXECUTE AS USER: the database users that exist, each with the tables it may read (lower case);
    # row_filter: (table, column, session-context key), an RLS predicate column = SESSION_CONTEXT(key).
    principals: dict[str, set[str]] = field(default_factory=dict)
    impersonable: set[str] | None = None  # the principals the login may EXECUTE AS (None: every one)
    row_filter: tuple[str, str, str] | None = None
    # FEDAUTH logins (an Entra access token): the token -> the login it names, or ValueError with the reason.
    fedauth: Callable[[str], str] | None = None
    port: int = 0
    faults: Faults = field(default_factory=Faults)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.sys_path = self.work_dir / "sys.sqlite"
        self.info_path = self.work_dir / "information_schema.sqlite"
        cert = make_certificate(self.work_dir) if self.tls else None
        self.cert_path = cert[0] if cert else None
        self.tls_context = server_context(*cert) if cert else None
        self.strict_context = strict_context(*cert) if cert else None
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._connections: set[Connection] = set()
        self._next_spid = 51
        self._next_tran = 0
        self.catalog_version = 0
        self.refresh_catalog()

    def refresh_catalog(self) -> None:
        """Rebuild the sys views and type table (after a test changed the schema or the row counts)."""
        self.sys_path.unlink(missing_ok=True)
        self.info_path.unlink(missing_ok=True)
        types = build(self.db_path, self.sys_path, descriptions=self.descriptions, permissions=self.permissions)
        build_information_schema(self.sys_path, self.info_path, self.database)
        sys_types = declared_types(self.sys_path)
        info_types = declared_types(self.info_path)
        # The translation's types are keyed by table name alone: the sys views' come after the database's own,
        # so a user table named like one keeps its types. Knowing object_id is an int keeps its comparisons off
        # the collation, so SQLite can use the sys tables' indexes, as SQL Server uses its own.
        lowered = {t.lower(): {c.lower(): v.upper() for c, v in cols.items()} for t, cols in sys_types.items()}
        lowered.update({t.lower(): {c.lower(): v.upper() for c, v in cols.items()} for t, cols in types.items()})
        self.schema = Schema(lowered)
        # schema -> table -> column -> type, lower case: each statement's types come from the tables it names
        self.declared = {
            name: {t.lower(): cols for t, cols in found.items()}
            for name, found in (("dbo", types), ("sys", sys_types), ("information_schema", info_types))
        }
        self.catalog_version += 1  # open sessions attach the new files before their next transaction

    def sqlglot_schema(self, tree: exp.Expr) -> MappingSchema:
        """The declared types of the tables a statement names, for sqlglot's annotator. Only those: normalising
        every table of a 20,000-table database for each statement would cost seconds."""
        nested: dict[str, dict[str, dict[str, str]]] = {}
        for table in tree.find_all(exp.Table):
            wanted = [table.db.lower()] if table.db else list(self.declared)
            for schema in wanted:
                columns = self.declared.get(schema, {}).get(table.name.lower())
                if columns is not None:
                    nested.setdefault(schema, {})[table.name.lower()] = columns
        mapping: dict[str, object] = dict(nested)
        return MappingSchema(mapping, dialect="tsql")

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> TdsServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name=f"tds-accept-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection: to a client this looks like the server went away."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self.drop_connections()

    def drop_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            conn.kill()

    @contextlib.contextmanager
    def running(self) -> Iterator[TdsServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                spid = self._next_spid
                self._next_spid += 1
            conn = Connection(self, sock, spid)
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name=f"tds-conn-{spid}", daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        try:
            conn.serve()
        except (ConnectionError, OSError, ValueError) as exc:
            log.debug("connection %d ended: %s", conn.spid, exc)
        finally:
            conn.kill()
            with self._lock:
                self._connections.discard(conn)
            self.record(conn.spid, "closed", "")

    # -- shared state ----------------------------------------------------------------------

    def record(self, spid: int, kind: str, detail: str) -> None:
        with self._lock:
            self.events.append(Event(spid, kind, detail))

    def kinds(self, spid: int | None = None) -> list[str]:
        with self._lock:
            return [e.kind for e in self.events if spid is None or e.spid == spid]

    def next_transaction(self) -> int:
        with self._lock:
            self._next_tran += 1
            return self._next_tran

    def check_login(self, login: login_mod.Login) -> tuple[int, str] | None:
        """None when the login may proceed, else (error number, message). A FEDAUTH login's user becomes the
        person its token names (SUSER_SNAME(), ORIGINAL_LOGIN())."""
        if login.access_token is not None:
            who = "<token-identified principal>"  # what Azure SQL names a token login that failed
            if self.fedauth is None or self.faults.refuse_logins:
                return 18456, f"Login failed for user '{who}'."
            try:
                login.user = self.fedauth(login.access_token)
            except ValueError as exc:
                return 18456, f"Login failed for user '{who}'. {exc}"
            return self._check_database(login)
        if self.faults.refuse_logins or login.user != self.user or login.password != self.password:
            return 18456, f"Login failed for user '{login.user}'."
        return self._check_database(login)

    def _check_database(self, login: login_mod.Login) -> tuple[int, str] | None:
        if login.database and login.database.lower() != self.database.lower():
            return 4060, f'Cannot open database "{login.database}" requested by the login. The login failed.'
        return None

    _FUNCS = re.compile(
        r"@@VERSION|@@SPID|@@TRANCOUNT|SUSER_SNAME\(\s*\)|DB_NAME\(\s*\)|SESSION_CONTEXT\(\s*N?'[^']*'\s*\)|"
        r"USER_NAME\(\s*\)|ORIGINAL_LOGIN\(\s*\)|DATABASE_PRINCIPAL_ID\(\s*N?'(?:[^']|'')*'\s*\)|"
        r"HAS_PERMS_BY_NAME\(\s*N?'(?:[^']|'')*'\s*,\s*N?'USER'\s*,\s*N?'IMPERSONATE'\s*\)|"
        r"fn_my_permissions\s*\(\s*NULL\s*,\s*'DATABASE'\s*\)",
        re.I,
    )

    def substitute(self, sql: str, session: Any) -> str:
        """Server functions SQLite lacks, answered from this server's state."""

        def value(m: re.Match[str]) -> str:
            word = m.group(0).upper()
            if word == "@@VERSION":
                return "N'Microsoft SQL Server 2022 (TDS test server) - 16.0.4096.0'"
            if word == "@@SPID":
                return str(session.spid)
            if word == "@@TRANCOUNT":
                return "1" if session.tran else "0"
            if word.startswith(("SUSER_SNAME", "USER_NAME")):  # the impersonated user, else the login
                return security.literal(security.principal(session))
            if word.startswith("ORIGINAL_LOGIN"):
                return security.literal(session.login)
            if word.startswith("SESSION_CONTEXT"):
                return security.literal(session.context.get(m.group(0).split("'")[1], (None, False))[0])
            if word.startswith(("DATABASE_PRINCIPAL_ID", "HAS_PERMS_BY_NAME")):  # NULL: no such user
                text = m.group(0)
                name = text[text.index("'") + 1 :].split("'", 1)[0]
                may = security.may_impersonate(self, name)
                if word.startswith("DATABASE_PRINCIPAL_ID"):
                    return "NULL" if may is None else str(5 + sorted(self.principals).index(name.lower()))
                return "NULL" if may is None else str(int(may))
            if word.startswith("DB_NAME"):
                return f"N'{self.database}'"
            return "sys.fn_my_permissions_database"

        return self._FUNCS.sub(value, sql)
