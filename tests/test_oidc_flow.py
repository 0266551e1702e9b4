"""AUTH_MODE=oidc end to end, against a real OpenID Provider (npm oidc-provider) on loopback.

The MCP SDK's own OAuth client registers with our server and goes to our /authorize; the browser is sent to
the provider, signs in there, comes back to our callback, sees our consent page, and the client gets our
code, our tokens, and makes a tool call. The audit trail names the person as the provider knows them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.support.mcp_client import connect, text_of
from tests.support.oauth_flow import Account, MemoryStorage, oauth_client
from tests.support.oidc_flow import UpstreamFiller, callback_for, upstream_server
from tests.support.oidc_provider import OidcProvider, running_provider
from tests.support.procs import ServerProcess, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ALICE = {"email": "alice@example.com", "email_verified": True, "name": "Alice Example", "groups": ["db-readers"]}


@pytest.fixture(scope="module")
def ports() -> tuple[int, int, int]:
    return free_port(), free_port(), free_port()  # Claude face, Claude face with LOCAL_PASSWORDS, ChatGPT face


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, ports: tuple[int, int, int]) -> Iterator[OidcProvider]:
    tmp = tmp_path_factory.mktemp("oidc-provider")
    callbacks = [callback_for(ports[0]), callback_for(ports[1]), callback_for(ports[2], "/chatgpt")]
    with running_provider(tmp, {"alice": ALICE}, callbacks) as running:
        yield running


@pytest.fixture(scope="module")
def server(
    demo_db: Path, tmp_path_factory: pytest.TempPathFactory, provider: OidcProvider, ports: tuple[int, int, int]
) -> Iterator[ServerProcess]:
    env = {"OIDC_ALLOWED_DOMAINS": "example.com", "OIDC_REQUIRED_GROUPS": "db-readers,db-admins"}
    with upstream_server(demo_db, tmp_path_factory.mktemp("oidc-server"), provider, ports[0], env) as running:
        yield running


async def test_sign_in_at_the_provider_then_consent_then_a_tool_call(
    server: ServerProcess, provider: OidcProvider
) -> None:
    storage = MemoryStorage()
    filler = UpstreamFiller(Account("alice", ""))
    auth, _, _ = oauth_client(f"{server.base_url}/mcp", filler.account, storage=storage, filler=filler)
    async with connect(server.base_url, "streamable", auth=auth) as client:
        result = await client.call_tool("execute_sql", {"query": "SELECT TOP 1 CustomerID FROM dbo.Customers"})
        assert not result.is_error, text_of(result)
    # The browser went: our /authorize → our /login → our /oidc/start → the provider → back to our callback.
    hops = [u.split("?")[0] for u in filler.visited]
    assert hops[:3] == [f"{server.base_url}/authorize", f"{server.base_url}/login", f"{server.base_url}/oidc/start"]
    assert hops[3].startswith(provider.issuer + "/auth")
    assert f"{server.base_url}/oidc/callback" in hops
    # The provider's authorization request carried PKCE S256, state and nonce.
    to_provider = httpx2.URL(filler.visited[3]).params
    assert to_provider["code_challenge_method"] == "S256" and to_provider["code_challenge"]
    assert to_provider["state"] and to_provider["nonce"] and to_provider["redirect_uri"] == callback_for(server.port)
    # Our consent page shows the person by name and e-mail, not by a key.
    assert "Alice Example &lt;alice@example.com&gt;" in filler.pages[-1]
    assert storage.tokens is not None and storage.tokens.refresh_token
    # The audit trail: the sign-in names subject, e-mail and issuer; the tool call names the same person.
    key = f"oidc:{provider.issuer}#alice"
    log = server.log()
    login = [line for line in log.splitlines() if "msg=login_ok" in line and "source=oidc" in line]
    assert login, log[-3000:]
    assert all(f in login[-1] for f in ("subject=alice", "email=alice@example.com", f"issuer={provider.issuer}"))
    audit = [line for line in log.splitlines() if "msg=tool_call" in line and "tool=execute_sql" in line]
    assert audit and f"user={key}" in audit[-1], log[-3000:]
    assert f"issuer={provider.issuer}" in audit[-1] and "email=alice@example.com" in audit[-1], audit[-1]


async def test_the_person_is_recorded_without_a_password_and_their_provider_tokens_sealed(
    server: ServerProcess, provider: OidcProvider, tmp_path: Path
) -> None:
    filler = UpstreamFiller(Account("alice", ""))
    auth, _, _ = oauth_client(f"{server.base_url}/mcp", filler.account, filler=filler)
    async with connect(server.base_url, "streamable", auth=auth) as client:
        await client.list_tools()
    store = server.log_path.parent / "oauth.sqlite"
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        row = db.execute("SELECT * FROM people WHERE key = ?", (f"oidc:{provider.issuer}#alice",)).fetchone()
        users = [r[0] for r in db.execute("SELECT username FROM users")]
        dump = "\n".join(str(r) for r in db.execute("SELECT * FROM people"))
    assert row is not None and users == []  # a person, not a local user with a password
    names = ["key", "issuer", "subject", "email", "name", "groups_json", "created_at", "seen_at", "blocked_at"]
    record = dict(zip(names, row, strict=False))
    assert record["email"] == "alice@example.com" and record["name"] == "Alice Example"
    assert json.loads(record["groups_json"]) == ["db-readers"] and record["blocked_at"] is None
    # The provider's refresh and access tokens are in the row, but only sealed: no JWT or opaque token in clear.
    sealed = row[-1]
    assert sealed and sealed.startswith("gAAAAA")  # a Fernet token
    assert "eyJ" not in dump


async def test_login_page_offers_the_button_and_the_local_form_with_local_passwords(
    demo_db: Path, tmp_path: Path, provider: OidcProvider, ports: tuple[int, int, int]
) -> None:
    with upstream_server(demo_db, tmp_path, provider, ports[1], {"LOCAL_PASSWORDS": "true"}) as server:
        filler = UpstreamFiller(Account("alice", ""))
        auth, storage, _ = oauth_client(f"{server.base_url}/mcp", filler.account, filler=filler)
        async with connect(server.base_url, "streamable", auth=auth) as client:
            await client.list_tools()
        login_page = filler.pages[0]
        assert "Sign in with Contoso" in login_page and 'name="password"' in login_page
        assert storage.tokens is not None


async def test_the_chatgpt_face_has_its_own_callback_under_its_prefix(
    demo_db: Path, tmp_path: Path, provider: OidcProvider, ports: tuple[int, int, int]
) -> None:
    with upstream_server(demo_db, tmp_path, provider, ports[2], face="chatgpt") as server:
        filler = UpstreamFiller(Account("alice", ""))
        auth, _, _ = oauth_client(f"{server.base_url}/chatgpt/mcp", filler.account, filler=filler)
        async with connect(server.base_url, "streamable", auth=auth, prefix="/chatgpt") as client:
            result = await client.call_tool("search", {"query": "customers"})
            assert not result.is_error, text_of(result)
        assert f"{server.base_url}/chatgpt/oidc/callback" in [u.split("?")[0] for u in filler.visited]
        to_provider = next(u for u in filler.visited if u.startswith(provider.issuer + "/auth"))
        assert httpx2.URL(to_provider).params["redirect_uri"] == callback_for(server.port, "/chatgpt")
