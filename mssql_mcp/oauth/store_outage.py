"""When the authorization store cannot be reached: a clear 503 instead of a 500, and /health says so.

Nothing about sign-in can be decided without the store (is this token revoked? was this code used?), so
every request that needs it is refused with 503 and `Retry-After` until it is back; requests that do not
(the landing page, /health, metadata) are served as usual. No token is honoured from a per-replica cache
during an outage: a revocation must take effect at once on every replica, and a cache would let a revoked
token through until it expired (docs/scaling.md).
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mssql_mcp.errors import StoreUnavailable
from mssql_mcp.health import STORE_UNAVAILABLE, HealthLog
from mssql_mcp.oauth.store import OAuthStore
from mssql_mcp.workers import WorkerPool

log = logging.getLogger("mssql_mcp.auth")

RETRY_AFTER = "5"
PAGE_HINT = "Try again in a few seconds."


class StoreOutage:
    """Outer middleware: a StoreUnavailable raised while a request is handled becomes 503 (RFC 9110 §15.6.4)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except StoreUnavailable as exc:
            if started:  # too late for a status: end the response (the client sees a cut-off body)
                return
            if _wants_html(scope):  # a person at the login or consent page: a sentence, not JSON
                kind, body = b"text/plain; charset=utf-8", f"Sign-in is paused: {exc.message}. {PAGE_HINT}\n".encode()
            else:  # OAuth clients and MCP clients read the error code (RFC 6749 §5.2 style)
                kind = b"application/json"
                body = json.dumps({"error": "temporarily_unavailable", "error_description": exc.message}).encode()
            headers = [(b"content-type", kind), (b"cache-control", b"no-store"), (b"retry-after", RETRY_AFTER.encode())]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})


class StoreHealth:
    """/health's view of the store: None when it answers, else the generic reason. Stores without a `ping`
    (SQLite: a local file, checked when opened) are always healthy."""

    def __init__(self, store: OAuthStore) -> None:
        self._ping = getattr(store, "ping", None)
        self._log = HealthLog()
        self._io = WorkerPool(1, name="store-health") if self._ping is not None else None

    async def problem(self) -> str | None:
        if self._ping is None or self._io is None:
            return None
        if await self._io.run(self._ping):
            self._log.ok()
            return None
        return self._log.degraded(STORE_UNAVAILABLE, "the authorization store does not answer")

    def close(self) -> None:
        if self._io is not None:
            self._io.close()


def _wants_html(scope: Scope) -> bool:
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    return b"text/html" in accept
