"""Read-only HTML pages behind the `url` of every search result and fetched record (issue 5 §5).

    GET {prefix}/records/{id}     the record `fetch(id)` returns, as a page a person can read

ChatGPT shows these links as citations, so they must lead somewhere real. Each page is rendered from the
same `Record` that `fetch` builds: the same id checks, the same read-only statements. Every value is HTML-
escaped; the page loads no script and forbids framing and any script (CSP). Access is decided by `guard`,
the same sign-in as the MCP endpoints (see `record_routes`).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.faces.chatgpt.fetch import URL_SAFE, Fetcher, Record

# A page with no script and no framing: the record's own data cannot run anything in the reader's browser.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}
MAX_HTML_ROWS = 1000

Guard = Callable[[Request], Awaitable[Response | None]]

_STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
h1{font-size:1.3rem}table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}dt{font-weight:600}
dd{margin:0 0 .5rem 1rem;white-space:pre-wrap}
.meta{color:#666;font-size:.85rem}code{background:#f3f3f3;padding:0 .2rem}"""


async def _open(request: Request) -> Response | None:
    return None


def record_routes(fetcher: Fetcher, *, prefix: str, guard: Guard = _open) -> list[BaseRoute]:
    async def record(request: Request) -> Response:
        refused = await guard(request)
        if refused is not None:
            return refused
        record_id = request.path_params["record_id"]
        try:
            rec = await fetcher.fetch(record_id)
        except MssqlMcpError as exc:
            return message_page("Not found", exc.message, 404)
        return _page(rec.title, render_record(rec, lambda rid: f"{prefix}/records/{quote(rid, safe=URL_SAFE)}"))

    return [Route(f"{prefix}/records/{{record_id:path}}", record, methods=["GET"])]


def render_record(rec: Record, href: Callable[[str], str]) -> str:
    parts = [f'<p class="meta">id <code>{_e(rec.id)}</code></p>']
    if rec.related:
        parts.append(
            "<p>" + " · ".join(f'<a href="{_e(href(rid))}">{_e(label)}</a>' for label, rid in rec.related) + "</p>"
        )
    if rec.fields is not None:
        parts.append("<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_cell(v)}</dd>" for k, v in rec.fields) + "</dl>")
    elif rec.columns is not None and rec.rows is not None:
        head = "".join(f"<th>{_e(c)}</th>" for c in rec.columns)
        links = [c == "id" and rec.id == "catalog:tables" for c in rec.columns]  # the catalog links its tables
        body = "".join(
            "<tr>"
            + "".join(
                f'<td><a href="{_e(href(v))}">{_e(v)}</a></td>'
                if link and isinstance(v, str)
                else f"<td>{_cell(v)}</td>"
                for v, link in zip(row, links, strict=True)
            )
            + "</tr>"
            for row in rec.rows[:MAX_HTML_ROWS]
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        if len(rec.rows) > MAX_HTML_ROWS:
            parts.append(f"<p>… {len(rec.rows) - MAX_HTML_ROWS} more rows not shown.</p>")
    else:
        parts.append(f"<pre>{_e(rec.text)}</pre>")
    meta = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rec.metadata.items())
    parts.append(f'<details class="meta"><summary>metadata</summary><dl>{meta}</dl></details>')
    return "\n".join(parts)


def _cell(value: Any) -> str:
    if value is None:
        return "<i>NULL</i>"
    if isinstance(value, dict) and set(value) == {"base64"}:
        return f"<i>binary</i> <code>{_e(value['base64'][:80])}</code>"
    return _e(str(value))


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def message_page(title: str, text: str, status: int) -> HTMLResponse:
    return _page(title, f"<p>{_e(text)}</p>", status=status)


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    doc = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{_STYLE}</style></head>'
        f"<body><h1>{_e(title)}</h1>\n{body}\n</body></html>"
    )
    return HTMLResponse(doc, status_code=status, headers=SECURITY_HEADERS)
