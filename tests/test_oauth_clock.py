"""Lifetimes, with an injected clock: codes (5 min), access tokens (ACCESS_TOKEN_TTL_SECONDS), refresh
tokens (REFRESH_TOKEN_TTL_SECONDS) and pending sign-ins (15 min) expire, and expired ones are refused.

The server is the product's `build_auth` behind uvicorn in a subprocess (tests/support/clock_server.py)
whose clock the test moves forward by rewriting a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from tests.support.oauth_flow import (
    DEFAULT_ACCOUNT,
    REDIRECT_URI,
    add_user,
    authorize_code,
    bearer,
    pkce_pair,
    register,
)
from tests.support.procs import ROOT, free_port, stop_pid, wait_http

pytestmark = pytest.mark.anyio


@dataclass
class ClockServer:
    base_url: str
    offset_file: Path

    def advance(self, seconds: float) -> None:
        current = float(self.offset_file.read_text() or 0) if self.offset_file.exists() else 0.0
        self.offset_file.write_text(str(current + seconds))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ClockServer]:
    store = tmp_path / "oauth.sqlite"
    add_user(store, DEFAULT_ACCOUNT)
    port = free_port()
    offset = tmp_path / "offset"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OAUTH_", "MSSQL_", "SQLITE_"))}
    env.update(
        {
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PORT": str(port),
            "OAUTH_STORE_PATH": str(store),
            "ALLOW_LOOPBACK_REDIRECTS": "true",
            "CLOCK_OFFSET_FILE": str(offset),
        }
    )
    log = tmp_path / "clock-server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.clock_server"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, log)
        yield ClockServer(f"http://127.0.0.1:{port}", offset)
    finally:
        stop_pid(proc)


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=15, follow_redirects=False) as client:
        yield client


async def grant(http: httpx2.AsyncClient, issuer: str) -> tuple[str, str, str]:
    client_id = (await register(http, issuer)).json()["client_id"]
    verifier, challenge = pkce_pair()
    query = await authorize_code(issuer, client_id, DEFAULT_ACCOUNT, challenge, resource=f"{issuer}/mcp")
    return client_id, query["code"], verifier


def code_form(client_id: str, code: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }


async def test_code_expires_after_five_minutes(server: ClockServer, http: httpx2.AsyncClient) -> None:
    client_id, code, verifier = await grant(http, server.base_url)
    server.advance(301)
    resp = await http.post(f"{server.base_url}/token", data=code_form(client_id, code, verifier))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


async def test_code_is_good_within_five_minutes(server: ClockServer, http: httpx2.AsyncClient) -> None:
    client_id, code, verifier = await grant(http, server.base_url)
    server.advance(290)
    resp = await http.post(f"{server.base_url}/token", data=code_form(client_id, code, verifier))
    assert resp.status_code == 200, resp.text


async def test_access_token_expires_and_refresh_token_outlives_it(
    server: ClockServer, http: httpx2.AsyncClient
) -> None:
    client_id, code, verifier = await grant(http, server.base_url)
    tokens = (await http.post(f"{server.base_url}/token", data=code_form(client_id, code, verifier))).json()
    ok = await http.get(f"{server.base_url}/mcp", headers=bearer(tokens["access_token"]))
    assert ok.status_code == 200 and ok.json() == {"user": "alice"}
    server.advance(3601)
    expired = await http.get(f"{server.base_url}/mcp", headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["www-authenticate"]
    refreshed = await http.post(
        f"{server.base_url}/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id},
    )
    assert refreshed.status_code == 200, refreshed.text
    again = await http.get(f"{server.base_url}/mcp", headers=bearer(refreshed.json()["access_token"]))
    assert again.status_code == 200


async def test_refresh_token_expires(server: ClockServer, http: httpx2.AsyncClient) -> None:
    client_id, code, verifier = await grant(http, server.base_url)
    tokens = (await http.post(f"{server.base_url}/token", data=code_form(client_id, code, verifier))).json()
    server.advance(30 * 86_400 + 1)
    resp = await http.post(
        f"{server.base_url}/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id},
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


async def test_pending_sign_in_expires(server: ClockServer, http: httpx2.AsyncClient) -> None:
    client_id = (await register(http, server.base_url)).json()["client_id"]
    _, challenge = pkce_pair()
    resp = await http.get(
        f"{server.base_url}/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    login_url = httpx2.URL(resp.headers["location"])
    server.advance(901)
    page = await http.get(str(login_url))
    assert page.status_code == 400 and "expired" in page.text
