"""One suite for every `OAuthStore`: SQLite (a file) and Redis (a real redis-server on loopback), each test
run against both. What a store must do (single-use codes, refresh rotation, revocation, the throttle, rates,
clients, people) is asserted the same way for both; SQLite-only details (file migration, permissions) stay
in test_oauth_store_limits.py and test_oauth_units.py."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from mssql_mcp.oauth.store import (
    THROTTLE_FORGET_AFTER,
    ClientRecord,
    CodeRecord,
    OAuthStore,
    PendingRecord,
    PersonRecord,
    ThrottleSlot,
    TokenRecord,
    digest,
    new_secret,
    throttle_delay,
)
from mssql_mcp.oauth.store_url import open_store_url
from tests.support.redis import RedisServer

NOW = 1_000_000.0
Opener = Callable[[], OAuthStore]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_app_url(redis_server: RedisServer) -> str:
    """Redis as the app's ACL user from docs/scaling.md (no KEYS, FLUSHALL, CONFIG ...): the suite proves
    that user is enough for the store."""
    return redis_server.app_user_url()


def test_the_documented_acl_forbids_what_it_says(redis_server: RedisServer, redis_app_url: str) -> None:
    admin, app = redis.Redis(port=redis_server.port), redis.Redis.from_url(redis_app_url)
    try:
        assert app.ping() and admin.execute_command("ACL", "DRYRUN", "app", "EVALSHA", "x", "0") == b"OK"
        for command in (("KEYS", "*"), ("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "GET", "x"), ("DEBUG", "SLEEP", "0")):
            verdict = admin.execute_command("ACL", "DRYRUN", "app", *command)
            assert b"no permissions" in verdict, (command, verdict)
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.keys("*")
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.set("other-app:key", "x")  # only its own key prefix
    finally:
        admin.close()
        app.close()


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 's.sqlite'}"
    url: str = request.getfixturevalue("redis_app_url")
    return f"{url}?prefix=mssql-mcp:t{uuid.uuid4().hex[:12]}:"  # each test its own key space


@pytest.fixture
def reopen(store_url: str) -> Iterator[Opener]:
    """Opens another store on the same backend: what a second process or replica sees."""
    opened: list[OAuthStore] = []

    def make() -> OAuthStore:
        opened.append(open_store_url(store_url))
        return opened[-1]

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(reopen: Opener) -> OAuthStore:
    return reopen()


def _code(store: OAuthStore, value: str, family: str = "f") -> None:
    store.save_code(
        CodeRecord(
            code_hash=digest(value),
            client_id="c",
            username="u",
            scopes=("mcp",),
            code_challenge="x" * 43,
            redirect_uri="https://claude.ai/cb",
            redirect_uri_explicit=True,
            resource="https://h/mcp",
            expires_at=1e12,
            family_id=family,
        )
    )


def _token(family: str = "fam", kind: str = "refresh", value: str = "r1", user: str = "u") -> TokenRecord:
    return TokenRecord(digest(value), kind, "c", user, ("mcp",), "https://h/mcp", 1e12, family, NOW)  # type: ignore[arg-type]


def _race(n: int, fn: Callable[[], bool]) -> list[bool]:
    wins: list[bool] = []
    barrier = threading.Barrier(n)

    def run() -> None:
        barrier.wait()
        wins.append(fn())

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(wins)


def test_a_code_is_redeemed_once_even_under_a_race(store: OAuthStore, reopen: Opener) -> None:
    value = new_secret()
    _code(store, value)
    replicas = [store, reopen(), reopen()]
    i = iter(range(8))
    assert _race(8, lambda: replicas[next(i) % 3].use_code(digest(value), 1.0)) == [False] * 7 + [True]
    record = store.get_code(digest(value))
    assert record is not None and record.used_at == 1.0 and record.scopes == ("mcp",)
    assert record.redirect_uri_explicit is True and record.expires_at == 1e12
    assert store.get_code(digest("unknown")) is None and store.use_code(digest("unknown"), 1.0) is False


def test_refresh_rotation_and_family_revocation(store: OAuthStore) -> None:
    base = _token()
    store.save_token(base)
    store.save_token(_token(kind="access", value="a1"))
    store.save_token(_token(family="other", value="other"))
    assert store.get_token(digest("r1")) == base  # every field comes back as saved
    assert store.use_refresh(digest("r1"), 5.0) is True
    assert store.use_refresh(digest("r1"), 6.0) is False  # rotated already
    assert store.use_refresh(digest("a1"), 6.0) is False  # access tokens are not refresh tokens
    assert store.revoke_family("fam", 7.0) == 2
    assert store.revoke_family("fam", 8.0) == 0  # already revoked: counted once
    assert store.get_token(digest("a1")).revoked_at == 7.0  # type: ignore[union-attr]
    assert store.get_token(digest("r1")).used_at == 5.0  # type: ignore[union-attr]
    assert store.get_token(digest("other")).revoked_at is None  # type: ignore[union-attr]
    assert store.use_refresh(digest("other"), 9.0) is True


def test_a_rotation_race_has_one_winner(store: OAuthStore, reopen: Opener) -> None:
    store.save_token(_token())
    other = reopen()
    i = iter(range(6))
    assert _race(6, lambda: (store if next(i) % 2 else other).use_refresh(digest("r1"), 2.0)) == [False] * 5 + [True]


def test_revoking_a_person_reaches_every_family(store: OAuthStore) -> None:
    store.save_token(_token(family="f1", value="a"))
    store.save_token(_token(family="f2", value="b"))
    store.save_token(_token(family="f3", value="c", user="someone else"))
    assert store.revoke_user("u", 3.0) == 2
    assert store.get_token(digest("b")).revoked_at == 3.0  # type: ignore[union-attr]
    assert store.get_token(digest("c")).revoked_at is None  # type: ignore[union-attr]
    assert store.revoke_user("nobody", 3.0) == 0


def test_server_key_is_made_once_and_shared(store: OAuthStore, reopen: Opener) -> None:
    key = store.server_key()
    assert len(key) == 32 and store.server_key() == key and reopen().server_key() == key


def test_users(store: OAuthStore) -> None:
    assert store.count_users() == 0 and store.get_user("alice") is None
    assert store.put_user("alice", "h1", 10.0) is True
    assert store.put_user("alice", "h2", 20.0) is False
    store.put_user("bob", "hb", 30.0)
    alice = store.get_user("alice")
    assert alice is not None and (alice.password_hash, alice.created_at, alice.updated_at) == ("h2", 10.0, 20.0)
    assert [u.username for u in store.list_users()] == ["alice", "bob"] and store.count_users() == 2
    assert store.delete_user("alice") is True and store.delete_user("alice") is False
    assert store.count_users() == 1


def test_pending_sign_in_is_taken_once(store: OAuthStore, reopen: Opener) -> None:
    record = PendingRecord("k", "c", '{"a": 1}', 1e12)
    store.save_pending(record)
    assert store.get_pending("k") == record
    store.mark_pending_signed_in("k", "alice", "b")
    assert store.get_pending("k") == PendingRecord("k", "c", '{"a": 1}', 1e12, "alice", "b")
    store.mark_pending_signed_in("gone", "alice", "b")  # an unknown one is not created
    assert store.get_pending("gone") is None
    other = reopen()
    i = iter(range(4))
    assert _race(4, lambda: (store if next(i) % 2 else other).take_pending("k") is not None) == [False] * 3 + [True]
    assert store.get_pending("k") is None


def test_people(store: OAuthStore) -> None:
    alice = PersonRecord("oidc:i#1", "i", "1", "a@x.com", "Alice", ("g1", "g2"), 10.0, 10.0, upstream="sealed")
    store.save_person(alice)
    assert store.get_person("oidc:i#1") == alice and store.get_person("oidc:i#2") is None
    assert store.block_person("oidc:i#1", 20.0) is True and store.block_person("oidc:i#2", 20.0) is False
    # Signing in again updates what the provider says, keeps created_at and the block.
    store.save_person(PersonRecord("oidc:i#1", "i", "1", None, "Alice B", ("g3",), 30.0, 30.0))
    again = store.get_person("oidc:i#1")
    assert again == PersonRecord("oidc:i#1", "i", "1", None, "Alice B", ("g3",), 10.0, 30.0, blocked_at=20.0)
    store.save_upstream_tokens("oidc:i#1", "sealed2")
    assert store.get_person("oidc:i#1").upstream == "sealed2"  # type: ignore[union-attr]
    store.save_upstream_tokens("oidc:i#1", None)
    assert store.block_person("oidc:i#1", None) is True
    final = store.get_person("oidc:i#1")
    assert final is not None and final.upstream is None and final.blocked_at is None
    store.save_person(PersonRecord("oidc:i#0", "i", "0", None, "Zed", (), 1.0, 1.0))
    assert [p.key for p in store.list_people()] == ["oidc:i#0", "oidc:i#1"]


def test_throttle_grows_exponentially_and_forgives_success(store: OAuthStore) -> None:
    user, ip, other_ip = ThrottleSlot("user:alice", 5), ThrottleSlot("ip:1.2.3.4", 20), ThrottleSlot("ip:9.9.9.9", 20)
    now = 1000.0
    for _ in range(5):
        assert store.throttle_reserve([user, ip], now) == 0  # each reservation counts as a failure
    assert store.throttle_reserve([user, other_ip], now) == 1.0  # per username, from any address
    assert store.throttle_reserve([other_ip], now) == 0  # nothing was counted by the refused attempt
    assert store.throttle_reserve([user, ip], now + 1.0) == 0  # the sixth, a second later
    assert store.throttle_reserve([user, ip], now + 1.0) == 2.0
    store.throttle_clear(user.key)  # a right password
    assert store.throttle_reserve([user], now + 1.0) == 0
    delays = [throttle_delay(n, 5) for n in (4, 5, 6, 7, 20, 40, 10_000)]
    assert delays == [0.0, 1.0, 2.0, 4.0, 900.0, 900.0, 900.0]  # capped at 15 minutes


def test_all_slots_or_none(store: OAuthStore) -> None:
    ip = ThrottleSlot("ip:203.0.113.9", 2)
    for i in range(2):
        assert store.throttle_reserve([ThrottleSlot(f"user:u{i}", 5), ip], NOW) == 0
    assert store.throttle_reserve([ThrottleSlot("user:fresh", 5), ip], NOW) == 1.0
    for _ in range(5):  # the refused attempt counted nothing on the user's slot either
        assert store.throttle_reserve([ThrottleSlot("user:fresh", 5)], NOW) == 0


def test_release_gives_one_attempt_back(store: OAuthStore) -> None:
    ip = ThrottleSlot("ip:198.51.100.1", 3)
    for _ in range(3):
        assert store.throttle_reserve([ip], NOW) == 0
    assert store.throttle_reserve([ip], NOW) == 1.0
    store.throttle_release(ip)  # the last attempt was a right password: it does not count against the address
    assert store.throttle_reserve([ip], NOW) == 0
    assert store.throttle_reserve([ip], NOW) == 1.0


def test_counts_fade_after_an_hour(store: OAuthStore) -> None:
    slot = ThrottleSlot("user:bob", 1)
    assert store.throttle_reserve([slot], NOW) == 0
    assert store.throttle_reserve([slot], NOW) == 1.0
    later = NOW + THROTTLE_FORGET_AFTER + 1
    assert store.throttle_reserve([slot], later) == 0  # starts again from zero
    store.purge(later)
    assert store.throttle_reserve([slot], later) == 1.0  # purging forgets nothing still counting


def _reserve_many(url: str, attempts: int, start: multiprocessing.synchronize.Barrier) -> int:
    store = open_store_url(url)
    start.wait()
    won = sum(store.throttle_reserve([ThrottleSlot("user:alice", 5)], NOW) == 0 for _ in range(attempts))
    store.close()
    return won


def test_reservations_are_atomic_across_processes(store_url: str, store: OAuthStore) -> None:
    """4 processes x 10 simultaneous attempts on one key: exactly `free` are let through."""
    store.server_key()  # the file or key space exists before the processes start
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(4)
        with ctx.Pool(4) as pool:
            wins = pool.starmap(_reserve_many, [(store_url, 10, barrier)] * 4)
    assert sum(wins) == 5, wins


def test_rate_window(store: OAuthStore, reopen: Opener) -> None:
    assert [store.rate_hit("register:a", 3, 60, NOW + i) for i in range(3)] == [0.0, 0.0, 0.0]
    assert store.rate_hit("register:a", 3, 60, NOW + 10) == 50.0
    assert store.rate_hit("register:b", 3, 60, NOW + 10) == 0.0  # another key
    assert store.rate_hit("register:a", 3, 60, NOW + 60) == 0.0  # a new window
    other = reopen()  # a second process's connection sees the same counter
    assert [other.rate_hit("register:a", 3, 60, NOW + 61) for _ in range(3)] == [0.0, 0.0, 59.0]


def _client(store: OAuthStore, client_id: str, created: float, *, dynamic: bool = True) -> None:
    store.save_client(ClientRecord(client_id, "{}", None, created, dynamic=dynamic))


def test_unused_clients_are_counted_and_purged_but_used_ones_never(store: OAuthStore) -> None:
    _client(store, "old-unused", NOW - 100)
    _client(store, "new-unused", NOW)
    _client(store, "old-used", NOW - 100)
    _client(store, "first-party", NOW - 100, dynamic=False)
    store.save_token(TokenRecord(digest("t"), "refresh", "old-used", "u", ("mcp",), "r", NOW - 80, "f", NOW - 90))
    assert store.count_unused_clients() == 2
    record = store.get_client("old-used")
    assert record is not None and record.dynamic and record.signed_in_at == NOW - 90 and record.info_json == "{}"
    _client(store, "old-used", NOW - 100)  # saving it again keeps the sign-in mark
    assert store.get_client("old-used").signed_in_at == NOW - 90  # type: ignore[union-attr]
    store.save_client(ClientRecord("secret", "{}", "hash", NOW))
    assert store.get_client("secret") == ClientRecord("secret", "{}", "hash", NOW)

    assert store.purge_unused_clients(before=NOW - 50, now=NOW) == 1
    assert store.get_client("old-unused") is None
    kept = {c for c in ("new-unused", "old-used", "first-party") if store.get_client(c)}
    assert kept == {"new-unused", "old-used", "first-party"}
    assert store.count_unused_clients() == 1
