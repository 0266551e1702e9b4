"""STORE_URL's spellings: which store each opens, and the one-line errors for the ones it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from mssql_mcp.errors import ConfigError
from mssql_mcp.oauth.redis_sentinel import sentinel_client
from mssql_mcp.oauth.redis_store import RedisStore
from mssql_mcp.oauth.sqlite_store import SqliteStore
from mssql_mcp.oauth.store_url import describe, open_store, open_store_url, sqlite_path
from mssql_mcp.settings import load_settings


def test_sqlite_urls_and_the_old_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlite_path("sqlite:///data/oauth.sqlite") == Path("data/oauth.sqlite")
    assert sqlite_path("sqlite:////var/lib/mcp/oauth.sqlite") == Path("/var/lib/mcp/oauth.sqlite")
    monkeypatch.chdir(tmp_path)
    store = open_store_url("sqlite:///data/s.sqlite")
    assert isinstance(store, SqliteStore) and (tmp_path / "data" / "s.sqlite").is_file()
    store.close()
    odd = tmp_path / "a?b#c.sqlite"  # OAUTH_STORE_PATH is a path, not a URL: any file name works
    old = open_store(load_settings(environ={"OAUTH_STORE_PATH": str(odd)}, env_file=None))
    assert isinstance(old, SqliteStore) and odd.is_file()
    old.close()


def test_redis_urls_open_lazily_and_keep_the_password_out_of_messages() -> None:
    store = open_store_url("redis://app:s3cret@127.0.0.1:1/2?socket_timeout=0.5&prefix=tenant-a:")
    assert isinstance(store, RedisStore) and store.prefix == "tenant-a:"  # no connection until the first call
    store.close()
    assert describe("redis://app:s3cret@host:6379/0") == "redis://app:****@host:6379/0"
    assert describe("redis://:s3cret@host/0") == "redis://:****@host/0"
    assert describe("redis://host/0") == "redis://host/0"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://h/db", "STORE_URL: use one of sqlite://, redis://, rediss://, redis+sentinel://"),
        ("oauth.sqlite", "STORE_URL: use one of"),
        ("sqlite://host/x.sqlite", "STORE_URL: a SQLite URL is sqlite:///relative/path"),
        ("redis+sentinel://127.0.0.1:26379", "STORE_URL: a Sentinel URL is redis+sentinel://"),
        ("redis+sentinel://127.0.0.1:x/mymaster", "STORE_URL: a Sentinel URL is"),
        ("redis+sentinel://127.0.0.1/mymaster/zero", "STORE_URL: a Sentinel URL is"),
        ("redis+sentinel://127.0.0.1/mymaster?socket_timeout=soon", "STORE_URL: socket_timeout and"),
        ("redis+sentinel://127.0.0.1/mymaster?colour=blue", "STORE_URL: unknown Sentinel option(s): colour"),
    ],
)
def test_refused_urls_say_why_in_one_line(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        open_store_url(url)
    assert refused.value.message.startswith(message) and "\n" not in refused.value.message


def test_a_sentinel_url_names_its_service_and_database() -> None:
    client = sentinel_client("redis+sentinel://app:pw@127.0.0.1:26379,127.0.0.2/svc/3?socket_timeout=0.25")
    pool = client.connection_pool
    assert pool.service_name == "svc" and pool.connection_kwargs["db"] == 3  # type: ignore[attr-defined]
    assert pool.connection_kwargs["password"] == "pw" and pool.connection_kwargs["socket_timeout"] == 0.25
    hosts = [
        (c.connection_pool.connection_kwargs["host"], c.connection_pool.connection_kwargs["port"])
        for c in pool.sentinel_manager.sentinels
    ]  # type: ignore[attr-defined]
    assert hosts == [("127.0.0.1", 26379), ("127.0.0.2", 26379)]
    client.close()
