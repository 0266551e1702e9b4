"""Helpers for tests that talk to the TDS server: a small typed SQLite fixture and connection strings."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tds.server import TdsServer

FIXTURE_SCHEMA = """
CREATE TABLE Customers (
    CustomerID  INT PRIMARY KEY,
    CompanyName NVARCHAR(80) NOT NULL,
    Country     NVARCHAR(40) NOT NULL DEFAULT 'CH',
    Balance     DECIMAL(10,2),
    CreatedAt   DATETIME2 NOT NULL
);
CREATE TABLE Orders (
    OrderID    INT IDENTITY(1,1) PRIMARY KEY,
    CustomerID INT NOT NULL REFERENCES Customers (CustomerID),
    Total      MONEY NOT NULL
);
CREATE INDEX IX_Orders_CustomerID ON Orders (CustomerID);
CREATE VIEW BigCustomers AS SELECT CustomerID, CompanyName FROM Customers WHERE Balance > 100;
-- Every SQL Server type the backend must carry losslessly. Exact decimals and money are stored as BLOBs
-- of their text: SQLite's NUMERIC affinity would otherwise turn them into doubles (15 digits).
CREATE TABLE TypeSamples (
    id     INT PRIMARY KEY,
    i64    BIGINT,
    dec38  DECIMAL(38,10),
    num    NUMERIC(5,0),
    cash   MONEY,
    flag   BIT,
    dt     DATETIME,
    dt2    DATETIME2,
    dto    DATETIMEOFFSET,
    d      DATE,
    t      TIME,
    guid   UNIQUEIDENTIFIER,
    bin    BINARY(4),
    vbin   "VARBINARY(MAX)",
    doc    XML,
    memo   "NVARCHAR(MAX)",
    ratio  FLOAT
);
"""

TYPE_SAMPLE = {
    "i64": 9007199254740993,  # 2**53 + 1: a double cannot hold it
    "dec38": b"1234567890123456789012345678.0123456789",
    "num": b"-12345",
    "cash": b"922337203685477.5807",
    "flag": 1,
    "dt": "2024-02-29 23:59:59.997",
    "dt2": "2024-05-01 13:45:00.1234567",
    "dto": "2024-05-01 13:45:00.1234567 +05:30",
    "d": "0001-01-01",
    "t": "23:59:59.9999999",
    "guid": "6F9619FF-8B86-D011-B42D-00C04FC964FF",
    "bin": b"\x00\xff\x10\x80",
    "vbin": bytes(range(256)) * 40,
    "doc": '<a b="1">Zürich &amp; co</a>',
    "memo": "Grüße 👋 " + "x" * 9000,
    "ratio": 0.1,
}


def make_fixture_db(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(FIXTURE_SCHEMA)
    db.executemany(
        "INSERT INTO Customers VALUES (?, ?, ?, ?, ?)",
        [
            (1, "Zürich Alpine Outfitters AG", "CH", 1234.5, "2024-01-02 03:04:05.1234567"),
            (2, "Bob's Bikes", "US", None, "2024-01-03 00:00:00"),
            (3, "Café Ñandú", "AR", 50, "2024-01-04 12:00:00"),
        ],
    )
    db.executemany("INSERT INTO Orders (CustomerID, Total) VALUES (?, ?)", [(1, 10.5), (1, 99.99), (3, 0.01)])
    cols = ", ".join(TYPE_SAMPLE)
    db.execute(
        f"INSERT INTO TypeSamples (id, {cols}) VALUES (1, {', '.join('?' for _ in TYPE_SAMPLE)})",
        list(TYPE_SAMPLE.values()),
    )
    db.execute("INSERT INTO TypeSamples (id) VALUES (2)")  # all NULL
    db.commit()
    db.close()
    return path


DESCRIPTIONS = {
    ("Customers", None): "People and companies who buy from us.",
    ("Customers", "Balance"): "Open balance in CHF.",
}


@dataclass(frozen=True)
class DriverCase:
    id: str
    driver: str
    encrypt: str  # yes | no | strict
    tls: bool  # whether the server offers TLS (inside PRELOGIN, and TDS 8.0's TLS-first)


DRIVER_CASES = [
    DriverCase("freetds", "FreeTDS", "no", False),
    DriverCase("msodbc18", "ODBC Driver 18 for SQL Server", "no", False),
    DriverCase("msodbc18-tls", "ODBC Driver 18 for SQL Server", "yes", True),
    # TDS 8.0: TLS before any TDS packet; strict always validates, so the test certificate is pinned.
    DriverCase("msodbc18-strict", "ODBC Driver 18 for SQL Server", "strict", True),
]


def odbc_escape(value: str) -> str:
    return "{" + value.replace("}", "}}") + "}"


def connection_string(
    server: TdsServer, case: DriverCase, *, password: str | None = None, database: str | None = None
) -> str:
    pwd = odbc_escape(server.password if password is None else password)
    db = server.database if database is None else database
    if case.driver == "FreeTDS":
        return (
            f"Driver={{FreeTDS}};Server=127.0.0.1;Port={server.port};Database={db};UID={server.user};"
            f"PWD={pwd};TDS_Version=7.4;ClientCharset=UTF-8"
        )
    trust = {"yes": ";TrustServerCertificate=yes", "strict": f";ServerCertificate={server.cert_path}"}.get(
        case.encrypt, ""
    )
    return (
        f"Driver={{{case.driver}}};Server=127.0.0.1,{server.port};Database={db};UID={server.user};PWD={pwd};"
        f"Encrypt={case.encrypt}{trust}"
    )


def backend_env(server: TdsServer, case: DriverCase, **extra: str) -> dict[str, str]:
    """The product's settings (environment variables) for reaching `server` with `case`'s driver."""
    env = {
        "MSSQL_HOST": f"127.0.0.1,{server.port}",
        "MSSQL_USER": server.user,
        "MSSQL_PASSWORD": server.password,
        "MSSQL_DATABASE": server.database,
        "MSSQL_DRIVER": case.driver,
        "MSSQL_ENCRYPT": case.encrypt,
        "TrustServerCertificate": "true" if case.encrypt == "yes" else "false",
        "MSSQL_LOGIN_TIMEOUT": "5",
    }
    if case.encrypt == "strict":
        env["MSSQL_SERVER_CERTIFICATE"] = str(server.cert_path)
    env.update(extra)
    return env


# Fixtures shared by the driver, backend and doctor tests (imported by name into those modules).


@pytest.fixture(params=DRIVER_CASES, ids=lambda c: c.id)
def case(request: pytest.FixtureRequest) -> DriverCase:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def fixture_db(tmp_path: Path) -> Path:
    return make_fixture_db(tmp_path / "fixture.sqlite")


@pytest.fixture
def server(case: DriverCase, fixture_db: Path, tmp_path: Path) -> Iterator[TdsServer]:
    with TdsServer(fixture_db, tmp_path / "tds", tls=case.tls, descriptions=DESCRIPTIONS).running() as srv:
        yield srv


# Module-scoped variants for the MCP-server tests: one TDS server on the demo database per driver case.


@pytest.fixture(scope="module", params=DRIVER_CASES, ids=lambda c: c.id, name="case")
def module_case(request: pytest.FixtureRequest) -> DriverCase:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module", name="tds")
def demo_tds(case: DriverCase, demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TdsServer]:
    with TdsServer(demo_db, tmp_path_factory.mktemp(f"tds-{case.id}"), tls=case.tls).running() as server:
        yield server
