"""`store copy` record by record, between a real SQLite file and a real redis-server: every field of users,
clients, people and tokens arrives as it was (dates, blocks, sealed provider tokens, used and revoked marks),
long-expired tokens stay behind, a replay of a copied rotated refresh token is still caught, and copying
twice changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp.errors import ConfigError
from mssql_mcp.oauth.sqlite_store import SqliteStore
from mssql_mcp.oauth.store import ClientRecord, PersonRecord, TokenRecord, digest
from mssql_mcp.oauth.store_copy import Copied, copy_store
from mssql_mcp.oauth.store_url import open_store_url
from tests.support.redis import RedisServer

NOW = 2_000_000_000.0  # in the future of the wall clock, so "live" does not depend on when the test runs


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def _token(value: str, family: str, expires: float, **marks: float) -> TokenRecord:
    return TokenRecord(
        digest(value), "refresh", "c1", "u", ("mcp",), "https://h/mcp", expires, family, NOW - 10, **marks
    )


def test_copy_moves_every_record_whole(tmp_path: Path, redis_server: RedisServer) -> None:
    path = tmp_path / "oauth.sqlite"
    sqlite = SqliteStore(path)
    sqlite.put_user("alice", "argon-hash", NOW - 500)
    sqlite.put_user("alice", "argon-hash-2", NOW - 100)  # password changed later: both dates must survive
    sqlite.save_client(ClientRecord("c1", '{"client_name": "x"}', "secret-hash", NOW - 400, dynamic=True))
    sqlite.save_client(ClientRecord("c2", "{}", None, NOW - 300, dynamic=True))  # never signed in
    person = PersonRecord("oidc:i#1", "i", "1", "p@x.com", "P", ("g",), NOW - 50, NOW - 5, upstream="sealed")
    sqlite.save_person(person)
    sqlite.block_person("oidc:i#1", NOW - 1)
    live, used = _token("live", "f1", NOW + 60), _token("used", "f2", NOW + 60, used_at=NOW - 2)
    revoked = _token("revoked", "f3", NOW + 60, revoked_at=NOW - 3)
    gone = _token("gone", "f4", NOW - 200_000)  # expired days ago: not worth moving
    for t in (live, used, revoked, gone):
        sqlite.save_token(t)
    key = sqlite.server_key()
    sqlite.close()

    assert copy_store(f"sqlite:///{path}", redis_server.url, NOW) == Copied(2, 1, 1, 3, 1)
    assert copy_store(f"sqlite:///{path}", redis_server.url, NOW) == Copied(2, 1, 1, 3, 1)  # again: harmless
    redis = open_store_url(redis_server.url)
    try:
        assert redis.server_key() == key
        alice = redis.get_user("alice")
        assert alice is not None and (alice.password_hash, alice.created_at, alice.updated_at) == (
            "argon-hash-2",
            NOW - 500,
            NOW - 100,
        )
        c1 = redis.get_client("c1")
        assert c1 is not None and c1.secret_hash == "secret-hash" and c1.signed_in_at == NOW - 10
        assert redis.count_unused_clients() == 1  # c2 still counts as never signed in
        assert redis.get_person("oidc:i#1") == PersonRecord(
            "oidc:i#1", "i", "1", "p@x.com", "P", ("g",), NOW - 50, NOW - 5, blocked_at=NOW - 1, upstream="sealed"
        )
        assert redis.get_token(digest("live")) == live and redis.get_token(digest("revoked")) == revoked
        assert redis.get_token(digest("gone")) is None
        # The copied rotated token is still a rotated token: using it again fails, and the family can be revoked.
        assert redis.use_refresh(digest("used"), NOW) is False and redis.revoke_family("f2", NOW) == 1
        assert redis.use_refresh(digest("live"), NOW) is True
    finally:
        redis.close()


def test_copy_refuses_what_it_cannot_do(tmp_path: Path, redis_server: RedisServer) -> None:
    with pytest.raises(ConfigError, match="no SQLite store at"):
        copy_store(f"sqlite:///{tmp_path / 'missing.sqlite'}", redis_server.url, NOW)
    SqliteStore(tmp_path / "s.sqlite").close()
    with pytest.raises(ConfigError, match="--to must be a redis"):
        copy_store(f"sqlite:///{tmp_path / 's.sqlite'}", f"sqlite:///{tmp_path / 't.sqlite'}", NOW)
    with pytest.raises(ConfigError, match="--from must be a sqlite"):
        copy_store(redis_server.url, redis_server.url, NOW)
