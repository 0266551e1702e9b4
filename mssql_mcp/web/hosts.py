"""The Host and Origin check in front of every route: DNS-rebinding defence for the whole app, checked first.

    Host not this server's        421 Misdirected Request, on every route (pages, OAuth, /health, MCP)
    Origin not allowed            403, on the MCP endpoints, whether or not a token comes with the request

The MCP SDK makes the same check inside its transports, but only there and only after our bearer guard
has run, so a hostile page learned "401, sign in" before "403, wrong origin", and the record pages and
sign-in pages were not checked at all. Running it outermost answers a rebound or cross-site request the
same way whatever else it carries, in every mode (dev flags included). Origin is checked only on the MCP
endpoints: the OAuth endpoints serve browser-based clients from other origins (with CORS), and a browser
following a link sends no Origin. The allowlists are the SDK's `TransportSecuritySettings` (app.py's
`transport_security`), matched as the SDK matches them: exactly, or `host:*` for any port.
"""

from __future__ import annotations

from collections.abc import Iterable

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def allowed(value: str, patterns: Iterable[str]) -> bool:
    return any(value == p or (p.endswith(":*") and value.startswith(p[:-1])) for p in patterns)


class HostCheck:
    def __init__(self, app: ASGIApp, *, security: TransportSecuritySettings, origin_paths: Iterable[str]) -> None:
        self.app = app
        self.hosts = tuple(security.allowed_hosts)
        self.origins = tuple(security.allowed_origins)
        self.origin_paths = frozenset(origin_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if not allowed(headers.get("host", ""), self.hosts):
                refusal = PlainTextResponse("Invalid Host header", status_code=421)
            elif origin and scope["path"] in self.origin_paths and not allowed(origin, self.origins):
                refusal = PlainTextResponse("Invalid Origin header", status_code=403)
            else:
                refusal = None
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
