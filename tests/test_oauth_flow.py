"""The whole sign-in with the MCP SDK's own client against a real server on loopback.

discovery → registration → authorize → login form → consent → token → tools/call → refresh, for /mcp
and /sse on the Claude face and /chatgpt/mcp on the ChatGPT face; then the same store after a restart.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.support.mcp_client import connect, text_of
from tests.support.oauth_flow import (
    DEFAULT_ACCOUNT,
    PING,
    MemoryStorage,
    bearer,
    oauth_client,
    running_oauth_server,
    signed_in,
)
from tests.support.procs import ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_oauth_server(demo_db, tmp_path_factory.mktemp("oauth-flow")) as server:
        yield server


@pytest.mark.parametrize("transport", ["streamable", "sse", "sse-post"])
async def test_sdk_client_signs_in_and_calls_a_tool(server: ServerProcess, transport: str) -> None:
    storage = MemoryStorage()
    async with signed_in(server.base_url, DEFAULT_ACCOUNT, transport, storage=storage) as client:  # type: ignore[arg-type]
        tools = {t.name for t in (await client.list_tools()).tools}
        assert tools == {"list_tables", "search_schema", "describe_table", "execute_sql", "get_table_sample"}
        result = await client.call_tool("execute_sql", {"query": "SELECT TOP 1 CustomerID FROM dbo.Customers"})
        assert not result.is_error, text_of(result)
    assert storage.tokens is not None and storage.tokens.refresh_token
    assert storage.tokens.scope == "mcp" and storage.tokens.expires_in == 3600
    # Who did what: the audit line names the signed-in user and the registered client.
    client_id = storage.client_info.client_id if storage.client_info else None
    audit = [line for line in server.log().splitlines() if "msg=tool_call" in line and f"client={client_id}" in line]
    assert audit and all("user=alice" in line for line in audit), server.log()[-3000:]
    sql_lines = [line for line in audit if "tool=execute_sql" in line]
    assert sql_lines and all(f in sql_lines[-1] for f in ("ts=", "sql_sha256=", "rows=1", "duration_ms=", "outcome=ok"))


async def test_token_is_bound_to_the_endpoint_it_was_issued_for(server: ServerProcess) -> None:
    storage = MemoryStorage()
    async with signed_in(server.base_url, DEFAULT_ACCOUNT, "streamable", storage=storage):
        pass
    assert storage.tokens is not None
    async with httpx2.AsyncClient(timeout=10) as http:
        elsewhere = await http.post(f"{server.base_url}/sse", json=PING, headers=bearer(storage.tokens.access_token))
        assert elsewhere.status_code == 401
        assert 'error="invalid_token"' in elsewhere.headers["www-authenticate"]


async def test_sdk_client_refreshes_and_rotation_catches_reuse(server: ServerProcess) -> None:
    url = f"{server.base_url}/mcp"
    auth, storage, _ = oauth_client(url, DEFAULT_ACCOUNT)
    async with connect(server.base_url, "streamable", auth=auth) as client:
        await client.list_tools()
    first = storage.tokens
    assert first is not None and first.refresh_token
    auth.context.token_expiry_time = time.time() - 1  # the client now believes its access token expired
    async with connect(server.base_url, "streamable", auth=auth) as client:
        await client.call_tool("list_tables", {})
    second = storage.tokens
    assert second is not None and second.refresh_token
    assert second.access_token != first.access_token and second.refresh_token != first.refresh_token
    assert "grant=refresh_token" in server.log()

    async with httpx2.AsyncClient(timeout=10) as http:
        # Replaying the rotated refresh token revokes the whole family, the fresh access token included.
        form = {
            "grant_type": "refresh_token",
            "refresh_token": first.refresh_token,
            "client_id": storage.client_info.client_id if storage.client_info else "",
        }
        reused = await http.post(f"{server.base_url}/token", data=form)
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        probe = await http.post(url, json=PING, headers=bearer(second.access_token))
        assert probe.status_code == 401
    assert "msg=refresh_reused" in server.log()


async def test_chatgpt_face_full_flow(demo_db: Path, tmp_path: Path) -> None:
    with running_oauth_server(demo_db, tmp_path, face="chatgpt") as server:
        async with httpx2.AsyncClient(timeout=10) as http:
            meta = (await http.get(f"{server.base_url}/.well-known/oauth-authorization-server/chatgpt")).json()
        assert meta["issuer"] == f"{server.base_url}/chatgpt"
        assert meta["authorization_endpoint"] == f"{server.base_url}/chatgpt/authorize"
        storage = MemoryStorage()
        async with signed_in(server.base_url, DEFAULT_ACCOUNT, prefix="/chatgpt", storage=storage) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"search", "fetch"} <= tools
            result = await client.call_tool("search", {"query": "customers"})
            assert not result.is_error, text_of(result)
        assert "user=alice" in server.log()


async def test_sign_in_survives_a_restart_and_stores_only_hashes(demo_db: Path, tmp_path: Path) -> None:
    storage = MemoryStorage()
    with running_oauth_server(demo_db, tmp_path) as server:
        port = server.port
        async with signed_in(server.base_url, DEFAULT_ACCOUNT, storage=storage) as client:
            await client.list_tools()
    tokens, info = storage.tokens, storage.client_info
    assert tokens is not None and tokens.refresh_token and info is not None

    # What is on disk: digests only. No token, code or client secret appears anywhere in the file.
    raw = (tmp_path / "oauth.sqlite").read_bytes()
    for secret in (tokens.access_token, tokens.refresh_token, DEFAULT_ACCOUNT.password):
        assert secret.encode() not in raw
    with sqlite3.connect(tmp_path / "oauth.sqlite") as db:
        hashes = [h for (h,) in db.execute("SELECT token_hash FROM tokens")]
        password_hash = db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert hashes and all(len(h) == 64 for h in hashes)
    assert password_hash.startswith("$argon2id$")

    with running_oauth_server(demo_db, tmp_path, port=port) as server:
        async with httpx2.AsyncClient(timeout=10) as http:
            # The access token from before the restart still works...
            ok = await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(tokens.access_token))
            assert ok.status_code == 200, ok.text
            # ...and so do the registration and the refresh token.
            refreshed = await http.post(
                f"{server.base_url}/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": tokens.refresh_token,
                    "client_id": info.client_id,
                },
            )
            assert refreshed.status_code == 200, refreshed.text
            assert refreshed.json()["refresh_token"] != tokens.refresh_token


async def test_faces_sharing_a_store_refuse_each_others_tokens(demo_db: Path, tmp_path: Path) -> None:
    storage = MemoryStorage()
    with (
        running_oauth_server(demo_db, tmp_path, face="claude") as claude,
        running_oauth_server(demo_db, tmp_path, face="chatgpt") as chatgpt,
    ):
        async with signed_in(claude.base_url, DEFAULT_ACCOUNT, storage=storage) as client:
            await client.list_tools()
        assert storage.tokens is not None
        async with httpx2.AsyncClient(timeout=10) as http:
            resp = await http.post(
                f"{chatgpt.base_url}/chatgpt/mcp", json=PING, headers=bearer(storage.tokens.access_token)
            )
        assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["www-authenticate"]
