"""`mssql-mcp doctor`: check the way to SQL Server one step at a time, and say how to fix the first failure.

    driver -> DNS -> TCP -> TLS -> login -> database -> permissions -> catalog -> identity [-> as PERSON]

Each line is OK, WARN, FAIL (with the fix) or SKIP (an earlier step failed). Exit status 0 when nothing
failed. The TLS step speaks the first TDS message itself (PRELOGIN, MS-TDS 2.2.6.5) to learn whether the
server offers encryption, before any driver is involved. Secrets are never printed.
"""

from __future__ import annotations

import socket
import struct
import sys
from collections.abc import Callable
from typing import Any, TextIO

from mssql_mcp.doctor_identity import Report, check_identity, check_person
from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.settings import Settings

_ENCRYPTION = {0: "off (login only)", 1: "on", 2: "not supported", 3: "required"}


def prelogin_encryption(host: str, port: int, timeout: float, offer: int = 1) -> int:
    """Send a PRELOGIN offering encryption `offer` and return the server's ENCRYPTION answer."""
    options = [(0, bytes([0, 1, 0, 0, 0, 0])), (1, bytes([offer])), (2, b"\x00"), (3, b"\x00" * 4), (4, b"\x00")]
    offset, head, body = len(options) * 5 + 1, b"", b""
    for token, data in options:
        head += struct.pack(">BHH", token, offset + len(body), len(data))
        body += data
    payload = head + b"\xff" + body
    packet = struct.pack(">BBHHBB", 0x12, 0x01, len(payload) + 8, 0, 1, 0) + payload
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(packet)
        data = b""
        while len(data) < 8 or len(data) < struct.unpack(">H", data[2:4])[0]:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the connection during PRELOGIN")
            data += chunk
    reply = data[8 : struct.unpack(">H", data[2:4])[0]]
    pos = 0
    while reply[pos] != 0xFF:
        token, at, length = struct.unpack(">BHH", reply[pos : pos + 5])
        if token == 1 and length:
            return int(reply[at])
        pos += 5
    raise ConnectionError("the server's PRELOGIN reply has no ENCRYPTION option")


def run_doctor(settings: Settings, out: TextIO | None = None, *, as_person: str | None = None) -> int:
    """Check every step; `as_person` also checks that one person's database user can be impersonated."""
    report = Report(out or sys.stdout)
    if not settings.uses_mssql:
        report.line("OK", "database", f"embedded SQLite at {settings.sqlite_path} (MSSQL_HOST is not set)")
        return 0
    return _check_mssql(settings, report, as_person)


def _check_mssql(settings: Settings, report: Report, as_person: str | None) -> int:
    from mssql_mcp.db.drivers import ensure_driver
    from mssql_mcp.db.mssql_conn import connect_error, connection_string, parse_host

    try:
        driver = ensure_driver(settings.mssql_driver)
    except MssqlMcpError as exc:
        report.line("FAIL", "driver", exc.message)
        return report.skip("dns", "tcp", "tls", "login", "database", "permissions", "catalog")
    report.line("OK", "driver", f"{driver.name} ({driver.source}: {driver.library})")
    timeout = float(settings.mssql_login_timeout)
    port = 1433
    if settings.mssql_connection_string is None:
        assert settings.mssql_host is not None
        target = parse_host(settings.mssql_host, settings.mssql_port)
        port = target.port or 1433
        try:
            addresses = sorted({str(a[4][0]) for a in socket.getaddrinfo(target.host, port, type=socket.SOCK_STREAM)})
            report.line("OK", "dns", f"{target.host} -> {', '.join(addresses)}")
        except OSError as exc:
            report.line("FAIL", "dns", f"cannot resolve {target.host}: {exc}", "check MSSQL_HOST")
            return report.skip("tcp", "tls", "login", "database", "permissions", "catalog")
        if target.instance and not target.port:
            report.line(
                "SKIP",
                "tcp",
                f"named instance {target.instance}: the port comes from SQL Browser "
                "(UDP 1434); set MSSQL_PORT to check it here",
            )
            report.line("SKIP", "tls", "needs the TCP port")
        elif not _tcp_and_tls(settings, report, target.host, port, timeout):
            return report.skip("login", "database", "permissions", "catalog")
    else:
        for step in ("dns", "tcp", "tls"):
            report.line("SKIP", step, "MSSQL_CONNECTION_STRING is set: the login step checks the way there")
    import pyodbc

    try:
        conn = pyodbc.connect(connection_string(settings, driver), timeout=int(timeout), autocommit=False)
    except pyodbc.Error as exc:
        error = connect_error(exc, settings.mssql_host or "the server")
        report.line("FAIL", "login", error.message, _login_fix(error.number))
        return report.skip("database", "permissions", "catalog")
    try:
        return _inside(conn, settings, report, as_person)
    finally:
        conn.rollback()
        conn.close()


def _tcp_and_tls(settings: Settings, report: Report, host: str, port: int, timeout: float) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        report.line("OK", "tcp", f"{host}:{port} accepts connections")
    except OSError as exc:
        report.line(
            "FAIL",
            "tcp",
            f"{host}:{port}: {exc}",
            "check MSSQL_HOST/MSSQL_PORT, that SQL Server listens "
            "on TCP (SQL Server Configuration Manager) and that firewalls allow the port",
        )
        report.skip("tls")
        return False
    if settings.mssql_encrypt == "strict":
        report.line("OK", "tls", "strict (TDS 8.0): TLS comes before any TDS message; the login step checks it")
        return True
    try:
        answer = prelogin_encryption(host, port, timeout, offer=1 if settings.mssql_encrypt == "yes" else 0)
    except (OSError, ValueError, IndexError, struct.error) as exc:
        report.line("FAIL", "tls", f"no valid PRELOGIN reply from {host}:{port} ({exc}): is this SQL Server?")
        return False
    offered = _ENCRYPTION.get(answer, str(answer))
    if settings.mssql_encrypt == "yes" and answer == 2:
        report.line(
            "FAIL",
            "tls",
            "MSSQL_ENCRYPT=yes but the server does not support encryption",
            "install a certificate on SQL Server, or set MSSQL_ENCRYPT=no on a trusted network",
        )
        return False
    if settings.mssql_encrypt == "yes":
        how = (
            "certificate NOT validated (TrustServerCertificate=true)"
            if settings.trust_server_certificate
            else "the driver validates the certificate at login"
        )
        report.line("OK", "tls", f"server encryption: {offered}; {how}")
    elif answer == 3:
        report.line("FAIL", "tls", "the server requires encryption but MSSQL_ENCRYPT=no", "set MSSQL_ENCRYPT=yes")
        return False
    else:
        report.line("WARN", "tls", f"MSSQL_ENCRYPT=no: queries and results travel unencrypted (server: {offered})")
    return True


def _login_fix(number: int | None) -> str:
    if number == 18456:
        return "check MSSQL_USER / MSSQL_PASSWORD (the server log names the exact reason for 18456)"
    if number == 4060:
        return "check MSSQL_DATABASE, and that the login has a user in that database"
    return "check the TLS settings (MSSQL_ENCRYPT, TrustServerCertificate) and MSSQL_LOGIN_TIMEOUT"


def _inside(conn: Any, settings: Settings, report: Report, as_person: str | None) -> int:
    from mssql_mcp.db import mssql_catalog
    from mssql_mcp.db.mssql_perms import check_permissions

    report.line("OK", "login", f"logged in as {settings.mssql_user or 'integrated auth'}")
    step = "database"

    def attempt(fn: Callable[[], None]) -> bool:
        try:
            fn()
            return True
        except Exception as exc:
            report.line("FAIL", step, f"{type(exc).__name__}: {exc}")
            return False

    def database() -> None:
        name = conn.cursor().execute("SELECT DB_NAME()").fetchone()[0]
        if settings.mssql_database and name.lower() != settings.mssql_database.lower():
            report.line("FAIL", "database", f"connected to {name}, not {settings.mssql_database}")
        else:
            report.line("OK", "database", f"{name}")

    if not attempt(database):
        return report.skip("permissions", "catalog")
    step = "permissions"

    def permissions() -> None:
        perms = check_permissions(conn.cursor())
        if not perms.can_write:
            report.line("OK", "permissions", perms.summary())
        elif settings.read_only_mode:
            level = "FAIL" if settings.mssql_refuse_writable_login else "WARN"
            report.line(
                level,
                "permissions",
                f"{perms.summary()}; READ_ONLY_MODE relies on the gate and rollback",
                "grant only SELECT (db_datareader) to this login; see docs/read_only.md",
            )
        else:
            report.line("OK", "permissions", f"{perms.summary()} (READ_ONLY_MODE=false)")

    attempt(permissions)
    step = "catalog"

    def catalog() -> None:
        tables = mssql_catalog.list_tables(conn.cursor())
        views = sum(1 for t in tables if t.type == "VIEW")
        report.line(
            "OK" if tables else "WARN",
            "catalog",
            f"{len(tables) - views} tables and {views} views visible"
            + ("" if tables else ": grant SELECT / VIEW DEFINITION on the tables to be queried"),
        )

    attempt(catalog)
    step = "identity"
    attempt(lambda: check_identity(conn, settings, report))
    if as_person is not None:
        step = "as"
        attempt(lambda: check_person(conn, settings, report, as_person))
    return 1 if report.failed else 0
