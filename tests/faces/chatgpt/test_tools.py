"""The ChatGPT face end to end: a real `serve --face chatgpt` process, the MCP SDK's client, every grammar
form, the contract's JSON Schema, the record pages, and ids that must keep working (or be refused)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest

from mssql_mcp.demo import KNOWN_CUSTOMER
from mssql_mcp.faces.chatgpt import ids
from mssql_mcp.faces.chatgpt.fetch import MAX_TEXT_CHARS, URL_SAFE
from tests.support.chatgpt_contract import fetched, search_results, signed, unsigned
from tests.support.mcp_client import Transport, connect, text_of
from tests.support.procs import ServerProcess, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("era")]  # every test in both protocol eras
PREFIX = "/chatgpt"
MAX_RESULTS = 20


@pytest.fixture(scope="module")
def chatgpt_server(dev_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {**dev_server_env, "MAX_SEARCH_RESULTS": str(MAX_RESULTS)}
    with running_server(env, tmp_path_factory.mktemp("chatgpt"), face="chatgpt", health_path="/chatgpt/health") as s:
        yield s


async def search(server: ServerProcess, query: str, transport: Transport = "streamable") -> list[dict[str, str]]:
    async with connect(server.base_url, transport, prefix=PREFIX) as client:
        return search_results(await client.call_tool("search", {"query": query}))


async def fetch(server: ServerProcess, record_id: str) -> dict[str, Any]:
    async with connect(server.base_url, prefix=PREFIX) as client:
        return fetched(await client.call_tool("fetch", {"id": signed(record_id)}))


async def tool_error(server: ServerProcess, tool: str, args: dict[str, str]) -> str:
    async with connect(server.base_url, prefix=PREFIX) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error, text_of(result)
    return text_of(result)


@pytest.mark.parametrize("transport", ["streamable", "sse-post", "sse"])
async def test_only_search_and_fetch_read_only_with_output_schemas(
    chatgpt_server: ServerProcess, transport: Transport
) -> None:
    async with connect(chatgpt_server.base_url, transport, prefix=PREFIX) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"search", "fetch"}
    assert tools["search"].input_schema["required"] == ["query"]
    assert tools["fetch"].input_schema["required"] == ["id"]
    for tool in tools.values():
        a = tool.annotations
        assert a is not None and (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint) == (
            True,
            False,
            True,
            False,
        )
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
    assert tools["search"].output_schema["required"] == ["results"]  # type: ignore[index]
    assert set(tools["fetch"].output_schema["required"]) == {"id", "title", "text", "url", "metadata"}  # type: ignore[index]
    description = tools["search"].description or ""
    for form in ("list tables", "describe <table>", "sample <table> limit N", "SELECT", "keywords"):
        assert form in description, form
    assert "row:dbo.Orders:OrderID=10248" in (tools["fetch"].description or "")


async def test_list_tables(chatgpt_server: ServerProcess, demo_db: Path) -> None:
    results = await search(chatgpt_server, "list tables")
    with sqlite3.connect(demo_db) as db:
        listed = db.execute("SELECT name FROM sqlite_master WHERE type <> 'index' AND name NOT LIKE 'sqlite%'")
        names = {r[0] for r in listed}
    assert unsigned(results[0]["id"]) == "catalog:tables"
    assert {unsigned(r["id"]) for r in results[1:]} == {f"table:dbo.{n}" for n in names}
    catalog = await fetch(chatgpt_server, "catalog:tables")
    assert all(f"dbo.{n}" in catalog["text"] for n in names)
    table = await fetch(chatgpt_server, "table:dbo.Orders")
    assert "OrderID" in table["text"] and "Primary key: OrderID" in table["text"]
    assert table["metadata"]["primary_key"] == ["OrderID"] and table["metadata"]["type"] == "TABLE"
    assert isinstance(table["metadata"]["row_count"], int) and catalog["metadata"]["tables"] == len(names)


async def test_describe_resolves_any_name_form(chatgpt_server: ServerProcess) -> None:
    for name in ("Customers", "dbo.Customers", "[dbo].[Customers]", "DBO.customers"):
        results = await search(chatgpt_server, f"describe {name}")
        assert [unsigned(r["id"]) for r in results] == ["table:dbo.Customers"], name
    record = await fetch(chatgpt_server, "table:dbo.Customers")
    for column in ("CustomerID", "CompanyName", "nvarchar(80)", "NOT NULL"):
        assert column in record["text"]
    assert "Unknown table 'Custmers'" in await tool_error(chatgpt_server, "search", {"query": "describe Custmers"})


async def test_sample_with_and_without_limit(chatgpt_server: ServerProcess) -> None:
    assert [unsigned(r["id"]) for r in await search(chatgpt_server, "sample dbo.Orders limit 3")] == [
        "sample:dbo.Orders:3"
    ]
    assert [unsigned(r["id"]) for r in await search(chatgpt_server, "sample Products")] == ["sample:dbo.Products:10"]
    record = await fetch(chatgpt_server, "sample:dbo.Orders:3")
    lines = record["text"].splitlines()
    assert lines[0].startswith("| OrderID |") and len(lines) == 2 + 3 + 1 and record["metadata"]["row_count"] == 3
    assert "between 1 and 1000" in await tool_error(chatgpt_server, "search", {"query": "sample Orders limit 0"})


async def test_sql_query_result_is_a_durable_query_id(chatgpt_server: ServerProcess, demo_db: Path) -> None:
    sql = "SELECT TOP 5 CustomerID, CompanyName FROM dbo.Customers ORDER BY CustomerID"
    (hit,) = await search(chatgpt_server, sql)
    assert hit["id"].startswith("query:") and "(5 rows)" in hit["title"]
    assert ids.parse_id(unsigned(hit["id"])) == ids.QueryId(sql)
    record = await fetch(chatgpt_server, hit["id"])
    with sqlite3.connect(demo_db) as db:
        names = [r[0] for r in db.execute("SELECT CompanyName FROM Customers ORDER BY CustomerID LIMIT 5")]
    assert all(n in record["text"] for n in names)
    assert record["metadata"]["cached"] is True and record["metadata"]["sql"] == sql
    assert record["metadata"]["truncated"] is False and record["metadata"]["row_count"] == 5
    cte = "WITH c AS (SELECT CustomerID FROM dbo.Customers) SELECT COUNT(*) AS n FROM c"
    with_cte = await search(chatgpt_server, cte)
    assert "(1 rows)" in with_cte[0]["title"]


async def test_keyword_search_finds_the_known_customer(chatgpt_server: ServerProcess) -> None:
    results = await search(chatgpt_server, KNOWN_CUSTOMER.split()[0] + " " + KNOWN_CUSTOMER.split()[1])
    assert unsigned(results[0]["id"]) == "row:dbo.Customers:CustomerID=1" and KNOWN_CUSTOMER in results[0]["title"]
    record = await fetch(chatgpt_server, results[0]["id"])
    assert f"CompanyName: {KNOWN_CUSTOMER}" in record["text"].splitlines()
    assert record["metadata"] == {"kind": "row", "table": "dbo.Customers", "key": "CustomerID=1"}
    phrase = await search(chatgpt_server, f'"{KNOWN_CUSTOMER}"')
    assert [unsigned(r["id"]) for r in phrase] == ["row:dbo.Customers:CustomerID=1"]


async def test_keywords_match_names_first_then_values(chatgpt_server: ServerProcess) -> None:
    results = await search(chatgpt_server, "ship")
    found = [unsigned(r["id"]) for r in results]
    assert found[0] == "table:dbo.Shippers"  # table names, then column names, then rows
    columns = [i for i in found if i.startswith("column:")]
    assert {"column:dbo.Orders:ShipperID", "column:dbo.Orders:ShipCountry", "column:dbo.Shippers:ShipperID"} <= set(
        columns
    )
    assert found.index(columns[-1]) < min(i for i, x in enumerate(found) if x.startswith("row:"))
    column = await fetch(chatgpt_server, "column:dbo.Orders:ShipCountry")
    assert "type: nvarchar(40)" in column["text"] and "example values:" in column["text"]


async def test_keywords_are_literal_and_views_are_cited_as_queries(chatgpt_server: ServerProcess) -> None:
    for wildcard in ("%", "_", "[a-z]"):  # LIKE wildcards match themselves only: nothing here contains them
        assert await search(chatgpt_server, wildcard) == [], wildcard
    results = await search(chatgpt_server, '"Café & Thé"')
    assert unsigned(results[0]["id"]) == "row:dbo.Categories:CategoryID=9"
    (view,) = [r for r in results if r["id"].startswith("query:")]  # the view has no key: one query id
    assert view["title"] == "1 matching rows in dbo.SalesByCategory"
    record = await fetch(chatgpt_server, view["id"])
    assert "Café & Thé" in record["text"] and record["metadata"]["row_count"] == 1
    quoted = await search(chatgpt_server, "O'Brien")
    assert "O'Brien" in quoted[0]["title"]  # a quote in a term is data, not SQL
    assert "O'Brien" in (await fetch(chatgpt_server, quoted[-1]["id"]))["text"]


async def test_keyword_search_is_capped_at_max_search_results(chatgpt_server: ServerProcess) -> None:
    results = await search(chatgpt_server, "a")  # matches thousands of rows
    assert len(results) == MAX_RESULTS
    assert await search(chatgpt_server, "no-such-word-anywhere-qx") == []


async def test_every_url_opens_a_readable_page(chatgpt_server: ServerProcess) -> None:
    hits = (await search(chatgpt_server, "Zürich Alpine"))[:1] + (await search(chatgpt_server, "list tables"))[:2]
    hits += await search(chatgpt_server, "SELECT TOP 2 CategoryName FROM dbo.Categories ORDER BY 1")
    async with httpx2.AsyncClient() as http:
        for hit in hits:
            assert hit["url"].startswith(f"http://localhost:{chatgpt_server.port}{PREFIX}/records/")
            local = hit["url"].replace("localhost", "127.0.0.1", 1)
            page = await http.get(local)
            assert page.status_code == 200, (hit, page.text)
            assert page.headers["content-type"].startswith("text/html")
            assert "default-src 'none'" in page.headers["content-security-policy"]
            assert hit["id"].replace("'", "&#x27;") in page.text
        records = f"{chatgpt_server.base_url}{PREFIX}/records"
        catalog = (await http.get(f"{records}/{signed('catalog:tables')}")).text
        customers = signed("table:dbo.Customers")
        assert f'<a href="{PREFIX}/records/{customers}">{customers}</a>' in catalog
        row = (await http.get(f"{records}/{signed('row:dbo.Customers:CustomerID=1')}")).text
        assert f'<a href="{PREFIX}/records/{customers}">Table</a>' in row
        missing = await http.get(f"{records}/{signed('table:dbo.Nope')}")
        assert missing.status_code == 404 and "Unknown table" in missing.text


async def test_pages_escape_what_the_data_holds(chatgpt_server: ServerProcess) -> None:
    (hit,) = await search(chatgpt_server, "SELECT '<script>alert(1)</script>' AS [<b>x</b>]")
    async with httpx2.AsyncClient() as http:
        page = (await http.get(hit["url"].replace("localhost", "127.0.0.1", 1))).text
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page


async def test_long_text_is_cut_with_a_note(chatgpt_server: ServerProcess) -> None:
    wide = "SELECT TOP 50 * FROM dbo.Customers a CROSS JOIN dbo.Customers b CROSS JOIN dbo.Customers c"
    (hit,) = await search(chatgpt_server, wide)
    record = await fetch(chatgpt_server, hit["id"])
    assert len(record["text"]) <= MAX_TEXT_CHARS + 200
    last = record["text"].splitlines()[-1]
    assert last.startswith("[cut: showing ") and "narrow the query" in last
    small = await fetch(chatgpt_server, "row:dbo.Customers:CustomerID=2")
    assert "[cut:" not in small["text"]


FORGED = [
    ("table:dbo.NoSuchTable", "Unknown table"),
    ("table:dbo.sqlite_master", "Unknown table"),
    ("table:dbo.Customers; DROP TABLE Customers", "Invalid id"),
    ("row:dbo.Customers:CompanyName='x'", "names its primary key exactly: CustomerID"),
    ("row:dbo.Customers:CustomerID=1,CompanyName='x'", "names its primary key exactly"),
    ("row:dbo.Customers:CustomerID=1 OR 1=1", "Invalid id"),
    ("row:dbo.Customers:CustomerID=1;DELETE FROM Customers", "Invalid id"),
    ("row:dbo.Customers:CustomerID=(SELECT 1)", "Invalid id"),
    ("row:dbo.Customers:CustomerID='1' OR '1'='1'", "Invalid id"),
    ("row:dbo.OrderLines:OrderID=1", "names its primary key exactly: OrderID, LineNumber"),
    ("row:dbo.SalesByCategory:CategoryName='Beverages'", "has no primary key"),
    ("row:dbo.Customers:CustomerID=99999999", "No row of dbo.Customers"),
    ("column:dbo.Customers:Password", "has no column 'Password'"),
    ("sample:dbo.Customers:0", "between 1 and 1000"),
    ("sample:dbo.Customers:5000", "between 1 and 1000"),
    ("sample:dbo.Customers:1 UNION SELECT 1", "Invalid id"),
    ("catalog:everything", "Invalid id"),
    ("file:/etc/passwd", "Invalid id"),
    ("Customers", "Invalid id"),
    ("", "Invalid id"),
    ("query:abc", "Invalid id"),
    # A real query id with its digest swapped for another query's: the digest must match the SQL.
    (
        "query:" + ids.query_digest("SELECT 2") + ":" + ids.format_id(ids.QueryId("SELECT 1")).split(":")[2],
        "digest does not match",
    ),
    # A well-formed id that carries a write: the read-only gate refuses it on every run.
    (ids.format_id(ids.QueryId("DELETE FROM dbo.Customers")), "Refused"),
]


@pytest.mark.parametrize(("record_id", "message"), FORGED)
async def test_forged_ids_are_refused(chatgpt_server: ServerProcess, record_id: str, message: str) -> None:
    error = await tool_error(chatgpt_server, "fetch", {"id": signed(record_id)})  # as if this server made it
    assert message in error and "\n" not in error


async def test_an_oversized_query_payload_is_refused_before_it_is_expanded(chatgpt_server: ServerProcess) -> None:
    huge = "SELECT '" + "a" * 200_000 + "'"
    forged = ids.format_id(ids.QueryId("SELECT 1")).split(":")
    import base64
    import zlib

    payload = base64.urlsafe_b64encode(zlib.compress(huge.encode(), 9)).decode().rstrip("=")
    error = await tool_error(chatgpt_server, "fetch", {"id": signed(f"{forged[0]}:{ids.query_digest(huge)}:{payload}")})
    assert "too large" in error


async def test_only_ids_this_server_signed_are_served(chatgpt_server: ServerProcess) -> None:
    (hit,) = await search(chatgpt_server, "describe Customers")
    body, _, tag = hit["id"].rpartition("~")
    assert body == "table:dbo.Customers" and len(tag) == 22
    async with connect(chatgpt_server.base_url, prefix=PREFIX) as client:
        old = await client.call_tool("fetch", {"id": body})  # a link from before ids were signed
        assert old.is_error and text_of(old) == "This link is out of date; search again."
    for edited in (f"table:dbo.Orders~{tag}", f"{body}~{tag[::-1]}", signed(body, key="x" * 32)):
        error = await tool_error(chatgpt_server, "fetch", {"id": edited})
        assert "not made by this server" in error and "dbo" not in error


async def test_a_record_page_never_shows_text_from_a_forged_id(chatgpt_server: ServerProcess) -> None:
    lure = ids.format_id(ids.QueryId("SELECT 'Your session expired: call +1 555 0100' AS notice"))
    records = f"{chatgpt_server.base_url}{PREFIX}/records"
    async with httpx2.AsyncClient() as http:
        for forged, reason in ((lure, "out of date"), (f"{lure}~{'A' * 22}", "not made by this server")):
            page = await http.get(f"{records}/{quote(forged, safe=URL_SAFE)}")
            assert page.status_code == 404 and reason in page.text
            assert "555" not in page.text and "expired" not in page.text
        genuine = await http.get(f"{records}/{quote(signed(lure), safe=URL_SAFE)}")
        assert genuine.status_code == 200 and "call +1 555 0100" in genuine.text
