"""`OAuthStore` in one SQLite file (OAUTH_STORE_PATH), so sign-in survives a restart.

WAL mode lets `mssql-mcp users ...` write while the server reads. Every method is one statement or one
short transaction under a lock; the single-use checks (`use_code`, `use_refresh`) are a conditional
UPDATE whose row count says who won, so two concurrent redemptions cannot both succeed. The throttle's
reserve-or-refuse runs in one `BEGIN IMMEDIATE` transaction, which takes the file's write lock first, so
it is atomic across every process that shares the file (both faces, several workers).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mssql_mcp.oauth.sqlite_people import PEOPLE_SCHEMA, SqlitePeople
from mssql_mcp.oauth.store import (
    THROTTLE_FORGET_AFTER,
    ClientRecord,
    CodeRecord,
    PendingRecord,
    ThrottleSlot,
    TokenRecord,
    UserRecord,
    throttle_delay,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY, info_json TEXT NOT NULL, secret_hash TEXT, created_at REAL NOT NULL,
    dynamic INTEGER NOT NULL DEFAULT 0, signed_in_at REAL);
CREATE TABLE IF NOT EXISTS pending (
    key_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, params_json TEXT NOT NULL, expires_at REAL NOT NULL,
    username TEXT, browser_hash TEXT);
CREATE TABLE IF NOT EXISTS codes (
    code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, username TEXT NOT NULL, scopes TEXT NOT NULL,
    code_challenge TEXT NOT NULL, redirect_uri TEXT NOT NULL, redirect_uri_explicit INTEGER NOT NULL,
    resource TEXT NOT NULL, expires_at REAL NOT NULL, family_id TEXT NOT NULL, used_at REAL);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    client_id TEXT NOT NULL, username TEXT NOT NULL, scopes TEXT NOT NULL, resource TEXT NOT NULL,
    expires_at REAL NOT NULL, family_id TEXT NOT NULL, created_at REAL NOT NULL, used_at REAL, revoked_at REAL);
CREATE INDEX IF NOT EXISTS tokens_family ON tokens (family_id);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens (username);
CREATE INDEX IF NOT EXISTS tokens_client ON tokens (client_id);
CREATE TABLE IF NOT EXISTS throttle (
    key TEXT PRIMARY KEY, attempts INTEGER NOT NULL, blocked_until REAL NOT NULL, seen_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rates (key TEXT PRIMARY KEY, window_start REAL NOT NULL, hits INTEGER NOT NULL);
"""

# Columns added to `clients` after the first release: (name, definition). Clients that existed before
# are taken as dynamically registered; those that ever got a token as signed in.
_CLIENT_COLUMNS = (("dynamic", "INTEGER NOT NULL DEFAULT 0"), ("signed_in_at", "REAL"))
_MIGRATE_CLIENTS = """
UPDATE clients SET dynamic = 1;
UPDATE clients SET signed_in_at = (SELECT min(t.created_at) FROM tokens t WHERE t.client_id = clients.client_id);
"""
_RATE_KEEP = 86_400.0  # rate windows are at most a day: older counters are dropped

# Rows that expired this long ago are dropped; until then a replayed code or refresh token is still
# recognised as a replay (and revokes its family) rather than as an unknown value.
_KEEP_AFTER_EXPIRY = 86_400.0


class SqliteStore(SqlitePeople):
    def __init__(self, path: Path) -> None:
        self.path = path
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
            self._db.executescript(PEOPLE_SCHEMA)
            self._migrate()
        if str(path) != ":memory:":
            path.chmod(0o600)  # hashes only, but still nobody else's business

    # -- plumbing -------------------------------------------------------------------------------
    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
            return row

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding the file's write lock from its first statement (BEGIN IMMEDIATE),
        so a read-then-write inside it is atomic across processes too. Call with self._lock held."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        if {name for name, _ in _CLIENT_COLUMNS} <= self._client_columns():
            return
        with self._transaction() as db:
            have = self._client_columns()  # another process may have just done it
            missing = [(n, d) for n, d in _CLIENT_COLUMNS if n not in have]
            for name, definition in missing:
                db.execute(f"ALTER TABLE clients ADD COLUMN {name} {definition}")
            if missing:
                for statement in _MIGRATE_CLIENTS.strip().splitlines():
                    db.execute(statement)

    def _client_columns(self) -> set[str]:
        return {row["name"] for row in self._db.execute("PRAGMA table_info(clients)")}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta -----------------------------------------------------------------------------------
    def server_key(self) -> bytes:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('server_key', ?)", (secrets.token_bytes(32),))
            row = self._db.execute("SELECT value FROM meta WHERE key = 'server_key'").fetchone()
        return bytes(row["value"])

    # -- users ----------------------------------------------------------------------------------
    def get_user(self, username: str) -> UserRecord | None:
        row = self._one("SELECT * FROM users WHERE username = ?", (username,))
        return UserRecord(**dict(row)) if row else None

    def put_user(self, username: str, password_hash: str, now: float) -> bool:
        created = self._exec("INSERT OR IGNORE INTO users VALUES (?, ?, ?, ?)", (username, password_hash, now, now))
        if not created:
            self._exec(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?", (password_hash, now, username)
            )
        return bool(created)

    def delete_user(self, username: str) -> bool:
        return bool(self._exec("DELETE FROM users WHERE username = ?", (username,)))

    def list_users(self) -> list[UserRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM users ORDER BY username").fetchall()
        return [UserRecord(**dict(r)) for r in rows]

    def count_users(self) -> int:
        row = self._one("SELECT count(*) AS n FROM users")
        return int(row["n"]) if row else 0

    # -- clients --------------------------------------------------------------------------------
    def get_client(self, client_id: str) -> ClientRecord | None:
        row = self._one("SELECT * FROM clients WHERE client_id = ?", (client_id,))
        if row is None:
            return None
        d = dict(row)
        d["dynamic"] = bool(d["dynamic"])
        return ClientRecord(**d)

    def save_client(self, record: ClientRecord) -> None:
        self._exec(
            "INSERT INTO clients (client_id, info_json, secret_hash, created_at, dynamic, signed_in_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO UPDATE SET info_json = excluded.info_json, "
            "secret_hash = excluded.secret_hash, created_at = excluded.created_at, dynamic = excluded.dynamic",
            (
                record.client_id,
                record.info_json,
                record.secret_hash,
                record.created_at,
                int(record.dynamic),
                record.signed_in_at,
            ),
        )

    def count_unused_clients(self) -> int:
        row = self._one("SELECT count(*) AS n FROM clients WHERE dynamic = 1 AND signed_in_at IS NULL")
        return int(row["n"]) if row else 0

    def purge_unused_clients(self, before: float, now: float) -> int:
        return self._exec(
            "DELETE FROM clients WHERE dynamic = 1 AND signed_in_at IS NULL AND created_at < ? AND NOT EXISTS "
            "(SELECT 1 FROM tokens t WHERE t.client_id = clients.client_id AND t.expires_at > ? "
            "AND t.revoked_at IS NULL)",
            (before, now),
        )

    # -- sign-in throttle and rate limits -------------------------------------------------------
    def throttle_reserve(self, slots: Sequence[ThrottleSlot], now: float) -> float:
        with self._lock, self._transaction() as db:
            wait, updates = 0.0, []
            for slot in slots:
                row = db.execute("SELECT * FROM throttle WHERE key = ?", (slot.key,)).fetchone()
                attempts = 0 if row is None or row["seen_at"] < now - THROTTLE_FORGET_AFTER else row["attempts"]
                if attempts and row["blocked_until"] > now:
                    wait = max(wait, row["blocked_until"] - now)
                updates.append((slot.key, attempts + 1, now + throttle_delay(attempts + 1, slot.free), now))
            if wait == 0.0:
                db.executemany("INSERT OR REPLACE INTO throttle VALUES (?, ?, ?, ?)", updates)
        return wait

    def throttle_release(self, slot: ThrottleSlot) -> None:
        with self._lock, self._transaction() as db:
            row = db.execute("SELECT * FROM throttle WHERE key = ?", (slot.key,)).fetchone()
            if row is not None and row["attempts"] > 0:
                attempts = row["attempts"] - 1
                until = min(row["blocked_until"], row["seen_at"] + throttle_delay(attempts, slot.free))
                db.execute(
                    "UPDATE throttle SET attempts = ?, blocked_until = ? WHERE key = ?", (attempts, until, slot.key)
                )

    def throttle_clear(self, key: str) -> None:
        self._exec("DELETE FROM throttle WHERE key = ?", (key,))

    def rate_hit(self, key: str, limit: int, window: float, now: float) -> float:
        # One statement: the upsert reads and writes the counter atomically, across processes too.
        sql = (
            "INSERT INTO rates VALUES (:key, :now, 1) ON CONFLICT (key) DO UPDATE SET "
            "window_start = CASE WHEN window_start <= :now - :window THEN :now ELSE window_start END, "
            "hits = CASE WHEN window_start <= :now - :window THEN 1 ELSE hits + 1 END "
            "RETURNING window_start, hits"
        )
        with self._lock:
            row = self._db.execute(sql, {"key": key, "now": now, "window": window}).fetchone()
        return 0.0 if row["hits"] <= limit else max(0.0, row["window_start"] + window - now)

    # -- pending sign-ins -----------------------------------------------------------------------
    def save_pending(self, record: PendingRecord) -> None:
        self._exec(
            "INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.key_hash,
                record.client_id,
                record.params_json,
                record.expires_at,
                record.username,
                record.browser_hash,
            ),
        )

    def get_pending(self, key_hash: str) -> PendingRecord | None:
        row = self._one("SELECT * FROM pending WHERE key_hash = ?", (key_hash,))
        return PendingRecord(**dict(row)) if row else None

    def mark_pending_signed_in(self, key_hash: str, username: str, browser_hash: str) -> None:
        self._exec(
            "UPDATE pending SET username = ?, browser_hash = ? WHERE key_hash = ?", (username, browser_hash, key_hash)
        )

    def take_pending(self, key_hash: str) -> PendingRecord | None:
        with self._lock:
            row = self._db.execute("DELETE FROM pending WHERE key_hash = ? RETURNING *", (key_hash,)).fetchone()
        return PendingRecord(**dict(row)) if row else None

    # -- codes ----------------------------------------------------------------------------------
    def save_code(self, r: CodeRecord) -> None:
        self._exec(
            "INSERT INTO codes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.code_hash,
                r.client_id,
                r.username,
                " ".join(r.scopes),
                r.code_challenge,
                r.redirect_uri,
                int(r.redirect_uri_explicit),
                r.resource,
                r.expires_at,
                r.family_id,
                r.used_at,
            ),
        )

    def get_code(self, code_hash: str) -> CodeRecord | None:
        row = self._one("SELECT * FROM codes WHERE code_hash = ?", (code_hash,))
        if row is None:
            return None
        d = dict(row)
        d["scopes"] = tuple(d["scopes"].split())
        d["redirect_uri_explicit"] = bool(d["redirect_uri_explicit"])
        return CodeRecord(**d)

    def use_code(self, code_hash: str, now: float) -> bool:
        sql = "UPDATE codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL"
        return bool(self._exec(sql, (now, code_hash)))

    # -- tokens ---------------------------------------------------------------------------------
    def save_token(self, r: TokenRecord) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE clients SET signed_in_at = ? WHERE client_id = ? AND signed_in_at IS NULL",
                (r.created_at, r.client_id),
            )
        self._exec(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.token_hash,
                r.kind,
                r.client_id,
                r.username,
                " ".join(r.scopes),
                r.resource,
                r.expires_at,
                r.family_id,
                r.created_at,
                r.used_at,
                r.revoked_at,
            ),
        )

    def get_token(self, token_hash: str) -> TokenRecord | None:
        row = self._one("SELECT * FROM tokens WHERE token_hash = ?", (token_hash,))
        if row is None:
            return None
        d = dict(row)
        d["scopes"] = tuple(d["scopes"].split())
        return TokenRecord(**d)

    def use_refresh(self, token_hash: str, now: float) -> bool:
        return bool(
            self._exec(
                "UPDATE tokens SET used_at = ? WHERE token_hash = ? AND kind = 'refresh' AND used_at IS NULL "
                "AND revoked_at IS NULL",
                (now, token_hash),
            )
        )

    def revoke_family(self, family_id: str, now: float) -> int:
        return self._exec(
            "UPDATE tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL", (now, family_id)
        )

    def revoke_user(self, username: str, now: float) -> int:
        return self._exec("UPDATE tokens SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL", (now, username))

    def purge(self, now: float) -> None:
        cutoff = now - _KEEP_AFTER_EXPIRY
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE expires_at < ?", (now,))
            self._db.execute("DELETE FROM codes WHERE expires_at < ?", (cutoff,))
            self._db.execute("DELETE FROM tokens WHERE expires_at < ?", (cutoff,))
            self._db.execute(
                "DELETE FROM throttle WHERE seen_at < ? AND blocked_until < ?", (now - THROTTLE_FORGET_AFTER, now)
            )
            self._db.execute("DELETE FROM rates WHERE window_start < ?", (now - _RATE_KEEP,))
