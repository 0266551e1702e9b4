"""Walking list_tables page by page through the MCP SDK client, checking each page's budget on the way."""

from __future__ import annotations

from typing import Any

from mcp import Client

from mssql_mcp.catalog import table_key
from mssql_mcp.faces.paging import PAGE_MAX_TABLES, PAGE_MAX_TEXT_BYTES
from tests.support.mcp_client import structured, text_of


async def call_on(client: Client, args: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
    result = await client.call_tool("list_tables", args)
    return text_of(result), structured(result) if not result.is_error else {}, bool(result.is_error)


async def page_through(
    client: Client, first: dict[str, Any], cursor: str | None, stop_after: int | None = None
) -> tuple[list[dict[str, Any]], str | None, int]:
    """The tables of every page from `cursor` (or the first call's), stopping early after `stop_after` pages."""
    tables: list[dict[str, Any]] = []
    pages = 0
    while True:
        text, data, error = await call_on(client, {"cursor": cursor} if cursor else first)
        assert not error, text
        check_budget(text, data)
        tables += data["tables"]
        pages += 1
        cursor = data.get("next_cursor")
        if cursor is None:
            assert "more; call again" not in text
            return tables, None, pages
        assert text.endswith(f"{data['remaining']} more; call again with cursor={cursor}")
        if pages == stop_after:
            return tables, cursor, pages


def check_budget(text: str, data: dict[str, Any]) -> None:
    assert 0 < len(data["tables"]) <= PAGE_MAX_TABLES
    assert len(text.encode()) <= PAGE_MAX_TEXT_BYTES


def check_every_table_once(tables: list[dict[str, Any]], expected: list[str], pages: int) -> None:
    """The pages held each expected table exactly once, in one stable order (case-folded), no page short."""
    seen = [(t["schema"], t["name"]) for t in tables]
    assert len(seen) == len(set(seen)) == len(expected) and {n for _s, n in seen} == set(expected)
    assert seen == sorted(seen, key=lambda k: table_key(*k))
    assert pages >= len(expected) // PAGE_MAX_TABLES
