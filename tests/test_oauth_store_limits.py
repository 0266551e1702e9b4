"""The store's shared limits on their own, with real SQLite files: the sign-in throttle (atomic across
processes), fixed-window rates, and the bookkeeping of clients that never completed a sign-in."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from mssql_mcp.oauth.sqlite_store import SqliteStore
from mssql_mcp.oauth.store import THROTTLE_FORGET_AFTER, ClientRecord, ThrottleSlot, TokenRecord, digest

NOW = 1_000_000.0


def _reserve_many(path: str, attempts: int, start: multiprocessing.synchronize.Barrier) -> int:
    store = SqliteStore(Path(path))
    start.wait()
    won = sum(store.throttle_reserve([ThrottleSlot("user:alice", 5)], NOW) == 0 for _ in range(attempts))
    store.close()
    return won


def test_reservations_are_atomic_across_processes(tmp_path: Path) -> None:
    """8 processes x 10 simultaneous attempts on one key: exactly `free` are let through."""
    path = tmp_path / "s.sqlite"
    SqliteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(8)
        with ctx.Pool(8) as pool:
            wins = pool.starmap(_reserve_many, [(str(path), 10, barrier)] * 8)
    assert sum(wins) == 5, wins


def test_all_slots_or_none(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    ip = ThrottleSlot("ip:203.0.113.9", 2)
    for i in range(2):
        assert store.throttle_reserve([ThrottleSlot(f"user:u{i}", 5), ip], NOW) == 0
    assert store.throttle_reserve([ThrottleSlot("user:fresh", 5), ip], NOW) == 1.0
    # The refused attempt counted nothing on the user's slot either.
    for _ in range(5):
        assert store.throttle_reserve([ThrottleSlot("user:fresh", 5)], NOW) == 0


def test_release_gives_one_attempt_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    ip = ThrottleSlot("ip:198.51.100.1", 3)
    for _ in range(3):
        assert store.throttle_reserve([ip], NOW) == 0
    assert store.throttle_reserve([ip], NOW) == 1.0
    store.throttle_release(ip)  # the last attempt was a right password: it does not count against the address
    assert store.throttle_reserve([ip], NOW) == 0
    assert store.throttle_reserve([ip], NOW) == 1.0


def test_counts_fade_after_an_hour_and_are_purged(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    slot = ThrottleSlot("user:bob", 1)
    assert store.throttle_reserve([slot], NOW) == 0
    assert store.throttle_reserve([slot], NOW) == 1.0
    later = NOW + THROTTLE_FORGET_AFTER + 1
    assert store.throttle_reserve([slot], later) == 0  # starts again from zero
    store.purge(later + THROTTLE_FORGET_AFTER + 1000)
    assert store._one("SELECT count(*) AS n FROM throttle")["n"] == 0  # type: ignore[index]


def test_rate_window(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    assert [store.rate_hit("register:a", 3, 60, NOW + i) for i in range(3)] == [0.0, 0.0, 0.0]
    assert store.rate_hit("register:a", 3, 60, NOW + 10) == 50.0
    assert store.rate_hit("register:b", 3, 60, NOW + 10) == 0.0  # another key
    assert store.rate_hit("register:a", 3, 60, NOW + 60) == 0.0  # a new window
    other = SqliteStore(tmp_path / "s.sqlite")  # a second process's connection sees the same counter
    assert [other.rate_hit("register:a", 3, 60, NOW + 61) for _ in range(3)] == [0.0, 0.0, 59.0]


def _client(store: SqliteStore, client_id: str, created: float, *, dynamic: bool = True) -> None:
    store.save_client(ClientRecord(client_id, "{}", None, created, dynamic=dynamic))


def _token(store: SqliteStore, client_id: str, created: float, expires: float) -> None:
    store.save_token(
        TokenRecord(digest(client_id + str(created)), "refresh", client_id, "u", ("mcp",), "r", expires, "f", created)
    )


def test_unused_clients_are_counted_and_purged_but_used_ones_never(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    _client(store, "old-unused", NOW - 100)
    _client(store, "new-unused", NOW)
    _client(store, "old-used", NOW - 100)
    _client(store, "first-party", NOW - 100, dynamic=False)
    _token(store, "old-used", NOW - 90, NOW - 80)  # its tokens expired long ago: still a client that signed in
    assert store.count_unused_clients() == 2
    record = store.get_client("old-used")
    assert record is not None and record.dynamic and record.signed_in_at == NOW - 90
    _client(store, "old-used", NOW - 100)  # saving it again keeps the sign-in mark
    assert store.get_client("old-used").signed_in_at == NOW - 90  # type: ignore[union-attr]

    assert store.purge_unused_clients(before=NOW - 50, now=NOW) == 1
    assert store.get_client("old-unused") is None
    assert {c for c in ("new-unused", "old-used", "first-party") if store.get_client(c)} == {
        "new-unused",
        "old-used",
        "first-party",
    }
    assert store.count_unused_clients() == 1


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
