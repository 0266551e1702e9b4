"""Drive the upstream sign-in (AUTH_MODE=oidc) with no browser: our /authorize → our /login → the test
OpenID Provider's sign-in form (tests/support/oidc_provider.mjs) → our /oidc/callback → our consent → the
client's redirect URI, keeping every cookie as a browser would.

`UpstreamFiller` plugs into the SDK's `OAuthClientProvider` like `FormFiller` (tests/support/oauth_flow.py);
`upstream_server(...)` starts a face with AUTH_MODE=oidc against a running provider.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from cryptography.fernet import Fernet

from tests.support.oauth_flow import REDIRECT_URI, Account, FormFiller, LoginRefused, parse_form, pkce_pair, register
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.support.procs import ServerProcess, running_server

TOKEN_KEY = Fernet.generate_key().decode()


@dataclass
class UpstreamFiller(FormFiller):
    """Signs in at the provider as `login`. `at_callback(url)` runs once, just before the browser is sent
    back to our callback, and returns the URL to go to instead (a test changes the state, stops the
    provider, keeps a copy to replay, ...). `visited` lists every URL the browser went to."""

    account: Account = field(default_factory=lambda: Account("alice", ""))
    at_callback: Callable[[str], str] | None = None
    visited: list[str] = field(default_factory=list)
    http: httpx2.AsyncClient | None = None  # a shared cookie jar: the same browser across two sign-ins

    async def run(self, authorize_url: str) -> str:
        if self.http is not None:
            return await self._drive(self.http, authorize_url)
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            return await self._drive(http, authorize_url)

    async def _drive(self, http: httpx2.AsyncClient, url: str) -> str:
        # Done on reaching the client's redirect URI (not loaded: the caller delivers it, or reads the code).
        redirect = parse_qs(urlsplit(url).query).get("redirect_uri", [REDIRECT_URI])[0]
        for _ in range(30):
            if url.startswith(redirect):
                return url
            if "/oidc/callback" in url and self.at_callback is not None:
                url, self.at_callback = self.at_callback(url), None
            self.visited.append(url)
            resp = await http.get(url)
            if resp.status_code in (302, 303):
                url = urljoin(url, resp.headers["location"])
                continue
            if resp.status_code != 200:
                raise LoginRefused(resp.status_code, resp.text)
            self.pages.append(resp.text)
            form = parse_form(resp.text)
            if "/interaction/" in form.action:
                data = {"login": self.account.username}
            elif form.action.endswith("/oidc/start"):  # our login page with LOCAL_PASSWORDS=true: the button
                url = urljoin(url, form.action) + "?" + str(httpx2.QueryParams(form.fields))
                continue
            elif form.action.endswith("/consent"):
                data = {**form.fields, "decision": self.decision}
            else:
                raise AssertionError(f"unexpected form {form.action} at {url}")
            resp = await http.post(urljoin(url, form.action), data=data)
            if resp.status_code not in (302, 303):
                raise LoginRefused(resp.status_code, resp.text)
            url = urljoin(url, resp.headers["location"])
        raise AssertionError(f"too many redirects; visited {self.visited}")


def upstream_env(provider: OidcProvider, port: int, **extra: str) -> dict[str, str]:
    return {
        "AUTH_MODE": "oidc",
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_DISPLAY_NAME": "Sign in with Contoso",
        "UPSTREAM_TOKEN_KEYS": TOKEN_KEY,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ALLOW_LOOPBACK_REDIRECTS": "true",
        "LOG_LEVEL": "INFO",
        **extra,
    }


@contextlib.contextmanager
def upstream_server(
    demo_db: Path,
    tmp: Path,
    provider: OidcProvider,
    port: int,
    env: Mapping[str, str] | None = None,
    *,
    face: str = "claude",
) -> Iterator[ServerProcess]:
    """A face signing people in through `provider`, its own store in `tmp`; `port` must be one whose
    callback the provider's client lists."""
    tmp.mkdir(parents=True, exist_ok=True)
    full = {
        "SQLITE_PATH": str(demo_db),
        "OAUTH_STORE_PATH": str(tmp / "oauth.sqlite"),
        **upstream_env(provider, port),
        **(env or {}),
    }
    with running_server(full, tmp, face=face, port=port) as server:
        yield server


def callback_for(port: int, prefix: str = "") -> str:
    return f"http://127.0.0.1:{port}{prefix}/oidc/callback"


async def authorize_url(base_url: str) -> str:
    """A fresh client registered at our server, and the /authorize URL it would open (PKCE S256)."""
    async with httpx2.AsyncClient(timeout=10) as http:
        client_id = (await register(http, base_url)).json()["client_id"]
    _, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "client-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": f"{base_url}/mcp",
    }
    return f"{base_url}/authorize?{httpx2.QueryParams(query)}"
