"""The people who may sign in: operator-managed, passwords hashed with argon2id.

A password is never stored or logged in clear. Checking a password against an unknown username still
runs one argon2 verification (against a throwaway hash), so response time does not reveal which
usernames exist.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mssql_mcp.errors import ConfigError
from mssql_mcp.oauth.store import OAuthStore, UserRecord

# argon2-cffi's defaults follow RFC 9106's second recommended option (argon2id, 64 MiB, t=3).
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash of a throwaway password, for checks against unknown usernames. Made on first use, not at
    import: one argon2 hash costs ~0.5 s, which every `mssql-mcp users ...` command would otherwise pay."""
    return _hasher.hash(secrets.token_urlsafe(16))


def warm_up() -> None:
    """Make the throwaway hash now. The server calls this at start, so that even its first check of an
    unknown username costs one verification, like every other, and not a hash as well."""
    _dummy_hash()


USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 takes any length; a cap keeps one request from costing much
DEMO_USER = "demo"


class UserError(ConfigError):
    """A bad username or password given to `mssql-mcp users`."""


def check_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise UserError(
            f"bad username {username!r}: 1 to 64 letters, digits or . _ @ + -, starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


class Users:
    def __init__(self, store: OAuthStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def set_password(self, username: str, password: str) -> bool:
        """Create the user or change the password; True if created. Changing it signs the user out everywhere."""
        check_username(username)
        check_password(password)
        now = self.clock()
        created = self.store.put_user(username, _hasher.hash(password), now)
        if not created:
            self.store.revoke_user(username, now)
        return created

    def remove(self, username: str) -> bool:
        """Delete the user and revoke every token issued to them."""
        removed = self.store.delete_user(username)
        self.store.revoke_user(username, self.clock())
        return removed

    def list(self) -> list[UserRecord]:
        return self.store.list_users()

    def verify(self, username: str, password: str) -> bool:
        """True if the password is right. Slow on purpose (argon2): call it off the event loop."""
        if len(password) > MAX_PASSWORD:
            return False
        user = self.store.get_user(username)
        try:
            ok = _hasher.verify(user.password_hash if user else _dummy_hash(), password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if user is None:
            return False
        if ok and _hasher.check_needs_rehash(user.password_hash):
            self.store.put_user(username, _hasher.hash(password), self.clock())
        return ok

    def ensure_demo_user(self) -> str | None:
        """If nobody can sign in yet, create user "demo" and return its one-time password."""
        if self.store.count_users() > 0:
            return None
        password = secrets.token_urlsafe(12)
        self.set_password(DEMO_USER, password)
        return password
