"""`create_app(settings, face)`: one Starlette app per face, built from arguments, never at import time.

Routes of a face, all under its prefix ("" for Claude, "/chatgpt" for ChatGPT):

    GET  /                        the landing page: this face, its MCP URL, how to connect clients, health
    GET  /health                  liveness + database state (never blocks on a slow database)
    *    /mcp                     streamable HTTP (the SDK's session manager)
    POST /sse, DELETE /sse        streamable HTTP too: the original URL keeps working for new clients
    GET  /sse + POST /messages/   legacy HTTP+SSE transport (MCP 2024-11-05) for older clients
    HEAD /sse                     capability check, answered without a body
    OAuth + discovery routes      from `mssql_mcp.oauth.build_auth`

Every route is behind `HostCheck` (web/hosts.py: Host on every route, Origin on the MCP endpoints), which
runs before anything else; every MCP endpoint is then wrapped by `AuthComponents.protect()`. The SDK's
transport security checks Host and Origin again (always passed explicitly: with none, the SDK checks
nothing when bound to 0.0.0.0: its Host and Origin checks are on only for a loopback bind).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import version as protocol_versions
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mssql_mcp import __version__
from mssql_mcp.capabilities import CACHE_HINTS, OnlyTools
from mssql_mcp.db import open_database
from mssql_mcp.db.base import Database
from mssql_mcp.faces import FACES, Face
from mssql_mcp.faces.arguments import ToolServer
from mssql_mcp.faces.common import AuditPolicy, FaceContext, people_lookup
from mssql_mcp.oauth import build_auth
from mssql_mcp.queries import QueryService
from mssql_mcp.routing_headers import TrimMcpHeaders
from mssql_mcp.settings import Settings
from mssql_mcp.sqlgate import Policy
from mssql_mcp.web.hosts import HostCheck
from mssql_mcp.web.landing import landing_routes

log = logging.getLogger("mssql_mcp.app")

__all__ = ["FACES", "Face", "create_app", "transport_security"]  # FACES and Face live in mssql_mcp.faces


def transport_security(settings: Settings, public_url: str) -> TransportSecuritySettings:
    """Host and Origin allowlists: the public URL's host plus loopback (for local tools and the proxy)."""
    public = urlsplit(public_url)
    hosts = [public.netloc, "127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"]
    origins = [f"{public.scheme}://{public.netloc}", "http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts + list(settings.allowed_hosts),
        allowed_origins=origins + list(settings.allowed_origins),
    )


def create_app(settings: Settings, face: str = "claude", *, database: Database | None = None) -> Starlette:
    spec = FACES[face]
    public_url = settings.effective_public_url(spec.default_port)
    base_url = public_url + spec.prefix  # this face's issuer and the root of its resources
    p = spec.prefix

    queries = QueryService(
        database if database is not None else open_database(settings),
        max_rows=settings.max_rows,
        timeout=settings.query_timeout_seconds,
        workers=settings.db_workers,
        read_only=settings.read_only_mode,
        allow_ddl=settings.allow_ddl,
        gate_policy=Policy(settings.allow_user_functions, settings.allow_server_views),
        max_statement_bytes=settings.max_statement_bytes,
        max_result_bytes=settings.max_result_bytes,
        per_caller=settings.db_workers_per_caller,
        cache_principals=settings.db_identity_cache_principals,
    )
    server: MCPServer[Any] = ToolServer(
        name=f"mssql-mcp ({spec.name})",
        version=__version__,
        instructions="Query the company's SQL Server database. Use T-SQL.",
        log_level=settings.log_level,
        # Announce only the tools (see mssql_mcp/capabilities.py): no prompts, resources or subscriptions.
        middleware=[OnlyTools()],
        cache_hints=CACHE_HINTS,
        subscriptions=False,
    )
    auth = build_auth(settings, issuer_url=base_url, prefix=p)
    audit = AuditPolicy(sql=settings.audit_sql)
    extra_routes = spec.register(FaceContext(server, queries, settings, base_url, p, audit, auth))

    security = transport_security(settings, public_url)
    # Stateless + JSON: no server-side session to lose on restart or to pin to one replica, and one
    # response body per call (the tools never stream). See docs/performance.md.
    server.streamable_http_app(
        streamable_http_path=f"{p}/mcp",
        stateless_http=settings.stateless_http,
        json_response=settings.stateless_http,
        transport_security=security,
    )
    streamable: ASGIApp = TrimMcpHeaders(StreamableHTTPASGIApp(server.session_manager))
    legacy_sse: ASGIApp = server.sse_app(
        sse_path=f"{p}/sse", message_path=f"{p}/messages/", transport_security=security
    )

    mcp_app = auth.protect(streamable, resource_url=f"{base_url}/mcp")
    sse_resource = f"{base_url}/sse"
    sse_post = auth.protect(streamable, resource_url=sse_resource)
    sse_get = auth.protect(legacy_sse, resource_url=sse_resource)

    sse_endpoint = _SseEndpoint(get=sse_get, post=sse_post)

    health = _health_endpoint(queries, settings, oauth=bool(auth.routes), store_health=auth.health)
    routes: list[BaseRoute] = [
        Route(f"{p}/health", health, methods=["GET"]),
        Route(f"{p}/mcp", mcp_app),
        Route(f"{p}/sse", sse_endpoint, methods=["GET", "HEAD", "POST", "DELETE"]),
        Route(f"{p}/messages/", auth.protect(legacy_sse, resource_url=sse_resource), methods=["POST"]),
        *auth.routes,
        *extra_routes,
        *landing_routes(
            face=spec.name,
            prefix=p,
            mcp_urls={x.name: f"{settings.effective_public_url(x.default_port)}{x.prefix}/mcp" for x in FACES.values()},
            backend=queries.database.kind,
            health=queries.health,
        ),
    ]
    if p:
        routes.append(Route("/health", health, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Starlette runs only the outer app's lifespan, so the session manager is entered here.
        async with server.session_manager.run():
            log.info(
                "serving %s face at %s (database: %s, read-only: %s)",
                spec.name,
                base_url,
                queries.database.kind,
                queries.read_only,
            )
            try:
                yield
            finally:
                queries.close()

    # Host/Origin first: a rebound or cross-site request is refused before any token is looked at.
    mcp_paths = (f"{p}/mcp", f"{p}/sse", f"{p}/messages/")
    host_check = Middleware(HostCheck, security=security, origin_paths=mcp_paths)
    app = Starlette(routes=routes, middleware=[host_check, *auth.middleware], lifespan=lifespan)
    app.state.queries = queries
    app.state.face = spec
    app.state.people = people_lookup(auth.provider, settings, auth.assertion)  # faces/common.py: who a call runs for
    forget = getattr(queries.database, "forget_person", None)
    if auth.provider is not None and forget is not None:
        auth.provider.on_revoked.append(_closer(forget))
    return app


def _closer(forget: Callable[[str], bool]) -> Callable[[str], Awaitable[None]]:
    """DB_IDENTITY=entra_obo: a person's tokens were revoked, so their pooled connections close now (off the loop)."""

    async def closed(username: str) -> None:
        await anyio.to_thread.run_sync(forget, username)

    return closed


class _SseEndpoint:
    """`/sse`: GET is the legacy SSE stream, POST/DELETE streamable HTTP, HEAD the original's capability probe.

    A class, not a function: Starlette treats a plain function endpoint as request -> response.
    """

    def __init__(self, *, get: ASGIApp, post: ASGIApp) -> None:
        self.get, self.post = get, post

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "HEAD":
            await Response(status_code=200, headers={"Cache-Control": "no-store"})(scope, receive, send)
        elif method == "GET":
            await self.get(scope, receive, send)
        else:
            await self.post(scope, receive, send)


def _health_endpoint(
    queries: QueryService,
    settings: Settings,
    *,
    oauth: bool,
    store_health: Callable[[], Awaitable[str | None]] | None = None,
) -> Callable[[Request], Any]:
    sdk_version = importlib.metadata.version("mcp")

    async def health(_: Request) -> JSONResponse:
        problem = await queries.health()
        if problem is None and store_health is not None:  # sign-in needs the store as much as tools need the db
            problem = await store_health()
        body = {
            "status": "ok" if problem is None else "degraded",
            "transport": "streamable-http",
            "transports": ["streamable-http", "sse"],
            "oauth": oauth,
            "database": queries.database.kind,
            "mcp_version": protocol_versions.LATEST_PROTOCOL_VERSION,
            "mcp_sdk": sdk_version,
            "read_only": queries.read_only,
            "version": __version__,
        }
        if problem is not None:
            body["reason"] = problem
        # 200 either way: the server is up; `status` says whether the database is.
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return health
