"""The checks a `Settings` runs when it is made: ranges, and the settings each mode needs; one line names the
setting at fault."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from mssql_mcp.errors import ConfigError

if TYPE_CHECKING:
    from mssql_mcp.settings.model import Settings


def check(s: Settings) -> None:
    _check_ranges(s)
    _check_identity(s)
    _check_db_identity(s)


def env_name(s: Settings, field_name: str) -> str:
    """The environment variable of a field (the row's own spelling, as the README table shows it)."""
    return next(str(f.metadata["env"]) for f in dataclasses.fields(s) if f.name == field_name)


_RANGES: dict[str, tuple[float, float]] = {
    "port": (1, 65535),
    "web_concurrency": (1, 64),
    "mssql_port": (1, 65535),
    "mssql_login_timeout": (1, 600),
    "max_rows": (1, 1_000_000),
    "query_timeout_seconds": (0.1, 86_400),
    "max_cell_bytes": (1024, 256 * 1024 * 1024),
    "db_workers": (1, 256),
    "db_workers_per_caller": (0, 256),
    "db_identity_cache_principals": (1, 100_000),
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
    "db_obo_max_people": (1, 10_000),
    "db_obo_connections_per_person": (1, 64),
    "db_obo_idle_seconds": (1, 86_400),
}


def _check_ranges(s: Settings) -> None:
    for name, (lo, hi) in _RANGES.items():
        value = getattr(s, name)
        if value is not None and not lo <= value <= hi:
            raise ConfigError(f"{env_name(s, name)}: {value} is out of range ({lo:g} to {hi:g}).")


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
            raise ConfigError(f"{env_name(s, name)}: required with AUTH_MODE=oidc (docs/identity.md).")
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
        raise ConfigError(
            f"DB_IDENTITY: {s.db_identity} needs SQL Server (MSSQL_HOST); the SQLite backend has no users."
        )
    if s.db_identity == "entra_obo":
        _check_obo(s)


def _check_obo(s: Settings) -> None:
    """On-behalf-of needs the person's Entra token (AUTH_MODE=oidc), an authority and a confidential client."""
    if s.auth_mode != "oidc":
        raise ConfigError("DB_IDENTITY: entra_obo needs AUTH_MODE=oidc with Microsoft Entra ID (the person's token).")
    if s.mssql_connection_string is not None:
        raise ConfigError(
            "DB_IDENTITY: entra_obo builds each person's connection from MSSQL_HOST; MSSQL_CONNECTION_STRING "
            "cannot be used with it."
        )
    authority = obo_authority(s)
    if authority is None:
        raise ConfigError("DB_OBO_AUTHORITY: required with DB_IDENTITY=entra_obo (or set OIDC_ENTRA_TENANT).")
    if not authority.startswith("https://") or len(authority.rstrip("/").split("/")) < 4:
        raise ConfigError(
            "DB_OBO_AUTHORITY: an https URL naming the tenant, e.g. https://login.microsoftonline.com/TENANT."
        )
    if not (s.db_obo_client_id or s.oidc_client_id):
        raise ConfigError("DB_OBO_CLIENT_ID: required with DB_IDENTITY=entra_obo (or set OIDC_CLIENT_ID).")
    if not (s.db_obo_client_secret or s.oidc_client_secret):
        raise ConfigError(
            "DB_OBO_CLIENT_SECRET: required with DB_IDENTITY=entra_obo (on-behalf-of needs a confidential client; "
            "or set OIDC_CLIENT_SECRET)."
        )
    if not s.db_obo_scope.startswith("https://") or " " in s.db_obo_scope.strip():
        raise ConfigError("DB_OBO_SCOPE: one https scope, e.g. https://database.windows.net/.default.")


def obo_authority(s: Settings) -> str | None:
    """The Entra authority of the on-behalf-of exchange: DB_OBO_AUTHORITY, else the tenant's own."""
    if s.db_obo_authority:
        return s.db_obo_authority.rstrip("/")
    if s.oidc_entra_tenant:
        return f"https://login.microsoftonline.com/{s.oidc_entra_tenant}"
    return None
