"""AUTH_MODE=oidc offboarding, against a real OpenID Provider (npm oidc-provider) on loopback.

- Every refresh of ours refreshes the person's session at the provider too; when the provider refuses (the
  account was disabled there), our refresh is refused and the person's tokens are revoked, so the access
  token in hand stops working at once rather than at its expiry.
- `mssql-mcp users remove KEY` revokes a provider person's tokens and blocks them (the provider would let
  them straight back in); `users allow KEY` lifts it. `users list` says where each person comes from.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp.shared.auth import OAuthToken

from tests.support.mcp_client import connect
from tests.support.oauth_flow import PING, Account, LoginRefused, MemoryStorage, bearer, oauth_client
from tests.support.oidc_flow import UpstreamFiller, authorize_url, callback_for, upstream_server
from tests.support.oidc_provider import OidcProvider, running_provider
from tests.support.procs import ROOT, ServerProcess, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ACCOUNTS = {
    name: {"email": f"{name}@example.com", "email_verified": True, "name": name.title(), "groups": ["db-readers"]}
    for name in ("ivan", "judy", "kate")
}


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[OidcProvider]:
    with running_provider(tmp_path_factory.mktemp("idp"), ACCOUNTS, [callback_for(port)]) as running:
        yield running


@pytest.fixture(scope="module")
def server(
    demo_db: Path, tmp_path_factory: pytest.TempPathFactory, provider: OidcProvider, port: int
) -> Iterator[ServerProcess]:
    env = {"OIDC_REQUIRED_GROUPS": "db-readers", "ACCESS_TOKEN_TTL_SECONDS": "60"}
    with upstream_server(demo_db, tmp_path_factory.mktemp("srv"), provider, port, env) as running:
        yield running


async def signed_in(server: ServerProcess, login: str) -> MemoryStorage:
    storage = MemoryStorage()
    filler = UpstreamFiller(Account(login, ""))
    auth, _, _ = oauth_client(f"{server.base_url}/mcp", filler.account, storage=storage, filler=filler)
    async with connect(server.base_url, "streamable", auth=auth) as client:
        await client.list_tools()
    assert storage.tokens is not None and storage.tokens.expires_in == 60
    return storage


async def refresh(http: httpx2.AsyncClient, server: ServerProcess, storage: MemoryStorage) -> httpx2.Response:
    assert storage.tokens is not None and storage.client_info is not None
    form = {
        "grant_type": "refresh_token",
        "refresh_token": storage.tokens.refresh_token or "",
        "client_id": storage.client_info.client_id or "",
    }
    return await http.post(f"{server.base_url}/token", data=form)


def sealed_upstream(server: ServerProcess, key: str) -> str:
    with sqlite3.connect(f"file:{server.log_path.parent / 'oauth.sqlite'}?mode=ro", uri=True) as db:
        (value,) = db.execute("SELECT upstream FROM people WHERE key = ?", (key,)).fetchone()
    return str(value)


def users(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"OAUTH_STORE_PATH": str(server.log_path.parent / "oauth.sqlite"), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "mssql_mcp", "--env-file", "/nonexistent", "users", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_a_person_disabled_at_the_provider_loses_access_at_the_next_refresh(
    server: ServerProcess, provider: OidcProvider
) -> None:
    storage = await signed_in(server, "ivan")
    key = f"oidc:{provider.issuer}#ivan"
    before = sealed_upstream(server, key)
    async with httpx2.AsyncClient(timeout=30) as http:
        # While the account is active, our refresh works, and it refreshed the session at the provider: the
        # sealed provider tokens were replaced.
        ok = await refresh(http, server, storage)
        assert ok.status_code == 200, ok.text
        storage.tokens = OAuthToken.model_validate(ok.json())
        assert sealed_upstream(server, key) != before
        assert (
            await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(storage.tokens.access_token))
        ).status_code == 200

        provider.disable("ivan")
        refused = await refresh(http, server, storage)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        # The access token in hand is revoked with the refusal, not left to run out its 60 s.
        gone = await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(storage.tokens.access_token))
        assert gone.status_code == 401
    lines = [ln for ln in server.log().splitlines() if "msg=upstream_refused" in ln]
    assert lines and f"user={key}" in lines[-1]


async def test_users_remove_blocks_a_provider_person_and_users_allow_lets_them_back(
    server: ServerProcess, provider: OidcProvider
) -> None:
    storage = await signed_in(server, "judy")
    key = f"oidc:{provider.issuer}#judy"
    listed = users(server, "list")
    assert listed.returncode == 0
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith(key + "\t"))
    assert "Judy <judy@example.com>" in line and f"from {provider.issuer}" in line

    removed = users(server, "remove", key)
    assert removed.returncode == 0 and "blocked" in removed.stdout, removed.stderr
    assert "BLOCKED" in users(server, "list").stdout
    assert storage.tokens is not None
    async with httpx2.AsyncClient(timeout=30) as http:
        resp = await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(storage.tokens.access_token))
        assert resp.status_code == 401
        assert (await refresh(http, server, storage)).status_code == 400
    # The provider still signs judy in, but we do not let her through.
    with pytest.raises(LoginRefused) as caught:
        await UpstreamFiller(Account("judy", "")).run(await authorize_url(server.base_url))
    assert caught.value.status == 403 and "removed by an operator" in caught.value.page

    assert users(server, "allow", key).returncode == 0
    assert (await signed_in(server, "judy")).tokens is not None
    assert users(server, "passwd", key).returncode == 1  # no password here to change


async def test_a_person_removed_from_the_group_at_the_provider_is_refused_at_the_next_refresh(
    server: ServerProcess, provider: OidcProvider
) -> None:
    storage = await signed_in(server, "kate")
    provider.set_claims("kate", {**ACCOUNTS["kate"], "groups": ["sales"]})  # the session itself stays valid
    async with httpx2.AsyncClient(timeout=30) as http:
        refused = await refresh(http, server, storage)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
        assert storage.tokens is not None
        gone = await http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(storage.tokens.access_token))
        assert gone.status_code == 401
    lines = [ln for ln in server.log().splitlines() if "msg=oidc_refused" in ln and "at=refresh" in ln]
    assert lines and "cause=group" in lines[-1] and "#kate" in lines[-1]
