"""Settings rows: the built-in authorization server (tokens, throttles, registration)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mssql_mcp.settings.fields import Secret, setting


@dataclass(frozen=True)
class SigninRows:
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
