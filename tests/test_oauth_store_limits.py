"""What only the SQLite store does, on real files: purging stale throttle rows, the live-token check behind
the purge of unused clients, and migrating an older file. The shared behaviour (throttle, rates, clients)
is in test_store_suite.py, run against SQLite and Redis."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mssql_mcp.oauth.sqlite_store import SqliteStore
from mssql_mcp.oauth.store import THROTTLE_FORGET_AFTER, ClientRecord, ThrottleSlot, TokenRecord, digest

NOW = 1_000_000.0


def test_counts_fade_after_an_hour_and_are_purged(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    slot = ThrottleSlot("user:bob", 1)
    assert store.throttle_reserve([slot], NOW) == 0
    assert store.throttle_reserve([slot], NOW) == 1.0
    later = NOW + THROTTLE_FORGET_AFTER + 1
    assert store.throttle_reserve([slot], later) == 0  # starts again from zero
    store.purge(later + THROTTLE_FORGET_AFTER + 1000)
    assert store._one("SELECT count(*) AS n FROM throttle")["n"] == 0  # type: ignore[index]


def _client(store: SqliteStore, client_id: str, created: float, *, dynamic: bool = True) -> None:
    store.save_client(ClientRecord(client_id, "{}", None, created, dynamic=dynamic))


def _token(store: SqliteStore, client_id: str, created: float, expires: float) -> None:
    store.save_token(
        TokenRecord(digest(client_id + str(created)), "refresh", client_id, "u", ("mcp",), "r", expires, "f", created)
    )


def test_a_client_with_a_live_token_is_never_purged(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    _client(store, "c", NOW - 100)
    _token(store, "c", NOW - 10, NOW + 3600)
    store._exec("UPDATE clients SET signed_in_at = NULL")  # even if the mark were missing
    assert store.purge_unused_clients(before=NOW, now=NOW) == 0
    assert store.get_client("c") is not None


def test_an_older_store_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE clients (client_id TEXT PRIMARY KEY, info_json TEXT NOT NULL, secret_hash TEXT,
                              created_at REAL NOT NULL);
        CREATE TABLE tokens (
            token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, client_id TEXT NOT NULL, username TEXT NOT NULL,
            scopes TEXT NOT NULL, resource TEXT NOT NULL, expires_at REAL NOT NULL, family_id TEXT NOT NULL,
            created_at REAL NOT NULL, used_at REAL, revoked_at REAL);
        INSERT INTO clients VALUES ('used', '{}', NULL, 1.0), ('unused', '{}', NULL, 2.0);
        INSERT INTO tokens VALUES ('h', 'access', 'used', 'u', 'mcp', 'r', 10.0, 'f', 5.0, NULL, NULL);
        """
    )
    db.close()
    store = SqliteStore(path)
    used, unused = store.get_client("used"), store.get_client("unused")
    assert used is not None and used.dynamic and used.signed_in_at == 5.0
    assert unused is not None and unused.dynamic and unused.signed_in_at is None
    assert store.count_unused_clients() == 1
    SqliteStore(path).close()  # opening it again changes nothing
    assert store.count_unused_clients() == 1
