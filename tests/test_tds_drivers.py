"""The TDS test server against the real drivers: pyodbc with FreeTDS and with ODBC Driver 18 (plain and TLS).

These pin down what the server does for the backend's tests: typed results, RPC parameters, errors with
SQL Server numbers, transactions it records, ATTENTION on timeout, and its injected faults.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from mssql_mcp.db.drivers import ensure_driver
from tests.support.tds import TdsServer
from tests.support.tds import fixtures as tds_fixtures
from tests.support.tds.fixtures import DRIVER_CASES, DriverCase, connection_string

for _case in DRIVER_CASES:
    ensure_driver(_case.driver)  # before pyodbc's first use: registers Driver 18 from mssql-python-odbc

import pyodbc  # noqa: E402

# The shared fixtures (tests/support/tds/fixtures.py), bound here so that pytest finds them.
case, fixture_db, server = tds_fixtures.case, tds_fixtures.fixture_db, tds_fixtures.server


def connect(server: TdsServer, case: DriverCase, **kwargs: str) -> pyodbc.Connection:
    return pyodbc.connect(connection_string(server, case, **kwargs), timeout=5, autocommit=False)


def test_typed_rows_parameters_and_names(server: TdsServer, case: DriverCase) -> None:
    conn = connect(server, case)
    cur = conn.cursor()
    rows = cur.execute("SELECT CustomerID, CompanyName, Balance FROM dbo.Customers ORDER BY CustomerID").fetchall()
    assert [tuple(r) for r in rows] == [
        (1, "Zürich Alpine Outfitters AG", Decimal("1234.50")),
        (2, "Bob's Bikes", None),
        (3, "Café Ñandú", Decimal("50.00")),
    ]
    assert [d[0] for d in cur.description] == ["CustomerID", "CompanyName", "Balance"]
    row = cur.execute("SELECT CompanyName FROM Customers WHERE CustomerID = ? AND Country = ?", 3, "AR").fetchone()
    assert row[0] == "Café Ñandú"
    assert cur.execute("SELECT COUNT(*) FROM Customers").fetchone()[0] == 3
    tls = {e.detail for e in server.events if e.kind == "tls"}
    assert tls == ({"TLSv1.2"} if case.encrypt == "yes" else {"strict TLSv1.3"} if case.encrypt == "strict" else set())
    conn.close()


def test_multiple_result_sets(server: TdsServer, case: DriverCase) -> None:
    cur = connect(server, case).cursor()
    cur.execute("SELECT 1 AS a; SELECT N'two' AS b, 3 AS c")
    assert cur.fetchall()[0][0] == 1
    assert cur.nextset()
    assert [tuple(r) for r in cur.fetchall()] == [("two", 3)]
    assert not cur.nextset()


def test_errors_keep_sql_server_numbers(server: TdsServer, case: DriverCase) -> None:
    cur = connect(server, case).cursor()
    with pytest.raises(pyodbc.ProgrammingError, match=r"Invalid object name 'NoSuchTable'.*\(208\)"):
        cur.execute("SELECT * FROM NoSuchTable")
    with pytest.raises(pyodbc.Error, match=r"\(207\)"):
        cur.execute("SELECT nope FROM Customers")
    assert cur.execute("SELECT 1").fetchone()[0] == 1  # the connection survives


def test_wrong_password_and_database(server: TdsServer, case: DriverCase) -> None:
    with pytest.raises(pyodbc.Error, match=r"Login failed for user 'mcp_reader'.*18456"):
        connect(server, case, password="wrong")
    with pytest.raises(pyodbc.Error, match=r"4060"):
        connect(server, case, database="elsewhere")
    server.faults.refuse_logins = True
    with pytest.raises(pyodbc.Error, match=r"18456"):
        connect(server, case)


def test_rollback_is_recorded_and_undoes_the_write(server: TdsServer, case: DriverCase) -> None:
    conn = connect(server, case)
    cur = conn.cursor()
    cur.execute("UPDATE Customers SET CompanyName = N'hacked'")
    assert cur.rowcount == 3
    conn.rollback()
    assert "commit" not in server.kinds() and "rollback" in server.kinds()
    names = {r[0] for r in connect(server, case).cursor().execute("SELECT CompanyName FROM Customers")}
    assert "hacked" not in names


def test_timeout_sends_attention_and_the_connection_recovers(server: TdsServer, case: DriverCase) -> None:
    conn = connect(server, case)
    conn.timeout = 1
    cur = conn.cursor()
    started = time.monotonic()
    with pytest.raises(pyodbc.OperationalError, match="HYT00"):
        cur.execute("WAITFOR DELAY '00:00:20'")
    assert time.monotonic() - started < 5
    assert "attention" in server.kinds()
    assert conn.cursor().execute("SELECT 2").fetchone()[0] == 2


def test_drop_mid_result_is_a_communication_error(server: TdsServer, case: DriverCase) -> None:
    server.faults.add("FROM TypeSamples", drop=True)
    cur = connect(server, case).cursor()
    with pytest.raises(pyodbc.Error, match=r"08S01|Unexpected EOF from the server \(20017\)"):
        cur.execute("SELECT id, memo, vbin FROM TypeSamples").fetchall()
    assert "dropped" in server.kinds()


def test_stopped_server_refuses_connections(server: TdsServer, case: DriverCase) -> None:
    server.stop()
    with pytest.raises(pyodbc.Error, match="08001|08S01|HYT00"):
        pyodbc.connect(connection_string(server, case), timeout=2)


@pytest.mark.parametrize(
    ("mode", "known"),
    [
        ("ActiveDirectoryMsi", True),
        ("ActiveDirectoryServicePrincipal", True),
        ("ActiveDirectoryPassword", True),
        ("ActiveDirectoryDefault", False),
    ],
)
def test_driver18_entra_modes(mode: str, known: bool) -> None:
    """Which Entra modes Driver 18 knows (mssql_conn.py refuses ActiveDirectoryDefault because of this)."""
    cs = f"Driver={{ODBC Driver 18 for SQL Server}};Server=127.0.0.1,1;Authentication={mode};UID=a@b.c;PWD=x"
    with pytest.raises(pyodbc.Error) as info:
        pyodbc.connect(cs, timeout=1)
    assert ("Invalid value specified for connection string attribute 'Authentication'" in str(info.value)) != known


def test_repeated_parameterised_statement(server: TdsServer, case: DriverCase) -> None:
    cur = connect(server, case).cursor()
    sql = "SELECT CompanyName FROM Customers WHERE CustomerID = ?"
    names = [cur.execute(sql, n).fetchone()[0] for n in (1, 3, 2)]
    assert names == ["Zürich Alpine Outfitters AG", "Café Ñandú", "Bob's Bikes"]
    rpcs = [e.detail for e in server.events if e.kind == "rpc"]
    # Both drivers prepare and execute in one call each time; FreeTDS unprepares the previous handle first.
    assert rpcs.count("sp_prepexec") == 3, rpcs
    assert ("sp_unprepare" in rpcs) == (case.driver == "FreeTDS"), rpcs


def test_set_textsize_cuts_long_values_as_sql_server_does(server: TdsServer, case: DriverCase) -> None:
    cur = connect(server, case).cursor()
    query = "SELECT memo, vbin, CompanyName FROM TypeSamples, Customers WHERE id = 1 AND CustomerID = 1"
    memo, vbin, name = cur.execute(query).fetchone()
    assert len(memo) > 9000 and len(vbin) == 10240  # an ODBC login starts with no bound
    cur.execute("SET TEXTSIZE 101")
    memo, vbin, name = cur.execute(query).fetchone()
    assert memo == "Grüße 👋 " + "x" * 41  # 50 UTF-16 units: the odd byte is not sent
    assert vbin == bytes(range(101)) and name == "Zürich Alpine Outfitters AG"  # short types are not cut
    cur.execute("SET TEXTSIZE 0")  # the default, 4 KB
    assert len(cur.execute(query).fetchone()[1]) == 4096
