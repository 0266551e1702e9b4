"""The whole sign-in and a tool call over https, through nginx running the project's config.

Both faces run with sign-in on and share one OAuth store, as in docker-compose.prod.yml; PUBLIC_URL is the
https URL. The MCP SDK's own client (discovery, registration, PKCE, login form, consent, token) must get
through the proxy, metadata lookups included (/.well-known/.../chatgpt goes to the ChatGPT app).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx2
import pytest

from tests.support.deploy_stack import Stack, can_bind, stack
from tests.support.mcp_client import text_of
from tests.support.oauth_flow import (
    DEFAULT_ACCOUNT,
    REDIRECT_URI,
    MemoryStorage,
    add_user,
    parse_form,
    pkce_pair,
    register,
    signed_in,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture(scope="module")
def signed_stack(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("https-oauth")
    store = tmp / "oauth.sqlite"
    add_user(store, DEFAULT_ACCOUNT)
    env = {"SQLITE_PATH": str(demo_db), "OAUTH_STORE_PATH": str(store), "ALLOW_LOOPBACK_REDIRECTS": "true"}
    with stack(tmp, env) as s:
        yield s


@pytest.fixture
def trust_test_ca(signed_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx2 (the SDK's HTTP client) builds its TLS context from SSL_CERT_FILE when set.
    monkeypatch.setenv("SSL_CERT_FILE", str(signed_stack.ca.cert))


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_claude_face_signs_in_and_calls_a_tool_over_https(
    signed_stack: Stack, trust_test_ca: None, transport: str
) -> None:
    storage = MemoryStorage()
    async with signed_in(signed_stack.https, DEFAULT_ACCOUNT, transport, storage=storage) as client:  # type: ignore[arg-type]
        result = await client.call_tool("execute_sql", {"query": "SELECT TOP 2 CustomerID FROM dbo.Customers"})
        assert not result.is_error, text_of(result)
    assert storage.tokens is not None and storage.tokens.access_token
    assert signed_stack.upstream_of("POST /token") == signed_stack.claude.port


async def test_chatgpt_face_signs_in_and_searches_over_https(signed_stack: Stack, trust_test_ca: None) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        meta = await http.get(f"{signed_stack.https}/.well-known/oauth-authorization-server/chatgpt")
    assert meta.status_code == 200 and meta.json()["issuer"] == f"{signed_stack.https}/chatgpt"
    async with signed_in(signed_stack.https, DEFAULT_ACCOUNT, prefix="/chatgpt") as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"search", "fetch"} <= tools
        result = await client.call_tool("search", {"query": "customers"})
        assert not result.is_error, text_of(result)
    assert signed_stack.upstream_of("POST /chatgpt/token") == signed_stack.chatgpt.port
    assert "user=alice" in signed_stack.chatgpt.log()


async def test_no_token_gets_the_challenge_through_the_proxy(signed_stack: Stack, trust_test_ca: None) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        resp = await http.post(
            f"{signed_stack.https}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert resp.status_code == 401
    # The resource metadata URL in the challenge is the public https one, not the app's loopback address.
    assert (
        f'resource_metadata="{signed_stack.https}/.well-known/oauth-protected-resource/mcp"'
        in resp.headers["www-authenticate"]
    )


async def test_login_throttling_sees_the_real_client_address(signed_stack: Stack) -> None:
    """Behind nginx the app counts failed sign-ins per real client address: the one nginx saw (not nginx's
    own), and not whatever the client wrote into X-Forwarded-For."""
    if not can_bind("127.0.0.2"):
        pytest.skip("cannot bind 127.0.0.2 as a second client address on this machine")
    issuer = signed_stack.https
    transport = httpx2.AsyncHTTPTransport(local_address="127.0.0.2", verify=signed_stack.tls_context())
    async with httpx2.AsyncClient(transport=transport, timeout=10) as http:
        client_id = (await register(http, issuer)).json()["client_id"]
        _, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": f"{issuer}/mcp",
        }
        start = await http.get(f"{issuer}/authorize", params=params)
        login_url = urljoin(issuer, start.headers["location"])
        form = parse_form((await http.get(login_url)).text)
        form.fields.update(username=DEFAULT_ACCOUNT.username, password="not the password")
        failed = await http.post(
            urljoin(login_url, form.action), data=form.fields, headers={"X-Forwarded-For": "198.51.100.7"}
        )
    assert failed.status_code == 401
    lines = [line for line in signed_stack.claude.log().splitlines() if "msg=login_failed" in line]
    assert lines and "ip=127.0.0.2" in lines[-1] and "198.51.100.7" not in lines[-1], lines
