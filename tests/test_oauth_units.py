"""Sign-in's parts on their own, with real objects: the SQLite store, redirect policy, throttle, passwords."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mssql_mcp.oauth.clients import ClientPolicy, canonical_resource
from mssql_mcp.oauth.sqlite_store import SqliteStore
from mssql_mcp.oauth.store import CodeRecord, ThrottleSlot, TokenRecord, digest, new_secret, throttle_delay
from mssql_mcp.oauth.users import UserError, Users


def code(store: SqliteStore, value: str) -> None:
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
            family_id="f",
        )
    )


def test_a_code_is_redeemed_once_even_under_a_race(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    value = new_secret()
    code(store, value)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def redeem() -> None:
        barrier.wait()
        wins.append(store.use_code(digest(value), 1.0))

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
    record = store.get_code(digest(value))
    assert record is not None and record.used_at == 1.0


def test_refresh_rotation_and_family_revocation(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    base = TokenRecord(
        token_hash=digest("r1"),
        kind="refresh",
        client_id="c",
        username="u",
        scopes=("mcp",),
        resource="https://h/mcp",
        expires_at=1e12,
        family_id="fam",
        created_at=0,
    )
    store.save_token(base)
    store.save_token(TokenRecord(**{**base.__dict__, "token_hash": digest("a1"), "kind": "access"}))
    store.save_token(TokenRecord(**{**base.__dict__, "token_hash": digest("other"), "family_id": "other"}))
    assert store.use_refresh(digest("r1"), 5.0) is True
    assert store.use_refresh(digest("r1"), 6.0) is False  # rotated already
    assert store.use_refresh(digest("a1"), 6.0) is False  # access tokens are not refresh tokens
    assert store.revoke_family("fam", 7.0) == 2
    assert store.get_token(digest("a1")).revoked_at == 7.0  # type: ignore[union-attr]
    assert store.get_token(digest("other")).revoked_at is None  # type: ignore[union-attr]


def test_store_survives_reopening_and_keeps_its_key(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = SqliteStore(path)
    key = store.server_key()
    Users(store).set_password("alice", "long enough")
    store.close()
    again = SqliteStore(path)
    assert again.server_key() == key and again.count_users() == 1
    assert Users(again).verify("alice", "long enough") and not Users(again).verify("alice", "wrong one!")
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_password_rules_and_hashing(tmp_path: Path) -> None:
    users = Users(SqliteStore(tmp_path / "s.sqlite"))
    with pytest.raises(UserError):
        users.set_password("alice", "short")
    with pytest.raises(UserError):
        users.set_password("-leading-dash", "long enough")
    assert users.set_password("alice", "long enough") is True
    assert users.set_password("alice", "changed it!") is False
    assert not users.verify("alice", "long enough") and users.verify("alice", "changed it!")
    assert not users.verify("nobody", "changed it!")
    assert not users.verify("alice", "x" * 5000)
    assert users.ensure_demo_user() is None  # somebody exists already


def test_demo_user_only_when_nobody_exists(tmp_path: Path) -> None:
    users = Users(SqliteStore(tmp_path / "s.sqlite"))
    password = users.ensure_demo_user()
    assert password and len(password) >= 16 and users.verify("demo", password)
    assert users.ensure_demo_user() is None


@pytest.mark.parametrize(
    ("uri", "loopback", "ok"),
    [
        ("https://claude.ai/api/mcp/auth_callback", False, True),
        ("https://CLAUDE.AI/api/mcp/auth_callback", False, True),  # hosts compare case-insensitively
        ("https://claude.com/api/mcp/auth_callback", False, True),
        ("https://chatgpt.com/connector_platform_oauth_redirect", False, True),
        ("https://claude.ai:8443/cb", False, True),  # the host is what is allowed; the URI itself must match later
        ("https://evil.claude.ai/cb", False, False),
        ("https://claude.ai.evil.com/cb", False, False),
        ("https://claude.ai%2F@evil.com/cb", False, False),
        ("http://claude.ai/cb", False, False),
        ("javascript://claude.ai/%0aalert(1)", False, False),
        ("http://127.0.0.1:6274/oauth/callback", False, False),
        ("http://127.0.0.1:6274/oauth/callback", True, True),
        ("http://localhost/cb", True, True),
        ("http://[::1]:5000/cb", True, True),
        ("https://localhost.evil.com/cb", True, False),
    ],
)
def test_redirect_policy(uri: str, loopback: bool, ok: bool) -> None:
    policy = ClientPolicy(("claude.ai", "claude.com", "chatgpt.com"), allow_loopback=loopback, metadata_documents=False)
    assert (policy.check_redirects([uri]) is None) is ok, policy.check_redirects([uri])


def test_canonical_resource() -> None:
    assert canonical_resource("HTTPS://Example.COM:443/mcp/") == "https://example.com/mcp"
    assert canonical_resource("http://127.0.0.1:8008/mcp") == "http://127.0.0.1:8008/mcp"


def test_throttle_grows_exponentially_and_forgives_success(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
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
