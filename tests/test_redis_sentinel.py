"""STORE_URL=redis+sentinel://: the store follows a failover. A primary, a replica and one Sentinel (real
redis-server and redis-sentinel on loopback); the primary is stopped by PID while the store keeps calling:
calls fail only with StoreUnavailable (the 503) until Sentinel promotes the replica, then reads find what
was written before and writes go to the new primary, with no new store object."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from mssql_mcp.errors import StoreUnavailable
from mssql_mcp.oauth.store import TokenRecord, digest
from mssql_mcp.oauth.store_url import open_store_url
from tests.support.redis import RedisSentinel, RedisServer


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer, RedisSentinel]]:
    started: list[RedisServer | RedisSentinel] = []
    try:
        primary = RedisServer(tmp_path / "a").start()
        started.append(primary)
        replica = RedisServer(tmp_path / "b", replica_of=primary.port).start()
        started.append(replica)
        sentinel = RedisSentinel(tmp_path / "s", primary.port).start()
        started.append(sentinel)
        deadline = time.monotonic() + 20
        while not sentinel.knows_a_replica():
            assert time.monotonic() < deadline, "Sentinel never saw the replica in sync"
            time.sleep(0.1)
        yield primary, replica, sentinel
    finally:
        for process in reversed(started):
            process.stop()


def _token(value: str) -> TokenRecord:
    return TokenRecord(digest(value), "refresh", "c", "u", ("mcp",), "r", time.time() + 3600, "fam", time.time())


def test_the_store_follows_a_sentinel_failover(cluster: tuple[RedisServer, RedisServer, RedisSentinel]) -> None:
    primary, replica, sentinel = cluster
    store = open_store_url(f"redis+sentinel://127.0.0.1:{sentinel.port}/mymaster/0")
    try:
        store.save_token(_token("before"))
        admin = redis.Redis(port=primary.port)
        assert admin.execute_command("WAIT", 1, 5000) == 1  # the replica has it before the primary goes
        admin.close()

        primary.stop()
        refused, started = 0, time.monotonic()
        while True:
            assert time.monotonic() - started < 30, "no failover within 30 s"
            try:
                found = store.get_token(digest("before"))
                break
            except StoreUnavailable:
                refused += 1
                time.sleep(0.1)
        assert sentinel.primary() == replica.port and refused > 0
        assert found is not None and found.family_id == "fam"
        # Writes reach the new primary: rotation and a new token, atomically as before.
        assert store.use_refresh(digest("before"), 1.0) is True and store.use_refresh(digest("before"), 2.0) is False
        store.save_token(_token("after"))
        assert store.revoke_family("fam", 3.0) == 2
    finally:
        store.close()
