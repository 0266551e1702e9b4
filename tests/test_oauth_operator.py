"""The operator's side: `mssql-mcp users ...`, `serve --demo` with sign-in on, and the dev flags."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from tests.support.mcp_client import connect
from tests.support.oauth_flow import DEFAULT_ACCOUNT, Account, MemoryStorage, add_user, running_oauth_server, signed_in
from tests.support.procs import ROOT, free_port, running_server

pytestmark = pytest.mark.anyio


def users(store: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mssql_mcp", "--env-file", "/nonexistent", "users", *args],
        input=stdin,
        text=True,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        env={"OAUTH_STORE_PATH": str(store), "PATH": "/usr/bin:/bin"},
    )


def test_users_cli_lifecycle(tmp_path: Path) -> None:
    store = tmp_path / "oauth.sqlite"
    assert users(store, "add", "bob", "--password-stdin", stdin="s3cret-enough\n").returncode == 0
    again = users(store, "add", "bob", "--password-stdin", stdin="s3cret-enough\n")
    assert again.returncode == 1 and "exists" in again.stderr
    short = users(store, "add", "carol", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "too short" in short.stderr
    bad = users(store, "add", "bad name!", "--password-stdin", stdin="s3cret-enough\n")
    assert bad.returncode == 2 and "bad username" in bad.stderr
    listed = users(store, "list")
    assert listed.returncode == 0 and listed.stdout.startswith("bob\t")
    with sqlite3.connect(store) as db:
        (first_hash,) = db.execute("SELECT password_hash FROM users WHERE username = 'bob'").fetchone()
    assert users(store, "passwd", "bob", "--password-stdin", stdin="another-secret\n").returncode == 0
    with sqlite3.connect(store) as db:
        (second_hash,) = db.execute("SELECT password_hash FROM users WHERE username = 'bob'").fetchone()
    assert first_hash != second_hash and second_hash.startswith("$argon2id$")
    assert b"another-secret" not in store.read_bytes() and b"s3cret-enough" not in store.read_bytes()
    assert users(store, "passwd", "nobody", "--password-stdin", stdin="whatever-123\n").returncode == 1
    assert users(store, "remove", "bob").returncode == 0
    assert users(store, "remove", "bob").returncode == 1
    assert users(store, "list").stdout == ""


async def test_removing_a_user_revokes_their_tokens(demo_db: Path, tmp_path: Path) -> None:
    storage = MemoryStorage()
    with running_oauth_server(demo_db, tmp_path) as server:
        async with signed_in(server.base_url, DEFAULT_ACCOUNT, storage=storage) as client:
            await client.list_tools()
        assert storage.tokens is not None
        assert users(tmp_path / "oauth.sqlite", "remove", DEFAULT_ACCOUNT.username).returncode == 0
        async with httpx2.AsyncClient(timeout=10) as http:
            resp = await http.post(
                f"{server.base_url}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"Authorization": f"Bearer {storage.tokens.access_token}"},
            )
        assert resp.status_code == 401


async def test_make_run_demo_creates_a_user_once_and_it_can_sign_in(demo_db: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {
        "SQLITE_PATH": str(demo_db),
        "OAUTH_STORE_PATH": str(tmp_path / "oauth.sqlite"),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ALLOW_LOOPBACK_REDIRECTS": "true",
    }
    with running_server(env, tmp_path, port=port, extra_args=("--demo",)) as server:
        log = server.log()
        assert log.count("Demo sign-in created") == 1
        password = log.split("password: ", 1)[1].split()[0]
        assert password not in log.split("Demo sign-in created", 1)[1].split("\n", 4)[-1]  # printed, never logged
        async with signed_in(server.base_url, Account("demo", password)) as client:
            assert (await client.list_tools()).tools
    with running_server(env, tmp_path, port=port, extra_args=("--demo",)) as server:
        assert "Demo sign-in created" not in server.log()


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
TOOLS_CALL = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_tables", "arguments": {}}}


@pytest.mark.parametrize(
    ("flags", "expect"),
    [
        ({}, {"initialize": 401, "tools/list": 401, "tools/call": 401}),
        ({"ALLOW_UNAUTH_METHODS": "true"}, {"initialize": 200, "tools/list": 200, "tools/call": 401}),
        ({"ALLOW_UNAUTH_TOOLS_CALL": "true"}, {"initialize": 401, "tools/list": 401, "tools/call": 200}),
    ],
    ids=["defaults", "methods", "tools_call"],
)
async def test_dev_flags(demo_db: Path, tmp_path: Path, flags: dict[str, str], expect: dict[str, int]) -> None:
    with running_oauth_server(demo_db, tmp_path, env=flags) as server:
        got = {}
        async with httpx2.AsyncClient(timeout=10) as http:
            for body in (INITIALIZE, TOOLS_LIST, TOOLS_CALL):
                resp = await http.post(
                    f"{server.base_url}/mcp",
                    content=json.dumps(body),
                    headers={
                        "Content-Type": "application/json",
                        "Accept": "application/json, text/event-stream",
                        "MCP-Protocol-Version": "2025-06-18",
                    },
                )
                got[str(body["method"])] = resp.status_code
                if resp.status_code == 200 and body is TOOLS_CALL:
                    assert "Customers" in resp.text
        log = server.log()
    assert got == expect
    for name in flags:
        assert f'level=WARNING logger=mssql_mcp.auth msg="{name}=true' in log, log[-2000:]
    if not flags:
        assert "ALLOW_UNAUTH" not in log


async def test_dev_server_with_both_flags_needs_no_token(dev_server_env: dict[str, str], tmp_path: Path) -> None:
    with running_server(dev_server_env, tmp_path) as server:
        async with connect(server.base_url) as client:
            assert (await client.call_tool("list_tables", {})).is_error is False
        assert "ALLOW_UNAUTH_TOOLS_CALL=true" in server.log()


def test_add_user_helper_is_the_cli(tmp_path: Path) -> None:
    add_user(tmp_path / "s.sqlite", Account("zed", "long enough pw"))
    assert users(tmp_path / "s.sqlite", "list").stdout.startswith("zed\t")


def test_a_plain_http_public_url_is_refused_unless_sign_in_is_off(demo_db: Path, tmp_path: Path) -> None:
    env = {
        "SQLITE_PATH": str(demo_db),
        "OAUTH_STORE_PATH": str(tmp_path / "o.sqlite"),
        "PUBLIC_URL": "http://mcp.example.com",
        "PATH": "/usr/bin:/bin",
        "PORT": str(free_port()),
    }
    refused = subprocess.run(
        [sys.executable, "-m", "mssql_mcp", "--env-file", "/nonexistent", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "PUBLIC_URL: http://mcp.example.com must be https" in refused.stderr


async def test_plain_http_public_url_in_full_dev_mode_serves_without_sign_in(
    dev_server_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = {**dev_server_env, "PUBLIC_URL": f"http://mcp.example.com:{port}", "ALLOWED_HOSTS": "127.0.0.1:*"}
    with running_server(env, tmp_path, port=port) as server:
        async with connect(server.base_url) as client:
            assert (await client.list_tools()).tools
        assert "sign-in is OFF" in server.log()
