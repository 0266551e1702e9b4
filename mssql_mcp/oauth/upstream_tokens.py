"""The identity provider's tokens for a person, sealed at rest with authenticated encryption.

The provider's refresh token is what lets this server ask, at every refresh of ours, whether the person is
still allowed in (offboarding); its access token is what an on-behalf-of exchange would present. Both are
as powerful as a sign-in, so they never reach the store in clear: `cryptography`'s Fernet (AES-128-CBC +
HMAC-SHA256, with a timestamp) seals them, and MultiFernet takes a list of keys from UPSTREAM_TOKEN_KEYS:
the first seals, every key opens, so an operator rotates by putting a new key first and dropping the old
one once every person has signed in or refreshed since (each refresh re-seals with the first key).
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from mssql_mcp.errors import ConfigError


class TokenVault:
    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise ConfigError("UPSTREAM_TOKEN_KEYS: at least one key is needed.")
        try:
            self._fernet = MultiFernet([Fernet(part.encode()) for part in parts])
        except (ValueError, TypeError):
            # Fernet's own message would say "32 url-safe base64-encoded bytes"; ours names the setting.
            raise ConfigError(
                "UPSTREAM_TOKEN_KEYS: each key must be a Fernet key (32 random bytes, URL-safe base64; "
                "docs/identity.md shows how to make one)."
            ) from None

    def seal(self, tokens: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(tokens, separators=(",", ":")).encode()).decode()

    def open(self, sealed: str | None) -> dict[str, Any] | None:
        """The tokens, or None if nothing was sealed or no key opens it (a key was dropped too soon)."""
        if not sealed:
            return None
        try:
            value = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            return None
        return value if isinstance(value, dict) else None
