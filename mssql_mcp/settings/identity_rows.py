"""Settings rows: who signs people in (AUTH_MODE), and whom SQL Server sees (DB_IDENTITY)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mssql_mcp.settings.fields import Secret, setting


@dataclass(frozen=True)
class IdentityRows:
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
    db_identity: Literal["service", "impersonate", "entra_obo"] = setting(
        "DB_IDENTITY",
        "service",
        "SQL Server: whose permissions a query runs with. service: the server's login, for everyone. "
        "impersonate: each person's database user (EXECUTE AS USER), mapped by DB_IDENTITY_TEMPLATE or "
        "DB_IDENTITY_MAP_FILE. entra_obo: Azure SQL sees the person's own Entra identity (on-behalf-of, "
        "ODBC Driver 18 only; DB_OBO_*). See docs/identity.md.",
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
    db_identity_cache_principals: int = setting(
        "DB_IDENTITY_CACHE_PRINCIPALS",
        16,
        "DB_IDENTITY other than service: how many database principals' catalogs and schema search indexes are "
        "kept (least recently used dropped first). Each holds what that principal sees: about 2 MiB per 1,000 "
        "tables of 10 columns (docs/identity.md).",
        group="identity",
    )
