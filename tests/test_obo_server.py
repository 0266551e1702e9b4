"""DB_IDENTITY=entra_obo through the whole server: a person signs in through the Entra stand-in
(tests/support/entra.py, acting as the company's OpenID Provider and token endpoint), calls execute_sql,
and SQL Server sees them: the server exchanged their upstream access token on their behalf (MSAL), and
ODBC Driver 18 signed in to the TDS test server with the Azure SQL token it got back.

When the provider stops signing the person in (disabled at Entra), our next refresh is refused, their tokens
are revoked, and their pooled database connection is closed at once, not at its idle timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import pytest
from cryptography.fernet import Fernet
from mcp import Client

from tests.support.entra import EntraStandIn
from tests.support.mcp_client import connect, text_of
from tests.support.oauth_flow import PING, Account, MemoryStorage, bearer, oauth_client
from tests.support.oidc_flow import UpstreamFiller
from tests.support.procs import ServerProcess, free_port, running_server
from tests.support.tds import TdsServer
from tests.support.tds.fixtures import DRIVER_CASES, backend_env
from tests.support.tds.people import make_people_db

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # a server process and two sign-ins: ~20 s
CASE = next(c for c in DRIVER_CASES if c.id == "msodbc18-tls")
CLIENT_ID, SECRET = "0b7e-api-client", "stand-in-secret"
WHO = "SELECT SUSER_SNAME() AS who, SESSION_CONTEXT(N'mcp_user') AS k, @@SPID AS spid"


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntraStandIn]:
    stand_in = EntraStandIn(tmp_path_factory.mktemp("entra"), client_id=CLIENT_ID, client_secret=SECRET)
    for name in ("alice", "bob", "carol", "dave"):
        stand_in.add_user(f"oid-{name}", f"{name}@contoso.com")
    with stand_in.running(), pytest.MonkeyPatch.context() as mp:
        mp.setenv("SSL_CERT_FILE", str(stand_in.ca_path))  # the test's browser (httpx2) trusts the stand-in
        yield stand_in


@pytest.fixture(scope="module")
def tds(entra: EntraStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TdsServer]:
    tmp = tmp_path_factory.mktemp("tds-obo-server")
    server = TdsServer(make_people_db(tmp / "p.sqlite"), tmp / "tds", tls=True, fedauth=entra.verify_sql_token)
    server.principals = {"alice@contoso.com": {"notes", "salaries"}} | {
        f"{n}@contoso.com": {"notes"} for n in ("bob", "carol", "dave")
    }
    with server.running():
        yield server


@pytest.fixture(scope="module")
def server(entra: EntraStandIn, tds: TdsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("obo-server")
    port = free_port()
    env = backend_env(
        tds,
        CASE,
        OAUTH_STORE_PATH=str(tmp / "oauth.sqlite"),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        ALLOW_LOOPBACK_REDIRECTS="true",
        AUTH_MODE="oidc",
        OIDC_ISSUER=entra.issuer,
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=SECRET,
        OIDC_ENTRA_TENANT=entra.tenant,
        OIDC_SCOPES=f"openid email profile offline_access api://{CLIENT_ID}/access_as_user",
        UPSTREAM_TOKEN_KEYS=Fernet.generate_key().decode(),
        DB_IDENTITY="entra_obo",
        DB_OBO_AUTHORITY=entra.authority,
        DB_WORKERS="2",
        LOG_LEVEL="INFO",
        # The server's HTTP clients trust the stand-in's test CA: MSAL (requests) and authlib (httpx2).
        REQUESTS_CA_BUNDLE=str(entra.ca_path),
        SSL_CERT_FILE=str(entra.ca_path),
    )
    with running_server(env, tmp, port=port) as process:
        yield process


async def sign_in(server: ServerProcess, entra: EntraStandIn, name: str) -> MemoryStorage:
    entra.signed_in_as = f"oid-{name}"
    storage = MemoryStorage()
    filler = UpstreamFiller(Account(name, ""))
    auth, _, _ = oauth_client(f"{server.base_url}/mcp", filler.account, storage=storage, filler=filler)
    async with connect(server.base_url, "streamable", auth=auth) as client:
        await client.list_tools()
    return storage


async def sql(client: Client, query: str) -> tuple[bool, str]:
    result = await client.call_tool("execute_sql", {"query": query})
    return bool(result.is_error), text_of(result)


async def test_a_signed_in_person_queries_azure_sql_as_themselves(
    server: ServerProcess, entra: EntraStandIn, tds: TdsServer
) -> None:
    seen: dict[str, str] = {}
    for name in ("alice", "bob"):
        storage = await sign_in(server, entra, name)
        auth, _, _ = oauth_client(f"{server.base_url}/mcp", Account(name, ""), storage=storage)
        async with connect(server.base_url, "streamable", auth=auth) as client:
            failed, text = await sql(client, WHO)
            assert not failed and f"{name}@contoso.com" in text and f"#oid-{name}" in text, text
            seen[name] = text
            tables = await client.call_tool("list_tables", {})  # the catalog: read as the service login, shared
            assert not tables.is_error and "Notes" in text_of(tables)
            failed, text = await sql(client, "SELECT Amount FROM dbo.Salaries WHERE Person = 'alice'")
            assert failed == (name == "bob"), text  # the database's own grants decide
            if failed:
                assert "229" in text and "\n" not in text.strip()
    assert "bob" not in seen["alice"] and "alice" not in seen["bob"]
    # The sign-in (code), then one exchange each; the token that reached the TDS server named the person.
    assert entra.grants.count("code") >= 2 and entra.grants.count("obo") == 2
    assert {e.detail.split()[0] for e in tds.events if e.kind == "login"} >= {"alice@contoso.com", "bob@contoso.com"}
    # The audit names the person (their issuer-qualified key) and whom Azure SQL saw.
    audit = [ln for ln in server.log().splitlines() if "msg=tool_call" in ln and "tool=execute_sql" in ln]
    assert any("#oid-bob" in ln and "db_user=bob@contoso.com" in ln for ln in audit), audit


async def test_a_person_disabled_at_entra_loses_their_connections_at_once(
    server: ServerProcess, entra: EntraStandIn, tds: TdsServer
) -> None:
    storage = await sign_in(server, entra, "alice")
    auth, _, _ = oauth_client(f"{server.base_url}/mcp", Account("alice", ""), storage=storage)
    async with connect(server.base_url, "streamable", auth=auth) as client:
        failed, text = await sql(client, WHO)
    assert not failed and "alice@contoso.com" in text, text
    spids = [e.spid for e in tds.events if e.kind == "login" and e.detail.startswith("alice@contoso.com ")]
    assert spids and "closed" not in tds.kinds(spids[-1])
    entra.refuse["oid-alice"] = "disabled"
    try:
        assert storage.tokens is not None and storage.client_info is not None
        form = {
            "grant_type": "refresh_token",
            "refresh_token": storage.tokens.refresh_token or "",
            "client_id": storage.client_info.client_id or "",
        }
        async with httpx2.AsyncClient(timeout=30) as http:
            refused = await http.post(f"{server.base_url}/token", data=form)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        deadline = time.monotonic() + 5
        while "closed" not in tds.kinds(spids[-1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "closed" in tds.kinds(spids[-1])  # closed by the revocation, not by the idle timeout (300 s)
    finally:
        entra.refuse.pop("oid-alice", None)
    assert "closing a person's database connections (revoked)" in server.log()


async def test_an_upstream_token_about_to_expire_is_refreshed_before_the_exchange(
    server: ServerProcess, entra: EntraStandIn
) -> None:
    entra.upstream_lifetime = 60  # inside the two minutes before expiry: refreshed before it is presented
    try:
        carol = await sign_in(server, entra, "carol")
        dave = await sign_in(server, entra, "dave")
        start = len(entra.grants)
        auth, _, _ = oauth_client(f"{server.base_url}/mcp", Account("carol", ""), storage=carol)
        async with connect(server.base_url, "streamable", auth=auth) as client:
            failed, text = await sql(client, WHO)
        assert not failed and "carol@contoso.com" in text, text
        assert entra.grants[start:] == ["refresh", "obo"]
        # dave is disabled at Entra: the refresh before his exchange is refused, so his tokens are revoked and
        # the call is refused in one line; his next request is not let in at all.
        entra.refuse["oid-dave"] = "disabled"
        auth, _, _ = oauth_client(f"{server.base_url}/mcp", Account("dave", ""), storage=dave)
        async with connect(server.base_url, "streamable", auth=auth) as client:
            failed, text = await sql(client, WHO)
            assert failed and "sign in to this server again" in text and "\n" not in text.strip(), text
        assert dave.tokens is not None
        async with httpx2.AsyncClient(timeout=30) as http:
            resp = await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(dave.tokens.access_token))
        assert resp.status_code == 401 and "obo" not in entra.grants[start + 2 :]
    finally:
        entra.upstream_lifetime = 3600
        entra.refuse.pop("oid-dave", None)
