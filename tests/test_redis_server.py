"""The server on a Redis store (a real redis-server on loopback, stopped and started by PID).

- Redis stopped: token checks, /token, /register and /authorize answer 503 "authorization store unavailable"
  at once (no 500, no hang), /health says degraded; Redis started again on the same port: the same token
  works, without restarting the server (AOF kept it).
- `mssql-mcp store copy` from a populated SQLite store: a client signed in before the copy keeps working
  against the Redis-backed server, its refresh token too, and the users can still sign in.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from mssql_mcp.oauth.store_url import open_store_url
from tests.support.mcp_client import connect, text_of
from tests.support.oauth_flow import DEFAULT_ACCOUNT, PING, Account, bearer, oauth_client, running_oauth_server
from tests.support.procs import ROOT, free_port
from tests.support.redis import RedisServer

pytestmark = pytest.mark.anyio

UNAVAILABLE = {"error": "temporarily_unavailable", "error_description": "authorization store unavailable"}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mssql_mcp", "--env-file", "/nonexistent", *args],
        input=stdin,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        timeout=60,
    )


def add_user(store_url: str, account: Account) -> None:
    done = cli(
        "users", "add", account.username, "--password-stdin", env={"STORE_URL": store_url}, stdin=account.password
    )
    assert done.returncode == 0, done.stderr


async def test_redis_outage_is_a_clear_503_and_the_server_recovers(
    demo_db: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    add_user(redis_server.url, DEFAULT_ACCOUNT)
    with running_oauth_server(demo_db, tmp_path / "srv", env={"STORE_URL": redis_server.url}) as server:
        mcp = f"{server.base_url}/mcp"
        auth, storage, _ = oauth_client(mcp, DEFAULT_ACCOUNT)
        async with connect(server.base_url, "streamable", auth=auth) as client:
            result = await client.call_tool("execute_sql", {"query": "SELECT TOP 1 CustomerID FROM dbo.Customers"})
            assert not result.is_error, text_of(result)
        assert storage.tokens is not None and storage.tokens.refresh_token and storage.client_info is not None
        token, client_id = storage.tokens.access_token, storage.client_info.client_id or ""
        async with httpx2.AsyncClient(timeout=10) as http:
            assert (await http.post(mcp, json=PING, headers=bearer(token))).status_code == 200

            redis_server.stop()
            refresh = {"grant_type": "refresh_token", "refresh_token": storage.tokens.refresh_token}
            authorize = {"response_type": "code", "client_id": client_id, "code_challenge": "x" * 43}
            for attempt in range(3):  # the first meets the dead connection; the next ones the open breaker
                started = time.monotonic()
                answers = [
                    await http.post(mcp, json=PING, headers=bearer(token)),
                    await http.post(f"{server.base_url}/token", data={**refresh, "client_id": client_id}),
                    await http.post(f"{server.base_url}/register", json={"redirect_uris": ["http://127.0.0.1:1/cb"]}),
                    await http.get(f"{server.base_url}/authorize", params=authorize),
                ]
                assert time.monotonic() - started < 2.0, attempt  # fast, not a hang
                for answer in answers:
                    assert answer.status_code == 503, (answer.request.url, answer.text)
                    assert answer.json() == UNAVAILABLE and answer.headers["retry-after"]
            page = await http.get(f"{server.base_url}/login", params={"request": "x"}, headers={"Accept": "text/html"})
            assert page.status_code == 503 and page.headers["content-type"].startswith("text/plain"), page.text
            assert page.text == "Sign-in is paused: authorization store unavailable. Try again in a few seconds.\n"
            health = (await http.get(f"{server.base_url}/health")).json()
            assert health["status"] == "degraded" and health["reason"] == "authorization store unavailable"
            # The landing page needs no store and still answers.
            assert (await http.get(f"{server.base_url}/")).status_code == 200

            redis_server.start()  # same port, same directory: the AOF brings the tokens back
            deadline = time.monotonic() + 10
            while (answer := await http.post(mcp, json=PING, headers=bearer(token))).status_code != 200:
                assert answer.status_code == 503 and time.monotonic() < deadline, answer.text
                await anyio.sleep(0.2)
            assert (await http.get(f"{server.base_url}/health")).json()["status"] == "ok"
        async with connect(server.base_url, "streamable", auth=auth) as client:
            assert not (await client.call_tool("list_tables", {})).is_error
        log = server.log()
        assert "Traceback" not in log and '" 500' not in log, log[-3000:]
        assert "msg=store_unreachable" in log and "msg=store_reachable" in log


async def test_store_copy_keeps_clients_signed_in(demo_db: Path, tmp_path: Path, redis_server: RedisServer) -> None:
    port = free_port()  # the same public URL before and after: tokens are bound to it
    srv = tmp_path / "srv"
    with running_oauth_server(demo_db, srv, port=port) as server:
        mcp = f"{server.base_url}/mcp"
        auth, storage, _ = oauth_client(mcp, DEFAULT_ACCOUNT)
        async with connect(server.base_url, "streamable", auth=auth) as client:
            assert not (await client.call_tool("list_tables", {})).is_error
    assert storage.tokens is not None
    before = storage.tokens

    done = cli("store", "copy", "--from", f"sqlite:///{srv / 'oauth.sqlite'}", "--to", redis_server.url, env={})
    assert done.returncode == 0, done.stderr
    assert "copied 1 clients, 1 users, 0 people and 2 tokens (2 live)" in done.stdout, done.stdout
    # The server key moved too: CSRF cookies and the ChatGPT face's signed record ids stay valid.
    sqlite, redis = open_store_url(f"sqlite:///{srv / 'oauth.sqlite'}"), open_store_url(redis_server.url)
    assert sqlite.server_key() == redis.server_key()
    sqlite.close()
    redis.close()

    with running_oauth_server(demo_db, srv, port=port, env={"STORE_URL": redis_server.url}) as server:
        async with httpx2.AsyncClient(timeout=10) as http:
            assert (
                await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(before.access_token))
            ).status_code == 200
        auth.context.token_expiry_time = time.time() - 1  # the client refreshes with the copied refresh token
        async with connect(server.base_url, "streamable", auth=auth) as client:
            assert not (await client.call_tool("list_tables", {})).is_error
        assert storage.tokens is not None and storage.tokens.refresh_token != before.refresh_token
        assert "grant=refresh_token" in server.log()
        # The user was copied too: a new client signs in with the same password.
        auth2, storage2, _ = oauth_client(f"{server.base_url}/mcp", DEFAULT_ACCOUNT)
        async with connect(server.base_url, "streamable", auth=auth2) as client:
            assert not (await client.call_tool("list_tables", {})).is_error
        assert storage2.tokens is not None
