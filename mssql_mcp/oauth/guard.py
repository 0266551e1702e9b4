"""The bearer guard in front of each MCP endpoint: valid token, for this resource, with our scope.

The SDK's AuthenticationMiddleware (outer app) turns a valid `Authorization: Bearer` token into
`scope["user"]`; this guard then refuses, with a challenge clients can act on (RFC 6750 §3, RFC 9728 §5.1):

    401  WWW-Authenticate: Bearer [error="invalid_token", ...] resource_metadata="...", scope="mcp"
    403  insufficient_scope (a token without our scope)

A token issued for another endpoint (RFC 8707 resource) is refused as invalid (MCP authorization spec,
"Token Audience Binding"). A token in the query string is never read (OAuth 2.1 §5.2.2 drops that
method) and gets 401 invalid_request.

Dev flags (both default off, both logged as warnings at start):
    ALLOW_UNAUTH_METHODS     initialize, ping, tools/list and notifications pass without a token;
    ALLOW_UNAUTH_TOOLS_CALL  tools/call passes without a token.
With either on, GET streams and DELETE pass too (they carry no method; what flows over them was sent
by POSTs, which are checked). With both on, nothing needs a token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from mcp.server.auth.provider import TokenVerifier
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mssql_mcp.oauth.asgi import replaying
from mssql_mcp.oauth.clients import canonical_resource
from mssql_mcp.oauth.routes import resource_metadata_path
from mssql_mcp.oauth.store_outage import StoreOutage
from mssql_mcp.settings import Settings

HANDSHAKE_METHODS = frozenset({"initialize", "ping", "tools/list", "server/discover"})
MAX_PEEK_BYTES = 4 * 1024 * 1024


class BearerGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        resource: str,
        metadata_url: str,
        scope_name: str,
        unauth_methods: bool,
        unauth_tools_call: bool,
    ) -> None:
        self.app = app
        self.resource = canonical_resource(resource)
        self.metadata_url = metadata_url
        self.scope_name = scope_name
        self.unauth_methods = unauth_methods
        self.unauth_tools_call = unauth_tools_call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"access_token=" in scope.get("query_string", b""):
            await self._refuse(send, 401, "invalid_request", "Send the access token in the Authorization header.")
            return
        user = scope.get("user")
        if isinstance(user, AuthenticatedUser):
            token = user.access_token
            if canonical_resource(token.resource or "") != self.resource:
                await self._refuse(send, 401, "invalid_token", "The token was issued for another resource.")
            elif self.scope_name not in token.scopes:
                await self._refuse(send, 403, "insufficient_scope", f"Required scope: {self.scope_name}")
            else:
                await self.app(scope, receive, send)
            return
        presented = any(k.lower() == b"authorization" for k, _ in scope.get("headers", []))
        if self.unauth_methods or self.unauth_tools_call:
            allowed, receive = await self._dev_allows(scope, receive)
            if allowed:
                await self.app(scope, receive, send)
                return
        if presented:
            await self._refuse(send, 401, "invalid_token", "The access token is invalid, expired or revoked.")
        else:
            await self._refuse(send, 401, None, "Authentication required.")

    async def _dev_allows(self, scope: Scope, receive: Receive) -> tuple[bool, Receive]:
        if self.unauth_methods and self.unauth_tools_call:
            return True, receive
        if scope["method"] != "POST":
            return True, receive
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False) or len(body) > MAX_PEEK_BYTES:
                break
        return self._methods_allowed(body), replaying(body, receive)

    def _methods_allowed(self, body: bytes) -> bool:
        try:
            payload: Any = json.loads(body)
        except ValueError:
            return False
        messages = payload if isinstance(payload, list) else [payload]
        for m in messages:
            method = m.get("method") if isinstance(m, dict) else None
            if method is None:  # a response to a server request: harmless
                continue
            if not isinstance(method, str):
                return False
            handshake = method in HANDSHAKE_METHODS or method.startswith("notifications/")
            if not ((handshake and self.unauth_methods) or (method == "tools/call" and self.unauth_tools_call)):
                return False
        return True

    async def _refuse(self, send: Send, status: int, error: str | None, description: str) -> None:
        parts = []
        if error:
            parts += [f'error="{error}"', f'error_description="{description}"']
        parts += [f'resource_metadata="{self.metadata_url}"', f'scope="{self.scope_name}"']
        body = json.dumps({"error": error or "unauthorized", "error_description": description}).encode()
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", ("Bearer " + ", ".join(parts)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def bearer_protection(
    verifier: TokenVerifier, settings: Settings, *, issuer: str, scope: str, audience: str | None = None
) -> tuple[list[Middleware], Callable[[ASGIApp, str], ASGIApp]]:
    """What checks bearer tokens for a face, with either authorization server (ours, or the company's).

    The middleware: StoreOutage outermost, so a store or issuer that does not answer while a token is checked
    is a 503, not a 401 or a 500; then the token check. The guard in front of each MCP endpoint: its 401 names
    that endpoint's protected-resource metadata (RFC 9728). A token must be for `audience`, or, when None, for
    the endpoint's own URL."""
    middleware = [
        Middleware(StoreOutage),
        Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(verifier)),
        Middleware(AuthContextMiddleware),
    ]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(issuer))

    def guard(app: ASGIApp, resource_url: str) -> ASGIApp:
        return BearerGuard(
            app,
            resource=audience or resource_url,
            metadata_url=origin + resource_metadata_path(canonical_resource(resource_url)),
            scope_name=scope,
            unauth_methods=settings.allow_unauth_methods,
            unauth_tools_call=settings.allow_unauth_tools_call,
        )

    return middleware, guard
