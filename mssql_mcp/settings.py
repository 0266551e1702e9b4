"""Every setting, declared once.

Each field of `Settings` is one row of the table: its environment variable, type, default and help
live together here, and everything else is derived from it: `load_settings()`, `mssql-mcp config`,
`.env.example` and the README's configuration table (`make docs`; a test keeps them in step).

Only the entrypoints and `cli.py` call `load_settings()`; the rest of the code is handed a `Settings`.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from dotenv import dotenv_values

from mssql_mcp.errors import ConfigError


class Secret:
    """A value that must never reach a log or a repr. Use `.reveal()` where the value is really needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def setting(env: str, default: Any, help: str, *, group: str, secret: bool = False) -> Any:
    """One row of the table. `default` is a Python value of the field's type."""
    meta = {"env": env, "help": help, "group": group, "secret": secret}
    if isinstance(default, list | dict):
        raise TypeError("use tuples for sequence defaults")  # frozen settings stay hashable
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
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
    # --- queries and safety ------------------------------------------------------------------
    read_only_mode: bool = setting(
        "READ_ONLY_MODE", True, "Only single SELECT statements run, and nothing is ever committed.", group="safety"
    )
    allow_ddl: bool = setting(
        "ALLOW_DDL", False, "With READ_ONLY_MODE=false, also allow DDL (CREATE, ALTER, DROP).", group="safety"
    )
    allow_user_functions: bool = setting(
        "ALLOW_USER_FUNCTIONS",
        True,
        "Allow calls of schema-qualified user-defined functions (dbo.fn_total(x)); SQL Server forbids side "
        "effects in them. false: the gate refuses them (built-in functions stay allowed).",
        group="safety",
    )
    allow_server_views: bool = setting(
        "ALLOW_SERVER_VIEWS",
        False,
        "Allow server-level views: sys.server_*, sys.dm_*, sys.sql_logins and the like, and objects in master "
        "and msdb. Off: only the current database's catalog views (sys.tables, INFORMATION_SCHEMA.*, ...).",
        group="safety",
    )
    max_rows: int = setting("MAX_ROWS", 1000, "Row cap per result; results past it say truncated.", group="safety")
    query_timeout_seconds: float = setting(
        "QUERY_TIMEOUT_SECONDS", 30.0, "Per-query timeout; the query is cancelled past it.", group="safety"
    )
    max_cell_bytes: int = setting(
        "MAX_CELL_BYTES",
        65_536,
        "Largest text or binary value one result cell carries, in bytes; a longer one is cut and marked as cut. "
        "SQL Server is asked (SET TEXTSIZE) not to send much more.",
        group="safety",
    )
    db_workers: int = setting(
        "DB_WORKERS",
        8,
        "Worker threads for database calls (the event loop never blocks on the database).",
        group="safety",
    )
    db_workers_per_caller: int = setting(
        "DB_WORKERS_PER_CALLER",
        0,
        "Most database workers one caller (a signed-in person, or a client address without sign-in) holds at "
        "once; their further calls wait their turn, up to their timeout. 0: half of DB_WORKERS.",
        group="safety",
    )
    max_statement_bytes: int = setting(
        "MAX_STATEMENT_BYTES",
        65_536,
        "Longest SQL statement accepted, in UTF-8 bytes; a longer one is refused before it is parsed.",
        group="safety",
    )
    max_result_bytes: int = setting(
        "MAX_RESULT_BYTES",
        4 * 1024 * 1024,
        "Largest result one tool call returns (rows, as JSON, estimated); past it the rows stop and the result "
        "says truncated, reason bytes.",
        group="safety",
    )
    max_value_bytes: int = setting(
        "MAX_VALUE_BYTES",
        16 * 1024 * 1024,
        "Embedded SQLite: largest string or blob a statement may read or build (SQLITE_LIMIT_LENGTH); past it "
        "the statement fails with an error that says so.",
        group="safety",
    )
    # --- sign-in -----------------------------------------------------------------------------
    allowed_redirect_hosts: tuple[str, ...] = setting(
        "ALLOWED_REDIRECT_HOSTS",
        ("claude.ai", "claude.com", "chatgpt.com"),
        "Comma-separated hosts OAuth clients may register redirect URIs on (exact match).",
        group="auth",
    )
    allow_unauth_methods: bool = setting(
        "ALLOW_UNAUTH_METHODS", False, "DEV ONLY: allow initialize and tools/list without a token.", group="auth"
    )
    allow_unauth_tools_call: bool = setting(
        "ALLOW_UNAUTH_TOOLS_CALL", False, "DEV ONLY: allow tool calls without a token.", group="auth"
    )
    allow_loopback_redirects: bool = setting(
        "ALLOW_LOOPBACK_REDIRECTS",
        False,
        "Also let clients register redirect URIs on loopback (127.0.0.1, localhost, [::1]): MCP Inspector and "
        "other local tools need it. Off on a public server.",
        group="auth",
    )
    oauth_store_path: Path = setting(
        "OAUTH_STORE_PATH",
        Path("data/oauth.sqlite"),
        "SQLite file holding users, clients, codes and tokens (tokens and secrets only as hashes).",
        group="auth",
    )
    store_url: Secret | None = setting(
        "STORE_URL",
        None,
        "Where sign-in state lives: sqlite:///PATH (relative; sqlite:////PATH absolute) or "
        "redis://[USER:PASSWORD@]HOST:PORT/DB (rediss:// for TLS; redis-py options such as socket_timeout "
        "in the query) or redis+sentinel://[USER:PASSWORD@]HOST:26379[,HOST:PORT...]/SERVICE/DB, shared by every "
        "replica and worker. Unset: sqlite:/// + OAUTH_STORE_PATH. "
        "See docs/scaling.md.",
        group="auth",
        secret=True,
    )
    access_token_ttl_seconds: int = setting(
        "ACCESS_TOKEN_TTL_SECONDS", 3600, "Lifetime of an access token.", group="auth"
    )
    refresh_token_ttl_seconds: int = setting(
        "REFRESH_TOKEN_TTL_SECONDS",
        30 * 86_400,
        "Lifetime of a refresh token. Each use rotates it; a reused one revokes its whole family.",
        group="auth",
    )
    client_id_metadata_documents: bool = setting(
        "CLIENT_ID_METADATA_DOCUMENTS",
        False,
        "Accept Client ID Metadata Documents (MCP 2025-11-25): a client_id that is an https URL whose JSON "
        "document is fetched, validated against ALLOWED_REDIRECT_HOSTS and cached.",
        group="auth",
    )
    login_free_attempts_per_user: int = setting(
        "LOGIN_FREE_ATTEMPTS_PER_USER",
        5,
        "Failed sign-ins per username before each further attempt waits (1, 2, 4 ... s, up to 15 min).",
        group="auth",
    )
    login_free_attempts_per_address: int = setting(
        "LOGIN_FREE_ATTEMPTS_PER_ADDRESS",
        20,
        "Failed sign-ins per client address before each further attempt waits, as above.",
        group="auth",
    )
    password_hash_concurrency: int = setting(
        "PASSWORD_HASH_CONCURRENCY",
        2,
        "Password checks run at once per process (argon2id takes 64 MiB each); more wait their turn.",
        group="auth",
    )
    registration_per_address_per_minute: int = setting(
        "REGISTRATION_PER_ADDRESS_PER_MINUTE",
        60,
        "Client registrations (/register) per client address per minute, counted in the store; over it, 429.",
        group="auth",
    )
    registration_max_unused_clients: int = setting(
        "REGISTRATION_MAX_UNUSED_CLIENTS",
        10_000,
        "Most registered clients that never completed a sign-in; past it, /register answers 503.",
        group="auth",
    )
    unused_client_ttl_seconds: int = setting(
        "UNUSED_CLIENT_TTL_SECONDS",
        31 * 86_400,
        "A registered client that never completed a sign-in is deleted after this long (never sooner than "
        "REFRESH_TOKEN_TTL_SECONDS).",
        group="auth",
    )
    authorize_per_address_per_minute: int = setting(
        "AUTHORIZE_PER_ADDRESS_PER_MINUTE",
        60,
        "Sign-in requests (/authorize) per client address per minute, counted in the store; over it, 429.",
        group="auth",
    )
    registration_max_bytes: int = setting(
        "REGISTRATION_MAX_BYTES", 16_384, "Largest /register request body.", group="auth"
    )
    registration_max_name_chars: int = setting(
        "REGISTRATION_MAX_NAME_CHARS", 200, "Longest client_name a client may register.", group="auth"
    )
    registration_max_redirect_uris: int = setting(
        "REGISTRATION_MAX_REDIRECT_URIS", 5, "Most redirect_uris one client may register.", group="auth"
    )
    registration_max_uri_chars: int = setting(
        "REGISTRATION_MAX_URI_CHARS", 512, "Longest redirect URI (or other URL) a client may register.", group="auth"
    )
    audit_sql: Literal["hash", "full"] = setting(
        "AUDIT_SQL",
        "hash",
        "How SQL appears in the per-call audit line: its SHA-256 (hash) or the full text (full).",
        group="auth",
    )
    # --- identity provider (AUTH_MODE=oidc) -------------------------------------------------------
    auth_mode: Literal["builtin", "oidc", "external"] = setting(
        "AUTH_MODE",
        "builtin",
        "Who signs people in: builtin (local passwords, `mssql-mcp users`), oidc (the company's OpenID "
        "Provider, docs/identity.md) or external (the company's own authorization server; this server only checks "
        "its access tokens).",
        group="identity",
    )
    oidc_issuer: str | None = setting(
        "OIDC_ISSUER",
        None,
        "AUTH_MODE=oidc: the OpenID Provider's issuer URL (its /.well-known/openid-configuration is read).",
        group="identity",
    )
    oidc_client_id: str | None = setting(
        "OIDC_CLIENT_ID", None, "AUTH_MODE=oidc: this server's client id at the provider.", group="identity"
    )
    oidc_client_secret: Secret | None = setting(
        "OIDC_CLIENT_SECRET",
        None,
        "AUTH_MODE=oidc: this server's client secret at the provider (unset: a public client, PKCE only).",
        group="identity",
        secret=True,
    )
    oidc_scopes: str = setting(
        "OIDC_SCOPES",
        "openid email profile offline_access",
        "AUTH_MODE=oidc: scopes asked of the provider (offline_access gives the refresh token that offboarding "
        "relies on; Entra: add your API's scope).",
        group="identity",
    )
    oidc_display_name: str = setting(
        "OIDC_DISPLAY_NAME", "Sign in with your company account", "The sign-in button's label.", group="identity"
    )
    oidc_name_claim: str = setting(
        "OIDC_NAME_CLAIM", "name", "The ID-token claim shown as the person's name.", group="identity"
    )
    oidc_allowed_domains: tuple[str, ...] = setting(
        "OIDC_ALLOWED_DOMAINS",
        (),
        "Comma-separated e-mail domains allowed in; only a verified e-mail counts (empty: no domain rule).",
        group="identity",
    )
    oidc_groups_claim: str = setting(
        "OIDC_GROUPS_CLAIM", "groups", "The claim holding the person's groups (or app roles: roles).", group="identity"
    )
    oidc_required_groups: tuple[str, ...] = setting(
        "OIDC_REQUIRED_GROUPS",
        (),
        "Comma-separated; a person must be in at least one of them (empty: no group rule).",
        group="identity",
    )
    oidc_entra_tenant: str | None = setting(
        "OIDC_ENTRA_TENANT",
        None,
        "Microsoft Entra ID: the tenant id (tid) every ID token must carry; people are then keyed by tid + oid. "
        "Required when OIDC_ISSUER is login.microsoftonline.com.",
        group="identity",
    )
    local_passwords: bool = setting(
        "LOCAL_PASSWORDS",
        False,
        "AUTH_MODE=oidc: also offer the local password form (break-glass accounts from `mssql-mcp users add`).",
        group="identity",
    )
    external_issuer: str | None = setting(
        "EXTERNAL_ISSUER",
        None,
        "AUTH_MODE=external: the company's authorization server (its metadata gives the JWKS URL and the "
        "introspection endpoint); the only one the protected-resource metadata names.",
        group="identity",
    )
    external_audience: str | None = setting(
        "EXTERNAL_AUDIENCE",
        None,
        "AUTH_MODE=external: the audience (aud) access tokens must carry (unset: this face's resource URL, "
        "PUBLIC_URL + prefix + /mcp).",
        group="identity",
    )
    external_required_scope: str = setting(
        "EXTERNAL_REQUIRED_SCOPE", "mcp", "AUTH_MODE=external: the scope access tokens must carry.", group="identity"
    )
    external_introspection: bool = setting(
        "EXTERNAL_INTROSPECTION",
        False,
        "AUTH_MODE=external: false checks access tokens as JWTs against the issuer's JWKS; true asks the issuer "
        "(RFC 7662 introspection) with EXTERNAL_CLIENT_ID / EXTERNAL_CLIENT_SECRET.",
        group="identity",
    )
    external_client_id: str | None = setting(
        "EXTERNAL_CLIENT_ID",
        None,
        "AUTH_MODE=external: this server's confidential client at the issuer: introspection, and the sign-in of "
        "the ChatGPT face's record pages (unset: those pages are off).",
        group="identity",
    )
    external_client_secret: Secret | None = setting(
        "EXTERNAL_CLIENT_SECRET",
        None,
        "AUTH_MODE=external: the secret of EXTERNAL_CLIENT_ID.",
        group="identity",
        secret=True,
    )
    external_introspection_cache_seconds: int = setting(
        "EXTERNAL_INTROSPECTION_CACHE_SECONDS",
        30,
        "AUTH_MODE=external with introspection: how long an answer is reused (never past the token's expiry); "
        "a token revoked at the issuer keeps working here for up to this long. 0: ask every time.",
        group="identity",
    )
    upstream_token_keys: Secret | None = setting(
        "UPSTREAM_TOKEN_KEYS",
        None,
        "AUTH_MODE=oidc: comma-separated Fernet keys encrypting the provider's stored tokens; the first "
        "encrypts, the rest still decrypt (rotation). Make one: python -c 'from cryptography.fernet import "
        "Fernet; print(Fernet.generate_key().decode())'",
        group="identity",
        secret=True,
    )
    db_identity: Literal["service", "impersonate"] = setting(
        "DB_IDENTITY",
        "service",
        "SQL Server: whose permissions a query runs with. service: the server's login, for everyone. "
        "impersonate: each person's database user (EXECUTE AS USER), mapped by DB_IDENTITY_TEMPLATE or "
        "DB_IDENTITY_MAP_FILE. See docs/identity.md.",
        group="identity",
    )
    db_identity_template: str = setting(
        "DB_IDENTITY_TEMPLATE",
        "{email}",
        "DB_IDENTITY=impersonate: the database user of a person from OIDC_ISSUER: {email} (verified), "
        "{email_local} (before the @) or {subject}. Local password accounts map only through the mapping file.",
        group="identity",
    )
    db_identity_map_file: Path | None = setting(
        "DB_IDENTITY_MAP_FILE",
        None,
        "DB_IDENTITY=impersonate: a JSON object from a person's key (a local username, or oidc:ISSUER#SUBJECT "
        "as `mssql-mcp users list` shows it) to their database user; it wins over the template.",
        group="identity",
    )
    db_identity_groups: tuple[str, ...] = setting(
        "DB_IDENTITY_GROUPS",
        (),
        "Comma-separated groups that matter to the database: when a person's groups exceed the 8,000 bytes of "
        "SQL Server's session context (mcp_groups), only these are kept and mcp_groups_truncated is set.",
        group="identity",
    )
    # --- ChatGPT face ------------------------------------------------------------------------
    max_search_results: int = setting(
        "MAX_SEARCH_RESULTS", 20, "Most results one ChatGPT search returns.", group="chatgpt"
    )
    cache_ttl_seconds: int = setting(
        "CACHE_TTL_SECONDS", 300, "How long ChatGPT query results stay cached.", group="chatgpt"
    )
    search_timeout_seconds: float = setting(
        "SEARCH_TIMEOUT_SECONDS",
        5.0,
        "Time budget of one ChatGPT keyword search; past it, the results found so far are returned.",
        group="chatgpt",
    )
    record_id_keys: Secret | None = setting(
        "RECORD_ID_KEYS",
        None,
        "Keys (comma-separated, 32+ characters each) for the MAC every ChatGPT record id carries: the first signs, "
        "all verify (rotation). Unset: a key derived from the OAuth store's, shared by replicas that share it.",
        group="chatgpt",
        secret=True,
    )

    def __post_init__(self) -> None:
        _check_ranges(self)
        _check_identity(self)
        _check_db_identity(self)

    # Derived values: computed here so every caller agrees.
    def effective_port(self, face_default: int) -> int:
        return self.port if self.port is not None else face_default

    def effective_public_url(self, face_default_port: int) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "127.0.0.1", "::") else self.host
        return f"http://{host}:{self.effective_port(face_default_port)}"

    @property
    def uses_mssql(self) -> bool:
        return bool(self.mssql_host)


_RANGES: dict[str, tuple[float, float]] = {
    "port": (1, 65535),
    "mssql_port": (1, 65535),
    "mssql_login_timeout": (1, 600),
    "max_rows": (1, 1_000_000),
    "query_timeout_seconds": (0.1, 86_400),
    "max_cell_bytes": (1024, 256 * 1024 * 1024),
    "db_workers": (1, 256),
    "db_workers_per_caller": (0, 256),
    "max_statement_bytes": (1024, 16 * 1024 * 1024),
    "max_result_bytes": (65_536, 1024 * 1024 * 1024),
    "max_value_bytes": (65_536, 1_000_000_000),
    "max_search_results": (1, 1000),
    "cache_ttl_seconds": (0, 7 * 86_400),
    "search_timeout_seconds": (0.1, 600),
    "access_token_ttl_seconds": (60, 86_400),
    "refresh_token_ttl_seconds": (300, 365 * 86_400),
    "login_free_attempts_per_user": (1, 1000),
    "login_free_attempts_per_address": (1, 100_000),
    "password_hash_concurrency": (1, 64),
    "registration_per_address_per_minute": (1, 100_000),
    "registration_max_unused_clients": (1, 10_000_000),
    "unused_client_ttl_seconds": (3600, 10 * 365 * 86_400),
    "authorize_per_address_per_minute": (1, 100_000),
    "registration_max_bytes": (1024, 1_048_576),
    "registration_max_name_chars": (1, 10_000),
    "registration_max_redirect_uris": (1, 100),
    "registration_max_uri_chars": (64, 8192),
    "external_introspection_cache_seconds": (0, 3600),
}


def _check_ranges(s: Settings) -> None:
    for name, (lo, hi) in _RANGES.items():
        value = getattr(s, name)
        if value is not None and not lo <= value <= hi:
            raise ConfigError(f"{env_name(name)}: {value} is out of range ({lo:g} to {hi:g}).")


def _check_identity(s: Settings) -> None:
    """AUTH_MODE=oidc needs its provider, its client and a key for the stored tokens; one line names what is
    missing."""
    if s.auth_mode == "external":
        _check_external(s)
        return
    if s.auth_mode != "oidc":
        return
    for name in ("oidc_issuer", "oidc_client_id", "upstream_token_keys"):
        if not getattr(s, name):
            raise ConfigError(f"{env_name(name)}: required with AUTH_MODE=oidc (docs/identity.md).")
    issuer = s.oidc_issuer or ""
    if "login.microsoftonline.com" in issuer.lower() and not s.oidc_entra_tenant:
        raise ConfigError("OIDC_ENTRA_TENANT: required for Microsoft Entra ID (the tenant id every token must carry).")
    if "openid" not in s.oidc_scopes.split():
        raise ConfigError("OIDC_SCOPES: must include openid.")


def _check_external(s: Settings) -> None:
    if not s.external_issuer:
        raise ConfigError("EXTERNAL_ISSUER: required with AUTH_MODE=external (docs/identity.md).")
    if s.external_introspection and not (s.external_client_id and s.external_client_secret):
        raise ConfigError(
            "EXTERNAL_CLIENT_ID, EXTERNAL_CLIENT_SECRET: required with EXTERNAL_INTROSPECTION=true "
            "(the issuer authenticates whoever asks)."
        )
    if not s.external_required_scope.strip() or " " in s.external_required_scope.strip():
        raise ConfigError("EXTERNAL_REQUIRED_SCOPE: one scope name, e.g. mcp.")


def _check_db_identity(s: Settings) -> None:
    """DB_IDENTITY=impersonate is SQL Server's EXECUTE AS: the embedded database has no users to become."""
    if s.db_identity != "service" and not s.uses_mssql:
        raise ConfigError("DB_IDENTITY: impersonate needs SQL Server (MSSQL_HOST); the SQLite backend has no users.")


# --------------------------------------------------------------------------------------------
# The table, as data


@dataclass(frozen=True)
class Row:
    name: str
    env: str
    type_name: str
    default: Any
    help: str
    group: str
    secret: bool


_HINTS = typing.get_type_hints(Settings)


def rows() -> Iterator[Row]:
    for f in dataclasses.fields(Settings):
        yield Row(
            name=f.name,
            env=f.metadata["env"],
            type_name=_type_name(_HINTS[f.name]),
            default=f.default,
            help=f.metadata["help"],
            group=f.metadata["group"],
            secret=f.metadata["secret"],
        )


def env_name(field_name: str) -> str:
    return next(r.env for r in rows() if r.name == field_name)


# --------------------------------------------------------------------------------------------
# Loading

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env"), **overrides: Any
) -> Settings:
    """Settings from `environ` (default: os.environ) over the `.env` file, over the defaults.

    `overrides` are field values that win over both (the CLI's flags use them). A bad value raises
    ConfigError naming the variable.
    """
    source: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        source.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    source.update(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for row in rows():
        if row.name in overrides:
            values[row.name] = overrides.pop(row.name)
        elif row.env in source:
            values[row.name] = _parse(row.env, source[row.env], _HINTS[row.name])
    if overrides:
        raise TypeError(f"unknown settings: {sorted(overrides)}")
    return Settings(**values)


def _parse(env: str, raw: str, hint: Any) -> Any:
    raw = raw.strip()
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if raw == "":
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _parse(env, raw, inner)
    try:
        if hint is bool:
            low = raw.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true/false (or yes/no, 1/0)")
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
        if hint is str:
            return raw
        if hint is Path:
            return Path(raw).expanduser()
        if hint is Secret:
            return Secret(raw)
        if origin is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if origin is Literal:
            for choice in args:
                if raw.upper() == str(choice).upper():
                    return choice
            raise ValueError(f"expected one of {', '.join(map(str, args))}")
    except ValueError as exc:
        reason = str(exc) if "expected" in str(exc) else f"expected {_type_name(hint)}"
        raise ConfigError(f"{env}: bad value {raw!r}: {reason}.") from None
    raise TypeError(f"no parser for {hint!r}")  # a programming error in the table above


def _type_name(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args if a is not type(None)) + " (optional)"
    if origin is tuple:
        return "list"
    if origin is Literal:
        return " | ".join(map(str, args))
    return {bool: "bool", int: "int", float: "float", str: "str", Path: "path", Secret: "secret"}.get(hint, str(hint))
