"""Settings rows: where the server listens, and the database it serves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mssql_mcp.settings.fields import Secret, setting


@dataclass(frozen=True)
class ServerRows:
    # --- server ------------------------------------------------------------------------------
    host: str = setting("HOST", "127.0.0.1", "Address to bind. Use 0.0.0.0 only behind a proxy.", group="server")
    port: int | None = setting(
        "PORT", None, "Port to bind. Unset: 8008 for the Claude face, 8009 for the ChatGPT face.", group="server"
    )
    public_url: str | None = setting(
        "PUBLIC_URL",
        None,
        "Base URL clients see, e.g. https://mcp.example.com. Unset: http://HOST:PORT. "
        "It is the OAuth issuer and the resource, and its host is allowed by the Host check.",
        group="server",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = setting(
        "LOG_LEVEL", "INFO", "Logging level. SQL text is logged only at DEBUG.", group="server"
    )
    allowed_hosts: tuple[str, ...] = setting(
        "ALLOWED_HOSTS",
        (),
        "Extra Host header values accepted (host or host:port; host:* for any port). PUBLIC_URL's host and "
        "loopback are always accepted; anything else gets 421/403 (DNS-rebinding protection).",
        group="server",
    )
    allowed_origins: tuple[str, ...] = setting(
        "ALLOWED_ORIGINS",
        (),
        "Extra browser Origins accepted (scheme://host[:port]). PUBLIC_URL's origin and loopback are always "
        "accepted; a hostile Origin gets 403.",
        group="server",
    )
    stateless_http: bool = setting(
        "STATELESS_HTTP",
        True,
        "Streamable HTTP without server-side sessions, answering with JSON bodies (faster; survives restarts "
        "and load-balancing). Set false for stateful sessions with SSE response streams.",
        group="server",
    )
    web_concurrency: int = setting(
        "WEB_CONCURRENCY",
        1,
        "Worker processes serving this face, sharing its port (uvicorn's workers). Each has its own event "
        "loop, database pool and store connections; every global limit is counted in the store, so N "
        "processes never multiply a client's tries. About one per core.",
        group="server",
    )
    forwarded_allow_ips: str = setting(
        "FORWARDED_ALLOW_IPS",
        "127.0.0.1",
        "Proxies whose X-Forwarded-* headers are trusted (uvicorn's forwarded_allow_ips).",
        group="server",
    )
    # --- database ----------------------------------------------------------------------------
    mssql_host: str | None = setting(
        "MSSQL_HOST",
        None,
        "SQL Server host: host, host,port or host\\instance. Unset: serve the embedded SQLite database.",
        group="database",
    )
    mssql_user: str | None = setting("MSSQL_USER", None, "SQL Server login.", group="database")
    mssql_password: Secret | None = setting(
        "MSSQL_PASSWORD", None, "SQL Server password.", group="database", secret=True
    )
    mssql_database: str | None = setting("MSSQL_DATABASE", None, "Database to use.", group="database")
    mssql_driver: str = setting(
        "MSSQL_DRIVER",
        "ODBC Driver 18 for SQL Server",
        "ODBC driver name: 'ODBC Driver 18 for SQL Server' or 'FreeTDS'.",
        group="database",
    )
    trust_server_certificate: bool = setting(
        "TrustServerCertificate", False, "Accept the server's TLS certificate without validation.", group="database"
    )
    trusted_connection: bool = setting(
        "Trusted_Connection", False, "Use integrated (Kerberos) authentication instead of a login.", group="database"
    )
    mssql_port: int | None = setting("MSSQL_PORT", None, "SQL Server TCP port (default 1433).", group="database")
    mssql_encrypt: Literal["yes", "no", "strict"] = setting(
        "MSSQL_ENCRYPT", "yes", "TLS: yes, no or strict (TDS 8.0). Driver 18's default is yes.", group="database"
    )
    mssql_server_certificate: Path | None = setting(
        "MSSQL_SERVER_CERTIFICATE",
        None,
        "Driver 18: the certificate file (PEM/DER) the server must present: "
        "pins a self-signed certificate, with MSSQL_ENCRYPT=yes or strict.",
        group="database",
    )
    mssql_connection_string: Secret | None = setting(
        "MSSQL_CONNECTION_STRING",
        None,
        "Raw ODBC connection string; overrides the MSSQL_* connection settings.",
        group="database",
        secret=True,
    )
    mssql_application_intent: Literal["ReadWrite", "ReadOnly"] | None = setting(
        "MSSQL_APPLICATION_INTENT", None, "ReadOnly routes to a readable secondary (Always On).", group="database"
    )
    mssql_authentication: (
        Literal[
            "ActiveDirectoryPassword", "ActiveDirectoryServicePrincipal", "ActiveDirectoryMsi", "ActiveDirectoryDefault"
        ]
        | None
    ) = setting(
        "MSSQL_AUTHENTICATION",
        None,
        "Entra ID (Azure SQL) sign-in; Driver 18 only, which "
        "lacks ActiveDirectoryDefault on Linux. ServicePrincipal: MSSQL_USER is the app id, "
        "MSSQL_PASSWORD its secret.",
        group="database",
    )
    mssql_login_timeout: int = setting(
        "MSSQL_LOGIN_TIMEOUT", 15, "Seconds to wait for a connection and login.", group="database"
    )
    mssql_refuse_writable_login: bool = setting(
        "MSSQL_REFUSE_WRITABLE_LOGIN",
        False,
        "In READ_ONLY_MODE, refuse to serve (not just warn) when the login "
        "can write (fn_my_permissions, db_owner/db_datawriter/db_ddladmin, sysadmin).",
        group="database",
    )
    sqlite_path: Path = setting(
        "SQLITE_PATH",
        Path("data/demo.sqlite"),
        "Embedded SQLite database. Served as-is if it exists; a missing file is generated as the demo.",
        group="database",
    )
