"""A real bearer token for our server, obtained through its real sign-in.

Our numbers are measured with token checks on, as deployed. The sign-in helper's headless driver
(`tests/support/oauth_flow.py`) runs the whole flow with the MCP SDK's own OAuth client: discovery,
dynamic registration, PKCE, our login and consent forms, the token endpoint. The benchmark then sends
that access token on every request, so each call pays the server's token check.

Without the driver in the tree, the benchmark falls back to the explicit dev mode (ALLOW_UNAUTH_*) and
the report's notes say so.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from bench.targets import ROOT, Running, Target

USERNAME = "bench"


def signin_available() -> bool:
    return (ROOT / "tests" / "support" / "oauth_flow.py").exists()


def signin_env(scratch: Path, public_url: str) -> tuple[dict[str, str], str]:
    """Environment for our server with sign-in on (a fresh store with one user), and that user's password."""
    from tests.support.oauth_flow import Account, add_user

    scratch.mkdir(parents=True, exist_ok=True)
    store = scratch / f"oauth-{secrets.token_hex(4)}.sqlite"
    password = secrets.token_urlsafe(18)
    add_user(store, Account(USERNAME, password))
    env = {
        "OAUTH_STORE_PATH": str(store),
        # The issuer and resource must be the URL the client dials, or the SDK client's checks refuse it.
        "PUBLIC_URL": public_url,
        "ALLOW_LOOPBACK_REDIRECTS": "true",  # the driver's redirect URI is on loopback
    }
    return env, password


def prepare(target: Target, scratch: Path) -> str:
    """Turn sign-in on for `target` (our server, started later); returns the password of its one user."""
    env, password = signin_env(scratch, f"http://127.0.0.1:{target.port}")
    for dev_flag in ("ALLOW_UNAUTH_METHODS", "ALLOW_UNAUTH_TOOLS_CALL"):
        target.env.pop(dev_flag, None)
    target.env |= env
    return password


def token_for(server: Running, password: str) -> str:
    return fetch_token(f"http://127.0.0.1:{server.target.port}", password)


def fetch_token(base_url: str, password: str) -> str:
    """Sign in as the bench user through the SDK's OAuth client; return the access token it got."""
    from tests.support.mcp_client import connect
    from tests.support.oauth_flow import Account, oauth_client

    async def flow() -> str:
        provider, storage, _ = oauth_client(
            f"{base_url}/mcp", Account(USERNAME, password), client_name="mssql-mcp bench"
        )
        async with connect(base_url, auth=provider) as client:
            await client.list_tools()
        assert storage.tokens is not None, "the OAuth flow finished without a token"
        return storage.tokens.access_token

    return asyncio.run(flow())
