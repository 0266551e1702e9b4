"""Limits on the open sign-in endpoints: dynamic client registration (RFC 7591), in front of the SDK's
/register handler, and the rate of /authorize requests (each one parks a pending sign-in in the store).

Registration is open to anyone, so each registration is bounded before the SDK sees it:
- a rate per client address (REGISTRATION_PER_ADDRESS_PER_MINUTE), counted in the store so every process
  shares it. Claude and ChatGPT register from shared cloud addresses, many users at a time, so the
  default is far above what a connector platform does; over it, 429 with Retry-After;
- the request's size (REGISTRATION_MAX_BYTES) and fields: `client_name`, the number and length of
  `redirect_uris`, the length of every other URL. Over a bound, 400 with the RFC 7591 §3.2.2 error
  (`invalid_redirect_uri` for redirect URIs, `invalid_client_metadata` for the rest);
- the total of stored clients that never completed a sign-in (REGISTRATION_MAX_UNUSED_CLIENTS). Such
  clients are deleted after UNUSED_CLIENT_TTL_SECONDS (never sooner than the refresh-token lifetime); a
  client that was ever issued a token is kept. When the cap is reached even after a purge, 503.

/authorize is open too, and each request for a registered client stores a pending sign-in for 15 minutes:
AUTHORIZE_PER_ADDRESS_PER_MINUTE bounds how fast one address can add them (a person's browser sends one
per sign-in).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mssql_mcp.oauth.asgi import replaying
from mssql_mcp.oauth.store import OAuthStore
from mssql_mcp.settings import Settings
from mssql_mcp.workers import WorkerPool

URL_FIELDS = ("client_uri", "logo_uri", "tos_uri", "policy_uri", "jwks_uri")
PURGE_EVERY = 3600.0  # unused clients are looked for at most this often (and whenever the cap is reached)


@dataclass(frozen=True)
class RegistrationLimits:
    per_address_per_minute: int = 60
    max_unused_clients: int = 10_000
    unused_client_ttl: float = 31 * 86_400.0
    max_bytes: int = 16_384
    max_name_chars: int = 200
    max_redirect_uris: int = 5
    max_uri_chars: int = 512
    authorize_per_address_per_minute: int = 60

    @classmethod
    def from_settings(cls, s: Settings) -> RegistrationLimits:
        return cls(
            per_address_per_minute=s.registration_per_address_per_minute,
            max_unused_clients=s.registration_max_unused_clients,
            # A client's registration must outlive any token it could hold (RFC 7591 leaves this to us).
            unused_client_ttl=float(max(s.unused_client_ttl_seconds, s.refresh_token_ttl_seconds)),
            max_bytes=s.registration_max_bytes,
            max_name_chars=s.registration_max_name_chars,
            max_redirect_uris=s.registration_max_redirect_uris,
            max_uri_chars=s.registration_max_uri_chars,
            authorize_per_address_per_minute=s.authorize_per_address_per_minute,
        )

    def problem(self, meta: dict[str, Any]) -> tuple[str, str] | None:
        """(RFC 7591 error code, description) for the first bound the metadata exceeds, or None."""
        name = meta.get("client_name")
        if isinstance(name, str) and len(name) > self.max_name_chars:
            return "invalid_client_metadata", f"client_name is longer than {self.max_name_chars} characters"
        uris = meta.get("redirect_uris")
        if isinstance(uris, list):
            if len(uris) > self.max_redirect_uris:
                return "invalid_redirect_uri", f"more than {self.max_redirect_uris} redirect_uris"
            if any(isinstance(u, str) and len(u) > self.max_uri_chars for u in uris):
                return "invalid_redirect_uri", f"a redirect_uri is longer than {self.max_uri_chars} characters"
        for field in URL_FIELDS:
            value = meta.get(field)
            if isinstance(value, str) and len(value) > self.max_uri_chars:
                return "invalid_client_metadata", f"{field} is longer than {self.max_uri_chars} characters"
        return None


class RegistrationGate:
    """ASGI middleware for the /register route (POST only; OPTIONS and the rest pass through)."""

    def __init__(
        self, app: ASGIApp, store: OAuthStore, limits: RegistrationLimits, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.app = app
        self.store = store
        self.limits = limits
        self.clock = clock
        self._io = WorkerPool(1, name="registration")
        self._purged_at = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        limit = self.limits.per_address_per_minute
        wait = await self._io.run(lambda: self.store.rate_hit(f"register:{address}", limit, 60.0, self.clock()))
        if wait > 0:
            retry = str(int(wait) + 1)
            await _error(send, 429, "temporarily_unavailable", "too many registrations from this address", retry)
            return
        body = await _read(receive, self.limits.max_bytes)
        if body is None:
            await _error(send, 400, "invalid_client_metadata", f"request larger than {self.limits.max_bytes} bytes")
            return
        try:
            meta = json.loads(body)
        except ValueError:
            meta = None  # the SDK answers invalid JSON itself
        problem = self.limits.problem(meta) if isinstance(meta, dict) else None
        if problem is not None:
            await _error(send, 400, *problem)
            return
        if not await self._io.run(self._room):
            await _error(send, 503, "temporarily_unavailable", "too many unused client registrations", "3600")
            return
        await self.app(scope, replaying(body, receive), send)

    def _room(self) -> bool:
        """Whether one more never-used client may be stored (purging old ones first when due or full)."""
        now = self.clock()
        full = self.store.count_unused_clients() >= self.limits.max_unused_clients
        if full or now - self._purged_at > PURGE_EVERY:
            self._purged_at = now
            self.store.purge_unused_clients(now - self.limits.unused_client_ttl, now)
            full = full and self.store.count_unused_clients() >= self.limits.max_unused_clients
        return not full

    def close(self) -> None:
        self._io.close()


class AuthorizeRate:
    """ASGI middleware for the /authorize route: a per-address rate, counted in the store."""

    def __init__(self, app: ASGIApp, store: OAuthStore, limit: int, *, clock: Callable[[], float]) -> None:
        self.app = app
        self.store = store
        self.limit = limit
        self.clock = clock
        self._io = WorkerPool(1, name="authorize-rate")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "POST"):
            client = scope.get("client")
            key = f"authorize:{client[0] if client else 'unknown'}"
            wait = await self._io.run(lambda: self.store.rate_hit(key, self.limit, 60.0, self.clock()))
            if wait > 0:
                retry = str(int(wait) + 1)
                await _error(send, 429, "temporarily_unavailable", "too many sign-in requests from this address", retry)
                return
        await self.app(scope, receive, send)


def guard_registration(
    routes: Sequence[BaseRoute], store: OAuthStore, limits: RegistrationLimits, *, clock: Callable[[], float]
) -> list[BaseRoute]:
    """`routes` with each /register route (any prefix) wrapped in a RegistrationGate, and each /authorize
    route in an AuthorizeRate."""
    out: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, Route) and route.path.endswith(("/register", "/authorize")):
            gate: ASGIApp
            if route.path.endswith("/register"):
                gate = RegistrationGate(route.app, store, limits, clock=clock)
            else:
                gate = AuthorizeRate(route.app, store, limits.authorize_per_address_per_minute, clock=clock)
            route = Route(route.path, gate, methods=sorted(route.methods or []), name=route.name)
        out.append(route)
    return out


async def _read(receive: Receive, limit: int) -> bytes | None:
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return body


async def _error(send: Send, status: int, code: str, description: str, retry_after: str | None = None) -> None:
    body = json.dumps({"error": code, "error_description": description}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"access-control-allow-origin", b"*"),  # as the SDK's CORS wrapper would, so a browser client reads it
    ]
    if retry_after is not None:
        headers.append((b"retry-after", retry_after.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
