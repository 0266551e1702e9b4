"""Sign-in: the OAuth 2.1 authorization server and the bearer-token guard of the MCP endpoints.

SEAM (foundation): this placeholder only supports the explicit dev mode where both
ALLOW_UNAUTH_METHODS and ALLOW_UNAUTH_TOOLS_CALL are true. The sign-in issue replaces this module.
The contract `mssql_mcp/app.py` relies on is `build_auth(...) -> AuthComponents`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from mssql_mcp.errors import ConfigError
from mssql_mcp.settings import Settings


@dataclass
class AuthComponents:
    """What a face's app needs from sign-in.

    routes:      OAuth endpoints and discovery metadata, mounted at the app's root (under the face prefix).
    middleware:  outer-app middleware (bearer token -> request.user, auth context var).
    protect():   wraps one MCP endpoint (ASGI app) so that it requires a valid token for `resource_url`,
                 honouring ALLOW_UNAUTH_METHODS / ALLOW_UNAUTH_TOOLS_CALL.
    """

    routes: list[BaseRoute] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)

    def protect(self, app: ASGIApp, *, resource_url: str) -> ASGIApp:
        return app


def ensure_demo_user(settings: Settings) -> str | None:
    """`make run`: if nobody can sign in yet, create user "demo"; returns its one-time password."""
    from mssql_mcp.oauth.sqlite_store import SqliteStore
    from mssql_mcp.oauth.users import Users

    store = SqliteStore(settings.oauth_store_path)
    try:
        return Users(store).ensure_demo_user()
    finally:
        store.close()


def build_auth(settings: Settings, *, issuer_url: str, prefix: str = "") -> AuthComponents:
    if settings.allow_unauth_methods and settings.allow_unauth_tools_call:
        return AuthComponents()
    raise ConfigError(
        "ALLOW_UNAUTH_METHODS: sign-in is not built yet; set ALLOW_UNAUTH_METHODS=true and ALLOW_UNAUTH_TOOLS_CALL=true"
    )
