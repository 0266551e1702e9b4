"""The Claude face end to end: a real server process, the MCP SDK's client, every tool and error path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import SERVER_MAX_ROWS
from tests.support.mcp_client import Transport, connect, structured, text_of
from tests.support.procs import ServerProcess

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("era")]  # every test in both protocol eras

TRANSPORTS: list[Transport] = ["streamable", "sse-post", "sse"]
TOOLS = {"list_tables", "search_schema", "describe_table", "execute_sql", "get_table_sample"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tools_list_names_schemas_and_hints(dev_server: ServerProcess, transport: Transport) -> None:
    async with connect(dev_server.base_url, transport) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    assert tools["execute_sql"].input_schema["required"] == ["query"]
    assert tools["describe_table"].input_schema["required"] == ["table_name"]
    sample = tools["get_table_sample"].input_schema
    assert sample["required"] == ["table_name"] and sample["properties"]["limit"]["default"] == 10
    assert "ctx" not in sample["properties"]
    for tool in tools.values():  # read-only mode: every tool is a read
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_tool_over_each_transport(dev_server: ServerProcess, transport: Transport, demo_db: Path) -> None:
    async with connect(dev_server.base_url, transport) as client:
        tables = structured(await client.call_tool("list_tables", {}))["tables"]
        names = {f"{t['schema']}.{t['name']}" for t in tables}
        assert {"dbo.Customers", "dbo.Orders", "dbo.Products"} <= names
        with sqlite3.connect(demo_db) as db:
            customers = db.execute("SELECT count(*) FROM Customers").fetchone()[0]
        assert next(t for t in tables if t["name"] == "Customers")["row_count"] == customers

        detail = structured(await client.call_tool("describe_table", {"table_name": "Customers"}))
        assert detail["schema"] == "dbo" and detail["name"] == "Customers"
        pk = [c["name"] for c in detail["columns"] if c["primary_key"]]
        assert pk == ["CustomerID"]

        query = "SELECT TOP 3 CustomerID FROM dbo.Customers ORDER BY 1"
        result = await client.call_tool("execute_sql", {"query": query})
        data = structured(result)
        assert data["columns"] == ["CustomerID"] and data["row_count"] == 3 and data["truncated"] is False
        assert data["rows"] == [[1], [2], [3]]
        assert "CustomerID" in text_of(result)

        sample = structured(await client.call_tool("get_table_sample", {"table_name": "[dbo].[Products]", "limit": 4}))
        assert sample["row_count"] == 4 and sample["table"] == "dbo.Products"


async def test_name_forms_resolve_to_the_same_table(dev_server: ServerProcess) -> None:
    async with connect(dev_server.base_url) as client:
        for name in ("Customers", "dbo.Customers", "[dbo].[Customers]", "DBO.customers", '"dbo"."Customers"'):
            data = structured(await client.call_tool("describe_table", {"table_name": name}))
            assert (data["schema"], data["name"]) == ("dbo", "Customers"), name


async def test_unknown_table_lists_close_matches(dev_server: ServerProcess) -> None:
    async with connect(dev_server.base_url) as client:
        result = await client.call_tool("describe_table", {"table_name": "Custmers"})
        assert result.is_error
        assert "Unknown table 'Custmers'" in text_of(result) and "dbo.Customers" in text_of(result)
        result = await client.call_tool("get_table_sample", {"table_name": "x; DROP TABLE Customers"})
        assert result.is_error and "Unknown table" in text_of(result)


async def test_join_across_three_tables(dev_server: ServerProcess) -> None:
    sql = (
        "SELECT TOP 5 c.CustomerID, o.OrderID, COUNT(*) AS lines FROM dbo.Customers c "
        "JOIN dbo.Orders o ON o.CustomerID = c.CustomerID "
        "JOIN dbo.OrderLines l ON l.OrderID = o.OrderID "
        "GROUP BY c.CustomerID, o.OrderID ORDER BY o.OrderID"
    )
    async with connect(dev_server.base_url) as client:
        data = structured(await client.call_tool("execute_sql", {"query": sql}))
    assert data["columns"] == ["CustomerID", "OrderID", "lines"] and data["row_count"] == 5
    assert all(row[2] >= 1 for row in data["rows"])


async def test_row_cap_truncates_and_says_so(dev_server: ServerProcess) -> None:
    async with connect(dev_server.base_url) as client:
        result = await client.call_tool("execute_sql", {"query": "SELECT * FROM OrderLines"})
        data = structured(result)
        assert data["truncated"] is True and data["row_count"] == SERVER_MAX_ROWS == len(data["rows"])
        assert "truncated" in text_of(result)
        query = f"SELECT TOP {SERVER_MAX_ROWS} * FROM OrderLines"
        exact = structured(await client.call_tool("execute_sql", {"query": query}))
        assert exact["truncated"] is False and exact["row_count"] == SERVER_MAX_ROWS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"table_name": "Products", "limit": 0}, "get_table_sample: limit must be at least 1 (got 0)."),
        (
            {"table_name": "Products", "limit": 1001},
            f"get_table_sample: limit must be at most {SERVER_MAX_ROWS} (got 1001).",
        ),
        ({"table_name": ""}, "get_table_sample: table_name must not be empty."),
        ({"table_name": "  "}, "The table name is empty. Use list_tables to see the tables."),
    ],
)
async def test_sample_argument_errors(dev_server: ServerProcess, args: dict[str, object], message: str) -> None:
    async with connect(dev_server.base_url) as client:
        result = await client.call_tool("get_table_sample", args)
    assert result.is_error and text_of(result) == message


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DROP TABLE Customers", "Refused"),
        ("SELECT 1; DELETE FROM Customers", "Refused"),
        ("SELECT * INTO Evil FROM Customers", "Refused"),
        ("SELEC 1", "Refused"),
        ("", "query is empty"),
        ("SELECT nope FROM Customers", "Unknown column 'nope'"),
        ("SELECT * FROM NoSuchTable", "Unknown table 'NoSuchTable'"),
    ],
)
async def test_execute_sql_errors_are_one_line_tool_errors(dev_server: ServerProcess, query: str, message: str) -> None:
    async with connect(dev_server.base_url) as client:
        result = await client.call_tool("execute_sql", {"query": query})
        assert result.is_error, text_of(result)
        assert message.lower() in text_of(result).lower() and "\n" not in text_of(result)
        # the session is still usable after an error
        assert not (await client.call_tool("execute_sql", {"query": "SELECT 1 AS one"})).is_error


async def test_refused_writes_leave_the_database_untouched(dev_server: ServerProcess, demo_db: Path) -> None:
    def count() -> int:
        with sqlite3.connect(demo_db) as db:
            return int(db.execute("SELECT count(*) FROM Customers").fetchone()[0])

    before = count()
    async with connect(dev_server.base_url) as client:
        for query in ("DELETE FROM Customers", "UPDATE Customers SET CustomerID = 0", "TRUNCATE TABLE Customers"):
            assert (await client.call_tool("execute_sql", {"query": query})).is_error
    assert count() == before


async def test_slow_query_is_cut_at_the_timeout(dev_server: ServerProcess) -> None:
    slow = (
        "WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
        "SELECT COUNT(*) FROM n OPTION (MAXRECURSION 0)"
    )
    async with connect(dev_server.base_url) as client:
        result = await client.call_tool("execute_sql", {"query": slow})
    assert result.is_error and "timeout" in text_of(result).lower()
