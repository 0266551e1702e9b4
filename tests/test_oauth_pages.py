"""The sign-in and consent pages over real HTTP: forms, CSRF, consent binding, deny, throttling, headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urljoin

import anyio
import httpx2
import pytest

from tests.support.oauth_flow import (
    DEFAULT_ACCOUNT,
    REDIRECT_URI,
    Form,
    parse_form,
    pkce_pair,
    register,
    running_oauth_server,
)
from tests.support.procs import ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_oauth_server(demo_db, tmp_path_factory.mktemp("oauth-pages")) as server:
        yield server


@pytest.fixture
async def browser() -> AsyncIterator[httpx2.AsyncClient]:
    """One browser: its own cookie jar, no redirects followed (the tests read them)."""
    async with httpx2.AsyncClient(timeout=15, follow_redirects=False) as client:
        yield client


async def open_login(
    browser: httpx2.AsyncClient, issuer: str, *, name: str = "Pages test", state: str = "s"
) -> tuple[str, httpx2.Response]:
    client_id = (await register(browser, issuer, name=name)).json()["client_id"]
    _, challenge = pkce_pair()
    resp = await browser.get(
        f"{issuer}/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert resp.status_code == 302
    login_url = urljoin(issuer, resp.headers["location"])
    return login_url, await browser.get(login_url)


async def submit(browser: httpx2.AsyncClient, page_url: str, form: Form, **fields: str) -> httpx2.Response:
    return await browser.post(urljoin(page_url, form.action), data={**form.fields, **fields})


async def signed_in_consent(browser: httpx2.AsyncClient, issuer: str, **kw: str) -> tuple[str, httpx2.Response]:
    login_url, page = await open_login(browser, issuer, **kw)
    resp = await submit(
        browser, login_url, parse_form(page.text), username=DEFAULT_ACCOUNT.username, password=DEFAULT_ACCOUNT.password
    )
    assert resp.status_code == 303, resp.text
    consent_url = urljoin(login_url, resp.headers["location"])
    return consent_url, await browser.get(consent_url)


async def test_login_page_is_a_plain_accessible_form(server: ServerProcess, browser: httpx2.AsyncClient) -> None:
    _, page = await open_login(browser, server.base_url)
    html = page.text
    assert page.status_code == 200
    assert "<script" not in html.lower()  # no JavaScript at all
    assert '<html lang="en">' in html
    assert re.search(r'<label for="username">', html) and re.search(r'<input type="text" id="username"', html)
    assert re.search(r'<label for="password">', html) and re.search(r'<input type="password" id="password"', html)
    assert 'autocomplete="current-password"' in html
    form = parse_form(html)
    assert set(form.fields) == {"request", "csrf", "username", "password"} and len(form.fields["csrf"]) == 64
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


async def test_client_name_is_escaped(server: ServerProcess, browser: httpx2.AsyncClient) -> None:
    _, page = await open_login(browser, server.base_url, name='<img src=x onerror="alert(1)">Evil')
    assert "<img" not in page.text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Evil" in page.text


@pytest.mark.parametrize("tamper", ["missing", "wrong", "no-cookie"])
async def test_login_without_a_valid_csrf_token_is_refused(
    server: ServerProcess, browser: httpx2.AsyncClient, tamper: str
) -> None:
    login_url, page = await open_login(browser, server.base_url)
    form = parse_form(page.text)
    fields = {**form.fields, "username": DEFAULT_ACCOUNT.username, "password": DEFAULT_ACCOUNT.password}
    if tamper == "missing":
        del fields["csrf"]
    elif tamper == "wrong":
        fields["csrf"] = "0" * 64
    else:
        browser.cookies.clear()
    resp = await browser.post(urljoin(login_url, form.action), data=fields)
    assert resp.status_code == 403 and "form has expired" in resp.text


async def test_consent_page_says_who_where_and_what(server: ServerProcess, browser: httpx2.AsyncClient) -> None:
    _, page = await signed_in_consent(browser, server.base_url, name="Inspector Gadget")
    text = page.text
    assert "Signed in as <strong>alice</strong>" in text
    assert "Inspector Gadget" in text and "127.0.0.1:33418" in text and "database tools" in text
    assert f"{server.base_url}/mcp" in text
    assert [b[1] for b in parse_form(text).buttons] == ["approve", "deny"]


async def test_deny_redirects_with_access_denied(server: ServerProcess, browser: httpx2.AsyncClient) -> None:
    consent_url, page = await signed_in_consent(browser, server.base_url, state="keep-me")
    resp = await submit(browser, consent_url, parse_form(page.text), decision="deny")
    assert resp.status_code == 303
    location = httpx2.URL(resp.headers["location"])
    assert str(location).startswith(REDIRECT_URI)
    assert location.params["error"] == "access_denied" and location.params["state"] == "keep-me"
    assert location.params["iss"] == server.base_url and "code" not in location.params


async def test_consent_is_once_and_only_from_the_browser_that_signed_in(
    server: ServerProcess, browser: httpx2.AsyncClient
) -> None:
    consent_url, page = await signed_in_consent(browser, server.base_url)
    form = parse_form(page.text)
    async with httpx2.AsyncClient(timeout=15, follow_redirects=False) as other:
        stranger = await other.post(urljoin(consent_url, form.action), data={**form.fields, "decision": "approve"})
        assert stranger.status_code == 403
        assert (await other.get(consent_url)).status_code == 403
    approved = await submit(browser, consent_url, form, decision="approve")
    assert approved.status_code == 303 and "code=" in approved.headers["location"]
    again = await submit(browser, consent_url, form, decision="approve")
    assert again.status_code in (400, 403)


async def test_throttling_per_user_then_recovery(server: ServerProcess, browser: httpx2.AsyncClient) -> None:
    login_url, page = await open_login(browser, server.base_url)
    form = parse_form(page.text)
    ip = {"X-Forwarded-For": "198.51.100.7"}  # trusted from 127.0.0.1 (FORWARDED_ALLOW_IPS): a fresh IP count
    for _ in range(5):
        resp = await browser.post(
            urljoin(login_url, form.action),
            headers=ip,
            data={**form.fields, "username": "alice", "password": "not it at all"},
        )
        assert resp.status_code == 401
    # The sixth attempt waits, even with the right password.
    blocked = await browser.post(
        urljoin(login_url, form.action),
        headers=ip,
        data={**form.fields, "username": "alice", "password": DEFAULT_ACCOUNT.password},
    )
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert "Too many failed attempts" in blocked.text
    await anyio.sleep(float(blocked.headers["retry-after"]))
    ok = await browser.post(
        urljoin(login_url, form.action),
        headers=ip,
        data={**form.fields, "username": "alice", "password": DEFAULT_ACCOUNT.password},
    )
    assert ok.status_code == 303


async def test_throttling_per_ip_across_usernames(server: ServerProcess, browser: httpx2.AsyncClient) -> None:
    login_url, page = await open_login(browser, server.base_url)
    form = parse_form(page.text)
    ip = {"X-Forwarded-For": "203.0.113.9"}
    for i in range(20):
        resp = await browser.post(
            urljoin(login_url, form.action),
            headers=ip,
            data={**form.fields, "username": f"guess{i}", "password": "password1"},
        )
        assert resp.status_code == 401, i
    blocked = await browser.post(
        urljoin(login_url, form.action),
        headers=ip,
        data={**form.fields, "username": "alice", "password": DEFAULT_ACCOUNT.password},
    )
    assert blocked.status_code == 429
    # Another address is not affected.
    elsewhere = await browser.post(
        urljoin(login_url, form.action),
        headers={"X-Forwarded-For": "192.0.2.44"},
        data={**form.fields, "username": "alice", "password": DEFAULT_ACCOUNT.password},
    )
    assert elsewhere.status_code == 303


async def test_unknown_request_shows_a_message_not_a_form(server: ServerProcess, browser: httpx2.AsyncClient) -> None:
    resp = await browser.get(f"{server.base_url}/login", params={"request": "made-up"})
    assert resp.status_code == 400 and "<form" not in resp.text and "expired" in resp.text
