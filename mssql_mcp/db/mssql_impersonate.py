"""DB_IDENTITY=impersonate: one statement as the person's database user, on a pooled connection.

    EXECUTE AS USER = N'principal' WITH COOKIE INTO @cookie; SELECT @cookie   (its own batch)
    the statement (read: in the read-only transaction)
    ROLLBACK (read) | COMMIT (write)
    REVERT WITH COOKIE = 0x...                                                 (its own batch)

EXECUTE AS runs in a plain batch, not through sp_executesql: a context switch made inside dynamic SQL ends
with it. The principal comes from the mapping (identity_map.py), never from the person's SQL, and is
quoted as an N'' literal. The cookie makes the REVERT the only way back: a person's SQL that tried REVERT
would fail (and the gate refuses REVERT and EXECUTE AS before that). Whatever goes wrong between the
EXECUTE AS and a successful REVERT, the caller discards the connection, so the impersonation cannot leak
to the next request on it.
https://learn.microsoft.com/sql/t-sql/statements/execute-as-transact-sql
https://learn.microsoft.com/sql/t-sql/statements/revert-transact-sql
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from mssql_mcp.db.identity import literal
from mssql_mcp.db.mssql_conn import commit_error, lost_error, query_error
from mssql_mcp.db.mssql_pool import Lease
from mssql_mcp.errors import MssqlMcpError, QueryError

log = logging.getLogger("mssql_mcp.db.mssql")
T = TypeVar("T")


def execute_as(conn: Any, principal: str) -> bytes:
    """Become `principal` on `conn`; returns the cookie that alone can revert it."""
    cursor = conn.cursor()
    cursor.execute(
        "DECLARE @cookie varbinary(8000); "
        f"EXECUTE AS USER = {literal(principal)} WITH COOKIE INTO @cookie; "
        "SELECT @cookie AS cookie"
    )
    while cursor.description is None and cursor.nextset():
        pass
    row = cursor.fetchone()
    while cursor.nextset():
        pass
    cursor.close()
    if row is None or not row[0]:
        raise RuntimeError("EXECUTE AS returned no cookie")
    return bytes(row[0])


def revert(conn: Any, cookie: bytes) -> None:
    cursor = conn.cursor()
    cursor.execute(f"DECLARE @cookie varbinary(8000) = 0x{cookie.hex()}; REVERT WITH COOKIE = @cookie")
    while cursor.nextset():
        pass
    cursor.close()


def as_principal(
    lease: Lease, principal: str, work: Callable[[], T], *, commit: bool, errors: type[Exception], where: str
) -> T:
    """`work` as `principal`: EXECUTE AS, the work, COMMIT or ROLLBACK, REVERT, in that order.

    From the EXECUTE AS until a successful REVERT the lease counts as broken, so on any failure in between
    the connection is closed, never handed to the next person still impersonating this one. `errors` is the
    driver's error class (pyodbc's, imported only once a driver is set up)."""
    conn = lease.conn
    try:
        cookie = execute_as(conn, principal)
    except errors as exc:
        lease.broken()
        error = query_error(exc)
        raise QueryError(f"Could not query as database user {principal!r}: {error.message}", error.number) from None
    lease.broken()
    failure: MssqlMcpError | None = None
    try:
        result = work()
    except MssqlMcpError as exc:  # the statement failed (or the table is not there for this user): revert
        failure = exc
    try:
        if commit and failure is None:
            conn.commit()
        else:
            conn.rollback()
    except errors as exc:  # the lease stays broken: closing the connection reverts the person
        if commit and failure is None:
            raise commit_error(exc, where) from None
        raise lost_error(exc, where) from None
    try:
        revert(conn, cookie)
    except errors as exc:
        log.warning("REVERT failed; the connection is closed instead: %s", query_error(exc).message)
    else:
        lease.usable = lease.ended = True  # rolled back or committed above: no second ROLLBACK
    if failure is not None:
        raise failure
    return result
