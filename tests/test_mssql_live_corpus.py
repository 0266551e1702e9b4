"""Opt-in: the T-SQL corpus (tests/tsql_corpus/) on a real SQL Server, the same cases the embedded database
answers in tests/test_tsql_corpus.py.

    mssql-mcp demo --mssql demo.sql && sqlcmd -S HOST -d DB -i demo.sql
    MSSQL_TEST_CONNECTION_STRING="Driver={ODBC Driver 18 for SQL Server};Server=tcp:HOST,1433;Database=DB;..." \\
        .venv/bin/pytest -m live_mssql tests/test_mssql_live_corpus.py

Without the variable every test here is skipped, with the reason. Against the project's own TDS test server
the suite refuses to run: that server executes statements through our own SQLite translation, so agreeing
with it would prove nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.errors import MssqlMcpError
from tests.support.live_mssql import LIVE, live_database
from tests.test_tsql_corpus import CASES, same

TDS_TEST_SERVER = "TDS test server"  # in the @@VERSION our test server answers (tests/support/tds/server.py)
pytestmark = [
    pytest.mark.live_mssql,
    pytest.mark.skipif(not LIVE, reason="MSSQL_TEST_CONNECTION_STRING is not set: no real SQL Server to compare with"),
]


@pytest.fixture(scope="module")
def db() -> Iterator[MssqlDatabase]:
    assert LIVE
    database = live_database(LIVE)
    version = str(database.execute("SELECT @@VERSION", (), max_rows=1, timeout=10).rows[0][0])
    if TDS_TEST_SERVER in version:
        database.close()
        pytest.fail(
            "Refusing to run the corpus against the project's TDS test server: it executes T-SQL through the "
            "embedded database's own translation, so its answers are not SQL Server's."
        )
    tables = database.execute("SELECT COUNT(*) FROM sys.tables WHERE name = 'Categories'", (), max_rows=1, timeout=10)
    if not tables.rows[0][0]:
        database.close()
        pytest.skip("the demo is not loaded: run `mssql-mcp demo --mssql demo.sql` and `sqlcmd -i demo.sql` first")
    yield database
    database.close()


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']}:{c['sql'][:60]}" for c in CASES])
def test_sql_server_gives_the_corpus_answer(db: MssqlDatabase, case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(MssqlMcpError) as caught:
            db.execute(case["sql"], (), max_rows=5, timeout=30)
        assert case["error"].lower() in str(caught.value).lower()
        return
    result = db.execute(case["sql"], (), max_rows=5, timeout=30)
    if "columns" in case:
        assert list(result.columns) == case["columns"]
    row = list(result.rows[0])
    assert len(row) == len(case["expect"])
    for want, got in zip(case["expect"], row, strict=True):
        assert same(want, got), f"{case['sql']}: the corpus says {want!r}, SQL Server gives {got!r}"
