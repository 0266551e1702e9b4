"""The ChatGPT face with sign-in on: the full OAuth flow against /chatgpt/mcp (the SDK's own OAuth client,
driven headless by tests/support/oauth_flow.py), and the record pages behind the same sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from mssql_mcp.demo import KNOWN_CUSTOMER
from tests.support.chatgpt_contract import TEST_ID_KEY, fetched, search_results, signed
from tests.support.oauth_flow import DEFAULT_ACCOUNT, FormFiller, MemoryStorage, running_oauth_server, signed_in
from tests.support.procs import ServerProcess

pytestmark = pytest.mark.anyio
PREFIX = "/chatgpt"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("chatgpt-oauth")
    with running_oauth_server(demo_db, tmp, face="chatgpt", env={"RECORD_ID_KEYS": TEST_ID_KEY}) as s:
        yield s


async def test_full_oauth_flow_then_search_and_fetch(server: ServerProcess) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        refused = await http.post(f"{server.base_url}{PREFIX}/mcp", json=INIT, headers=HEADERS)
        assert refused.status_code == 401 and "resource_metadata=" in refused.headers["www-authenticate"]
        meta = (await http.get(f"{server.base_url}/.well-known/oauth-authorization-server{PREFIX}")).json()
        assert meta["issuer"] == f"{server.base_url}{PREFIX}"
    storage = MemoryStorage()
    async with signed_in(server.base_url, DEFAULT_ACCOUNT, prefix=PREFIX, storage=storage) as client:
        assert {t.name for t in (await client.list_tools()).tools} == {"search", "fetch"}
        hits = search_results(await client.call_tool("search", {"query": "Zürich Alpine"}))
        record = fetched(await client.call_tool("fetch", {"id": hits[0]["id"]}))
        assert KNOWN_CUSTOMER in record["text"]
    assert storage.tokens is not None and storage.client_info is not None
    assert "tool=search user=alice" in server.log() and "tool=fetch user=alice" in server.log()

    # The same bearer token opens the record page (API clients need no browser session).
    async with httpx2.AsyncClient(timeout=10) as http:
        page = await http.get(local(record["url"]), headers={"Authorization": f"Bearer {storage.tokens.access_token}"})
    assert page.status_code == 200 and KNOWN_CUSTOMER in page.text


def local(url: str) -> str:
    return url.replace("://localhost:", "://127.0.0.1:", 1)


async def test_a_record_page_signs_a_person_in_through_the_same_login(server: ServerProcess) -> None:
    record = signed("row:dbo.Customers:CustomerID=1")
    url = f"{server.base_url}{PREFIX}/records/{record}"
    async with httpx2.AsyncClient(timeout=10, follow_redirects=False) as browser:
        start = await browser.get(url)
        assert start.status_code == 303
        authorize = start.headers["location"]
        assert authorize.startswith(f"{server.base_url}{PREFIX}/authorize?")
        query = parse_qs(urlsplit(authorize).query)
        assert query["code_challenge_method"] == ["S256"] and query["resource"] == [f"{server.base_url}{PREFIX}/mcp"]

        filler = FormFiller(DEFAULT_ACCOUNT)  # the person: our login page, then consent
        callback = await filler.run(authorize)
        assert callback.startswith(f"{server.base_url}{PREFIX}/records/_signin/callback?")
        assert "Record pages of this server" in filler.pages[0]

        landed = await browser.get(callback)
        assert landed.status_code == 303
        assert landed.headers["location"] == f"{PREFIX}/records/{record}"
        cookie = landed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and f"Path={PREFIX}/records" in cookie
        page = await browser.get(url)
        assert page.status_code == 200 and KNOWN_CUSTOMER in page.text

        replay = await browser.get(callback)  # a code is good once (RFC 6749 §4.1.2)
        assert replay.status_code == 400

        browser.cookies.clear()
        browser.cookies.set("mssql_mcp_records", "forged-token", path=f"{PREFIX}/records")
        again = await browser.get(url)
        assert again.status_code == 303 and "/authorize?" in again.headers["location"]


async def test_a_stale_or_foreign_callback_is_refused(server: ServerProcess) -> None:
    callback = f"{server.base_url}{PREFIX}/records/_signin/callback"
    async with httpx2.AsyncClient(timeout=10, follow_redirects=False) as browser:
        assert (await browser.get(f"{callback}?code=abc&state=xyz")).status_code == 400  # none started here
        start = await browser.get(f"{server.base_url}{PREFIX}/records/{signed('catalog:tables')}")
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        wrong_code = await browser.get(f"{callback}?code=abc&state={state}")
        assert wrong_code.status_code == 400
        denied = await browser.get(f"{callback}?error=access_denied&state={state}")
        assert denied.status_code == 403


async def test_without_a_session_nothing_of_the_record_is_shown(server: ServerProcess) -> None:
    async with httpx2.AsyncClient(timeout=10, follow_redirects=False) as http:
        for record_id in map(signed, ("row:dbo.Customers:CustomerID=1", "table:dbo.Customers", "catalog:tables")):
            response = await http.get(f"{server.base_url}{PREFIX}/records/{record_id}")
            assert response.status_code == 303 and KNOWN_CUSTOMER not in response.text
            response = await http.get(
                f"{server.base_url}{PREFIX}/records/{record_id}", headers={"Authorization": "Bearer not-a-token"}
            )
            assert response.status_code in (303, 401) and KNOWN_CUSTOMER not in response.text


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/.well-known/oauth-protected-resource/chatgpt/mcp", "/chatgpt/mcp"),
        ("/chatgpt/.well-known/oauth-protected-resource/mcp", "/chatgpt/mcp"),
        ("/chatgpt/.well-known/oauth-protected-resource/sse", "/chatgpt/sse"),
        ("/chatgpt/.well-known/oauth-protected-resource", "/chatgpt/mcp"),
        ("/chatgpt/.well-known/oauth-authorization-server", None),
        ("/.well-known/oauth-authorization-server/chatgpt", None),
    ],
)
async def test_every_discovery_url_also_lives_under_the_prefix(
    server: ServerProcess, path: str, resource: str | None
) -> None:
    """The face's URLs work with or without the proxy, so its discovery documents answer under /chatgpt/ too."""
    async with httpx2.AsyncClient() as http:
        doc = (await http.get(server.base_url + path)).raise_for_status().json()
    if resource is None:
        assert doc["issuer"].rstrip("/") == server.base_url + PREFIX  # running_oauth_server sets PUBLIC_URL
    else:
        assert urlsplit(doc["resource"]).path == resource
        assert [a.rstrip("/") for a in doc["authorization_servers"]] == [doc["resource"].rsplit("/", 1)[0]]
