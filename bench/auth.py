"""Real bearer tokens for our server, one per person, obtained through its real sign-in.

Our numbers are measured with token checks on, as deployed. The sign-in helper's headless driver
(`tests/support/oauth_flow.py`) runs the whole flow with the MCP SDK's own OAuth client: discovery,
dynamic registration, PKCE, our login and consent forms, the token endpoint. The benchmark then sends
an access token on every request, so each call pays the server's token check.

The sessions are spread over several people (`People`), round-robin: session i sends person i mod K's
token. Each person has a fair share of the database workers (DB_WORKERS_PER_CALLER, by default half of
DB_WORKERS), so one person with 500 sessions would measure that share, not the server. What the benchmark
and the load test measure is many people using the server at once.

Without the driver in the tree, the benchmark falls back to the explicit dev mode (ALLOW_UNAUTH_*) and
the report's notes say so.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.targets import ROOT, Running, Target

if TYPE_CHECKING:
    from mssql_mcp.oauth.store import OAuthStore

USERNAME = "bench"
#: Sign-in flows run at once. The server checks PASSWORD_HASH_CONCURRENCY (2) passwords at a time; a few
#: more flows keep it busy while the others register, redirect and fetch their tokens.
SIGNIN_CONCURRENCY = 4

# The harness signs K people in from one address (127.0.0.1) within seconds. The product's per-address
# limits are for a client address, which is many people only behind a NAT; the harness is not the product,
# so it raises them in the environment it gives our server. Everything else stays at the defaults.
HARNESS_LIMITS = {
    "REGISTRATION_PER_ADDRESS_PER_MINUTE": "100000",
    "AUTHORIZE_PER_ADDRESS_PER_MINUTE": "100000",
    "LOGIN_FREE_ATTEMPTS_PER_ADDRESS": "100000",
}


@dataclass(frozen=True)
class People:
    """The people the harness signs in as: usernames bench-1 ... bench-K, sharing one password."""

    count: int
    password: str

    @property
    def usernames(self) -> list[str]:
        return [f"{USERNAME}-{i + 1}" for i in range(self.count)]


def signin_available() -> bool:
    return (ROOT / "tests" / "support" / "oauth_flow.py").exists()


def create_users(store: Path, people: People) -> None:
    """Create the people in a fresh SQLite store."""
    from mssql_mcp.oauth.sqlite_store import SqliteStore

    db = SqliteStore(store)
    try:
        add_users(db, people)
    finally:
        db.close()


def add_users(db: OAuthStore, people: People) -> None:
    """Create the people in `db` (either store) with the product's own user code.

    One argon2 hash costs ~0.7 s, so it is made once (by `Users.set_password`, for the first person) and
    stored for the others too: they share the password, and each still pays its own check at sign-in.
    """
    from mssql_mcp.oauth.users import Users

    first, *others = people.usernames
    Users(db).set_password(first, people.password)
    record = db.get_user(first)
    assert record is not None
    for username in others:
        db.put_user(username, record.password_hash, record.created_at)


def signin_env(scratch: Path, public_url: str, people: int) -> tuple[dict[str, str], People]:
    """Environment for our server with sign-in on (a fresh store with `people` users), and those people."""
    if people < 1:
        raise ValueError("at least one person signs in")
    scratch.mkdir(parents=True, exist_ok=True)
    store = scratch / f"oauth-{secrets.token_hex(4)}.sqlite"
    who = People(people, secrets.token_urlsafe(18))
    create_users(store, who)
    env = {
        "OAUTH_STORE_PATH": str(store),
        # The issuer and resource must be the URL the client dials, or the SDK client's checks refuse it.
        "PUBLIC_URL": public_url,
        "ALLOW_LOOPBACK_REDIRECTS": "true",  # the driver's redirect URI is on loopback
        **HARNESS_LIMITS,
    }
    return env, who


def prepare(target: Target, scratch: Path, people: int) -> People:
    """Turn sign-in on for `target` (our server, started later) with `people` users; returns them."""
    env, who = signin_env(scratch, f"http://127.0.0.1:{target.port}", people)
    for dev_flag in ("ALLOW_UNAUTH_METHODS", "ALLOW_UNAUTH_TOOLS_CALL"):
        target.env.pop(dev_flag, None)
    target.env |= env
    return who


def sign_in(server: Running, people: People) -> None:
    """Sign every person in to the running `server`; its endpoint's sessions then use their tokens in turn."""
    server.target.endpoint.tokens = fetch_tokens(f"http://127.0.0.1:{server.target.port}", people)


def fetch_tokens(base_url: str, people: People) -> tuple[str, ...]:
    """Sign each person in through the SDK's OAuth client, a few at once; their access tokens, in order."""
    from tests.support.mcp_client import connect
    from tests.support.oauth_flow import Account, oauth_client

    async def flow(username: str, gate: asyncio.Semaphore) -> str:
        async with gate:
            provider, storage, _ = oauth_client(
                f"{base_url}/mcp", Account(username, people.password), client_name=f"mssql-mcp bench {username}"
            )
            async with connect(base_url, auth=provider) as client:
                await client.list_tools()
        assert storage.tokens is not None, f"the OAuth flow for {username} finished without a token"
        return storage.tokens.access_token

    async def everyone() -> tuple[str, ...]:
        gate = asyncio.Semaphore(SIGNIN_CONCURRENCY)
        return tuple(await asyncio.gather(*(flow(name, gate) for name in people.usernames)))

    return asyncio.run(everyone())
