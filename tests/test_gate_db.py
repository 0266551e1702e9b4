"""The gate and the SQLite backend together: accepted reads run and change nothing; refusals never reach it.

Each layer is also tested alone: with the gate bypassed, the read-only connection still refuses writes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from mssql_mcp import sqlgate
from mssql_mcp.app import create_app
from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.errors import InvalidArgument, MssqlMcpError, QueryError, QueryRefused
from mssql_mcp.queries import QueryService
from mssql_mcp.settings import load_settings
from tests.gate_cases import BAD_READS, FIXTURE_SQLITE, GOOD_READS

pytestmark = pytest.mark.anyio

RUNNABLE = [g.sql for g in GOOD_READS if g.sqlite]


@pytest.fixture
def fixture_db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript(FIXTURE_SQLITE)
    con.close()
    return path


def snapshot(path: Path) -> tuple[str, dict[str, int], str]:
    """The schema, every table's row count, and the file's bytes: nothing may change any of them."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        schema = "\n".join(r[0] or "" for r in con.execute("SELECT sql FROM sqlite_master ORDER BY name"))
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()
    return schema, counts, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("opened_read_only", [True, False], ids=["ro-connection", "rw-connection"])
async def test_every_accepted_read_runs_and_changes_nothing(fixture_db: Path, opened_read_only: bool) -> None:
    """Good reads run on the embedded backend (T-SQL translated); bad ones are refused before it.

    With a read-write connection underneath, the gate alone must keep the database unchanged.
    """
    before = snapshot(fixture_db)
    service = QueryService(
        SqliteDatabase(fixture_db, read_only=opened_read_only), max_rows=100, timeout=5, workers=2, read_only=True
    )
    failures = []
    try:
        for sql in RUNNABLE:
            try:
                outcome = await service.run(sql)
            except MssqlMcpError as exc:
                failures.append(f"{sql!r}: {exc.message}")
                continue
            assert outcome.kind == "read", sql
        for bad in BAD_READS:
            with pytest.raises((QueryRefused, InvalidArgument)):  # "" and ";" are empty, not refused
                await service.run(bad.sql)
    finally:
        service.close()
    assert not failures, "accepted reads that the SQLite backend failed:\n" + "\n".join(failures)
    assert snapshot(fixture_db) == before


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM Orders",
        "UPDATE Customers SET Name = 'x'",
        "DROP TABLE Orders",
        "CREATE TABLE evil (x INT)",
        "INSERT INTO Customers (CustomerID, Name) VALUES (99, 'x')",
    ],
)
def test_read_only_connection_refuses_writes_without_the_gate(fixture_db: Path, sql: str) -> None:
    before = snapshot(fixture_db)
    db = SqliteDatabase(fixture_db, read_only=True)
    try:
        with pytest.raises(QueryError, match="readonly|read-only|query_only"):
            db.execute(sql, max_rows=10, timeout=5)
        with pytest.raises(QueryError, match="read-only"):
            db.execute(sql, max_rows=10, timeout=5, write=True)
    finally:
        db.close()
    assert snapshot(fixture_db) == before


async def test_write_mode_commits_a_single_dml_statement(fixture_db: Path) -> None:
    service = QueryService(
        SqliteDatabase(fixture_db, read_only=False), max_rows=100, timeout=5, workers=2, read_only=False
    )
    try:
        outcome = await service.run("UPDATE Customers SET City = N'Zürich' WHERE CustomerID = 1")
        assert outcome.kind == "dml" and outcome.result.row_count == 1
        with pytest.raises(QueryRefused, match="ALLOW_DDL"):
            await service.run("DROP TABLE Orders")
    finally:
        service.close()
    with sqlite3.connect(fixture_db) as con:
        assert con.execute("SELECT City FROM Customers WHERE CustomerID = 1").fetchone() == ("Zürich",)
        assert con.execute("SELECT count(*) FROM Orders").fetchone() == (6,)
    con.close()


@pytest.mark.parametrize(
    ("env", "policy"),
    [
        ({}, sqlgate.Policy(user_functions=True, server_views=False)),
        (
            {"ALLOW_USER_FUNCTIONS": "false", "ALLOW_SERVER_VIEWS": "true"},
            sqlgate.Policy(user_functions=False, server_views=True),
        ),
    ],
)
async def test_the_settings_reach_the_gate(
    fixture_db: Path, tmp_path: Path, env: dict[str, str], policy: sqlgate.Policy
) -> None:
    """ALLOW_USER_FUNCTIONS and ALLOW_SERVER_VIEWS, from the environment to the query service's gate."""
    environ = {"SQLITE_PATH": str(fixture_db), "OAUTH_STORE_PATH": str(tmp_path / "oauth.sqlite"), **env}
    queries = create_app(load_settings(environ=environ, env_file=None), "claude").state.queries
    try:
        assert queries.gate_policy == policy
        udf = "SELECT dbo.fn_total(CustomerID) FROM Customers"
        server_view = "SELECT * FROM sys.dm_exec_sessions"
        with pytest.raises(MssqlMcpError) as udf_info:
            await queries.run(udf)
        with pytest.raises(MssqlMcpError) as view_info:
            await queries.run(server_view)
        # Allowed by the gate, a call still fails on SQLite (no such function or view), but not as a refusal.
        assert isinstance(udf_info.value, QueryRefused) == (not policy.user_functions)
        assert isinstance(view_info.value, QueryRefused) == (not policy.server_views)
    finally:
        queries.close()
