"""AUTH_MODE=external: the server is a pure resource server for a real authorization server on loopback
(npm oidc-provider with resource indicators: access tokens whose audience is our resource).

Tokens are minted by the provider's token endpoint (client_credentials, RFC 8707 `resource`), or, for the
tokens no well-behaved server would issue (another issuer, expired, a key not in the JWKS), signed by the
provider's test-only mint endpoint with its own key or a stranger's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mssql_mcp.errors import ConfigError
from mssql_mcp.settings import load_settings
from tests.support.mcp_client import connect, text_of
from tests.support.oauth_flow import parse_form
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, MACHINE_ID, OidcProvider, running_provider
from tests.support.procs import ServerProcess, free_port, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

UNUSED_CALLBACK = "http://127.0.0.1:9/callback"  # the provider's own client needs one; nobody signs in here

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def resource_server(token_format: str) -> dict[str, str]:
    return {"scope": "mcp other", "format": token_format}


class Bearer(httpx2.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["authorization"] = f"Bearer {self.token}"
        yield request


def external_server(
    demo_db: Path, tmp: Path, provider: OidcProvider, *, face: str = "claude", port: int = 0, **extra: str
) -> Iterator[ServerProcess]:
    port = port or free_port()
    env = {
        "SQLITE_PATH": str(demo_db),
        "OAUTH_STORE_PATH": str(tmp / "oauth.sqlite"),
        "AUTH_MODE": "external",
        "EXTERNAL_ISSUER": provider.issuer,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "INFO",
        **extra,
    }
    tmp.mkdir(parents=True, exist_ok=True)
    with running_server(env, tmp, face=face, port=port) as server:
        yield server


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    tmp = tmp_path_factory.mktemp("external-provider")
    with running_provider(tmp, {}, [UNUSED_CALLBACK], resource_server=resource_server("jwt")) as running:
        yield running


@pytest.fixture(scope="module")
def server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory, provider: OidcProvider) -> Iterator[ServerProcess]:
    yield from external_server(demo_db, tmp_path_factory.mktemp("external-claude"), provider)


def _post_initialize(url: str, token: str) -> httpx2.Response:
    headers = {"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream"}
    return httpx2.post(url, json=INITIALIZE, headers=headers, timeout=10)


def _claims(provider: OidcProvider, audience: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": provider.issuer, "sub": "bob", "aud": audience, "iat": now, "exp": now + 300, "scope": "mcp"}
    claims["client_id"] = MACHINE_ID
    claims.update(changes)
    return claims


def _audit_user(server: ServerProcess, tool: str) -> str:
    lines = [line for line in server.log().splitlines() if "msg=tool_call" in line and f"tool={tool}" in line]
    assert lines, server.log()[-3000:]
    return lines[-1]


async def test_a_token_from_the_issuer_for_this_resource_calls_a_tool(
    server: ServerProcess, provider: OidcProvider
) -> None:
    token = provider.client_credentials(f"{server.base_url}/mcp", "mcp")
    async with connect(server.base_url, "streamable", auth=Bearer(token)) as client:
        result = await client.call_tool("execute_sql", {"query": "SELECT TOP 1 CustomerID FROM dbo.Customers"})
        assert not result.is_error, text_of(result)
    # The audit line names the token's subject, qualified by its issuer.
    assert f"user=oidc:{provider.issuer}#{MACHINE_ID}" in _audit_user(server, "execute_sql")


async def test_the_chatgpt_face_accepts_a_token_for_its_own_resource(
    demo_db: Path, tmp_path: Path, provider: OidcProvider
) -> None:
    for server in external_server(demo_db, tmp_path, provider, face="chatgpt"):
        token = provider.client_credentials(f"{server.base_url}/chatgpt/mcp", "mcp")
        async with connect(server.base_url, "streamable", auth=Bearer(token), prefix="/chatgpt") as client:
            result = await client.call_tool("search", {"query": "customers"})
            assert not result.is_error, text_of(result)
        record_url = json.loads(text_of(result))["results"][0]["url"]
        assert f"user=oidc:{provider.issuer}#{MACHINE_ID}" in _audit_user(server, "search")
        # A token for the Claude face's resource (same host, other path) is not one for this face.
        other = provider.client_credentials(f"{server.base_url}/mcp", "mcp")
        assert _post_initialize(f"{server.base_url}/chatgpt/mcp", other).status_code == 401
        # Its record pages have no sign-in here: a browser is told they are off, not sent to a login.
        assert record_url.startswith(f"{server.base_url}/chatgpt/records/")
        page = httpx2.get(record_url, timeout=10, follow_redirects=False)
        assert page.status_code == 403 and "Record pages are off" in page.text and "location" not in page.headers
        with_token = httpx2.get(record_url, headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert with_token.status_code == 200 and "Customers" in with_token.text


def test_the_metadata_names_only_the_external_issuer_and_there_is_no_authorization_server_here(
    server: ServerProcess, provider: OidcProvider
) -> None:
    doc = httpx2.get(f"{server.base_url}/.well-known/oauth-protected-resource/mcp", timeout=10).json()
    assert doc["authorization_servers"] == [provider.issuer]
    assert doc["resource"] == f"{server.base_url}/mcp" and doc["scopes_supported"] == ["mcp"]
    for path in ("/authorize", "/token", "/register", "/.well-known/oauth-authorization-server", "/login"):
        assert httpx2.get(server.base_url + path, timeout=10).status_code in (404, 405), path
    assert httpx2.post(f"{server.base_url}/register", json={}, timeout=10).status_code in (404, 405)


@pytest.mark.parametrize(
    "case", ["wrong_audience", "missing_scope", "wrong_issuer", "expired", "unknown_key", "not_an_access_token"]
)
def test_refused_tokens_get_a_401_and_the_challenge_naming_the_metadata(
    server: ServerProcess, provider: OidcProvider, case: str
) -> None:
    resource = f"{server.base_url}/mcp"
    if case == "wrong_audience":  # issued by the real server, for another resource
        token = provider.client_credentials("http://127.0.0.1:9/mcp", "mcp")
    elif case == "missing_scope":
        token = provider.client_credentials(resource, "other")
    elif case == "wrong_issuer":
        token = provider.mint(_claims(provider, resource, iss="http://127.0.0.1:9"))
    elif case == "expired":
        token = provider.mint(_claims(provider, resource, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))
    elif case == "unknown_key":
        token = provider.mint(_claims(provider, resource), key="unknown")
    else:  # a JWT typed for another use (here an OpenID logout token)
        token = provider.mint(_claims(provider, resource), typ="logout+jwt")
    # The same claims, well signed, pass (typed at+jwt as RFC 9068 says, or JWT as Keycloak and Entra do):
    # what is refused is the one thing changed.
    for typ in ("at+jwt", "JWT"):
        assert _post_initialize(resource, provider.mint(_claims(provider, resource), typ=typ)).status_code == 200
    resp = _post_initialize(resource, token)
    assert resp.status_code == 401, resp.text
    challenge = resp.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{server.base_url}/.well-known/oauth-protected-resource/mcp"' in challenge


def test_a_rotated_signing_key_is_fetched_on_first_sight(demo_db: Path, tmp_path: Path, provider: OidcProvider) -> None:
    for server in external_server(demo_db, tmp_path, provider):
        resource = f"{server.base_url}/mcp"
        assert _post_initialize(resource, provider.client_credentials(resource, "mcp")).status_code == 200
        provider.rotate_keys()
        assert _post_initialize(resource, provider.client_credentials(resource, "mcp")).status_code == 200


# --- introspection (RFC 7662) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def opaque_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    tmp = tmp_path_factory.mktemp("external-opaque")
    with running_provider(tmp, {}, [UNUSED_CALLBACK], resource_server=resource_server("opaque")) as running:
        yield running


async def test_introspection_accepts_refuses_and_caches_for_at_most_the_setting(
    demo_db: Path, tmp_path: Path, opaque_provider: OidcProvider
) -> None:
    provider = opaque_provider
    settings = {
        "EXTERNAL_INTROSPECTION": "true",
        "EXTERNAL_CLIENT_ID": CLIENT_ID,
        "EXTERNAL_CLIENT_SECRET": CLIENT_SECRET,
        "EXTERNAL_INTROSPECTION_CACHE_SECONDS": "2",
    }
    for server in external_server(demo_db, tmp_path, provider, **settings):
        resource = f"{server.base_url}/mcp"
        token = provider.client_credentials(resource, "mcp")
        assert token.count(".") == 0  # opaque: only the issuer can say what it is
        async with connect(server.base_url, "streamable", auth=Bearer(token)) as client:
            result = await client.call_tool("execute_sql", {"query": "SELECT 1 AS one"})
            assert not result.is_error, text_of(result)
        assert f"user=oidc:{provider.issuer}#{MACHINE_ID}" in _audit_user(server, "execute_sql")
        for refused in (
            provider.client_credentials("http://127.0.0.1:9/mcp", "mcp"),
            provider.client_credentials(resource, "other"),
            "not-a-token-the-issuer-knows",
        ):
            resp = _post_initialize(resource, refused)
            assert resp.status_code == 401 and "resource_metadata=" in resp.headers["www-authenticate"]
        # Revoked at the issuer: the cached answer holds for at most EXTERNAL_INTROSPECTION_CACHE_SECONDS.
        provider.revoke(token)
        assert _post_initialize(resource, token).status_code == 200
        time.sleep(2.5)
        assert _post_initialize(resource, token).status_code == 401


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "EXTERNAL_ISSUER"),
        ({"EXTERNAL_ISSUER": "https://id.example.com", "EXTERNAL_INTROSPECTION": "true"}, "EXTERNAL_CLIENT_ID"),
        ({"EXTERNAL_ISSUER": "https://id.example.com", "EXTERNAL_REQUIRED_SCOPE": "mcp read"}, "EXTERNAL_REQUIRED"),
    ],
)
def test_external_mode_without_what_it_needs_stops_at_start_naming_the_setting(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"AUTH_MODE": "external", **env}, env_file=None)
    assert caught.value.message.startswith(names) and "\n" not in caught.value.message


async def test_record_pages_sign_in_at_the_issuer_as_the_configured_confidential_client(
    demo_db: Path, tmp_path: Path
) -> None:
    port = free_port()
    callback = f"http://127.0.0.1:{port}/chatgpt/records/_signin/callback"
    with running_provider(
        tmp_path / "provider", {"carol": {"name": "Carol"}}, [callback], resource_server=resource_server("jwt")
    ) as provider:
        settings = {"EXTERNAL_CLIENT_ID": CLIENT_ID, "EXTERNAL_CLIENT_SECRET": CLIENT_SECRET}
        for server in external_server(demo_db, tmp_path, provider, face="chatgpt", port=port, **settings):
            token = provider.client_credentials(f"{server.base_url}/chatgpt/mcp", "mcp")
            async with connect(server.base_url, "streamable", auth=Bearer(token), prefix="/chatgpt") as client:
                result = await client.call_tool("search", {"query": "customers"})
            record_url = json.loads(text_of(result))["results"][0]["url"]
            with httpx2.Client(timeout=10, follow_redirects=False) as browser:
                resp = browser.get(record_url)
                assert resp.status_code == 303 and resp.headers["location"].startswith(provider.issuer + "/auth?")
                sent = httpx2.URL(resp.headers["location"]).params
                assert sent["client_id"] == CLIENT_ID and sent["redirect_uri"] == callback
                assert sent["resource"] == f"{server.base_url}/chatgpt/mcp" and sent["code_challenge_method"] == "S256"
                url = resp.headers["location"]
                for _ in range(10):  # the provider's sign-in form, then back to our callback, then the page
                    resp = browser.get(url)
                    if resp.status_code == 200 and "/interaction/" in resp.text:
                        form = parse_form(resp.text)
                        resp = browser.post(str(httpx2.URL(url).join(form.action)), data={"login": "carol"})
                    if resp.status_code not in (302, 303):
                        break
                    url = str(httpx2.URL(url).join(resp.headers["location"]))
                assert resp.status_code == 200 and "Customers" in resp.text, (url, resp.status_code, resp.text[:500])
                assert url == record_url


def test_an_issuer_that_does_not_answer_is_a_503_outage_not_a_401(
    demo_db: Path, tmp_path: Path, provider: OidcProvider
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens here: the key set cannot be fetched
    for server in external_server(demo_db, tmp_path, provider, EXTERNAL_ISSUER=dead):
        token = provider.client_credentials(f"{server.base_url}/mcp", "mcp")
        resp = _post_initialize(f"{server.base_url}/mcp", token)
        assert resp.status_code == 503, resp.text
        assert resp.headers["retry-after"] and resp.json() == {
            "error": "temporarily_unavailable",
            "error_description": "the company's authorization server did not answer",
        }
        assert "Traceback" not in server.log_path.read_text()
