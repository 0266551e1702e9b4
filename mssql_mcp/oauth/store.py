"""What sign-in keeps, behind a small Protocol: users, clients, pending sign-ins, codes and tokens.

`SqliteStore` (sqlite_store.py) is the implementation; a shared store (Redis, for several replicas) can
replace it by implementing `OAuthStore`. Secrets never reach a store in clear: codes, tokens, client
secrets and pending-request ids are stored as SHA-256 digests (they are 256-bit random values, so a
fast hash is enough: RFC 6749 §10.3 asks that tokens be kept confidential in storage), and passwords
as argon2 hashes (users.py).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


def new_secret() -> str:
    """An opaque random value: 256 bits, URL-safe (RFC 6749 §10.10 asks for at least 128)."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """How a secret value is stored and looked up."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class UserRecord:
    username: str
    password_hash: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    info_json: str  # the registered metadata (OAuthClientInformationFull), client_secret removed
    secret_hash: str | None
    created_at: float
    dynamic: bool = False  # registered at /register (RFC 7591): counted, and purged if never used
    signed_in_at: float | None = None  # when a token was first issued to it (set by save_token)


@dataclass(frozen=True)
class PendingRecord:
    """An authorization request waiting for the person to sign in and consent."""

    key_hash: str
    client_id: str
    params_json: str  # the SDK's AuthorizationParams, validated by its /authorize handler
    expires_at: float
    username: str | None = None  # set once the password was right
    browser_hash: str | None = None  # digest of the CSRF cookie of the browser that signed in


@dataclass(frozen=True)
class CodeRecord:
    code_hash: str
    client_id: str
    username: str
    scopes: tuple[str, ...]
    code_challenge: str
    redirect_uri: str
    redirect_uri_explicit: bool
    resource: str
    expires_at: float
    family_id: str  # the grant: every token issued from this code shares it
    used_at: float | None = None


# -- the sign-in throttle -------------------------------------------------------------------------
# Shared by every process that uses the store. Each failed-attempt slot is reserved BEFORE the password
# is checked, atomically with the test that one is free, so a burst of concurrent attempts cannot all
# get through the "is it free?" check before any of them counts.

THROTTLE_MAX_DELAY = 900.0  # 15 minutes
THROTTLE_FORGET_AFTER = 3600.0  # a key with no attempt for this long starts again


@dataclass(frozen=True)
class ThrottleSlot:
    key: str  # e.g. "user:alice" or "ip:203.0.113.9"
    free: int  # attempts allowed before any delay


def throttle_delay(attempts: int, free: int) -> float:
    """Seconds a key must wait after its `attempts`-th counted attempt: none for the first `free`, then
    1, 2, 4, ... seconds, capped at THROTTLE_MAX_DELAY."""
    if attempts < free:
        return 0.0
    return min(2.0 ** min(attempts - free, 30), THROTTLE_MAX_DELAY)


@dataclass(frozen=True)
class PersonRecord:
    """A person signed in by the company's identity provider (AUTH_MODE=oidc): no password here.

    `key` is what their tokens carry as the username (identity.py: issuer + sub, or Entra tid + oid).
    Name, e-mail and groups are as of the last sign-in. `blocked_at` is set by `mssql-mcp users remove`
    and cleared by `users allow`. `upstream` holds the provider's tokens, sealed (upstream_tokens.py).
    """

    key: str
    issuer: str
    subject: str
    email: str | None
    name: str
    groups: tuple[str, ...]
    created_at: float
    seen_at: float
    blocked_at: float | None = None
    upstream: str | None = None


TokenKind = Literal["access", "refresh"]


@dataclass(frozen=True)
class TokenRecord:
    token_hash: str
    kind: TokenKind
    client_id: str
    username: str
    scopes: tuple[str, ...]
    resource: str
    expires_at: float
    family_id: str
    created_at: float
    used_at: float | None = None  # refresh tokens: set when rotated
    revoked_at: float | None = None


class OAuthStore(Protocol):
    """Storage for the authorization server. Each method is one atomic step."""

    # meta
    def server_key(self) -> bytes: ...  # a random key made once, for CSRF MACs

    # users
    def get_user(self, username: str) -> UserRecord | None: ...
    def put_user(self, username: str, password_hash: str, now: float) -> bool: ...  # True if created
    def delete_user(self, username: str) -> bool: ...
    def list_users(self) -> list[UserRecord]: ...
    def count_users(self) -> int: ...

    # clients
    def get_client(self, client_id: str) -> ClientRecord | None: ...
    def save_client(self, record: ClientRecord) -> None: ...  # keeps signed_in_at of an existing row
    def count_unused_clients(self) -> int: ...  # dynamic clients never issued a token
    # Delete dynamic clients created before `before` that were never issued a token and hold no live
    # token (the last is implied by the first; checked anyway). Returns how many went.
    def purge_unused_clients(self, before: float, now: float) -> int: ...

    # sign-in throttle (see ThrottleSlot)
    # Reserve one attempt on every slot at once, or on none: 0.0 if reserved, else the seconds until
    # the most-delayed slot frees. A reserved attempt counts as a failure until released. Each slot
    # counts attempts; after the k-th it is blocked for throttle_delay(k, free) seconds; a key with no
    # attempt for THROTTLE_FORGET_AFTER starts again from zero.
    def throttle_reserve(self, slots: Sequence[ThrottleSlot], now: float) -> float: ...
    def throttle_release(self, slot: ThrottleSlot) -> None: ...  # give one reserved attempt back
    def throttle_clear(self, key: str) -> None: ...  # forget a key (a right password clears its user)

    # fixed-window rate limits: count one hit on `key`; 0.0 if within `limit` hits per `window`
    # seconds, else the seconds until the window ends (the hit is then not allowed). Windows are at
    # most a day long (older counters are purged).
    def rate_hit(self, key: str, limit: int, window: float, now: float) -> float: ...

    # pending sign-ins
    def save_pending(self, record: PendingRecord) -> None: ...
    def get_pending(self, key_hash: str) -> PendingRecord | None: ...
    def mark_pending_signed_in(self, key_hash: str, username: str, browser_hash: str) -> None: ...
    def take_pending(self, key_hash: str) -> PendingRecord | None: ...  # get and delete: consent is once

    # codes
    def save_code(self, record: CodeRecord) -> None: ...
    def get_code(self, code_hash: str) -> CodeRecord | None: ...
    def use_code(self, code_hash: str, now: float) -> bool: ...  # False if it was already used

    # tokens
    def save_token(self, record: TokenRecord) -> None: ...  # also sets its client's signed_in_at if unset
    def get_token(self, token_hash: str) -> TokenRecord | None: ...
    def use_refresh(self, token_hash: str, now: float) -> bool: ...  # False if it was already rotated
    def revoke_family(self, family_id: str, now: float) -> int: ...
    def revoke_user(self, username: str, now: float) -> int: ...
    def purge(self, now: float) -> None: ...  # drop what expired long ago, and stale throttle/rate counters

    # people from the identity provider (PersonRecord)
    def get_person(self, key: str) -> PersonRecord | None: ...
    # Create, or update name/e-mail/groups/seen_at/upstream; an existing row keeps created_at and blocked_at.
    def save_person(self, record: PersonRecord) -> None: ...
    def list_people(self) -> list[PersonRecord]: ...
    def block_person(self, key: str, blocked_at: float | None) -> bool: ...  # None unblocks; False if unknown
    def save_upstream_tokens(self, key: str, sealed: str | None) -> None: ...

    def close(self) -> None: ...
