"""The people table of `SqliteStore` (the `OAuthStore` methods for PersonRecord), as a mixin so the store
module stays one idea per file. The upstream tokens are stored sealed: this file never sees them in clear."""

from __future__ import annotations

import json
import sqlite3
import threading

from mssql_mcp.oauth.store import PersonRecord

PEOPLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    key TEXT PRIMARY KEY, issuer TEXT NOT NULL, subject TEXT NOT NULL, email TEXT, name TEXT NOT NULL,
    groups_json TEXT NOT NULL, created_at REAL NOT NULL, seen_at REAL NOT NULL, blocked_at REAL, upstream TEXT);
"""


class SqlitePeople:
    _db: sqlite3.Connection
    _lock: threading.Lock

    def get_person(self, key: str) -> PersonRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM people WHERE key = ?", (key,)).fetchone()
        return _person(row) if row else None

    def save_person(self, r: PersonRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO people VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "email = excluded.email, name = excluded.name, groups_json = excluded.groups_json, "
                "seen_at = excluded.seen_at, upstream = excluded.upstream",
                (
                    r.key,
                    r.issuer,
                    r.subject,
                    r.email,
                    r.name,
                    json.dumps(list(r.groups)),
                    r.created_at,
                    r.seen_at,
                    r.blocked_at,
                    r.upstream,
                ),
            )

    def list_people(self) -> list[PersonRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM people ORDER BY key").fetchall()
        return [_person(r) for r in rows]

    def block_person(self, key: str, blocked_at: float | None) -> bool:
        with self._lock:
            return bool(self._db.execute("UPDATE people SET blocked_at = ? WHERE key = ?", (blocked_at, key)).rowcount)

    def save_upstream_tokens(self, key: str, sealed: str | None) -> None:
        with self._lock:
            self._db.execute("UPDATE people SET upstream = ? WHERE key = ?", (sealed, key))


def _person(row: sqlite3.Row) -> PersonRecord:
    d = dict(row)
    d["groups"] = tuple(json.loads(d.pop("groups_json")))
    return PersonRecord(**d)
