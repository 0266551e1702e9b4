"""How sign-in plugs into a face's app: `build_auth()` and `ensure_demo_user()` (re-exported by the package)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from mssql_mcp.errors import ConfigError
from mssql_mcp.oauth.clients import ClientPolicy, canonical_resource
from mssql_mcp.oauth.csrf import Csrf
from mssql_mcp.oauth.external import ExternalVerifier, resource_server
from mssql_mcp.oauth.guard import bearer_protection
from mssql_mcp.oauth.identity import IdentityRules
from mssql_mcp.oauth.login import LoginPages
from mssql_mcp.oauth.oidc import Upstream
from mssql_mcp.oauth.oidc_pages import UpstreamSignIn
from mssql_mcp.oauth.provider import SCOPE, Provider
from mssql_mcp.oauth.registration import RegistrationLimits, guard_registration
from mssql_mcp.oauth.routes import oauth_routes
from mssql_mcp.oauth.store import OAuthStore, PersonRecord
from mssql_mcp.oauth.store_outage import StoreHealth
from mssql_mcp.oauth.store_url import open_store
from mssql_mcp.oauth.throttle import LoginThrottle
from mssql_mcp.oauth.tokens import TokenPolicy
from mssql_mcp.oauth.upstream_tokens import TokenVault
from mssql_mcp.oauth.users import Users
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.auth")


@dataclass
class AuthComponents:
    """What a face's app needs from sign-in.

    routes:      OAuth endpoints, login pages and discovery metadata (paths already carry the face prefix).
    middleware:  outer-app middleware (bearer token -> request.user, auth context var).
    protect():   wraps one MCP endpoint so that it requires a valid token for `resource_url`,
                 honouring ALLOW_UNAUTH_METHODS / ALLOW_UNAUTH_TOOLS_CALL.
    provider:    the authorization server (oauth/browser.py's page sign-in asks it for what it needs).
    health:      /health asks it whether the store answers (None: ok; else the generic reason).
    external:    AUTH_MODE=external: the verifier of the company's access tokens (record pages sign in with it).
    assertion:   AUTH_MODE=oidc: a person's upstream access token, fresh (DB_IDENTITY=entra_obo presents it).
    """

    routes: list[BaseRoute] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)
    guard: Callable[[ASGIApp, str], ASGIApp] | None = None
    provider: Provider | None = None
    health: Callable[[], Awaitable[str | None]] | None = None
    external: ExternalVerifier | None = None
    assertion: Callable[[PersonRecord], Awaitable[str | None]] | None = None

    def protect(self, app: ASGIApp, *, resource_url: str) -> ASGIApp:
        return self.guard(app, resource_url) if self.guard is not None else app


def ensure_demo_user(settings: Settings) -> str | None:
    """`make run`: if nobody can sign in yet, create user "demo"; returns its one-time password."""
    store = open_store(settings)
    try:
        return Users(store).ensure_demo_user()
    finally:
        store.close()


def build_auth(
    settings: Settings,
    *,
    issuer_url: str,
    prefix: str = "",
    store: OAuthStore | None = None,
    clock: Callable[[], float] = time.time,
) -> AuthComponents:
    issuer = issuer_url.rstrip("/")
    _warn_dev_flags(settings)
    if not _issuer_ok(issuer):
        # RFC 8414 §2 / OAuth 2.1 §1.5: an issuer is https (loopback excepted, for local use).
        if settings.allow_unauth_methods and settings.allow_unauth_tools_call:
            log.warning(
                "sign-in is OFF: PUBLIC_URL %s is neither https nor loopback, and both dev flags are on", issuer
            )
            return AuthComponents()
        raise ConfigError(
            f"PUBLIC_URL: {issuer} must be https (it is the OAuth issuer); http works only on localhost/127.0.0.1"
        )
    if settings.auth_mode == "external":  # a pure resource server: the company's server signs people in
        ext_routes, ext_middleware, ext_guard, verifier = resource_server(settings, issuer=issuer, prefix=prefix)
        return AuthComponents(routes=ext_routes, middleware=ext_middleware, guard=ext_guard, external=verifier)
    resources = (canonical_resource(f"{issuer}/mcp"), canonical_resource(f"{issuer}/sse"))
    store = store if store is not None else open_store(settings)
    store.purge(clock())
    clients = ClientPolicy(
        settings.allowed_redirect_hosts,
        allow_loopback=settings.allow_loopback_redirects,
        metadata_documents=settings.client_id_metadata_documents,
    )
    policy = TokenPolicy(issuer, resources, settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds)
    provider = Provider(store, clients, policy, clock=clock)
    users = Users(store, clock=clock)
    csrf = Csrf(store.server_key(), secure=urlsplit(issuer).scheme == "https")
    throttle = LoginThrottle(
        store,
        per_user=settings.login_free_attempts_per_user,
        per_ip=settings.login_free_attempts_per_address,
        hash_workers=settings.password_hash_concurrency,
    )
    upstream = _upstream_sign_in(settings, provider, csrf, store, issuer=issuer, prefix=prefix, clock=clock)
    pages = LoginPages(
        provider,
        users,
        throttle,
        csrf,
        prefix,
        upstream=upstream,
        upstream_label=settings.oidc_display_name,
        local_passwords=settings.local_passwords,
    )

    routes = oauth_routes(
        provider,
        issuer=issuer,
        prefix=prefix,
        resources=resources,
        metadata_documents=settings.client_id_metadata_documents,
    )
    routes = guard_registration(routes, store, RegistrationLimits.from_settings(settings), clock=clock)
    routes += pages.routes()
    if upstream is not None:
        routes += upstream.routes()
    middleware, guard = bearer_protection(provider, settings, issuer=issuer, scope=SCOPE)

    if upstream is None and store.count_users() == 0:
        log.warning("nobody can sign in yet: add a user with `mssql-mcp users add NAME` (or run `make run`)")
    health = StoreHealth(store).problem
    return AuthComponents(
        routes=routes,
        middleware=middleware,
        guard=guard,
        provider=provider,
        health=health,
        assertion=upstream.assertion if upstream is not None else None,
    )


def _upstream_sign_in(
    settings: Settings,
    provider: Provider,
    csrf: Csrf,
    store: OAuthStore,
    *,
    issuer: str,
    prefix: str,
    clock: Callable[[], float],
) -> UpstreamSignIn | None:
    """AUTH_MODE=oidc: the company's OpenID Provider signs people in (oidc_pages.py); None otherwise."""
    if settings.auth_mode != "oidc":
        return None
    keys = settings.upstream_token_keys.reveal() if settings.upstream_token_keys else ""
    upstream = UpstreamSignIn(
        provider,
        Upstream(settings),
        IdentityRules(settings),
        TokenVault(keys),
        csrf,
        issuer=issuer,
        prefix=prefix,
        server_key=store.server_key(),
        clock=clock,
    )
    log.info(
        "sign-in through %s (callback %s)%s",
        settings.oidc_issuer,
        upstream.redirect_uri,
        "; local passwords also accepted" if settings.local_passwords else "",
    )
    return upstream


def _issuer_ok(issuer: str) -> bool:
    parts = urlsplit(issuer)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1"))


def _warn_dev_flags(settings: Settings) -> None:
    if settings.allow_unauth_methods:
        log.warning("ALLOW_UNAUTH_METHODS=true: initialize and tools/list are served WITHOUT sign-in (dev only)")
    if settings.allow_unauth_tools_call:
        log.warning(
            "ALLOW_UNAUTH_TOOLS_CALL=true: tool calls run WITHOUT sign-in: anyone who can reach this "
            "server can query the database (dev only)"
        )
