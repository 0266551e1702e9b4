"""What each tool says of itself is true: real results match the declared outputSchema, input schemas state
their bounds, a bad argument gets one line in our words, and the ChatGPT face never names the Claude face's
tools. Both faces, both protocol eras, a real server and the SDK's own client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from mcp import Client

from tests.conftest import SERVER_MAX_ROWS
from tests.support.chatgpt_contract import fetched, search_results, signed
from tests.support.mcp_client import connect, structured, text_of
from tests.support.procs import ServerProcess, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("era")]  # every test in both protocol eras

PREFIX = "/chatgpt"
CLAUDE_TOOLS = ("list_tables", "search_schema", "describe_table", "execute_sql", "get_table_sample")
# What pydantic's own report of a bad argument carries; our one line has none of it.
PYDANTIC_WORDS = ("validation error", "pydantic", "http", "Input should", "type=", "Arguments", "input_value")

CLAUDE_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_tables", {}),
    ("list_tables", {"pattern": "Order*"}),
    ("search_schema", {"query": "order lines"}),
    ("describe_table", {"table_name": "Orders"}),
    ("execute_sql", {"query": "SELECT TOP 3 ProductID, UnitPrice, Discontinued FROM dbo.Products"}),
    ("execute_sql", {"query": "SELECT * FROM dbo.OrderLines"}),  # cut at MAX_ROWS
    ("get_table_sample", {"table_name": "Employees", "limit": 2}),  # dates, binary, NULLs
]


@pytest.fixture(scope="module")
def chatgpt_server(dev_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(dev_server_env, tmp_path_factory.mktemp("chatgpt-schemas"), face="chatgpt") as server:
        yield server


def valid(instance: Any, schema: dict[str, Any] | None) -> None:
    assert schema is not None
    validator = jsonschema.Draft202012Validator
    validator.check_schema(schema)
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(instance)


async def schemas(client: Client) -> dict[str, dict[str, Any]]:
    tools = (await client.list_tools()).tools
    assert all(t.output_schema is not None for t in tools), [t.name for t in tools if t.output_schema is None]
    return {t.name: t.output_schema for t in tools if t.output_schema is not None}


async def test_every_claude_result_matches_its_output_schema(dev_server: ServerProcess) -> None:
    async with connect(dev_server.base_url) as client:
        declared = await schemas(client)
        assert set(declared) == set(CLAUDE_TOOLS)
        results = {}
        for name, args in CLAUDE_CALLS:
            results[(name, str(args))] = data = structured(await client.call_tool(name, args))
            valid(data, declared[name])
    rows = declared["execute_sql"]["properties"]["rows"]
    assert rows["items"] == {"type": "array"}  # checked row by row, never cell by cell
    for words in ("15 significant digits", "string", "scale", "true/false"):
        assert words in rows["description"], words
    typed = results[("execute_sql", str(CLAUDE_CALLS[4][1]))]["rows"]
    assert all(type(r[0]) is int and type(r[1]) in (int, float) and type(r[2]) is bool for r in typed)
    cut = results[("execute_sql", str(CLAUDE_CALLS[5][1]))]
    assert cut["truncated"] is True and cut["truncated_reason"] == "rows" and cut["row_count"] == SERVER_MAX_ROWS


async def test_every_chatgpt_result_matches_its_output_schema(chatgpt_server: ServerProcess) -> None:
    async with connect(chatgpt_server.base_url, prefix=PREFIX) as client:
        declared = await schemas(client)
        assert set(declared) == {"search", "fetch"}
        found = []
        for query in ("list tables", "describe Orders", "sample Orders limit 2", "ship", "SELECT * FROM OrderLines"):
            result = await client.call_tool("search", {"query": query})
            valid(result.structured_content, declared["search"])
            found += search_results(result)[:3]
        kinds = set()
        for hit in found:
            result = await client.call_tool("fetch", {"id": hit["id"]})
            valid(result.structured_content, declared["fetch"])
            record = fetched(result)
            kinds.add(record["metadata"]["kind"])
    assert kinds == {"catalog", "table", "column", "sample", "query"}, kinds
    query = record  # the last: SELECT * FROM OrderLines, cut at MAX_ROWS
    meta = query["metadata"]
    assert (meta["row_count"], meta["truncated"], meta["truncated_reason"]) == (SERVER_MAX_ROWS, True, "rows")
    assert f"({SERVER_MAX_ROWS} rows, truncated: more rows exist; narrow the query)" in query["text"]


async def test_input_schemas_state_their_bounds(dev_server: ServerProcess, chatgpt_server: ServerProcess) -> None:
    async with connect(dev_server.base_url) as client:
        claude = {t.name: t.input_schema["properties"] for t in (await client.list_tools()).tools}
    async with connect(chatgpt_server.base_url, prefix=PREFIX) as client:
        chatgpt = {t.name: t.input_schema["properties"] for t in (await client.list_tools()).tools}
    limit = claude["get_table_sample"]["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, SERVER_MAX_ROWS, 10)
    assert (claude["search_schema"]["limit"]["minimum"], claude["search_schema"]["limit"]["maximum"]) == (1, 50)
    for name in ("schema", "pattern", "cursor"):
        (text,) = [t for t in claude["list_tables"][name]["anyOf"] if t["type"] == "string"]
        assert text["maxLength"] > 0, name
    for tool in ("describe_table", "get_table_sample"):
        assert claude[tool]["table_name"]["minLength"] == 1 and claude[tool]["table_name"]["maxLength"] >= 2 * 128
    assert claude["execute_sql"]["query"]["maxLength"] >= 1024
    assert chatgpt["search"]["query"]["maxLength"] > 0 and chatgpt["fetch"]["id"]["maxLength"] > 0


BAD_ARGUMENTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("claude", "get_table_sample", {}, "get_table_sample: table_name is required."),
    ("claude", "get_table_sample", {"table_name": "Products", "limit": "ten"}, "limit must be a whole number"),
    ("claude", "get_table_sample", {"table_name": "Products", "limit": 2.5}, "limit must be a whole number"),
    ("claude", "get_table_sample", {"table_name": "Products", "limit": 10**6}, "limit must be at most"),
    ("claude", "execute_sql", {}, "execute_sql: query is required."),
    ("claude", "execute_sql", {"query": ["SELECT 1"]}, 'execute_sql: query must be text (got ["SELECT 1"]).'),
    ("claude", "list_tables", {"pattern": "x" * 300}, "list_tables: pattern is longer than 256 characters."),
    ("claude", "search_schema", {"query": "orders", "limit": 99}, "search_schema: limit must be at most 50 (got 99)."),
    ("chatgpt", "search", {}, "search: query is required."),
    ("chatgpt", "search", {"query": "x" * 9000}, "search: query is longer than 8000 characters."),
    ("chatgpt", "fetch", {}, "fetch: id is required."),
    ("chatgpt", "fetch", {"id": 12}, "fetch: id must be text (got 12)."),
]


async def test_a_bad_argument_gets_one_line_in_our_words(
    dev_server: ServerProcess, chatgpt_server: ServerProcess
) -> None:
    said = []
    for face, server, prefix in (("claude", dev_server, ""), ("chatgpt", chatgpt_server, PREFIX)):
        async with connect(server.base_url, prefix=prefix) as client:
            for _face, tool, args, message in (b for b in BAD_ARGUMENTS if b[0] == face):
                result = await client.call_tool(tool, args)
                said.append((tool, message, result.is_error, text_of(result)))
    for tool, message, is_error, text in said:
        assert is_error and message in text and text.startswith(f"{tool}: "), (message, text)
        assert "\n" not in text and not [w for w in PYDANTIC_WORDS if w.lower() in text.lower()], text


CHATGPT_SEARCH_ERRORS = [
    "describe Custmers",  # did you mean
    "describe Zyxwvut",  # no close match: where to look instead
    "sample Zyxwvut limit 3",
    "sample Orders limit 0",
    "SELECT * FROM sys.tables",
    "SELECT name FROM INFORMATION_SCHEMA.COLUMNS",
    "SELECT * FROM NoSuchTable",
    "SELECT nope FROM Customers",
    "SELECT @@VERSION",
    "DROP TABLE Customers",
    "SELECT * FROM (",
    "",
]
CHATGPT_FETCH_ERRORS = [
    "bogus",
    "table:dbo.Customers",  # unsigned
    signed("table:dbo.Zyxwvut"),
    signed("column:dbo.Customers:Zyxwvut"),
    signed("row:dbo.Customers:CustomerID=987654321"),
    signed("row:dbo.Customers:Nope=1"),
    signed("query:0000000000000000:AAAA"),
]


async def test_the_chatgpt_face_never_names_the_claude_tools(chatgpt_server: ServerProcess) -> None:
    texts = []
    async with connect(chatgpt_server.base_url, prefix=PREFIX) as client:
        for query in CHATGPT_SEARCH_ERRORS:
            texts.append(await client.call_tool("search", {"query": query}))
        for record_id in CHATGPT_FETCH_ERRORS:
            texts.append(await client.call_tool("fetch", {"id": record_id}))
    said = [text_of(r) for r in texts]
    assert all(r.is_error for r in texts), [t for r, t in zip(texts, said, strict=True) if not r.is_error]
    for text in said:
        assert "\n" not in text, text
        assert not [name for name in (*CLAUDE_TOOLS, "table_name") if name in text], text
    assert any('search "list tables"' in t for t in said) and any('search "describe <table>"' in t for t in said)
    assert any("Did you mean" in t and "dbo.Customers" in t for t in said)
