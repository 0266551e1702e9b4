"""What every face shares: its `FaceContext`, and for each tool timing, error mapping, the audit line and results.

A face's `register(ctx)` gets one `FaceContext`. A tool body returns a `ToolOutput`; `run_tool` turns it
(or the error it raised) into a CallToolResult. Our own errors become `isError` results with their
one-line message, never a 500 or a dropped stream.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from starlette.requests import Request

from mssql_mcp.db.identity import DbIdentity, identity_of, person_scope
from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.logs import event
from mssql_mcp.oauth import AuthComponents
from mssql_mcp.oauth.identity import is_person_key
from mssql_mcp.oauth.provider import Provider
from mssql_mcp.oauth.store import PersonRecord
from mssql_mcp.queries import QueryService, caller_scope
from mssql_mcp.settings import Settings

audit_log = logging.getLogger("mssql_mcp.audit")
log = logging.getLogger("mssql_mcp.tools")

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)


@dataclass
class ToolOutput:
    text: str
    structured: dict[str, Any] | None = None
    rows: int | None = None


_TRUNCATED = {
    "rows": "truncated: more rows exist; narrow the query",
    "bytes": "truncated: the result reached MAX_RESULT_BYTES; select fewer or shorter columns",
}


def truncation_note(reason: str | None) -> str:
    """Why a result was cut, and what to do about it, as both faces say it after the row count."""
    return _TRUNCATED.get(reason or "rows", _TRUNCATED["rows"])


@dataclass(frozen=True)
class AuditPolicy:
    """How SQL appears in the audit line: "full" text or its "hash" (SHA-256). Full text always at DEBUG."""

    sql: str = "hash"


@dataclass(frozen=True)
class FaceContext:
    """Everything a face needs to register its tools, built once per app by `create_app`."""

    server: MCPServer[Any]
    queries: QueryService
    settings: Settings
    base_url: str  # PUBLIC_URL + prefix: this face's issuer and the root of its resources
    prefix: str  # the face's path prefix ("" or "/chatgpt")
    audit: AuditPolicy
    auth: AuthComponents | None = None  # None only in-process (tests): the record pages are then open


def _request(ctx: Context | None) -> Request | None:
    request = ctx.request_context.request if ctx is not None else None
    return request if isinstance(request, Request) else None


def caller(ctx: Context | None) -> tuple[str | None, str | None]:
    """(user, client_id) of the token that authorised this request; (None, None) without sign-in."""
    return request_caller(_request(ctx))


def request_caller(request: Request | None) -> tuple[str | None, str | None]:
    """(user, client_id) of the token that authorised `request` (the bearer check, or a record page's guard)."""
    user = request.scope.get("user") if request is not None else None
    if not isinstance(user, AuthenticatedUser):
        return None, None
    token = user.access_token
    # Our provider's tokens carry the signed-in username; the SDK's base AccessToken does not.
    return getattr(token, "username", None), token.client_id


def caller_key(ctx: Context | None) -> str | None:
    return request_key(_request(ctx))


def request_key(request: Request | None) -> str | None:
    """Whose share of the database workers a call uses: the signed-in person, else the client's address."""
    user, client = request_caller(request)
    if user or client:
        return f"user:{user}" if user else f"client:{client}"
    if request is not None and request.client is not None:
        return f"addr:{request.client.host}"
    return None


PeopleLookup = Callable[[str], Awaitable[DbIdentity]]


def people_lookup(
    provider: Provider | None,
    settings: Settings,
    assertion: Callable[[PersonRecord], Awaitable[str | None]] | None = None,
) -> PeopleLookup | None:
    """How a person from the identity provider becomes a DbIdentity: their record's issuer, groups and e-mail,
    and under DB_IDENTITY=entra_obo their upstream access token (`assertion`: oauth/oidc_pages.py).

    The e-mail counts only when OIDC_ALLOWED_DOMAINS is set: the sign-in rules then let no one in without a
    verified one (oauth/identity.py); otherwise it may be an unverified attribute, and mcp_email stays NULL."""
    if provider is None:
        return None
    verified = bool(settings.oidc_allowed_domains)
    obo = assertion if settings.db_identity == "entra_obo" else None

    async def lookup(key: str) -> DbIdentity:
        record = await provider.people.get(key)  # kept briefly (oauth/people_cache.py): no store read per call
        if record is None:
            return identity_of(key)
        token = await obo(record) if obo is not None else None
        return DbIdentity(key, record.issuer, record.email if verified else None, tuple(record.groups), token)

    return lookup


async def caller_identity(ctx: Context | None) -> DbIdentity | None:
    return await request_identity(_request(ctx))


async def request_identity(request: Request | None) -> DbIdentity | None:
    """The signed-in person, as the database layer names them (db/identity.py); None without sign-in."""
    user, _client = request_caller(request)
    if not user:
        return None
    people = getattr(request.app.state, "people", None) if request is not None else None
    if people is not None and is_person_key(user):
        return await people(user)  # type: ignore[no-any-return]
    return identity_of(user)


async def run_tool(
    tool: str,
    body: Callable[[], Awaitable[ToolOutput]],
    *,
    ctx: Context | None,
    policy: AuditPolicy,
    sql: str | None = None,
    tools: Mapping[str, str] | None = None,
) -> CallToolResult:
    """Run a tool's body. `tools` names the Claude face's tools in this face's terms, for errors that
    point to one ("Use list_tables ..."); None keeps the Claude names."""
    started = time.perf_counter()
    outcome, rows, error, db_user, person = "ok", None, None, None, None
    try:
        person = await caller_identity(ctx)
        db_user = _db_user(ctx, person)
        with caller_scope(caller_key(ctx)), person_scope(person):
            out = await body()
        rows = out.rows
        return CallToolResult(content=[TextContent(type="text", text=out.text)], structured_content=out.structured)
    except MssqlMcpError as exc:
        outcome, error = type(exc).__name__, exc.message
        text = exc.worded(tools) if tools else exc.message
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
    except Exception as exc:  # a bug: log it in full here, tell the client only that it happened
        outcome, error = "internal_error", type(exc).__name__
        log.exception("tool %s failed unexpectedly", tool)
        return CallToolResult(
            content=[TextContent(type="text", text=f"Internal error in {tool}; the server log has details.")],
            is_error=True,
        )
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        _audit(tool, ctx, policy, sql, rows, elapsed, outcome, error, db_user or _db_user(ctx, person), person)


def _db_user(ctx: Context | None, person: DbIdentity | None) -> str | None:
    """The database principal the call runs as, for the audit line (the backend's `audit_principal`: the
    person's user under DB_IDENTITY=impersonate, `login:NAME` for the service login); None on SQLite."""
    request = ctx.request_context.request if ctx is not None else None
    queries = getattr(request.app.state, "queries", None) if isinstance(request, Request) else None
    principal = getattr(getattr(queries, "database", None), "audit_principal", None)
    if principal is None:
        return None
    try:
        with person_scope(person):
            name = principal()
    except MssqlMcpError:
        return None  # unmapped: the call is refused, and the audit line says so
    return str(name) if name is not None else None


def _audit(
    tool: str,
    ctx: Context | None,
    policy: AuditPolicy,
    sql: str | None,
    rows: int | None,
    duration_ms: float,
    outcome: str,
    error: str | None,
    db_user: str | None = None,
    person: DbIdentity | None = None,
) -> None:
    user, client = caller(ctx)
    # A person from the identity provider is named as it knows them: the key carries the subject, and the
    # issuer and (verified) e-mail are fields of their own, so an auditor can search by either.
    upstream = person if person is not None and not person.is_local else None
    digest = hashlib.sha256(sql.encode()).hexdigest()[:16] if sql is not None else None
    full = sql if sql is not None and (policy.sql == "full" or audit_log.isEnabledFor(logging.DEBUG)) else None
    event(
        audit_log,
        "tool_call",
        level=logging.INFO if outcome == "ok" else logging.WARNING,
        tool=tool,
        user=user,
        issuer=upstream.issuer if upstream else None,
        email=upstream.email if upstream else None,
        db_user=db_user,
        client=client,
        duration_ms=round(duration_ms, 1),
        rows=rows,
        outcome=outcome,
        error=error,
        sql_sha256=digest,
        sql=full,
    )
