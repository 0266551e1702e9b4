"""The ODBC connection string and the mapping of driver errors to ours.

Values are brace-escaped (ODBC: `{...}` with `}` doubled), so a password holding `;`, `=` or `{` cannot
inject attributes. FreeTDS ends a braced value at the first `};` and does not undo doubled braces (seen
with FreeTDS 1.3.17), so for FreeTDS a value holding `}` is refused with a clear message instead.
The connection string holds secrets: it is never logged; `describe()` gives a safe summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mssql_mcp.db.drivers import DriverInfo
from mssql_mcp.errors import ConfigError, DatabaseUnavailable, QueryError
from mssql_mcp.settings import Settings

_NEEDS_BRACES = re.compile(r"[;{}=]|^\s|\s$")  # what would end or confuse an unbraced value
APP_NAME = "mssql-mcp"


@dataclass(frozen=True)
class Target:
    """Where the server is: host, optional port, optional named instance."""

    host: str
    port: int | None = None
    instance: str | None = None

    @property
    def display(self) -> str:
        return self.host + (f"\\{self.instance}" if self.instance else "") + (f",{self.port}" if self.port else "")


def parse_host(text: str, port: int | None = None) -> Target:
    """MSSQL_HOST as `host`, `host,port` or `host\\instance` (MSSQL_PORT wins over a port in the host)."""
    host, _, port_text = text.strip().partition(",")
    host, _, instance = host.partition("\\")
    if port_text:
        if not port_text.strip().isdigit():
            raise ConfigError(f"MSSQL_HOST: bad port in {text!r}; use host,port (e.g. db.example.com,1433).")
        port = port or int(port_text)
    if not host:
        raise ConfigError("MSSQL_HOST: no host name.")
    return Target(host.strip(), port, instance.strip() or None)


def escape(value: str, *, freetds: bool = False, name: str = "value") -> str:
    if not _NEEDS_BRACES.search(value):
        return value
    if freetds and "}" in value:
        raise ConfigError(
            f"{name}: FreeTDS cannot take a '}}' inside a connection string value; "
            "use ODBC Driver 18 or change the value."
        )
    return "{" + value.replace("}", "}}") + "}"


def connection_string(settings: Settings, driver: DriverInfo) -> str:
    if settings.mssql_connection_string is not None:
        raw = settings.mssql_connection_string.reveal().strip().rstrip(";")
        return raw if re.search(r"(^|;)\s*driver\s*=", raw, re.I) else f"Driver={{{driver.name}}};{raw}"
    assert settings.mssql_host is not None
    target = parse_host(settings.mssql_host, settings.mssql_port)
    ft = driver.is_freetds
    parts = [f"Driver={{{driver.name}}}"]
    server = target.host + (f"\\{target.instance}" if target.instance else "")
    if ft:
        parts.append(f"Server={escape(server, freetds=True, name='MSSQL_HOST')}")
        if target.port:
            parts.append(f"Port={target.port}")
        parts += ["TDS_Version=7.4", "ClientCharset=UTF-8"]
    else:
        parts.append(f"Server={escape(server + (f',{target.port}' if target.port else ''), name='MSSQL_HOST')}")
    if settings.mssql_database:
        parts.append(f"Database={escape(settings.mssql_database, freetds=ft, name='MSSQL_DATABASE')}")
    if settings.trusted_connection:
        parts.append("Trusted_Connection=yes")
    elif settings.mssql_authentication:
        if ft:
            raise ConfigError("MSSQL_AUTHENTICATION: FreeTDS has no Entra ID sign-in; use ODBC Driver 18.")
        if settings.mssql_authentication == "ActiveDirectoryDefault":
            # Driver 18.6 on Linux answers "Invalid value specified for connection string attribute
            # 'Authentication'" (tests/test_tds_drivers.py keeps checking): say so at start, not at login.
            raise ConfigError(
                "MSSQL_AUTHENTICATION: ODBC Driver 18 on Linux does not implement "
                "ActiveDirectoryDefault; use ActiveDirectoryMsi (managed identity), "
                "ActiveDirectoryServicePrincipal or ActiveDirectoryPassword."
            )
        parts.append(f"Authentication={settings.mssql_authentication}")
    if settings.mssql_user and not settings.trusted_connection:
        parts.append(f"UID={escape(settings.mssql_user, freetds=ft, name='MSSQL_USER')}")
    if settings.mssql_password is not None and not settings.trusted_connection:
        parts.append(f"PWD={escape(settings.mssql_password.reveal(), freetds=ft, name='MSSQL_PASSWORD')}")
    if ft:  # FreeTDS 1.3 names it Encryption: off | request | require
        parts.append("Encryption=" + {"yes": "require", "no": "off", "strict": "strict"}[settings.mssql_encrypt])
    else:
        parts.append(f"Encrypt={settings.mssql_encrypt}")
        if settings.trust_server_certificate:
            parts.append("TrustServerCertificate=yes")
        if settings.mssql_server_certificate is not None:
            parts.append(f"ServerCertificate={escape(str(settings.mssql_server_certificate))}")
        if settings.mssql_application_intent:
            parts.append(f"ApplicationIntent={settings.mssql_application_intent}")
    parts.append(f"APP={APP_NAME}")
    return ";".join(parts)


def describe(settings: Settings, driver: DriverInfo) -> str:
    """A one-line, secret-free summary for logs and doctor."""
    if settings.mssql_connection_string is not None:
        return f"{driver.name} (MSSQL_CONNECTION_STRING)"
    target = parse_host(settings.mssql_host or "", settings.mssql_port)
    who = "integrated auth" if settings.trusted_connection else (settings.mssql_user or "?")
    return (
        f"{driver.name} -> {target.display} database={settings.mssql_database or '(default)'} "
        f"login={who} encrypt={settings.mssql_encrypt}"
    )


# -- errors -------------------------------------------------------------------------------------

_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
_SUFFIX = re.compile(r"\s*\((\d+)\)\s*(\(SQL\w+\))?\s*$")
_LOST = {"08S01", "08S02", "08003", "08007", "01000"}
_UNREACHABLE = {"08001", "08004", "HYT00", "HYT01", "08S01"}


def _parts(exc: Exception) -> tuple[str, str, int | None]:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    state = str(args[0]) if len(args) > 1 else ""
    text = str(args[1] if len(args) > 1 else exc)
    # The driver joins several diagnostics with "; "; the first one carries the server's message.
    first = text.split("; [")[0]
    numbers = [int(n) for n in re.findall(r"\((\d+)\)", first) if int(n) != 0]
    message = _SUFFIX.sub("", _PREFIX.sub("", first.strip())).strip()
    return state, message, (numbers[-1] if numbers else None)


def is_connection_lost(exc: Exception) -> bool:
    state, message, number = _parts(exc)
    if state == "01000":  # FreeTDS: "Unexpected EOF from the server (20017)", "Write to the server failed"
        return number in (20017, 20006, 20004) or "EOF" in message
    return state in _LOST or "Communication link failure" in message or "TCP Provider" in message


def is_timeout(exc: Exception) -> bool:
    state, message, _ = _parts(exc)
    return state in ("HYT00", "HY008") or "timeout expired" in message.lower()


def connect_error(exc: Exception, where: str) -> DatabaseUnavailable:
    """An error from connecting: login failures keep 18456; everything else names the server."""
    state, message, number = _parts(exc)
    if state == "28000" or number in (18456, 18452, 18486, 18487, 18488):
        return DatabaseUnavailable(
            f"SQL Server refused the login ({number or 18456}): {message} Check MSSQL_USER and MSSQL_PASSWORD.",
            number or 18456,
        )
    if number == 4060:
        return DatabaseUnavailable(f"SQL Server error 4060: {message} Check MSSQL_DATABASE.", 4060)
    if "SSL" in message or "certificate" in message.lower() or "encrypt" in message.lower():
        return DatabaseUnavailable(
            f"TLS with SQL Server at {where} failed: {message} (MSSQL_ENCRYPT, TrustServerCertificate)", number
        )
    return DatabaseUnavailable(f"Cannot connect to SQL Server at {where}: {message or state}", number)


def query_error(exc: Exception) -> QueryError:
    _state, message, number = _parts(exc)
    return QueryError(message, number)


def lost_error(exc: Exception, where: str) -> DatabaseUnavailable:
    _state, message, number = _parts(exc)
    return DatabaseUnavailable(f"Connection to SQL Server at {where} was lost: {message}", number)


def commit_error(exc: Exception, where: str) -> DatabaseUnavailable | QueryError:
    """A COMMIT that failed: the write is not done, and the message says so in our words."""
    _state, message, number = _parts(exc)
    if number is None or is_connection_lost(exc):
        # The link died under the COMMIT. SQL Server rolls back the transaction of a connection that ends,
        # but a COMMIT that reached it just before cannot be ruled out from here.
        return DatabaseUnavailable(
            f"The write was not committed: the connection to SQL Server at {where} failed during COMMIT. "
            "SQL Server rolls back the transaction of a lost connection; check before repeating the write, "
            "in case the COMMIT had already reached it.",
            number,
        )
    return QueryError(f"The write was not committed: {message}", number)
