"""Sign-in: an OAuth 2.1 authorization server on the MCP SDK's auth framework, and the bearer guard of
the MCP endpoints. See docs/security.md for the threat model, the flow and what is stored.

    build_auth(settings, issuer_url=..., prefix=...) -> AuthComponents   (used by app.create_app per face)
    ensure_demo_user(settings) -> str | None                              (used by `serve --demo`)

Modules: wiring.py (the two above), provider.py (the SDK provider: codes, tokens, replay rules),
side_channel.py (the two token-form fields the SDK does not hand the provider), store.py + sqlite_store.py
(persistence behind a Protocol), users.py + users_cli.py (people), login.py + csrf.py (the sign-in and
consent forms; their HTML comes from mssql_mcp/web/), throttle.py, clients.py (redirect policy, client
metadata documents), routes.py (metadata and the SDK's handlers with our fixes), guard.py (401/403
challenges and the dev flags), browser.py (the sign-in of pages opened in a browser: a first-party client
that redeems its codes in-process), asgi.py (body replay). AUTH_MODE=oidc: oidc.py (the company's OpenID
Provider, through authlib), oidc_pages.py (its sign-in routes and the offboarding check at refresh),
identity.py (who a person is and whether they pass), upstream_tokens.py (the provider's tokens, sealed),
sqlite_people.py (the people table).

The names are loaded on first use, so `mssql-mcp users ...` does not import the MCP SDK and starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mssql_mcp.oauth.wiring import AuthComponents, build_auth, ensure_demo_user

__all__ = ["AuthComponents", "build_auth", "ensure_demo_user"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mssql_mcp.oauth import wiring

        return getattr(wiring, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
