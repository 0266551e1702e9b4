"""Sign-in served with an injected clock, for the expiry tests: `python -m tests.support.clock_server`.

The app is the product's own `build_auth` (routes, middleware, guard) in front of one protected
endpoint that answers with the signed-in user. Its clock is real time plus the number of seconds in
the file named by CLOCK_OFFSET_FILE, which a test rewrites to jump ahead.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import uvicorn
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mssql_mcp.oauth import build_auth
from mssql_mcp.settings import load_settings


def main() -> None:
    offset_file = Path(os.environ["CLOCK_OFFSET_FILE"])

    def clock() -> float:
        text = offset_file.read_text().strip() if offset_file.exists() else ""
        return time.time() + float(text or 0)

    settings = load_settings(env_file=None)
    issuer = settings.public_url or ""
    auth = build_auth(settings, issuer_url=issuer, clock=clock)

    async def whoami(scope: Scope, receive: Receive, send: Send) -> None:
        user = Request(scope).scope.get("user")
        name = getattr(user.access_token, "username", None) if isinstance(user, AuthenticatedUser) else None
        await JSONResponse({"user": name})(scope, receive, send)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = [Route("/health", health), Route("/mcp", auth.protect(whoami, resource_url=f"{issuer}/mcp")), *auth.routes]
    app = Starlette(routes=routes, middleware=auth.middleware)
    uvicorn.run(app, host="127.0.0.1", port=settings.port or 0, log_level="warning")


if __name__ == "__main__":
    sys.exit(main())
