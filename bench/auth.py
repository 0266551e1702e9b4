"""A real bearer token for our server, obtained through its real sign-in.

Issue 7 wants our numbers with token checks on. The sign-in helper's headless driver
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


def prepare(target: Target, scratch: Path) -> str:
    """Give `target` (our server) a sign-in store with one user; returns that user's password."""
    from tests.support.oauth_flow import Account, add_user

    store = scratch / f"oauth-{target.port}.sqlite"
    store.unlink(missing_ok=True)
    password = secrets.token_urlsafe(18)
    add_user(store, Account(USERNAME, password))
    for dev_flag in ("ALLOW_UNAUTH_METHODS", "ALLOW_UNAUTH_TOOLS_CALL"):
        target.env.pop(dev_flag, None)
    target.env |= {
        "OAUTH_STORE_PATH": str(store),
        # The issuer and resource must be the URL the client dials, or the SDK client's checks refuse it.
        "PUBLIC_URL": f"http://127.0.0.1:{target.port}",
        "ALLOW_LOOPBACK_REDIRECTS": "true",  # the driver's redirect URI is on loopback
    }
    return password


def token_for(server: Running, password: str) -> str:
    """Sign in as the bench user through the SDK's OAuth client; return the access token it got."""
    from tests.support.mcp_client import connect
    from tests.support.oauth_flow import Account, oauth_client

    base = f"http://127.0.0.1:{server.target.port}"

    async def flow() -> str:
        provider, storage, _ = oauth_client(f"{base}/mcp", Account(USERNAME, password), client_name="mssql-mcp bench")
        async with connect(base, auth=provider) as client:
            await client.list_tools()
        assert storage.tokens is not None, "the OAuth flow finished without a token"
        return storage.tokens.access_token

    return asyncio.run(flow())
