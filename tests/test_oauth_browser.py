"""The sign-in pages in a real browser: Debian's Chromium, headless, driven by Playwright.

Fill the form and approve; then the same with the keyboard only. The client's redirect URI is answered
inside the browser (Playwright routing), so the test reads the code from the URL the browser landed on,
then redeems it. Screenshots go to test-artifacts/oauth/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest

from tests.support.oauth_flow import DEFAULT_ACCOUNT, PING, REDIRECT_URI, bearer, pkce_pair, running_oauth_server
from tests.support.procs import ROOT, ServerProcess

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without these, Chromium keeps dialling out (updates, sync, field trials), and tests stay on loopback;
# no sandbox: tests may run as root.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "oauth"


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
def server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_oauth_server(demo_db, tmp_path_factory.mktemp("oauth-browser")) as server:
        yield server


def start(server: ServerProcess) -> tuple[str, str, str]:
    """Register a public client; return (client_id, verifier, authorize URL)."""
    with httpx2.Client(timeout=10) as http:
        client_id = http.post(
            f"{server.base_url}/register",
            json={
                "client_name": "Browser test",
                "redirect_uris": [REDIRECT_URI],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            },
        ).json()["client_id"]
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "browser-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": f"{server.base_url}/mcp",
        }
    )
    return client_id, verifier, f"{server.base_url}/authorize?{query}"


def redeem(server: ServerProcess, client_id: str, verifier: str, landed: str) -> None:
    query = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
    assert landed.startswith(REDIRECT_URI) and query["state"] == "browser-state" and query["iss"] == server.base_url
    with httpx2.Client(timeout=10) as http:
        tokens = http.post(
            f"{server.base_url}/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        ).json()
        ping = http.post(f"{server.base_url}/mcp", json=PING, headers=bearer(tokens["access_token"]))
    assert ping.status_code == 200, ping.text


def new_page(chromium: Any) -> tuple[Any, Any, list[str]]:
    context = chromium.new_context()
    page = context.new_page()
    landed: list[str] = []

    def answer_callback(route: Any) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Connected</h1>")

    context.route(lambda url: url.startswith(REDIRECT_URI), answer_callback)
    return context, page, landed


def test_fill_the_form_and_approve(chromium: Any, server: ServerProcess) -> None:
    client_id, verifier, url = start(server)
    context, page, landed = new_page(chromium)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(url)
        assert page.title() == "Sign in · mssql-mcp"
        page.screenshot(path=str(ARTIFACTS / "login.png"))
        # By label: the inputs are reachable the way assistive technology finds them.
        page.get_by_label("Username").fill(DEFAULT_ACCOUNT.username)
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        assert page.get_by_role("alert").inner_text().startswith("Sign-in failed")
        page.screenshot(path=str(ARTIFACTS / "login-failed.png"))
        page.get_by_label("Password").fill(DEFAULT_ACCOUNT.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/consent?**")
        assert "Browser test" in page.content()
        page.screenshot(path=str(ARTIFACTS / "consent.png"))
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{REDIRECT_URI}**")
        page.screenshot(path=str(ARTIFACTS / "redirected.png"))
    finally:
        context.close()
    assert len(landed) == 1
    redeem(server, client_id, verifier, landed[0])


def test_keyboard_only(chromium: Any, server: ServerProcess) -> None:
    client_id, verifier, url = start(server)
    context, page, _ = new_page(chromium)
    try:
        page.goto(url)
        assert page.evaluate("document.activeElement.id") == "username"  # autofocus, no script needed
        page.keyboard.type(DEFAULT_ACCOUNT.username)
        page.keyboard.press("Tab")
        page.keyboard.type(DEFAULT_ACCOUNT.password)
        page.keyboard.press("Enter")
        page.wait_for_url("**/consent?**")
        page.keyboard.press("Tab")  # the first control on the consent page is "Allow"
        assert page.evaluate("document.activeElement.textContent") == "Allow"
        page.screenshot(path=str(ARTIFACTS / "consent-keyboard-focus.png"))
        with page.expect_request(lambda r: r.url.startswith(REDIRECT_URI)) as sent:
            page.keyboard.press("Enter")
    finally:
        context.close()
    # The browser followed the server's redirect to the client with a code (read from the request it made:
    # Playwright's routing does not see this keyboard-submitted navigation, so nothing answers it).
    redeem(server, client_id, verifier, sent.value.url)


def test_deny_in_the_browser(chromium: Any, server: ServerProcess) -> None:
    _, _, url = start(server)
    context, page, landed = new_page(chromium)
    try:
        page.goto(url)
        page.get_by_label("Username").fill(DEFAULT_ACCOUNT.username)
        page.get_by_label("Password").fill(DEFAULT_ACCOUNT.password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Deny").click()
        page.wait_for_url(f"{REDIRECT_URI}**")
    finally:
        context.close()
    query = parse_qs(urlsplit(landed[0]).query)
    assert query["error"] == ["access_denied"] and "code" not in query
