"""The Host/Origin check runs first, on every route: a bad Origin is 403 and a bad Host 421 on /mcp whether or
not a valid token comes along; every other route (pages, OAuth, /health, record pages) refuses a bad Host,
with sign-in on and in dev mode alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.support.chatgpt_contract import signed
from tests.support.oauth_flow import (
    DEFAULT_ACCOUNT,
    PING,
    REDIRECT_URI,
    authorize_code,
    bearer,
    pkce_pair,
    register,
    running_oauth_server,
)
from tests.support.procs import ServerProcess, running_server

pytestmark = pytest.mark.anyio

EVIL_HOST = {"Host": "evil.example"}
EVIL_ORIGIN = {"Origin": "https://evil.example"}


@pytest.fixture(scope="module")
def signed_in(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_oauth_server(demo_db, tmp_path_factory.mktemp("host-check")) as server:
        yield server


@pytest.fixture(scope="module")
def chatgpt_signed_in(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_oauth_server(demo_db, tmp_path_factory.mktemp("host-check-gpt"), face="chatgpt") as server:
        yield server


@pytest.fixture(scope="module")
def chatgpt_dev(dev_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(dev_server_env, tmp_path_factory.mktemp("host-check-dev"), face="chatgpt") as server:
        yield server


async def access_token(issuer: str) -> str:
    async with httpx2.AsyncClient(timeout=15) as http:
        client_id = (await register(http, issuer)).json()["client_id"]
        verifier, challenge = pkce_pair()
        query = await authorize_code(issuer, client_id, DEFAULT_ACCOUNT, challenge, resource=f"{issuer}/mcp")
        form = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
        resp = await http.post(f"{issuer}/token", data=form)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])


async def test_on_mcp_host_and_origin_come_before_the_token(signed_in: ServerProcess) -> None:
    url = f"{signed_in.base_url}/mcp"
    no_token = {"Accept": "application/json, text/event-stream"}
    token = bearer(await access_token(signed_in.base_url))
    async with httpx2.AsyncClient(timeout=15) as http:
        assert (await http.post(url, json=PING, headers=token)).status_code == 200
        assert (await http.post(url, json=PING, headers=no_token)).status_code == 401
        for auth in (no_token, token, bearer("not-a-token")):
            origin = await http.post(url, json=PING, headers={**auth, **EVIL_ORIGIN})
            assert origin.status_code == 403, (auth, origin.text)
            host = await http.post(url, json=PING, headers={**auth, **EVIL_HOST})
            assert host.status_code == 421, (auth, host.text)
        # The legacy endpoints are checked the same way.
        for path in ("/sse", "/messages/"):
            resp = await http.post(signed_in.base_url + path, json=PING, headers={**no_token, **EVIL_ORIGIN})
            assert resp.status_code == 403, path


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/health"),
        ("GET", "/login?request=x"),
        ("GET", "/authorize"),
        ("POST", "/token"),
        ("POST", "/register"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/oauth-protected-resource/mcp"),
    ],
)
async def test_every_route_refuses_a_foreign_host(signed_in: ServerProcess, method: str, path: str) -> None:
    async with httpx2.AsyncClient(timeout=15, follow_redirects=False) as http:
        bad = await http.request(method, signed_in.base_url + path, headers=EVIL_HOST)
        good = await http.request(method, signed_in.base_url + path)
    assert bad.status_code == 421, bad.text
    assert good.status_code != 421


async def test_oauth_endpoints_still_serve_other_origins(signed_in: ServerProcess) -> None:
    """Browser-based clients (Inspector's web UI) register and discover from their own origin."""
    async with httpx2.AsyncClient(timeout=15) as http:
        meta = await http.get(
            f"{signed_in.base_url}/.well-known/oauth-authorization-server", headers={"Origin": "http://localhost:6274"}
        )
        assert meta.status_code == 200


@pytest.mark.parametrize("mode", ["signed-in", "dev"])
async def test_record_pages_refuse_a_foreign_host(
    chatgpt_signed_in: ServerProcess, chatgpt_dev: ServerProcess, mode: str
) -> None:
    server = chatgpt_signed_in if mode == "signed-in" else chatgpt_dev
    url = f"{server.base_url}/chatgpt/records/{signed('catalog:tables')}"
    async with httpx2.AsyncClient(timeout=15, follow_redirects=False) as http:
        assert (await http.get(url, headers=EVIL_HOST)).status_code == 421
        good = await http.get(url)
    assert good.status_code == (303 if mode == "signed-in" else 200)  # sign-in starts / the page (dev mode)
