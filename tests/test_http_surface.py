"""The HTTP surface around the tools: /health, HEAD /sse, Host/Origin checks, other databases, outages."""

from __future__ import annotations

import sqlite3
import statistics
import time
from pathlib import Path

import anyio
import httpx2
import pytest

from tests.support.mcp_client import connect, structured, text_of
from tests.support.procs import ServerProcess, running_server

pytestmark = pytest.mark.anyio

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_health_reports_the_original_fields(dev_server: ServerProcess) -> None:
    async with httpx2.AsyncClient() as http:
        body = (await http.get(dev_server.base_url + "/health")).json()
    assert body["status"] == "ok" and body["database"] == "sqlite" and body["read_only"] is True
    assert {"status", "transport", "oauth", "database", "mcp_version", "read_only"} <= set(body)


async def test_head_sse_answers_the_capability_check(dev_server: ServerProcess) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.head(dev_server.base_url + "/sse")
    assert response.status_code == 200


async def test_hostile_origin_and_host_are_refused(dev_server: ServerProcess) -> None:
    async with httpx2.AsyncClient() as http:
        ok = await http.post(dev_server.base_url + "/mcp", json=INIT, headers=HEADERS)
        assert ok.status_code == 200
        evil = await http.post(
            dev_server.base_url + "/mcp", json=INIT, headers={**HEADERS, "Origin": "https://evil.example"}
        )
        assert evil.status_code == 403
        rebound = await http.post(dev_server.base_url + "/mcp", json=INIT, headers={**HEADERS, "Host": "evil.example"})
        assert rebound.status_code in (400, 403, 421)
        sse_evil = await http.post(
            dev_server.base_url + "/sse", json=INIT, headers={**HEADERS, "Origin": "http://evil.example"}
        )
        assert sse_evil.status_code == 403


async def test_health_stays_fast_while_slow_queries_run(dev_server: ServerProcess) -> None:
    slow = "WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) SELECT COUNT(*) FROM n"
    timings: list[float] = []

    async def slow_call() -> None:
        async with connect(dev_server.base_url) as client:
            assert (await client.call_tool("execute_sql", {"query": slow})).is_error  # cut at the timeout

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(slow_call)
        await anyio.sleep(0.5)  # let them start
        async with httpx2.AsyncClient() as http:
            for _ in range(10):
                started = time.perf_counter()
                response = await http.get(dev_server.base_url + "/health")
                timings.append(time.perf_counter() - started)
                assert response.json()["status"] == "ok"
                await anyio.sleep(0.05)
    assert statistics.median(timings) < 0.1, timings
    assert max(timings) < 0.5, timings


async def test_another_sqlite_file_is_served_as_is(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite"
    with sqlite3.connect(db) as con:
        con.executescript(
            """
            CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE books (isbn TEXT PRIMARY KEY, title TEXT, author_id INTEGER REFERENCES authors(id),
                                price NUMERIC(8,2));
            CREATE VIEW cheap_books AS SELECT title FROM books WHERE price < 10;
            INSERT INTO authors VALUES (1, 'Ursula K. Le Guin'), (2, 'Stanisław Lem');
            INSERT INTO books VALUES ('978-0', 'Solaris', 2, 9.5), ('978-1', 'The Dispossessed', 1, 12.25);
            """
        )
    env = {"SQLITE_PATH": str(db), "ALLOW_UNAUTH_METHODS": "1", "ALLOW_UNAUTH_TOOLS_CALL": "1"}
    with running_server(env, tmp_path) as server:
        async with connect(server.base_url) as client:
            tables = structured(await client.call_tool("list_tables", {}))["tables"]
            assert {(t["name"], t["type"]) for t in tables} == {
                ("authors", "TABLE"),
                ("books", "TABLE"),
                ("cheap_books", "VIEW"),
            }
            detail = structured(await client.call_tool("describe_table", {"table_name": "dbo.books"}))
            assert detail["foreign_keys"][0]["references"] == "dbo.authors"
            rows = structured(await client.call_tool("execute_sql", {"query": "SELECT name FROM authors WHERE id = 2"}))
            assert rows["rows"] == [["Stanisław Lem"]]
    assert not (tmp_path / "library.sqlite-wal").exists()  # served read-only: nothing written beside it


async def test_unreadable_database_degrades_but_the_server_keeps_running(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    env = {"SQLITE_PATH": str(broken), "ALLOW_UNAUTH_METHODS": "1", "ALLOW_UNAUTH_TOOLS_CALL": "1"}
    with running_server(env, tmp_path) as server:
        async with httpx2.AsyncClient() as http:
            body = (await http.get(server.base_url + "/health")).json()
        assert body["status"] == "degraded" and body["reason"]
        async with connect(server.base_url) as client:
            result = await client.call_tool("list_tables", {})
            assert result.is_error and text_of(result)
        assert server.proc.poll() is None
