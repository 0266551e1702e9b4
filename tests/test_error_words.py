"""Parse and database errors are said in the product's words, on one line, whatever the statement.

- The gate: every refusal in the case table, and every prefix of every good read (cut at each space, so
  the parser stops in every kind of place), reads without sqlglot's class names or token dumps.
- The embedded database, in write mode: constraint failures and stray placeholders are our sentences,
  not the sqlite3 module's classes (which used to reach the user as "Database call failed: IntegrityError").
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mssql_mcp import sqlgate
from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.errors import MssqlMcpError, NotOnEmbedded, QueryError, QueryRefused, UnknownTable
from tests.gate_cases import BAD_READS, GOOD_READS

LIBRARY_WORDS = ("sqlglot", "ParseError", "TokenError", "TokenType", "<class", "<Token", "sqlite3", "Error:")


def plain(message: str) -> bool:
    return "\n" not in message and not any(word in message for word in LIBRARY_WORDS)


@pytest.mark.parametrize("sql", [case.sql for case in BAD_READS], ids=range(len(BAD_READS)))
def test_every_refusal_of_the_case_table_is_plain(sql: str) -> None:
    with pytest.raises(QueryRefused) as info:
        sqlgate.check(sql)
    assert plain(info.value.message), info.value.message


def test_statements_cut_anywhere_are_refused_in_plain_words() -> None:
    seen = 0
    for case in GOOD_READS:
        words = case.sql.split(" ")
        for n in range(1, len(words)):
            prefix = " ".join(words[:n])
            try:
                sqlgate.check(prefix)
            except QueryRefused as exc:
                seen += 1
                assert plain(exc.message), (prefix, exc.message)
    assert seen > 100  # the cuts did reach the parser's error paths


@pytest.fixture
def writable(tmp_path: Path) -> SqliteDatabase:
    path = tmp_path / "w.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE Things (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INT CHECK (n > 0))")
        con.execute("INSERT INTO Things VALUES (1, 'a', 1)")
    db = SqliteDatabase(path, read_only=False)
    yield db
    db.close()


@pytest.mark.parametrize(
    ("sql", "error", "phrase"),
    [
        ("INSERT INTO Things VALUES (1, 'b', 1)", QueryError, "breaks a UNIQUE constraint (Things.id)"),
        ("INSERT INTO Things VALUES (2, 'a', 1)", QueryError, "breaks a UNIQUE constraint (Things.name)"),
        ("INSERT INTO Things VALUES (3, NULL, 1)", QueryError, "breaks a NOT NULL constraint (Things.name)"),
        ("INSERT INTO Things VALUES (4, 'd', 0)", QueryError, "breaks a CHECK constraint"),
        ("INSERT INTO Things VALUES (?, 'e', 1)", QueryError, "placeholder (?)"),
        ("UPDATE Nowhere SET a = 1", UnknownTable, "Unknown table 'Nowhere'"),
        ("SELECT * FROM sys.objects", NotOnEmbedded, "Use list_tables"),
    ],
)
def test_embedded_write_errors_are_ours(
    writable: SqliteDatabase, sql: str, error: type[MssqlMcpError], phrase: str
) -> None:
    with pytest.raises(error) as info:
        writable.execute(sql, max_rows=10, timeout=5, write=not sql.startswith("SELECT"))
    assert phrase in info.value.message and plain(info.value.message), info.value.message


def test_a_face_words_the_tools_an_error_points_to() -> None:
    names = {"list_tables": 'search "list tables"', "describe_table": 'search "describe <table>"'}
    error = UnknownTable("list_tables_x", [])
    assert error.worded(names) == error.message.replace("Use list_tables", 'Use search "list tables"')
    assert "list_tables_x" in error.worded(names)  # only the hint changes, not the name the user wrote
    assert UnknownTable("Custmers", ["dbo.Customers"]).worded(names) == (
        "Unknown table 'Custmers'. Did you mean: dbo.Customers?"
    )
    assert QueryRefused("Refused: list_tables").worded(names) == "Refused: list_tables"  # names no tool
