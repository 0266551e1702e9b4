"""The ChatGPT face's tools: `search` and `fetch`, in the contract ChatGPT connectors and Deep Research call.

    search({"query"}) -> one text item: {"results": [{"id", "title", "url"}]}, and the same as structuredContent
    fetch({"id"})     -> one text item: {"id", "title", "text", "url", "metadata"}, and the same as structuredContent

Both are read-only (annotations say so, and every statement passes the gate with `force_read_only`,
whatever READ_ONLY_MODE says: this face never writes). ChatGPT reads the JSON from the one text item; OpenAI's
MCP server guide returns the same object as `structuredContent` beside it, declared as each tool's
outputSchema (`faces/outputs.py`). Every result's `url` is a page a person can open, never empty: ChatGPT
cites a result only when it has one. The search grammar is in `search_grammar.py`, the ids in
`ids.py`, fetching in `fetch.py`, keyword search in `keyword_search.py`, and the HTML pages
behind each result's `url` in `views.py`.
"""

from __future__ import annotations

import json
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field
from starlette.routing import BaseRoute

from mssql_mcp.cache import ResultCache
from mssql_mcp.errors import InvalidArgument
from mssql_mcp.faces.chatgpt import ids, search_grammar
from mssql_mcp.faces.chatgpt.fetch import MAX_TEXT_CHARS, Fetcher, QueryRun, id_table, query_title
from mssql_mcp.faces.chatgpt.keyword_search import Hit, KeywordSearch
from mssql_mcp.faces.chatgpt.signin import RecordSignIn
from mssql_mcp.faces.chatgpt.signing import IdSigner, signer_for
from mssql_mcp.faces.chatgpt.views import record_routes
from mssql_mcp.faces.common import READ_ONLY, FaceContext, ToolOutput, run_tool
from mssql_mcp.faces.outputs import Document, SearchResults
from mssql_mcp.queries import MAX_SAMPLE_ROWS

# The Claude face's tools an error may point to, said as this face does them (errors.MssqlMcpError.worded).
TOOL_NAMES = {"list_tables": 'search "list tables"', "describe_table": 'search "describe <table>"'}

SEARCH_DESCRIPTION = """Search the company's SQL Server database. The query is one of:
- "list tables": every table and view;
- "describe <table>": columns, keys and indexes, e.g. "describe dbo.Customers";
- "sample <table> limit N": the first N rows (1-{max_sample}), e.g. "sample dbo.Orders limit 5";
- a read-only T-SQL query starting with SELECT or WITH, e.g. "SELECT TOP 10 * FROM dbo.Orders ORDER BY OrderDate DESC"
  (T-SQL: TOP, not LIMIT; [brackets] for odd names; at most {max_rows} rows; nothing is ever written);
- plain keywords, e.g. "Zürich outfitters": matching table and column names first, then rows whose text
  columns contain every keyword ("double quotes" keep a phrase together).
Returns up to {max_results} results, each with an id. Pass an id to fetch to read the record."""

FETCH_DESCRIPTION = """Read one record found by search, by its id, passed exactly as search (or an earlier fetch)
returned it. Ids say what they point at ("catalog:tables", "table:dbo.Orders", "column:dbo.Customers:City",
"row:dbo.Orders:OrderID=10248", "sample:dbo.Orders:10", "query:<digest>:<payload>") and end in a signature
after "~": an id written or changed by hand is refused. Returns the record as text (a compact table or
"column: value" lines, cut with a note past {max_chars} characters) plus a url a person can open."""


def register(face: FaceContext, *, cache: ResultCache[QueryRun] | None = None) -> list[BaseRoute]:
    """Add search and fetch to `face.server`; return the record pages' routes (behind `face.auth`'s sign-in).

    `cache` is injectable so tests can step its clock. Without `face.auth` (in-process tests) the pages are open.
    """
    server, queries, settings, policy = face.server, face.queries, face.settings, face.audit

    if cache is None:  # not `cache or ...`: an empty cache is falsy (it has a length)
        cache = ResultCache(ttl=settings.cache_ttl_seconds)
    fetcher = Fetcher(queries, base_url=face.base_url, cache=cache, signer=signer_for(settings, face.auth))
    limit = settings.max_search_results
    keywords = KeywordSearch(fetcher, limit=limit, budget_seconds=settings.search_timeout_seconds)

    @server.tool(
        name="search",
        description=SEARCH_DESCRIPTION.format(max_sample=MAX_SAMPLE_ROWS, max_rows=queries.max_rows, max_results=limit),
        annotations=READ_ONLY,
    )
    async def search(
        query: Annotated[str, Field(max_length=search_grammar.MAX_QUERY_CHARS)], ctx: Context
    ) -> Annotated[CallToolResult, SearchResults]:
        async def body() -> ToolOutput:
            hits = await _search(search_grammar.parse(query), fetcher, keywords, limit)
            found = {"results": [{"id": h.id, "title": h.title, "url": fetcher.url(h.id)} for h in hits]}
            return ToolOutput(text=json.dumps(found, ensure_ascii=False), structured=found, rows=len(hits))

        return await run_tool("search", body, ctx=ctx, policy=policy, sql=_sql_of(query), tools=TOOL_NAMES)

    @server.tool(
        name="fetch",
        description=FETCH_DESCRIPTION.format(max_chars=f"{MAX_TEXT_CHARS:,}"),
        annotations=READ_ONLY,
    )
    async def fetch(  # the contract names the argument "id"
        id: Annotated[str, Field(max_length=ids.MAX_ID_LENGTH)], ctx: Context
    ) -> Annotated[CallToolResult, Document]:
        async def body() -> ToolOutput:
            record = await fetcher.fetch(id)
            document = record.contract()
            return ToolOutput(
                text=json.dumps(document, ensure_ascii=False),
                structured=document,
                rows=len(record.rows) if record.rows is not None else 1,
            )

        sql = _query_sql_of(fetcher.signer, id)
        return await run_tool("fetch", body, ctx=ctx, policy=policy, sql=sql, tools=TOOL_NAMES)

    if face.auth is None:
        return record_routes(fetcher, prefix=face.prefix)
    signin = RecordSignIn(
        face.auth, base_url=face.base_url, prefix=face.prefix, open_access=settings.allow_unauth_tools_call
    )
    return signin.routes() + record_routes(fetcher, prefix=face.prefix, guard=signin.check)


async def _search(request: search_grammar.Request, fetcher: Fetcher, keywords: KeywordSearch, limit: int) -> list[Hit]:
    queries = fetcher.queries
    if isinstance(request, search_grammar.ListTables):
        tables = await queries.list_tables()
        overview = Hit(fetcher.signer.id(ids.CatalogId()), f"All tables and views ({len(tables)})")
        return [overview] + [
            Hit(
                fetcher.signer.id(ids.TableId(id_table(t.ref))),
                f"{t.ref.qualified} ({t.type.lower()}, {t.row_count if t.row_count is not None else '?'} rows)",
            )
            for t in tables
        ][: limit - 1]
    if isinstance(request, search_grammar.Describe):
        table = await queries.resolve(request.table)
        tid = ids.TableId(id_table(table.ref))
        return [Hit(fetcher.signer.id(tid), f"{table.ref.qualified} ({table.type.lower()})")]
    if isinstance(request, search_grammar.Sample):
        if not 1 <= request.limit <= MAX_SAMPLE_ROWS:
            raise InvalidArgument(f"limit must be between 1 and {MAX_SAMPLE_ROWS} (got {request.limit}).")
        table = await queries.resolve(request.table)
        rid = ids.SampleId(id_table(table.ref), request.limit)
        return [Hit(fetcher.signer.id(rid), f"First {request.limit} rows of {table.ref.qualified}")]
    if isinstance(request, search_grammar.Sql):
        qid = ids.query_id(request.sql)  # refuses SQL too long to carry in an id, before running it
        run, _ = await fetcher.run_query(request.sql)
        return [Hit(fetcher.signer.id(qid), query_title(run))]
    return await keywords.search(request.terms)


def _sql_of(query: str) -> str | None:
    """The SQL a search runs, for the audit line (None for the other forms)."""
    try:
        request = search_grammar.parse(query)
    except InvalidArgument:
        return None
    return request.sql if isinstance(request, search_grammar.Sql) else None


def _query_sql_of(signer: IdSigner, record_id: str) -> str | None:
    """The SQL a fetch runs, for the audit line: only from an id this server signed."""
    try:
        rid = signer.parse(record_id)
    except InvalidArgument:
        return None
    return rid.sql if isinstance(rid, ids.QueryId) else None
