"""`make loadtest LOADTEST_ARGS="--replicas N [--workers W]"`: the load test against N replicas of each face
on one Redis, behind nginx finding them by name (tests/support/replicas.py), each replica running W worker
processes. The same sessions, calls and checks as the single-server load test (bench/loadtest.py).

After the load, in the same run, it times the token check behind every call on both stores: one of the
load's access tokens looked up in the running Redis (over loopback, as the replicas do) and, copied, in a
SQLite store file, interleaved in rounds so both meet the same machine load.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import statistics
import time
from pathlib import Path

from bench import auth, peers
from bench.load import Endpoint
from bench.loadtest import LoadResult, _ca_trusted, drive
from bench.run import demo_database
from bench.targets import ROWS, TSQL_QUERY, ours_rows


def run(
    sessions: int, calls: int, *, replicas: int, workers: int = 1, people: int, scratch: Path | None = None
) -> tuple[LoadResult, str]:
    from mssql_mcp.oauth.store_url import open_store_url
    from tests.support.deploy_stack import DOMAIN
    from tests.support.replicas import replicas as running_replicas

    scratch = scratch or peers.SCRATCH / "loadtest"
    scratch.mkdir(parents=True, exist_ok=True)
    db = demo_database(peers.SCRATCH)
    who = auth.People(people, secrets.token_urlsafe(18))
    env = {
        "SQLITE_PATH": str(db),
        "LOG_LEVEL": "WARNING",
        "ALLOW_LOOPBACK_REDIRECTS": "true",
        "WEB_CONCURRENCY": str(workers),
        **auth.HARNESS_LIMITS,
    }
    with running_replicas(scratch / f"replicas-{secrets.token_hex(4)}", env, count=replicas) as stack:
        store = open_store_url(stack.store_url)
        try:
            auth.add_users(store, who)
        finally:
            store.close()
        began = time.perf_counter()
        with _ca_trusted(stack.ca):
            tokens = auth.fetch_tokens(stack.https, who)
        signin_s = time.perf_counter() - began
        port = int(stack.https.rsplit(":", 1)[1])
        tls = ssl.create_default_context(cafile=str(stack.ca))
        endpoint = Endpoint(
            DOMAIN, port, "/mcp", "execute_sql", {"query": TSQL_QUERY}, ours_rows, ROWS, tokens=tokens, tls=tls
        )
        result = asyncio.run(drive(endpoint, sessions, calls))
        served = sorted(set(stack.upstreams("POST /mcp")))
        check = token_check_cost(stack.store_url, tokens[0], scratch)
    result.people, result.signin_s = who.count, signin_s
    note = f"{replicas} replicas x {workers} worker processes on Redis; calls served by {', '.join(served)}\n{check}"
    return result, note


def token_check_cost(redis_url: str, token: str, scratch: Path, rounds: int = 10, lookups: int = 500) -> str:
    """Median and minimum wall time of `get_token` per call, Redis against SQLite, interleaved."""
    from mssql_mcp.oauth.sqlite_store import SqliteStore
    from mssql_mcp.oauth.store import digest
    from mssql_mcp.oauth.store_url import open_store_url

    key = digest(token)
    redis_store = open_store_url(redis_url)
    sqlite_store = SqliteStore(scratch / f"token-check-{secrets.token_hex(4)}.sqlite")
    try:
        record = redis_store.get_token(key)
        assert record is not None, "the load's token is not in Redis"
        sqlite_store.save_token(record)
        per_call: dict[str, list[float]] = {"SQLite": [], "Redis": []}
        for _ in range(rounds):
            for name, store in (("SQLite", sqlite_store), ("Redis", redis_store)):
                began = time.perf_counter()
                for _ in range(lookups):
                    assert store.get_token(key) is not None
                per_call[name].append((time.perf_counter() - began) / lookups * 1e6)
    finally:
        redis_store.close()
        sqlite_store.close()
    return "token check (get_token), per call: " + "; ".join(
        f"{name} median {statistics.median(v):.0f} us (min {min(v):.0f} us)" for name, v in per_call.items()
    )
