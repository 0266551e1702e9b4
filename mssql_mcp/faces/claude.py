"""The Claude face's tools: list_tables, search_schema, describe_table, execute_sql, get_table_sample.

Names and input schemas are the original server's, with their bounds stated (`minimum`, `maximum`,
`maxLength`). Each tool is thin: call the query service, shape the result (structured content plus a
readable text rendering), and let `run_tool` map errors and audit. Each declares the shape of its structured
content (`faces/outputs.py`) as its return annotation, so the SDK publishes it as the tool's outputSchema.

No `from __future__ import annotations` here: the bounds come from settings, so the annotations must be
evaluated where the tools are defined, with the values in scope.
"""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field
from starlette.routing import BaseRoute

from mssql_mcp import schema_search
from mssql_mcp.db.base import TableDetail, TableInfo
from mssql_mcp.errors import InvalidArgument
from mssql_mcp.faces import outputs as shape
from mssql_mcp.faces import paging
from mssql_mcp.faces.common import READ_ONLY, WRITE, FaceContext, ToolOutput, run_tool, truncation_note
from mssql_mcp.queries import MAX_SAMPLE_ROWS, QueryOutcome
from mssql_mcp.schema_index import Match
from mssql_mcp.serialize import json_rows, render_table

MAX_SEARCH_LIMIT = 50
# The embedded backend says what it is (docs/embedded_database.md): answers are SQL Server's, or a refusal.
EMBEDDED_NOTE = (
    " This database is the embedded SQLite demo speaking T-SQL: a query returns SQL Server's answer or is refused"
    " with one line naming the construct (FORMAT, PIVOT, variables, datetimeoffset, ... are refused)."
)
MAX_SEARCH_CHARS = 1000  # a question of a few words; the index reads at most MAX_QUESTION_WORDS of them
SYSNAME_CHARS = 128  # SQL Server's longest identifier
# "[schema].[name]" with every "]" doubled: the longest way to write a two-part name.
MAX_TABLE_NAME_CHARS = 2 * (2 + 2 * SYSNAME_CHARS) + 1
MAX_CURSOR_CHARS = 4096  # base64 of the last key and the filter: 3 UTF-8 bytes a character, with room

SchemaName = Annotated[str | None, Field(max_length=SYSNAME_CHARS)]
Pattern = Annotated[str | None, Field(max_length=paging.MAX_PATTERN_CHARS)]
Cursor = Annotated[str | None, Field(max_length=MAX_CURSOR_CHARS)]
TableName = Annotated[str, Field(min_length=1, max_length=MAX_TABLE_NAME_CHARS)]


def register(face: FaceContext) -> list[BaseRoute]:
    """Add the SQL tools to `face.server`. This face serves no routes beside MCP."""
    server, queries, policy = face.server, face.queries, face.audit

    @server.tool(
        name="list_tables",
        description=(
            "List the tables and views in the database, with schema, type and row count. Optional: schema "
            "(e.g. 'dbo'); pattern, part of the table name, case-insensitive, '*' the only wildcard; cursor, from "
            f"the previous page. A page holds at most {paging.PAGE_MAX_TABLES} tables; a large database is "
            "easier to explore with search_schema."
        ),
        annotations=READ_ONLY,
    )
    async def list_tables(
        ctx: Context, schema: SchemaName = None, pattern: Pattern = None, cursor: Cursor = None
    ) -> Annotated[CallToolResult, shape.TablePage]:
        async def body() -> ToolOutput:
            catalog = await queries.catalog()
            found = paging.page(catalog, _table_line, schema=schema, pattern=pattern, cursor=cursor)
            return _page_output(found)

        return await run_tool("list_tables", body, ctx=ctx, policy=policy)

    @server.tool(
        name="search_schema",
        description=(
            "Find tables, views and columns by words, e.g. 'where is revenue stored' or 'order lines': matches "
            "names (split on case and underscores) and descriptions, best first, with each table's key columns "
            f"and the matching columns. limit: 1 to {MAX_SEARCH_LIMIT} tables (default 10)."
        ),
        annotations=READ_ONLY,
    )
    async def search_schema(
        query: Annotated[str, Field(max_length=MAX_SEARCH_CHARS)],
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=MAX_SEARCH_LIMIT)] = 10,
    ) -> Annotated[CallToolResult, shape.SchemaMatches]:
        async def body() -> ToolOutput:
            index = await schema_search.for_service(queries).index()
            words, matches = index.search(query, limit)
            if not words:
                raise InvalidArgument("Give search_schema a few words to look for, e.g. 'order lines' or 'revenue'.")
            return _matches_output(words, matches)

        return await run_tool("search_schema", body, ctx=ctx, policy=policy)

    @server.tool(
        name="describe_table",
        description=(
            "Describe a table: columns with SQL Server type, nullability, default and primary key, plus foreign "
            "keys and indexes. table_name may be 'Customers', 'dbo.Customers' or '[dbo].[Customers]'."
        ),
        annotations=READ_ONLY,
    )
    async def describe_table(table_name: TableName, ctx: Context) -> Annotated[CallToolResult, shape.TableDetail]:
        async def body() -> ToolOutput:
            detail = await queries.describe(table_name)
            return ToolOutput(text=_detail_text(detail), structured=_detail_json(detail), rows=len(detail.columns))

        return await run_tool("describe_table", body, ctx=ctx, policy=policy)

    mode = "read-only: one SELECT (or WITH ... SELECT) per call" if queries.read_only else "read-write"

    @server.tool(
        name="execute_sql",
        description=(
            f"Run one T-SQL statement ({mode}). Results are capped at {queries.max_rows} rows and say "
            f"'truncated' when cut; queries time out after {queries.timeout:g} s. Prefer TOP/WHERE to narrow results."
            + (EMBEDDED_NOTE if queries.database.kind == "sqlite" else "")
        ),
        annotations=READ_ONLY if queries.read_only else WRITE,
    )
    async def execute_sql(
        query: Annotated[str, Field(max_length=queries.max_statement_bytes)], ctx: Context
    ) -> Annotated[CallToolResult, shape.QueryResult]:
        async def body() -> ToolOutput:
            return _result_output(await queries.run(query))

        return await run_tool("execute_sql", body, ctx=ctx, policy=policy, sql=query)

    most = min(MAX_SAMPLE_ROWS, queries.max_rows)  # a sample is a result: MAX_ROWS caps it too

    @server.tool(
        name="get_table_sample",
        description=f"Return the first rows of a table (limit 1 to {most}, default {min(10, most)}).",
        annotations=READ_ONLY,
    )
    async def get_table_sample(
        table_name: TableName, ctx: Context, limit: Annotated[int, Field(ge=1, le=most)] = min(10, most)
    ) -> Annotated[CallToolResult, shape.QueryResult]:
        async def body() -> ToolOutput:
            return _result_output(await queries.sample(table_name, limit))

        return await run_tool("get_table_sample", body, ctx=ctx, policy=policy)

    return []


# -- shaping ----------------------------------------------------------------------------------


def _result_output(outcome: QueryOutcome) -> ToolOutput:
    r = outcome.result
    structured: dict[str, Any] = {
        **({"table": outcome.table.qualified} if outcome.table else {}),
        "columns": r.columns,
        "rows": json_rows(r.rows),
        "row_count": r.row_count,
        "truncated": r.truncated,
        **({"truncated_reason": r.truncated_reason} if r.truncated else {}),
        "elapsed_ms": round(outcome.elapsed_ms, 2),
    }
    if outcome.kind != "read":
        text = f"{r.row_count} row(s) affected ({outcome.elapsed_ms:.0f} ms)."
    else:
        text = render_table(r.columns, structured["rows"])
        text += f"\n({r.row_count} row{'s' if r.row_count != 1 else ''}"
        text += f", {truncation_note(r.truncated_reason)})" if r.truncated else ")"
    return ToolOutput(text=text, structured=structured, rows=r.row_count)


def _table_json(t: TableInfo) -> dict[str, Any]:
    return {"schema": t.ref.schema, "name": t.ref.name, "type": t.type, "row_count": t.row_count}


def _table_line(t: TableInfo) -> str:
    return f"{t.ref.qualified} ({t.type.lower()}, {t.row_count if t.row_count is not None else '?'} rows)"


def _page_output(found: paging.Page) -> ToolOutput:
    tables = found.tables
    structured: dict[str, Any] = {"tables": [_table_json(t) for t in tables]}
    text = "\n".join(_table_line(t) for t in tables)
    if not tables:
        text = "No tables match; try another pattern, or search_schema." if found.filtered else "No tables."
    if found.next_cursor:
        structured["next_cursor"] = found.next_cursor
        structured["remaining"] = found.remaining
        text += f"\n{found.remaining} more; call again with cursor={found.next_cursor}"
    return ToolOutput(text=text, structured=structured, rows=len(tables))


def _matches_output(words: list[str], matches: list[Match]) -> ToolOutput:
    lines = []
    for m in matches:
        line = f"{_table_line(m.table)}; key: {', '.join(m.key_columns) or 'none'}"
        if m.columns:
            line += "; matching: " + ", ".join(f"{name} {ctype}" for name, ctype, _d in m.columns)
        lines.append(line)
        lines += [f"  -- {m.description}"] if m.description else []
        lines += [f"  -- {name}: {d}" for name, _t, d in m.columns if d]
    text = "\n".join(lines) if lines else "Nothing matches; try other words, or list_tables with a pattern."
    structured = {
        "words": words,
        "matches": [
            {
                **_table_json(m.table),
                "score": m.score,
                "words_found": m.words_found,
                "key_columns": m.key_columns,
                "matching_columns": [{"name": n, "type": t, "description": d} for n, t, d in m.columns],
                "description": m.description,
            }
            for m in matches
        ],
    }
    return ToolOutput(text=text, structured=structured, rows=len(matches))


def _detail_json(d: TableDetail) -> dict[str, Any]:
    return {
        **_table_json(d.info),
        "description": d.description,
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "nullable": c.nullable,
                "default": c.default,
                "primary_key": c.primary_key,
                "identity": c.identity,
                "description": c.description,
            }
            for c in d.columns
        ],
        "foreign_keys": [
            {
                "name": fk.name,
                "columns": list(fk.columns),
                "references": fk.references.qualified,
                "referenced_columns": list(fk.referenced_columns),
            }
            for fk in d.foreign_keys
        ],
        "indexes": [
            {"name": ix.name, "columns": list(ix.columns), "unique": ix.unique, "primary_key": ix.primary_key}
            for ix in d.indexes
        ],
    }


def _detail_text(d: TableDetail) -> str:
    lines = [f"{d.info.ref.qualified} ({d.info.type.lower()}, {d.info.row_count} rows)"]
    if d.description:
        lines.append(d.description)
    for c in d.columns:
        flags = [c.type, "NULL" if c.nullable else "NOT NULL"]
        flags += ["PRIMARY KEY"] if c.primary_key else []
        flags += ["IDENTITY"] if c.identity else []
        flags += [f"DEFAULT {c.default}"] if c.default is not None else []
        lines.append(f"  {c.name}: {' '.join(flags)}" + (f"  -- {c.description}" if c.description else ""))
    for fk in d.foreign_keys:
        target = f"{fk.references.qualified} ({', '.join(fk.referenced_columns)})"
        lines.append(f"  FK ({', '.join(fk.columns)}) -> {target}")
    for ix in d.indexes:
        kind = "PK" if ix.primary_key else "UNIQUE INDEX" if ix.unique else "INDEX"
        lines.append(f"  {kind} {ix.name} ({', '.join(ix.columns)})")
    return "\n".join(lines)
