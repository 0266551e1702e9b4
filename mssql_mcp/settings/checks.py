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
        raise ConfigError("DB_IDENTITY: impersonate needs SQL Server (MSSQL_HOST); the SQLite backend has no users.")
