"""Sign-in's parts on their own, with real objects: the SQLite file, redirect policy, passwords. What every store
must do is in test_store_suite.py, run against SQLite and Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from mssql_mcp.oauth.clients import ClientPolicy, canonical_resource
from mssql_mcp.oauth.sqlite_store import SqliteStore
from mssql_mcp.oauth.users import UserError, Users


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
