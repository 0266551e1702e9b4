"""What the authorization server hands out, as the SDK's models carry it, and the PKCE challenge.

The SDK's token and code models gain the person (`username`) and the grant's `family_id`: every token
rotated from one grant shares it, so a replay revokes the whole family (provider.py).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from mcp.server.auth.provider import AccessToken, AuthorizationCode, RefreshToken


class McpAccessToken(AccessToken):
    """What `request.user.access_token` holds: faces/common.py reads `username` for the audit line."""

    username: str
    family_id: str


class McpRefreshToken(RefreshToken):
    username: str
    family_id: str


class McpAuthorizationCode(AuthorizationCode):
    username: str
    family_id: str


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    resources: tuple[str, ...]  # canonical URLs of this face's MCP endpoints; the first is the default
    access_ttl: int
    refresh_ttl: int


def pkce_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
