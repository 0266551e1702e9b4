"""Connection strings from settings: host forms, brace escaping, encryption, Entra modes, secrets kept out."""

from __future__ import annotations

from pathlib import Path

import pytest

from mssql_mcp.db.drivers import FREETDS, MS_DRIVER, DriverInfo
from mssql_mcp.db.mssql_conn import connection_string, describe, escape, parse_host
from mssql_mcp.errors import ConfigError
from mssql_mcp.settings import load_settings

MS = DriverInfo(MS_DRIVER, Path("/x/libmsodbcsql-18.so"), "system")
TDS = DriverInfo(FREETDS, Path("/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so"), "system")


def build(driver: DriverInfo = MS, **env: str) -> str:
    return connection_string(load_settings({"MSSQL_HOST": "db.example.com", **env}, env_file=None), driver)


@pytest.mark.parametrize(
    ("text", "port", "expected"),
    [
        ("db", None, ("db", None, None)),
        ("db,1444", None, ("db", 1444, None)),
        ("db\\SQLEXPRESS", None, ("db", None, "SQLEXPRESS")),
        ("db,1444", 1555, ("db", 1555, None)),
        (" db.example.com , 1433 ", None, ("db.example.com", 1433, None)),
    ],
)
def test_host_forms(text: str, port: int | None, expected: tuple[str, int | None, str | None]) -> None:
    target = parse_host(text, port)
    assert (target.host, target.port, target.instance) == expected


def test_bad_host_port_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="MSSQL_HOST"):
        parse_host("db,abc")


@pytest.mark.parametrize(
    ("value", "escaped"),
    [("plain", "plain"), ("a;b", "{a;b}"), ("p}w{d", "{p}}w{d}"), ("x=1;Driver={evil}", "{x=1;Driver={evil}}}")],
)
def test_values_are_brace_escaped(value: str, escaped: str) -> None:
    assert escape(value) == escaped


def test_driver18_string() -> None:
    cs = build(
        MSSQL_PORT="1444",
        MSSQL_USER="reader",
        MSSQL_PASSWORD="pa;ss}",
        MSSQL_DATABASE="Sales",
        TrustServerCertificate="true",
        MSSQL_APPLICATION_INTENT="ReadOnly",
    )
    assert cs == (
        "Driver={ODBC Driver 18 for SQL Server};Server=db.example.com,1444;Database=Sales;UID=reader;"
        "PWD={pa;ss}}};Encrypt=yes;TrustServerCertificate=yes;ApplicationIntent=ReadOnly;APP=mssql-mcp"
    )


def test_freetds_string_and_its_brace_limit() -> None:
    cs = build(TDS, MSSQL_HOST="db\\INST", MSSQL_PORT="1444", MSSQL_USER="r", MSSQL_PASSWORD="a;b", MSSQL_ENCRYPT="no")
    assert cs == (
        "Driver={FreeTDS};Server=db\\INST;Port=1444;TDS_Version=7.4;ClientCharset=UTF-8;UID=r;PWD={a;b};"
        "Encryption=off;APP=mssql-mcp"
    )
    with pytest.raises(ConfigError, match="MSSQL_PASSWORD: FreeTDS"):
        build(TDS, MSSQL_PASSWORD="a}b;")


@pytest.mark.parametrize("mode", ["ActiveDirectoryPassword", "ActiveDirectoryServicePrincipal", "ActiveDirectoryMsi"])
def test_entra_modes(mode: str) -> None:
    cs = build(MSSQL_HOST="srv.database.windows.net", MSSQL_AUTHENTICATION=mode, MSSQL_USER="app@contoso.com")
    assert f";Authentication={mode};" in cs and "Encrypt=yes" in cs


def test_entra_modes_the_driver_lacks_are_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="does not implement ActiveDirectoryDefault.*ActiveDirectoryMsi"):
        build(MSSQL_AUTHENTICATION="ActiveDirectoryDefault")
    with pytest.raises(ConfigError, match="FreeTDS has no Entra"):
        build(TDS, MSSQL_AUTHENTICATION="ActiveDirectoryMsi")


def test_integrated_auth_drops_the_login() -> None:
    cs = build(Trusted_Connection="yes", MSSQL_USER="u", MSSQL_PASSWORD="p")
    assert "Trusted_Connection=yes" in cs and "UID=" not in cs and "PWD=" not in cs


def test_raw_connection_string_wins_and_stays_secret() -> None:
    raw = "Server=tcp:x,1433;UID=u;PWD=secret-1"
    settings = load_settings({"MSSQL_HOST": "ignored", "MSSQL_CONNECTION_STRING": raw}, env_file=None)
    assert connection_string(settings, MS) == "Driver={ODBC Driver 18 for SQL Server};" + raw
    assert "secret-1" not in repr(settings) and "secret-1" not in describe(settings, MS)
    with_driver = load_settings(
        {"MSSQL_HOST": "h", "MSSQL_CONNECTION_STRING": "Driver={FreeTDS};Server=x"}, env_file=None
    )
    assert connection_string(with_driver, MS) == "Driver={FreeTDS};Server=x"


def test_summary_has_no_password() -> None:
    settings = load_settings({"MSSQL_HOST": "db,1433", "MSSQL_USER": "u", "MSSQL_PASSWORD": "hunter2"}, env_file=None)
    assert "hunter2" not in describe(settings, MS) and "db,1433" in describe(settings, MS)
