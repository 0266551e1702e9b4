"""The page at a face's root (`GET /`, `GET /chatgpt/`): what this server is, its MCP URL, how to connect each
client to it, and whether it is healthy.

It needs no sign-in, so it says nothing about the database beyond its kind: no names, no host, no reason
when the health is degraded (those go to the log and to `/health` for operators). The connect steps are the
ones `mssql-mcp connect` prints (mssql_mcp/connect.py), for this server's PUBLIC_URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mssql_mcp import connect
from mssql_mcp.web.kit import page

FACE_TITLES = {"claude": "Claude", "chatgpt": "ChatGPT"}
FACE_SUMMARIES = {
    "claude": "lists tables, describes them, samples them and runs read-only T-SQL for Claude",
    "chatgpt": "offers search and fetch, the two tools ChatGPT connectors and Deep Research call",
}
BACKENDS = {"sqlite": "embedded SQLite (the demo database, or a SQLite file)", "mssql": "Microsoft SQL Server"}


def landing_routes(
    *,
    face: str,
    prefix: str,
    mcp_urls: Mapping[str, str],
    backend: str,
    health: Callable[[], Awaitable[str | None]],
) -> list[BaseRoute]:
    """The page at `{prefix}/`, and at `/` too for a face with a prefix (its own port, without the proxy).

    `mcp_urls` maps every face to its public MCP URL (this face's, and the other one's to point at);
    `health` returns None when the database answers, else a reason (which the page does not show).
    """
    mcp_url = mcp_urls[face]
    others = [(FACE_TITLES[name], url) for name, url in mcp_urls.items() if name != face]

    async def landing(_: Request) -> Response:
        healthy = await health() is None
        return page(
            "landing.html",
            title=f"{FACE_TITLES[face]} face",
            wide=True,
            face=FACE_TITLES[face],
            summary=FACE_SUMMARIES[face],
            mcp_url=mcp_url,
            backend=BACKENDS.get(backend, backend),
            health="ok" if healthy else "degraded",
            health_url=f"{prefix}/health",
            guides=connect.guides(face, mcp_url),
            others=others,
        )

    paths = [f"{prefix}/"] + (["/"] if prefix else [])
    return [Route(path, landing, methods=["GET"]) for path in paths]
