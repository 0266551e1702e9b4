"""Everything sign-in must refuse, one rule at a time, against a real server on loopback.

Each test drives the real endpoints with raw HTTP (httpx2) and the login form, so it can break exactly
one thing the SDK client would always get right. Expiry cases need a clock: see test_oauth_clock.py.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mssql_mcp.oauth.sqlite_store import SqliteStore
from mssql_mcp.oauth.store import TokenRecord, digest, new_secret
from tests.support.oauth_flow import (
    DEFAULT_ACCOUNT,
    PING,
    REDIRECT_URI,
    Account,
    FormFiller,
    LoginRefused,
    authorize_code,
    bearer,
    pkce_pair,
    register,
    running_oauth_server,
)
from tests.support.procs import ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_oauth_server(demo_db, tmp_path_factory.mktemp("oauth-refusals")) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=15, follow_redirects=False) as client:
        yield client


async def public_client(http: httpx2.AsyncClient, issuer: str) -> str:
    resp = await register(http, issuer)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["client_id"])


async def code_for(issuer: str, client_id: str, *, resource: str | None = None) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    query = await authorize_code(issuer, client_id, DEFAULT_ACCOUNT, challenge, resource=resource or f"{issuer}/mcp")
    assert "code" in query, query
    assert query["iss"] == issuer and query["state"] == "st"
    return query["code"], verifier


def code_form(client_id: str, code: str, verifier: str | None, **extra: str) -> dict[str, str]:
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        form["code_verifier"] = verifier
    return {**form, **extra}


# -- registration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect",
    [
        "https://evil.example/callback",
        "https://claude.ai.evil.example/api/mcp/auth_callback",  # suffix tricks: the host must match exactly
        "https://claude.ai@evil.example/api/mcp/auth_callback",  # userinfo trick: the host is evil.example
        "http://claude.ai/api/mcp/auth_callback",  # not https
        "https://claude.ai/api/mcp/auth_callback#frag",
    ],
)
async def test_register_refuses_redirects_outside_the_allowed_hosts(
    server: ServerProcess, http: httpx2.AsyncClient, redirect: str
) -> None:
    resp = await register(http, server.base_url, redirect_uris=[redirect])
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_redirect_uri"


@pytest.mark.parametrize("host", ["claude.ai", "claude.com", "chatgpt.com"])
async def test_register_accepts_the_connector_callbacks_by_default(
    server: ServerProcess, http: httpx2.AsyncClient, host: str
) -> None:
    path = "/connector_platform_oauth_redirect" if host == "chatgpt.com" else "/api/mcp/auth_callback"
    resp = await register(http, server.base_url, redirect_uris=[f"https://{host}{path}"])
    assert resp.status_code == 201, resp.text
    assert "client_secret" not in resp.json()  # a public client: PKCE, no secret


# -- /authorize -----------------------------------------------------------------------------------


async def test_authorize_refuses_a_redirect_uri_that_was_not_registered(
    server: ServerProcess, http: httpx2.AsyncClient
) -> None:
    client_id = await public_client(http, server.base_url)
    _, challenge = pkce_pair()
    for other in ("http://127.0.0.1:10/callback", f"{REDIRECT_URI}/x", REDIRECT_URI.replace("127.0.0.1", "localhost")):
        resp = await http.get(
            f"{server.base_url}/authorize",
            params={
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": other,
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        # Never redirected to an unregistered URI: an error shown to the user instead (RFC 6749 §4.1.2.1).
        assert resp.status_code == 400, (other, resp.headers)
        assert resp.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),  # PKCE missing
        ({"code_challenge_method": "plain"}, "invalid_request"),  # PKCE plain
        ({"resource": "https://elsewhere.example/mcp"}, "invalid_target"),  # a resource that is not ours
        ({"response_type": "token"}, "unsupported_response_type"),  # implicit flow: gone in OAuth 2.1
    ],
)
async def test_authorize_errors_go_back_to_the_client_with_state_and_iss(
    server: ServerProcess, http: httpx2.AsyncClient, params: dict[str, Any], error: str
) -> None:
    client_id = await public_client(http, server.base_url)
    _, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    resp = await http.get(f"{server.base_url}/authorize", params={k: v for k, v in query.items() if v is not None})
    assert resp.status_code == 302
    location = httpx2.URL(resp.headers["location"])
    assert str(location).startswith(REDIRECT_URI)
    assert location.params["error"] == error
    assert location.params["state"] == "s1"
    assert location.params["iss"] == server.base_url  # RFC 9207 on errors too


# -- /token ---------------------------------------------------------------------------------------


async def test_wrong_pkce_verifier_is_refused(server: ServerProcess, http: httpx2.AsyncClient) -> None:
    client_id = await public_client(http, server.base_url)
    code, _ = await code_for(server.base_url, client_id)
    wrong, _ = pkce_pair()
    resp = await http.post(f"{server.base_url}/token", data=code_form(client_id, code, wrong))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    missing = await http.post(f"{server.base_url}/token", data=code_form(client_id, code, None))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


async def test_token_request_redirect_uri_must_match(server: ServerProcess, http: httpx2.AsyncClient) -> None:
    client_id = await public_client(http, server.base_url)
    code, verifier = await code_for(server.base_url, client_id)
    form = code_form(client_id, code, verifier, redirect_uri=REDIRECT_URI + "-other")
    resp = await http.post(f"{server.base_url}/token", data=form)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


async def test_token_request_resource_must_match_the_authorized_one(
    server: ServerProcess, http: httpx2.AsyncClient
) -> None:
    client_id = await public_client(http, server.base_url)
    code, verifier = await code_for(server.base_url, client_id, resource=f"{server.base_url}/mcp")
    resp = await http.post(
        f"{server.base_url}/token", data=code_form(client_id, code, verifier, resource=f"{server.base_url}/sse")
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_target"
    # The refusal did not burn the code: with the right resource it still works.
    ok = await http.post(
        f"{server.base_url}/token", data=code_form(client_id, code, verifier, resource=f"{server.base_url}/mcp")
    )
    assert ok.status_code == 200, ok.text


async def test_replayed_code_is_refused_and_revokes_what_it_gave(
    server: ServerProcess, http: httpx2.AsyncClient
) -> None:
    client_id = await public_client(http, server.base_url)
    code, verifier = await code_for(server.base_url, client_id)
    first = await http.post(f"{server.base_url}/token", data=code_form(client_id, code, verifier))
    assert first.status_code == 200, first.text
    access = first.json()["access_token"]
    assert (await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(access))).status_code == 200
    again = await http.post(f"{server.base_url}/token", data=code_form(client_id, code, verifier))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert (await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(access))).status_code == 401
    refresh = await http.post(
        f"{server.base_url}/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"], "client_id": client_id},
    )
    assert refresh.status_code == 400


async def test_code_is_bound_to_its_client(server: ServerProcess, http: httpx2.AsyncClient) -> None:
    owner, thief = await public_client(http, server.base_url), await public_client(http, server.base_url)
    code, verifier = await code_for(server.base_url, owner)
    resp = await http.post(f"{server.base_url}/token", data=code_form(thief, code, verifier))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


async def test_refresh_token_reuse_revokes_the_family(server: ServerProcess, http: httpx2.AsyncClient) -> None:
    client_id = await public_client(http, server.base_url)
    code, verifier = await code_for(server.base_url, client_id)
    tokens = (await http.post(f"{server.base_url}/token", data=code_form(client_id, code, verifier))).json()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id}
    rotated = await http.post(f"{server.base_url}/token", data=form)
    assert rotated.status_code == 200
    new = rotated.json()
    reused = await http.post(f"{server.base_url}/token", data=form)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # The thief's replay cost the legitimate holder its tokens too: the family is gone.
    probe = await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(new["access_token"]))
    assert probe.status_code == 401
    newer = await http.post(f"{server.base_url}/token", data={**form, "refresh_token": new["refresh_token"]})
    assert newer.status_code == 400


async def test_confidential_client_secret_post_and_basic(server: ServerProcess, http: httpx2.AsyncClient) -> None:
    issuer = server.base_url
    for method in ("client_secret_post", "client_secret_basic"):
        reg = (await register(http, issuer, auth_method=method)).json()
        client_id, secret = reg["client_id"], reg["client_secret"]
        code, verifier = await code_for(issuer, client_id)
        form = code_form(client_id, code, verifier)
        if method == "client_secret_post":
            wrong = await http.post(f"{issuer}/token", data={**form, "client_secret": secret + "x"})
            right = await http.post(f"{issuer}/token", data={**form, "client_secret": secret})
        else:
            wrong = await http.post(f"{issuer}/token", data=form, headers=basic(client_id, secret + "x"))
            del form["client_id"]  # with Basic, client_id need not be repeated in the form (RFC 6749 §2.3.1)
            right = await http.post(f"{issuer}/token", data=form, headers=basic(client_id, secret))
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client", method
        assert right.status_code == 200, (method, right.text)


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


# -- the MCP endpoints ----------------------------------------------------------------------------

CHALLENGE = re.compile(
    r'^Bearer (?:error="(?P<error>[a-z_]+)", error_description="[^"]*", )?'
    r'resource_metadata="(?P<meta>[^"]+)", scope="mcp"$'
)


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
async def test_no_token_gets_a_well_formed_challenge(
    server: ServerProcess, http: httpx2.AsyncClient, path: str
) -> None:
    resp = await http.post(f"{server.base_url}{path}", json=PING, headers={"Accept": "application/json"})
    assert resp.status_code == 401
    m = CHALLENGE.match(resp.headers["www-authenticate"])
    assert m and m["error"] is None, resp.headers["www-authenticate"]
    assert m["meta"] == f"{server.base_url}/.well-known/oauth-protected-resource{path}"
    meta = (await http.get(m["meta"])).json()
    assert meta["resource"] == f"{server.base_url}{path}" and meta["authorization_servers"] == [server.base_url]
    assert meta["scopes_supported"] == ["mcp"]


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "A" * 43, "x" * 5000, "Bearer", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."],
    ids=["garbage", "token-shaped", "long", "word", "unsigned-jwt"],
)
async def test_malformed_tokens_are_refused(server: ServerProcess, http: httpx2.AsyncClient, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    resp = await http.post(f"{server.base_url}/mcp", json=PING, headers=headers)
    assert resp.status_code == 401
    assert CHALLENGE.match(resp.headers["www-authenticate"]), resp.headers["www-authenticate"]


async def test_revoked_token_and_public_client_revocation(server: ServerProcess, http: httpx2.AsyncClient) -> None:
    client_id = await public_client(http, server.base_url)
    for hint in ("access_token", "refresh_token"):
        code, verifier = await code_for(server.base_url, client_id)
        tokens = (await http.post(f"{server.base_url}/token", data=code_form(client_id, code, verifier))).json()
        # RFC 7009 for a public client: token and client_id only, no secret.
        resp = await http.post(
            f"{server.base_url}/revoke", data={"token": tokens[hint], "token_type_hint": hint, "client_id": client_id}
        )
        assert resp.status_code == 200, resp.text
        probe = await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(tokens["access_token"]))
        assert probe.status_code == 401 and 'error="invalid_token"' in probe.headers["www-authenticate"]
        refresh = await http.post(
            f"{server.base_url}/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id},
        )
        assert refresh.status_code == 400


async def test_bearer_token_in_the_query_string_is_refused(server: ServerProcess, http: httpx2.AsyncClient) -> None:
    client_id = await public_client(http, server.base_url)
    code, verifier = await code_for(server.base_url, client_id)
    access = (await http.post(f"{server.base_url}/token", data=code_form(client_id, code, verifier))).json()
    resp = await http.post(
        f"{server.base_url}/mcp",
        params={"access_token": access["access_token"]},
        json=PING,
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert resp.status_code == 401
    assert 'error="invalid_request"' in resp.headers["www-authenticate"]


async def test_wrong_password_is_refused_with_a_generic_message(
    server: ServerProcess, http: httpx2.AsyncClient
) -> None:
    client_id = await public_client(http, server.base_url)
    _, challenge = pkce_pair()
    url = f"{server.base_url}/authorize?" + str(
        httpx2.QueryParams(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    pages = []
    for account in (Account("alice", "wrong password!"), Account("nobody-here", "wrong password!")):
        with pytest.raises(LoginRefused) as refused:
            await FormFiller(account).run(url)
        assert refused.value.status == 401
        pages.append(re.sub(r'value="[^"]*"', "", refused.value.page))  # hidden fields and echoed username differ
    # Unknown user and wrong password read the same: no user enumeration.
    assert pages[0] == pages[1]
    assert "Sign-in failed. Check the username and password" in pages[0]


async def test_token_without_our_scope_gets_403_insufficient_scope(
    server: ServerProcess, http: httpx2.AsyncClient
) -> None:
    # No client can obtain such a token through the flow (every grant carries "mcp"), so it is written
    # with the product's own store into the running server's file, as another issuer sharing it might.
    store_path = next(Path(server.log_path.parent).glob("oauth.sqlite"))
    store = SqliteStore(store_path)
    token = new_secret()
    store.save_token(
        TokenRecord(
            token_hash=digest(token),
            kind="access",
            client_id="c",
            username="alice",
            scopes=("profile",),
            resource=f"{server.base_url}/mcp",
            expires_at=time.time() + 60,
            family_id="f",
            created_at=time.time(),
        )
    )
    store.close()
    resp = await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(token))
    assert resp.status_code == 403
    assert resp.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert 'scope="mcp"' in resp.headers["www-authenticate"]
