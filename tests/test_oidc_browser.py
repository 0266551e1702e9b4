"""AUTH_MODE=oidc in a real browser (Debian's Chromium, headless, Playwright) with a real OpenID Provider
(npm oidc-provider) on loopback: a client registered with Claude's or ChatGPT's callback URL → our
/authorize → the provider's sign-in page → our callback → our consent page → the client's callback (answered
inside the browser by Playwright routing, so nothing leaves loopback) → the code redeemed → an MCP call.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest

from tests.support.oauth_flow import PING, bearer, pkce_pair
from tests.support.oidc_flow import callback_for, upstream_server
from tests.support.oidc_provider import OidcProvider, running_provider
from tests.support.procs import ROOT, ServerProcess, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "oidc"
CALLBACKS = {
    "claude": "https://claude.ai/api/mcp/auth_callback",
    "chatgpt": "https://chatgpt.com/connector_platform_oauth_redirect",
}
ALICE = {"email": "alice@example.com", "email_verified": True, "name": "Alice Example", "groups": ["db-readers"]}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def stack(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OidcProvider, ServerProcess]]:
    port = free_port()
    tmp = tmp_path_factory.mktemp("oidc-browser")
    with running_provider(tmp / "idp", {"alice": ALICE}, [callback_for(port)]) as provider:
        env = {"OIDC_ALLOWED_DOMAINS": "example.com", "OIDC_REQUIRED_GROUPS": "db-readers"}
        with upstream_server(demo_db, tmp / "srv", provider, port, env) as server:
            yield provider, server


@pytest.mark.parametrize("platform", ["claude", "chatgpt"])
def test_the_whole_flow_in_chromium(chromium: Any, stack: tuple[OidcProvider, ServerProcess], platform: str) -> None:
    provider, server = stack
    redirect = CALLBACKS[platform]
    with httpx2.Client(timeout=10) as http:
        client_id = http.post(
            f"{server.base_url}/register",
            json={
                "client_name": f"{platform} (browser test)",
                "redirect_uris": [redirect],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            },
        ).json()["client_id"]
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "state": "browser-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": f"{server.base_url}/mcp",
    }
    context = chromium.new_context()
    landed: list[str] = []

    def answer(route: Any) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Connected</h1>")

    context.route(lambda url: url.startswith(redirect), answer)
    page = context.new_page()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{server.base_url}/authorize?{urlencode(query)}")
        page.wait_for_url(f"{provider.issuer}/interaction/**")  # straight on to the company's provider
        page.screenshot(path=str(ARTIFACTS / f"{platform}-provider.png"))
        page.fill("input[name=login]", "alice")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.base_url}/consent?**")
        assert "Alice Example" in page.content() and f"{platform} (browser test)" in page.content()
        page.screenshot(path=str(ARTIFACTS / f"{platform}-consent.png"))
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{redirect}**")
    finally:
        context.close()
    assert len(landed) == 1
    got = {k: v[0] for k, v in parse_qs(urlsplit(landed[0]).query).items()}
    assert got["state"] == "browser-state" and got["iss"] == server.base_url
    with httpx2.Client(timeout=10) as http:
        form = {
            "grant_type": "authorization_code",
            "code": got["code"],
            "client_id": client_id,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        }
        tokens = http.post(f"{server.base_url}/token", data=form).json()
        ping = http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(tokens["access_token"]))
    assert ping.status_code == 200, ping.text
