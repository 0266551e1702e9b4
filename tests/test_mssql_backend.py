"""MssqlDatabase through the real drivers to the TDS test server: catalog, types, read-only, faults."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp.db.base import TableRef
from mssql_mcp.db.mssql import OUTAGE_MEMORY_SECONDS, MssqlDatabase
from mssql_mcp.errors import ConfigError, DatabaseUnavailable, QueryError, QueryTimeout
from mssql_mcp.serialize import json_rows
from mssql_mcp.settings import load_settings
from tests.support.tds import TdsServer
from tests.support.tds import fixtures as tds_fixtures
from tests.support.tds.fixtures import DESCRIPTIONS, TYPE_SAMPLE, DriverCase, backend_env

# The shared fixtures (tests/support/tds/fixtures.py), bound here so that pytest finds them.
case, fixture_db, server = tds_fixtures.case, tds_fixtures.fixture_db, tds_fixtures.server


def backend(server: TdsServer, case: DriverCase, **extra: str) -> MssqlDatabase:
    return MssqlDatabase(load_settings(backend_env(server, case, **extra), env_file=None))


@pytest.fixture
def db(server: TdsServer, case: DriverCase) -> Iterator[MssqlDatabase]:
    database = backend(server, case)
    yield database
    database.close()


def run(
    db: MssqlDatabase, sql: str, *params: object, max_rows: int = 100, timeout: float = 5.0, write: bool = False
) -> list[list[object]]:
    return json_rows(db.execute(sql, params, max_rows=max_rows, timeout=timeout, write=write).rows)


def test_catalog_tables_views_and_row_counts(db: MssqlDatabase) -> None:
    tables = {t.ref.qualified: t for t in db.list_tables()}
    assert set(tables) == {"dbo.Customers", "dbo.Orders", "dbo.BigCustomers", "dbo.TypeSamples"}
    assert tables["dbo.Customers"].type == "TABLE" and tables["dbo.Customers"].row_count == 3
    assert tables["dbo.BigCustomers"].type == "VIEW" and tables["dbo.BigCustomers"].row_count is None


def test_describe_types_keys_defaults_identity_descriptions(db: MssqlDatabase) -> None:
    customers = db.describe_table(TableRef("dbo", "Customers"))
    cols = {c.name: c for c in customers.columns}
    assert [c.name for c in customers.columns] == ["CustomerID", "CompanyName", "Country", "Balance", "CreatedAt"]
    assert (cols["CompanyName"].type, cols["CompanyName"].nullable) == ("nvarchar(80)", False)
    assert cols["Balance"].type == "decimal(10,2)" and cols["Balance"].nullable
    assert cols["CreatedAt"].type == "datetime2" and cols["CustomerID"].primary_key
    assert cols["Country"].default == "(('CH'))"
    assert customers.description == DESCRIPTIONS[("Customers", None)]
    assert cols["Balance"].description == DESCRIPTIONS[("Customers", "Balance")]
    orders = db.describe_table(TableRef("dbo", "Orders"))
    assert next(c for c in orders.columns if c.name == "OrderID").identity
    assert [(fk.columns, fk.references.qualified, fk.referenced_columns) for fk in orders.foreign_keys] == [
        (("CustomerID",), "dbo.Customers", ("CustomerID",))
    ]
    assert {(ix.name, ix.columns, ix.primary_key) for ix in orders.indexes} == {
        ("PK_Orders", ("OrderID",), True),
        ("IX_Orders_CustomerID", ("CustomerID",), False),
    }
    types = {c.name: c.type for c in db.describe_table(TableRef("dbo", "TypeSamples")).columns}
    assert types["dec38"] == "decimal(38,10)" and types["vbin"] == "varbinary(max)" and types["memo"] == "nvarchar(max)"


def test_information_schema_answers_like_sql_server(db: MssqlDatabase) -> None:
    tables = run(db, "SELECT TABLE_NAME, TABLE_TYPE FROM INFORMATION_SCHEMA.TABLES ORDER BY TABLE_NAME")
    assert tables[0] == ["BigCustomers", "VIEW"] and ["Customers", "BASE TABLE"] in tables
    columns = run(
        db,
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, IS_NULLABLE "
        "FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        "Customers",
    )
    assert columns[1] == ["CompanyName", "nvarchar", 80, None, "NO"]
    assert columns[3] == ["Balance", "decimal", None, 10, "YES"]


def test_every_type_is_lossless_in_json(db: MssqlDatabase) -> None:
    result = db.execute("SELECT * FROM TypeSamples ORDER BY id", (), max_rows=10, timeout=5)
    row = dict(zip(result.columns, json_rows(result.rows)[0], strict=True))
    assert row["i64"] == "9007199254740993"
    assert row["dec38"] == "1234567890123456789012345678.0123456789"
    assert row["num"] == -12345 and row["cash"] == "922337203685477.5807"  # 19 significant digits: exact text
    assert row["flag"] is True and row["ratio"] == 0.1
    assert row["dt"] == "2024-02-29T23:59:59.997000"
    assert row["dt2"] == "2024-05-01T13:45:00.1234567"
    assert row["dto"] == "2024-05-01T13:45:00.1234567+05:30"
    assert row["d"] == "0001-01-01" and row["t"] == "23:59:59.9999999"
    assert row["guid"].lower() == "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    assert row["bin"] == {"base64": "AP8QgA=="}
    assert len(row["vbin"]["base64"]) == len(__import__("base64").b64encode(bytes(range(256)) * 40))
    assert row["doc"] == '<a b="1">Zürich &amp; co</a>'
    assert row["memo"] == TYPE_SAMPLE["memo"]
    assert json_rows(result.rows)[1][1:] == [None] * (len(result.columns) - 1)


def test_row_cap_and_parameters(db: MssqlDatabase) -> None:
    result = db.execute("SELECT CustomerID FROM Customers ORDER BY CustomerID", (), max_rows=2, timeout=5)
    assert result.truncated and result.row_count == 2 and result.rows == [(1,), (2,)]
    assert run(db, "SELECT CompanyName FROM Customers WHERE CustomerID = ?", 3) == [["Café Ñandú"]]
    sample = db.sample(TableRef("dbo", "Customers"), 2, 5)
    assert sample.row_count == 2 and sample.columns[0] == "CustomerID"


def test_a_write_slipped_past_the_gate_is_rolled_back(db: MssqlDatabase, server: TdsServer, fixture_db: Path) -> None:
    # The test-only hook: call the backend directly, below the SQL gate, with a write in read-only mode.
    result = db.execute("UPDATE Customers SET CompanyName = N'hacked'", (), max_rows=10, timeout=5, write=True)
    assert result.row_count in (3, 0)  # Driver 18 and FreeTDS report DML counts differently
    assert "commit" not in server.kinds() and "rollback" in server.kinds()
    with sqlite3.connect(fixture_db) as check:
        assert "hacked" not in {r[0] for r in check.execute("SELECT CompanyName FROM Customers")}
    assert {r[0] for r in run(db, "SELECT CompanyName FROM Customers")} != {"hacked"}


def test_write_mode_commits(server: TdsServer, case: DriverCase, fixture_db: Path) -> None:
    db = backend(server, case, READ_ONLY_MODE="false")
    db.execute("UPDATE Customers SET Country = N'DE' WHERE CustomerID = 2", (), max_rows=10, timeout=5, write=True)
    db.close()
    assert "commit" in server.kinds()
    with sqlite3.connect(fixture_db) as check:
        assert check.execute("SELECT Country FROM Customers WHERE CustomerID = 2").fetchone()[0] == "DE"


def test_errors_keep_the_server_number(db: MssqlDatabase) -> None:
    with pytest.raises(QueryError) as info:
        run(db, "SELECT * FROM NoSuchTable")
    assert info.value.number == 208 and "Invalid object name 'NoSuchTable'" in info.value.message
    assert "[" not in info.value.message and "\n" not in info.value.message
    assert run(db, "SELECT 1") == [[1]]


def test_timeout_cancels_and_discards_the_connection(db: MssqlDatabase, server: TdsServer) -> None:
    run(db, "SELECT 1")
    server.faults.add("slow_marker", delay=30)
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        run(db, "SELECT 'slow_marker' AS m", timeout=1)
    assert time.monotonic() - started < 4
    assert "attention" in server.kinds() and db.pool.discarded >= 1
    assert run(db, "SELECT 2") == [[2]]


def test_dead_connection_is_replaced(db: MssqlDatabase, server: TdsServer) -> None:
    run(db, "SELECT 1")
    server.drop_connections()  # the pooled connection's socket is now closed
    assert run(db, "SELECT 2") == [[2]]
    assert db.pool.created >= 2


def test_connection_dropped_mid_result(db: MssqlDatabase, server: TdsServer) -> None:
    server.faults.add("FROM TypeSamples", drop=True, times=1)
    assert len(run(db, "SELECT id, memo FROM TypeSamples")) == 2  # retried once on a fresh connection
    server.faults.add("FROM TypeSamples", drop=True)
    with pytest.raises(DatabaseUnavailable, match="was lost"):
        run(db, "SELECT id, memo FROM TypeSamples")
    server.faults.clear()
    assert len(run(db, "SELECT id FROM TypeSamples")) == 2


def test_outage_and_recovery(db: MssqlDatabase, server: TdsServer) -> None:
    run(db, "SELECT 1")
    server.stop()
    with pytest.raises(DatabaseUnavailable) as info:
        run(db, "SELECT 1")
    assert "\n" not in info.value.message and "127.0.0.1" in info.value.message
    with pytest.raises(DatabaseUnavailable):
        db.ping()
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):  # remembered for a moment: no new dial per call during an outage
        db.ping()
    assert time.monotonic() - started < 0.5
    server.start()  # same port
    deadline = time.monotonic() + 15  # a connect that was still failing may be remembered for a moment
    while time.monotonic() < deadline:
        try:
            db.ping()
            break
        except DatabaseUnavailable:
            time.sleep(OUTAGE_MEMORY_SECONDS / 4)
    db.ping()
    assert run(db, "SELECT 3") == [[3]]


def test_wrong_password_keeps_18456(server: TdsServer, case: DriverCase) -> None:
    db = backend(server, case, MSSQL_PASSWORD="wrong")
    with pytest.raises(DatabaseUnavailable) as info:
        db.ping()
    assert info.value.number == 18456 and "MSSQL_PASSWORD" in info.value.message
    assert "wrong" not in info.value.message


def test_writable_login_warns_or_refuses(server: TdsServer, case: DriverCase, caplog: pytest.LogCaptureFixture) -> None:
    db = backend(server, case)
    db.ping()
    assert db.permissions is not None and not db.permissions.can_write
    db.close()
    server.roles.add("db_owner")
    db = backend(server, case)
    db.ping()
    assert db.permissions is not None and db.permissions.writes[:1] == ["db_owner"]
    assert any("can write" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    db.close()
    with pytest.raises(ConfigError, match="MSSQL_REFUSE_WRITABLE_LOGIN.*db_owner"):
        backend(server, case, MSSQL_REFUSE_WRITABLE_LOGIN="true")
