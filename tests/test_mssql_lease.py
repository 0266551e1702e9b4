"""The SQL Server backend's connection lease, through the real drivers to the TDS test server.

One lease per call acquires a connection, ends its transaction and releases or discards it in one place:
an error raised by the call itself (a table dropped since the catalog was read) leaves the pool whole,
and a COMMIT that dies with its link is an error, never a success.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp.db.base import TableRef
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.errors import DatabaseUnavailable, UnknownTable
from mssql_mcp.settings import load_settings
from tests.support.tds import TdsServer
from tests.support.tds import fixtures as tds_fixtures
from tests.support.tds.fixtures import DriverCase, backend_env

case, fixture_db, server = tds_fixtures.case, tds_fixtures.fixture_db, tds_fixtures.server

WORKERS = 2  # the pool holds DB_WORKERS + 2 connections


def backend(server: TdsServer, case: DriverCase, **extra: str) -> MssqlDatabase:
    env = backend_env(server, case, DB_WORKERS=str(WORKERS), **extra)
    return MssqlDatabase(load_settings(env, env_file=None))


@pytest.fixture
def db(server: TdsServer, case: DriverCase) -> Iterator[MssqlDatabase]:
    database = backend(server, case)
    yield database
    database.close()


def assert_pool_whole(db: MssqlDatabase) -> None:
    """Every connection the pool may hold can be leased at once, and each one works."""
    size = WORKERS + 2
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(db.pool.lease(wait=2)).conn for _ in range(size)]
        for conn in conns:  # a closed connection left idle would be handed out unchecked, and fail here
            assert conn.cursor().execute("SELECT 1").fetchall()[0][0] == 1
        with pytest.raises(DatabaseUnavailable, match="busy"), db.pool.lease(wait=0.2):
            pass  # the bound holds: no slot was freed twice


def test_describe_a_table_dropped_since_the_catalog_was_read(
    db: MssqlDatabase, server: TdsServer, fixture_db: Path
) -> None:
    tables = {t.ref.qualified: t.ref for t in db.list_tables()}  # what a cached catalog holds
    orders = tables["dbo.Orders"]
    with sqlite3.connect(fixture_db) as dba:
        dba.execute("DROP TABLE Orders")
    server.refresh_catalog()
    for _ in range(WORKERS + 3):  # more times than the pool has connections
        with pytest.raises(UnknownTable, match="dbo.Orders"):
            db.describe_table(orders)
    assert db.pool.discarded == 0  # a healthy connection is given back, not thrown away
    assert_pool_whole(db)
    assert db.describe_table(TableRef("dbo", "Customers")).columns[0].name == "CustomerID"


def test_a_commit_on_a_dying_link_is_an_error_and_nothing_is_written(
    server: TdsServer, case: DriverCase, fixture_db: Path
) -> None:
    db = backend(server, case, READ_ONLY_MODE="false")
    update = "UPDATE Customers SET Country = N'DE' WHERE CustomerID = 2"
    try:
        db.ping()
        server.faults.drop_on_commit = True
        with pytest.raises(DatabaseUnavailable) as info:
            db.execute(update, (), max_rows=10, timeout=5, write=True)
        message = info.value.message
        assert message.startswith("The write was not committed:") and "COMMIT" in message
        assert "[" not in message and "\n" not in message and server.password not in message
        assert "commit" not in server.kinds()  # the server never committed ...
        with sqlite3.connect(fixture_db) as check:  # ... so the row is unchanged
            assert check.execute("SELECT Country FROM Customers WHERE CustomerID = 2").fetchone()[0] == "US"
        statements = [e.detail for e in server.events if e.kind == "statement" and "UPDATE Customers" in e.detail]
        assert len(statements) == 1  # a write is never retried on its own
        server.faults.drop_on_commit = False
        assert_pool_whole(db)
        assert db.execute(update, (), max_rows=10, timeout=5, write=True).row_count in (1, 0)
        with sqlite3.connect(fixture_db) as check:
            assert check.execute("SELECT Country FROM Customers WHERE CustomerID = 2").fetchone()[0] == "DE"
    finally:
        db.close()
