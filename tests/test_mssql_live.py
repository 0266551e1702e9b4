"""Opt-in: the backend against a real SQL Server.

    MSSQL_TEST_CONNECTION_STRING="Driver={ODBC Driver 18 for SQL Server};Server=tcp:HOST,1433;Database=DB;\
UID=reader;PWD=...;Encrypt=yes" .venv/bin/pytest -m live_mssql tests/test_mssql_live.py

Without the variable every test here is skipped, and the reason is printed (pytest -ra).
Nothing is written: the statements are reads, or writes to a session temp table that is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mssql_mcp.db.base import TableRef
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.errors import QueryError, QueryTimeout, UnknownTable
from mssql_mcp.serialize import json_rows
from tests.support.live_mssql import LIVE, live_database

pytestmark = [
    pytest.mark.live_mssql,
    pytest.mark.skipif(
        not LIVE,
        reason="MSSQL_TEST_CONNECTION_STRING is not set: no real SQL Server to test "
        "against (the TDS test server covers the same paths)",
    ),
]


@pytest.fixture(scope="module")
def db() -> Iterator[MssqlDatabase]:
    assert LIVE
    database = live_database(LIVE)
    yield database
    database.close()


def test_ping_catalog_and_describe(db: MssqlDatabase) -> None:
    db.ping()
    tables = db.list_tables()
    if tables:
        detail = db.describe_table(tables[0].ref)
        assert detail.columns
    with pytest.raises(UnknownTable):
        db.describe_table(TableRef("dbo", "no_such_table_mssql_mcp"))


def test_types_are_lossless(db: MssqlDatabase) -> None:
    sql = """SELECT CAST(9007199254740993 AS bigint) AS i64,
        CAST('1234567890123456789012345678.0123456789' AS decimal(38,10)) AS dec38,
        CAST('922337203685477.5807' AS money) AS cash,
        CAST('2024-05-01T13:45:00.1234567' AS datetime2(7)) AS dt2,
        CAST('2024-05-01T13:45:00.1234567+05:30' AS datetimeoffset(7)) AS dto,
        CAST('23:59:59.9999999' AS time(7)) AS t,
        CAST('6F9619FF-8B86-D011-B42D-00C04FC964FF' AS uniqueidentifier) AS guid,
        CAST(0x00FF1080 AS varbinary(4)) AS bin, CAST(N'<a>Zürich</a>' AS xml) AS doc, CAST(1 AS bit) AS flag"""
    result = db.execute(sql, (), max_rows=1, timeout=10)
    row = dict(zip(result.columns, json_rows(result.rows)[0], strict=True))
    assert row["i64"] == "9007199254740993" and row["dec38"] == "1234567890123456789012345678.0123456789"
    assert row["cash"] == "922337203685477.5807" and row["dt2"] == "2024-05-01T13:45:00.1234567"
    assert row["dto"] == "2024-05-01T13:45:00.1234567+05:30" and row["t"] == "23:59:59.9999999"
    assert row["guid"].lower() == "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    assert row["bin"] == {"base64": "AP8QgA=="} and row["doc"] == "<a>Zürich</a>" and row["flag"] is True


def test_errors_timeouts_and_rollback(db: MssqlDatabase) -> None:
    with pytest.raises(QueryError) as info:
        db.execute("SELECT * FROM no_such_table_mssql_mcp", (), max_rows=1, timeout=10)
    assert info.value.number == 208
    with pytest.raises(QueryTimeout):
        db.execute("WAITFOR DELAY '00:00:05'", (), max_rows=1, timeout=1)
    # Below the gate, a write in read-only mode: it runs, and is rolled back with its transaction.
    db.execute("SELECT 1 AS x INTO #mssql_mcp_probe", (), max_rows=1, timeout=10, write=True)
    assert db.execute("SELECT @@TRANCOUNT", (), max_rows=1, timeout=10).rows[0][0] in (0, 1)
