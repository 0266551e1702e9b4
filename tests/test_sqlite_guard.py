"""The embedded backend's authorizer, on its own: statements handed to the backend directly (the gate
bypassed, as if it had missed them) still cannot call a forbidden function or pragma, while the backend's
own catalog queries, which use pragma_table_info, keep working on the same connections."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp.db.base import TableRef
from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.db.sqlite_guard import SQLITE_FUNCTIONS, Authorizer
from mssql_mcp.errors import QueryRefused
from tests.gate_cases import FIXTURE_SQLITE


@pytest.fixture(params=[True, False], ids=["ro", "rw"])
def db(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SqliteDatabase]:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript(FIXTURE_SQLITE)
    con.close()
    database = SqliteDatabase(path, read_only=request.param, pool_size=1)  # one connection: reuse is certain
    yield database
    database.close()


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT fts3_tokenizer('simple')", "fts3_tokenizer"),
        ("SELECT load_extension('/tmp/evil.so')", "load_extension"),
        ("SELECT zeroblob(2000000000)", "zeroblob"),
        ("SELECT printf('%.*c', 2000000000, 'x')", "printf"),
        ("SELECT sqlite_version()", "sqlite_version"),
        ("SELECT Name FROM Customers WHERE LENGTH(sqlite_source_id()) > 0", "sqlite_source_id"),
        ("SELECT * FROM pragma_table_info('Customers')", "table_info"),
        ("SELECT name FROM Customers WHERE Name IN (SELECT file FROM pragma_database_list)", "database_list"),
        ("SELECT * FROM pragma_compile_options", "compile_options"),
        ("PRAGMA table_info(Customers)", "table_info"),
        ("SELECT * FROM dbstat", "dbstat"),
    ],
)
def test_a_statement_that_got_past_the_gate_still_cannot_call_it(db: SqliteDatabase, sql: str, named: str) -> None:
    with pytest.raises(QueryRefused) as info:
        db.execute(sql, max_rows=10, timeout=5)
    message = info.value.message
    assert message.startswith("Refused: the embedded SQLite database does not allow") and named in message.lower()
    assert "\n" not in message


def test_the_backends_own_catalog_queries_are_not_guarded(db: SqliteDatabase) -> None:
    """describe_table and the schema read use pragma_table_info: a refused user statement on the same
    (only) connection must not leave the authorizer behind."""
    with pytest.raises(QueryRefused):
        db.execute("SELECT * FROM pragma_table_info('Customers')", max_rows=10, timeout=5)
    detail = db.describe_table(TableRef("dbo", "Customers"))
    assert [c.name for c in detail.columns][:2] == ["CustomerID", "Name"]
    assert "customers" in db.schema().types


def test_ordinary_functions_and_what_the_translation_emits_still_run(db: SqliteDatabase) -> None:
    sql = (
        "SELECT TOP 2 UPPER(Name) + N'!' AS shout, LEN(City) AS n, LEFT(Country, 1) AS c, "
        "YEAR(GETDATE()) - YEAR(GETDATE()) AS zero, CHARINDEX('d', Name) AS pos FROM Customers ORDER BY CustomerID"
    )
    result = db.execute(sql, max_rows=10, timeout=5)
    assert result.rows == [("ADA!", 6, "U", 0, 2), ("BRUNO!", 5, "F", 0, 0)]


def test_the_authorizer_alone() -> None:
    """Straight on a connection: SQLite itself refuses while preparing, and the authorizer remembers why."""
    con = sqlite3.connect(":memory:")
    try:
        guard = Authorizer()
        con.set_authorizer(guard)
        assert con.execute("SELECT upper('a'), length('ab'), strftime('%Y', '2024-01-02')").fetchone() == (
            "A",
            2,
            "2024",
        )
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            con.execute("SELECT fts3_tokenizer('simple')")
        assert guard.refused == "the function fts3_tokenizer"
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            con.execute("ATTACH DATABASE ':memory:' AS other")
    finally:
        con.close()


def test_the_allowlist_is_sqlite_names_and_holds_nothing_dangerous() -> None:
    assert {"like", "strftime", "group_concat", "substr", "coalesce", "->>"} <= SQLITE_FUNCTIONS
    dangerous = {"load_extension", "fts3_tokenizer", "readfile", "writefile", "zeroblob", "printf", "format", "edit"}
    assert not dangerous & SQLITE_FUNCTIONS
    assert all(name == name.lower() for name in SQLITE_FUNCTIONS)
