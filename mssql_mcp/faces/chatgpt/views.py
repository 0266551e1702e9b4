"""Read-only HTML pages behind the `url` of every search result and fetched record.

    GET {prefix}/records/{id}     the record `fetch(id)` returns, as a page a person can read

ChatGPT shows these links as citations, so they must lead somewhere real. Each page is rendered from the
same `Record` that `fetch` builds: the same id checks, the same read-only statements. The page comes from
the page kit (mssql_mcp/web/: web/templates/record.html), so every value is escaped and the page carries
the kit's security headers (no script, no framing). Access is decided by `guard`, the same sign-in as the
MCP endpoints (signin.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mssql_mcp.db.identity import person_scope
from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.faces.chatgpt.fetch import URL_SAFE, Fetcher, Record
from mssql_mcp.faces.common import request_identity, request_key
from mssql_mcp.queries import caller_scope
from mssql_mcp.web import message_page, page

MAX_HTML_ROWS = 1000

Guard = Callable[[Request], Awaitable[Response | None]]


async def _open(request: Request) -> Response | None:
    return None


def record_routes(fetcher: Fetcher, *, prefix: str, guard: Guard = _open) -> list[BaseRoute]:
    def href(record_id: str) -> str:
        return f"{prefix}/records/{quote(record_id, safe=URL_SAFE)}"

    async def record(request: Request) -> Response:
        refused = await guard(request)
        if refused is not None:
            return refused
        try:
            # As the signed-in visitor, like a tool call: their share of the workers, their database identity.
            person = await request_identity(request)
            with caller_scope(request_key(request)), person_scope(person):
                rec = await fetcher.fetch(request.path_params["record_id"])
        except MssqlMcpError as exc:
            return message_page("Not found", exc.message, status=404)
        return page("record.html", title=rec.title, wide=True, **record_view(rec, href))

    return [Route(f"{prefix}/records/{{record_id:path}}", record, methods=["GET"])]


def record_view(rec: Record, href: Callable[[str], str]) -> dict[str, Any]:
    """What record.html shows: the record, its links resolved, and its rows capped (each cell a value and,
    in the catalog's id column, the link to that table's record)."""
    rows = None
    if rec.fields is None and rec.columns is not None and rec.rows is not None:
        links = [c == "id" and rec.metadata.get("kind") == "catalog" for c in rec.columns]  # it links its tables
        rows = [
            [(v, href(v) if link and isinstance(v, str) else None) for v, link in zip(row, links, strict=True)]
            for row in rec.rows[:MAX_HTML_ROWS]
        ]
    return {
        "record": rec,
        "related": [(label, href(rid)) for label, rid in rec.related],
        "fields": rec.fields,
        "rows": rows,
        "hidden": max(0, len(rec.rows or []) - MAX_HTML_ROWS) if rows is not None else 0,
    }
