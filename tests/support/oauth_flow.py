"""Drive our sign-in the way a person and a real client would, with no browser.

- `oauth_client(...)`: the MCP SDK's own `OAuthClientProvider` (discovery, registration, PKCE, state,
  resource, iss check, refresh) whose redirect step is completed by `FormFiller`: it GETs the authorize
  URL, submits the login form and the consent form as a browser would (cookies kept, hidden fields
  copied), and hands the code from the final redirect back to the SDK.
- `signed_in(...)`: a connected SDK `Client` for either face and transport.
- Low-level steps (`register`, `authorize_code`, `pkce_pair`) for tests that break one rule at a time.

Usable by any face: pass `prefix="/chatgpt"` for the ChatGPT face.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.support.mcp_client import Transport, connect
from tests.support.procs import ROOT, ServerProcess, free_port, running_server

REDIRECT_URI = "http://127.0.0.1:33418/callback"  # never contacted: the code is read from the Location header


@dataclass(frozen=True)
class Account:
    username: str
    password: str


def add_user(store_path: Path, account: Account) -> None:
    """Create a user with the product's own CLI (`mssql-mcp users add --password-stdin`)."""
    env = {"OAUTH_STORE_PATH": str(store_path), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mssql_mcp",
            "--env-file",
            "/nonexistent",
            "users",
            "add",
            account.username,
            "--password-stdin",
        ],
        input=account.password + "\n",
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
    )


# -- HTML forms ---------------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", "")))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def parse_form(html: str) -> Form:
    parser = _FormParser()
    parser.feed(html)
    assert parser.forms, f"no form in page:\n{html[:2000]}"
    return parser.forms[0]


# -- the person at the browser ------------------------------------------------------------------


@dataclass
class FormFiller:
    """Completes /authorize → login → consent with httpx2, like a browser without JavaScript."""

    account: Account
    decision: str = "approve"
    final_url: str | None = None
    pages: list[str] = field(default_factory=list)

    async def run(self, authorize_url: str) -> str:
        """Returns the Location the server finally sends the browser to (the client's redirect URI)."""
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            resp = await http.get(authorize_url)
            location = _location(resp, authorize_url)
            if "/login?" not in location:
                return location  # an error redirect straight from /authorize
            resp = await http.get(location)
            assert resp.status_code == 200, resp.text
            self.pages.append(resp.text)
            form = parse_form(resp.text)
            form.fields.update(username=self.account.username, password=self.account.password)
            resp = await http.post(urljoin(location, form.action), data=form.fields)
            if resp.status_code != 303:
                raise LoginRefused(resp.status_code, resp.text)
            consent_url = _location(resp, location)
            resp = await http.get(consent_url)
            assert resp.status_code == 200, resp.text
            self.pages.append(resp.text)
            form = parse_form(resp.text)
            resp = await http.post(urljoin(consent_url, form.action), data={**form.fields, "decision": self.decision})
            assert resp.status_code == 303, resp.text
            return _location(resp, consent_url)

    async def redirect_handler(self, authorize_url: str) -> None:
        self.final_url = await self.run(authorize_url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.final_url is not None
        query = parse_qs(urlsplit(self.final_url).query)
        if "error" in query:
            raise AuthorizationDenied(query["error"][0])
        return AuthorizationCodeResult(
            code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
        )


class LoginRefused(Exception):
    def __init__(self, status: int, page: str) -> None:
        super().__init__(f"login refused with HTTP {status}")
        self.status = status
        self.page = page


class AuthorizationDenied(Exception):
    pass


def _location(resp: httpx2.Response, base: str) -> str:
    assert resp.status_code in (302, 303), f"expected a redirect, got {resp.status_code}: {resp.text[:500]}"
    return urljoin(base, resp.headers["location"])


# -- the SDK client -----------------------------------------------------------------------------


class MemoryStorage:
    """The SDK's TokenStorage, in memory; tests read the tokens and registration from it."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def oauth_client(
    server_url: str,
    account: Account,
    *,
    storage: MemoryStorage | None = None,
    client_name: str = "oauth-flow test client",
    auth_method: str = "none",
    filler: FormFiller | None = None,
    client_metadata_url: str | None = None,
) -> tuple[OAuthClientProvider, MemoryStorage, FormFiller]:
    """The SDK's OAuthClientProvider for `server_url` (an MCP endpoint URL), signing in as `account`."""
    storage = storage or MemoryStorage()
    filler = filler or FormFiller(account)
    metadata = OAuthClientMetadata(
        client_name=client_name,
        redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method=auth_method,  # type: ignore[arg-type]
    )
    provider = OAuthClientProvider(
        server_url,
        metadata,
        storage,
        redirect_handler=filler.redirect_handler,
        callback_handler=filler.callback_handler,
        client_metadata_url=client_metadata_url,
    )
    return provider, storage, filler


@contextlib.asynccontextmanager
async def signed_in(
    base_url: str,
    account: Account,
    transport: Transport = "streamable",
    *,
    prefix: str = "",
    storage: MemoryStorage | None = None,
) -> AsyncIterator[Client]:
    """A connected SDK client that went through the whole OAuth flow against `base_url + prefix`."""
    path = "/mcp" if transport == "streamable" else "/sse"
    auth, _, _ = oauth_client(f"{base_url}{prefix}{path}", account, storage=storage)
    async with connect(base_url, transport, auth=auth, prefix=prefix) as client:
        yield client


# -- one step at a time -------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


async def register(
    http: httpx2.AsyncClient,
    issuer: str,
    *,
    redirect_uris: list[str] | None = None,
    auth_method: str = "none",
    name: str = "step test client",
) -> httpx2.Response:
    body = {
        "client_name": name,
        "redirect_uris": redirect_uris or [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": auth_method,
    }
    return await http.post(f"{issuer}/register", json=body)


async def authorize_code(
    issuer: str,
    client_id: str,
    account: Account,
    challenge: str,
    *,
    resource: str | None,
    redirect_uri: str = REDIRECT_URI,
    state: str = "st",
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run /authorize → login → consent; returns the final redirect's query (code, state, iss or error)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **(extra or {}),
    }
    if resource is not None:
        params["resource"] = resource
    url = f"{issuer}/authorize?" + httpx2.QueryParams(params).__str__()
    final = await FormFiller(account).run(url)
    return {k: v[0] for k, v in parse_qs(urlsplit(final).query).items()}


# -- a signed-in server -------------------------------------------------------------------------

DEFAULT_ACCOUNT = Account("alice", "correct horse battery staple")


@contextlib.contextmanager
def running_oauth_server(
    demo_db: Path,
    tmp: Path,
    *,
    face: str = "claude",
    account: Account = DEFAULT_ACCOUNT,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    start_timeout: float = 30.0,
) -> Iterator[ServerProcess]:
    """A face with sign-in ON (no dev flags), its own store in `tmp`, one user, loopback redirects allowed.

    PUBLIC_URL is http://127.0.0.1:PORT so the SDK client's resource check matches the URL it dials.
    """
    store = tmp / "oauth.sqlite"
    if not store.exists():
        add_user(store, account)
    port = port or free_port()
    full = {
        "SQLITE_PATH": str(demo_db),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OAUTH_STORE_PATH": str(store),
        "ALLOW_LOOPBACK_REDIRECTS": "true",
        "LOG_LEVEL": "INFO",
        **(env or {}),
    }
    with running_server(full, tmp, face=face, port=port, timeout=start_timeout) as server:
        yield server


def bearer(token: str) -> dict[str, str]:
    """Headers for a raw MCP POST with an access token."""
    return {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}


PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
