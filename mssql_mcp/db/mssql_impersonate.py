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

from typing import Any

from mssql_mcp.db.identity import literal


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
