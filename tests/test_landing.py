"""The landing page at each face's root: what the server is, its MCP URL, how to connect each client, its
health; no sign-in needed, the page kit's security headers, and nothing from the database but its kind."""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from mssql_mcp import connect
from tests.support.oauth_flow import running_oauth_server
from tests.support.procs import ServerProcess, running_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def claude(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_oauth_server(demo_db, tmp_path_factory.mktemp("landing-claude")) as server:
        yield server


@pytest.fixture(scope="module")
def chatgpt(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_oauth_server(demo_db, tmp_path_factory.mktemp("landing-chatgpt"), face="chatgpt") as server:
        yield server


def database_names(demo_db: Path) -> set[str]:
    """Every table and column name in the database the servers serve."""
    with sqlite3.connect(demo_db) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        columns = {c[1] for t in tables for c in db.execute(f'PRAGMA table_info("{t}")')}
    return {n for n in {*tables, *columns} if len(n) > 3 and not n.startswith("sqlite")}


async def get(url: str) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=15, follow_redirects=False) as http:  # no cookies, no token
        return await http.get(url)


def assert_page_kit_headers(resp: httpx2.Response) -> None:
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert resp.headers["x-frame-options"] == "DENY" and resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["cache-control"] == "no-store" and resp.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(("face", "path"), [("claude", "/"), ("chatgpt", "/chatgpt/"), ("chatgpt", "/")])
async def test_landing_page_shows_the_mcp_url_health_and_connect_snippets(
    face: str, path: str, claude: ServerProcess, chatgpt: ServerProcess, demo_db: Path
) -> None:
    server = claude if face == "claude" else chatgpt
    mcp_url = server.base_url + ("/chatgpt" if face == "chatgpt" else "") + "/mcp"
    resp = await get(server.base_url + path)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert_page_kit_headers(resp)
    page = resp.text
    assert "<script" not in page.lower()
    title = "Claude" if face == "claude" else "ChatGPT"
    assert f"{title} face" in page and f'<code id="mcp-url">{mcp_url}</code>' in page
    assert '<span class="ok" id="health">ok</span>' in page and "SQLite" in page
    # The same snippets `mssql-mcp connect` prints, for this server's URL, escaped once.
    for g in connect.guides(face, mcp_url):
        assert html.escape(g.snippet, quote=True) in page, g.client
    if face == "claude":
        entry = json.loads(connect.guide("claude-desktop", mcp_url).snippet)["mcpServers"]["mssql-mcp"]
        assert entry["args"][-1] == mcp_url and "mcp-remote" in entry["args"]
        assert "claude.ai" in page and "ChatGPT face" in page  # and where ChatGPT goes instead
    else:
        assert "developer mode" in page and "Claude face" in page
    assert "Inspector" in page
    # Nothing from the database but its kind: no table or column names.
    leaked = {n for n in database_names(demo_db) if n in page}
    assert not leaked


async def test_a_face_with_a_prefix_redirects_its_bare_prefix_to_the_page(chatgpt: ServerProcess) -> None:
    resp = await get(chatgpt.base_url + "/chatgpt")
    assert resp.status_code in (307, 308) and resp.headers["location"].endswith("/chatgpt/")


async def test_a_degraded_server_says_so_without_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    env = {"SQLITE_PATH": str(broken), "ALLOW_UNAUTH_METHODS": "1", "ALLOW_UNAUTH_TOOLS_CALL": "1"}
    with running_server(env, tmp_path) as server:
        reason = (await get(server.base_url + "/health")).json()["reason"]
        resp = await get(server.base_url + "/")
    assert resp.status_code == 200 and '<span class="degraded" id="health">degraded</span>' in resp.text
    assert reason and html.escape(reason, quote=True) not in resp.text and str(broken) not in resp.text
