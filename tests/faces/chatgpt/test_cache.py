"""Query results are cached for CACHE_TTL_SECONDS, on a clock the test steps; expiry re-runs, never fails.

The clock cannot reach into a server subprocess, so these tests run the ChatGPT tools in-process: the real
`register()`, QueryService and SQLite backend, reached through the MCP SDK's own client over its in-memory
transport. The data is changed behind the server's back to tell a cached answer from a fresh one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mssql_mcp.cache import ResultCache
from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.faces.chatgpt import tools as chatgpt
from mssql_mcp.faces.chatgpt.fetch import QueryRun
from mssql_mcp.faces.common import AuditPolicy, FaceContext
from mssql_mcp.queries import QueryService
from mssql_mcp.settings import load_settings
from tests.support.chatgpt_contract import TEST_ID_KEY, fetched, search_results, signed

pytestmark = pytest.mark.anyio
TTL = 300.0
SQL = "SELECT CompanyName FROM dbo.Customers WHERE CustomerID = 1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def tools(demo_copy: Path) -> AsyncIterator[tuple[Client, ResultCache[QueryRun], Clock]]:
    clock = Clock()
    cache: ResultCache[QueryRun] = ResultCache(ttl=TTL, timer=clock)
    settings = load_settings(environ={"SQLITE_PATH": str(demo_copy), "RECORD_ID_KEYS": TEST_ID_KEY}, env_file=None)
    queries = QueryService(SqliteDatabase(demo_copy, read_only=True), max_rows=50, timeout=5, workers=2, read_only=True)
    server: MCPServer[object] = MCPServer(name="chatgpt-cache-test")
    face = FaceContext(server, queries, settings, "http://127.0.0.1:9/chatgpt", "/chatgpt", AuditPolicy())
    chatgpt.register(face, cache=cache)
    try:
        async with Client(server) as client:
            yield client, cache, clock
    finally:
        queries.close()


def rename_customer(path: Path, name: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE Customers SET CompanyName = ? WHERE CustomerID = 1", (name,))


async def test_a_query_id_is_served_from_cache_until_the_ttl_then_rerun(
    tools: tuple[Client, ResultCache[QueryRun], Clock], demo_copy: Path
) -> None:
    client, cache, clock = tools
    (hit,) = search_results(await client.call_tool("search", {"query": SQL}))
    original = fetched(await client.call_tool("fetch", {"id": hit["id"]}))
    assert original["metadata"]["cached"] is True and len(cache) == 1
    rename_customer(demo_copy, "Renamed While Cached")

    clock.now += TTL - 1  # still fresh: the cached rows, not the database's
    still = fetched(await client.call_tool("fetch", {"id": hit["id"]}))
    assert still["text"] == original["text"] and still["metadata"]["cached"] is True

    clock.now += 2  # expired: re-run from the SQL inside the id; an expired cache is not an error
    fresh = fetched(await client.call_tool("fetch", {"id": hit["id"]}))
    assert fresh["metadata"]["cached"] is False and "Renamed While Cached" in fresh["text"]
    assert fresh["id"] == hit["id"]
    again = fetched(await client.call_tool("fetch", {"id": hit["id"]}))
    assert again["metadata"]["cached"] is True and again["text"] == fresh["text"]


async def test_row_and_table_ids_always_reread(
    tools: tuple[Client, ResultCache[QueryRun], Clock], demo_copy: Path
) -> None:
    client, cache, _ = tools
    first = fetched(await client.call_tool("fetch", {"id": signed("row:dbo.Customers:CustomerID=1")}))
    rename_customer(demo_copy, "Renamed Now")
    second = fetched(await client.call_tool("fetch", {"id": signed("row:dbo.Customers:CustomerID=1")}))
    assert first["text"] != second["text"] and "CompanyName: Renamed Now" in second["text"]
    assert len(cache) == 0  # rows are never cached


def test_the_cache_is_bounded_and_expires_on_its_clock() -> None:
    clock = Clock()
    cache: ResultCache[str] = ResultCache(ttl=10, maxsize=3, timer=clock)
    for i in range(5):
        cache.put(i, f"v{i}")
    assert len(cache) == 3 and cache.get(0) is None and cache.get(4) == "v4"
    clock.now += 9.9
    assert cache.get(4) == "v4"
    clock.now += 0.2
    assert cache.get(4) is None and len(cache) == 0
    assert (cache.hits, cache.misses) == (2, 2)


def test_a_zero_ttl_disables_caching() -> None:
    cache: ResultCache[str] = ResultCache(ttl=0)
    cache.put("k", "v")
    assert cache.get("k") is None and len(cache) == 0


def test_the_cache_is_bounded_by_bytes_too() -> None:
    clock = Clock()
    cache: ResultCache[str] = ResultCache(ttl=10, maxsize=100, max_bytes=1_000, timer=clock)
    for i in range(10):
        cache.put(i, f"{i}" * 198)  # 200 bytes each, by the default weight (its repr)
    assert len(cache) == 5 and cache.bytes == 1_000
    assert cache.get(4) is None and cache.get(5) == "5" * 198 and cache.get(9) == "9" * 198

    cache.put("big", "x" * 300)  # over a quarter of the budget: not kept, and nothing else is pushed out
    assert cache.get("big") is None and len(cache) == 5
    cache.put(9, "x" * 300)  # a key whose new value is too big does not keep its old one either
    assert cache.get(9) is None and len(cache) == 4 and cache.bytes == 800


async def test_a_huge_query_result_is_not_cached_and_is_rerun(demo_copy: Path) -> None:
    settings = load_settings(environ={"SQLITE_PATH": str(demo_copy), "RECORD_ID_KEYS": TEST_ID_KEY}, env_file=None)
    queries = QueryService(
        SqliteDatabase(demo_copy, read_only=True), max_rows=500, timeout=5, workers=2, read_only=True
    )
    cache: ResultCache[QueryRun] = ResultCache(ttl=TTL, max_bytes=40_000)
    server: MCPServer[object] = MCPServer(name="chatgpt-cache-bytes-test")
    chatgpt.register(
        FaceContext(server, queries, settings, "http://127.0.0.1:9/chatgpt", "/chatgpt", AuditPolicy()), cache=cache
    )
    try:
        async with Client(server) as client:
            small = "SELECT CompanyName FROM dbo.Customers WHERE CustomerID = 1"
            big = "SELECT TOP 400 * FROM dbo.Orders ORDER BY OrderID"
            for sql in (small, big):
                search_results(await client.call_tool("search", {"query": sql}))
            assert len(cache) == 1 and 0 < cache.bytes <= 10_000  # the big result weighs more than a quarter
            (hit,) = search_results(await client.call_tool("search", {"query": big}))
            again = fetched(await client.call_tool("fetch", {"id": hit["id"]}))
            assert again["metadata"]["cached"] is False and again["metadata"]["row_count"] == 400
    finally:
        queries.close()
