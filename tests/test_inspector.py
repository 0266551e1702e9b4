"""MCP Inspector's CLI, an independent client, against real servers: every tool over /mcp and /sse.

Each run is one `mcp-inspector --cli` process with a throwaway HOME; the tests check its JSON output and its
documented exit codes (0 ok, 3 needs auth, 4 unreachable, 5 tool error).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support.inspector import (
    EXIT_OK,
    EXIT_TOOL_ERROR,
    EXIT_UNREACHABLE,
    Inspector,
    InspectorRun,
    InspectorUnavailable,
    install,
)
from tests.support.procs import ServerProcess, free_port

TOOLS = {"list_tables", "describe_table", "execute_sql", "get_table_sample"}

# (path, --transport): the Inspector picks sse for a URL ending in /sse, i.e. the legacy GET stream plus its
# message endpoint; "http" sends streamable HTTP to the original /sse URL (POST /sse).
ENDPOINTS = [("/mcp", None), ("/sse", "sse"), ("/sse", "http")]
ENDPOINT_IDS = ["mcp", "sse-legacy", "sse-post"]


@pytest.fixture(scope="session")
def inspector() -> Inspector:
    try:
        return install()
    except InspectorUnavailable as exc:
        pytest.skip(f"MCP Inspector unavailable: {exc}")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def ok(run: InspectorRun) -> dict[str, object]:
    assert run.returncode == EXIT_OK, run.describe()
    result = run.result()
    assert isinstance(result, dict)
    return result


def tool_ok(run: InspectorRun) -> dict[str, object]:
    result = ok(run)
    assert result["isError"] is False, run.describe()
    structured = result["structuredContent"]
    assert isinstance(structured, dict)
    content = result["content"]
    assert isinstance(content, list) and content[0]["type"] == "text" and content[0]["text"]
    return structured


@pytest.mark.parametrize(("path", "transport"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_tools_list(inspector: Inspector, dev_server: ServerProcess, home: Path, path: str,
                    transport: str | None) -> None:
    result = ok(inspector.run(dev_server.base_url + path, "tools/list", home=home, transport=transport))
    tools = {t["name"]: t for t in result["tools"]}  # type: ignore[attr-defined]
    assert set(tools) == TOOLS
    assert tools["execute_sql"]["inputSchema"]["required"] == ["query"]
    assert tools["get_table_sample"]["inputSchema"]["properties"]["limit"]["default"] == 10
    for tool in tools.values():
        assert tool["annotations"]["readOnlyHint"] is True
        assert tool["annotations"]["destructiveHint"] is False


@pytest.mark.parametrize(("path", "transport"), ENDPOINTS[:2], ids=ENDPOINT_IDS[:2])
def test_every_tool_call(inspector: Inspector, dev_server: ServerProcess, demo_db: Path, home: Path, path: str,
                         transport: str | None) -> None:
    url = dev_server.base_url + path
    with sqlite3.connect(demo_db) as db:
        customers = db.execute("SELECT count(*) FROM Customers").fetchone()[0]
        first_ids = [r[0] for r in db.execute("SELECT CustomerID FROM Customers ORDER BY 1 LIMIT 3")]
        columns = [r[1] for r in db.execute("PRAGMA table_info(Customers)")]

    tables = tool_ok(inspector.run(url, "tools/call", tool="list_tables", home=home, transport=transport))
    by_name = {f"{t['schema']}.{t['name']}": t for t in tables["tables"]}  # type: ignore[attr-defined]
    assert by_name["dbo.Customers"]["row_count"] == customers

    detail = tool_ok(inspector.run(url, "tools/call", tool="describe_table", args={"table_name": "dbo.Customers"},
                                   home=home, transport=transport))
    assert [c["name"] for c in detail["columns"]] == columns  # type: ignore[attr-defined]
    assert [c["name"] for c in detail["columns"] if c["primary_key"]] == ["CustomerID"]  # type: ignore[attr-defined]

    # The query holds '=' and spaces: --tool-arg splits at the first '=' only.
    query = "SELECT TOP 3 CustomerID FROM dbo.Customers WHERE 1 = 1 ORDER BY 1"
    rows = tool_ok(inspector.run(url, "tools/call", tool="execute_sql", args={"query": query}, home=home,
                                 transport=transport))
    assert rows["columns"] == ["CustomerID"] and rows["rows"] == [[i] for i in first_ids]
    assert rows["row_count"] == 3 and rows["truncated"] is False

    # limit=4 arrives as a number (the Inspector coerces key=value against the tool's input schema).
    sample = tool_ok(inspector.run(url, "tools/call", tool="get_table_sample",
                                   args={"table_name": "[dbo].[Customers]", "limit": "4"}, home=home,
                                   transport=transport))
    assert sample["table"] == "dbo.Customers" and sample["row_count"] == 4
    assert sample["columns"] == columns


@pytest.mark.parametrize(("path", "transport"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_refused_write_is_a_tool_error(inspector: Inspector, dev_server: ServerProcess, demo_db: Path, home: Path,
                                       path: str, transport: str | None) -> None:
    with sqlite3.connect(demo_db) as db:
        before = db.execute("SELECT count(*) FROM Customers").fetchone()[0]
    run = inspector.run(dev_server.base_url + path, "tools/call", tool="execute_sql",
                        args={"query": "DELETE FROM dbo.Customers"}, home=home, transport=transport)
    assert run.returncode == EXIT_TOOL_ERROR, run.describe()
    result = run.result()
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith("Refused:")
    assert run.error()["code"] == "tool_is_error"
    with sqlite3.connect(demo_db) as db:
        assert db.execute("SELECT count(*) FROM Customers").fetchone()[0] == before


def test_unknown_table_is_a_tool_error(inspector: Inspector, dev_server: ServerProcess, home: Path) -> None:
    run = inspector.run(dev_server.base_url + "/mcp", "tools/call", tool="describe_table",
                        args={"table_name": "dbo.Custmers"}, home=home)
    assert run.returncode == EXIT_TOOL_ERROR, run.describe()
    text = run.result()["content"][0]["text"]
    assert "Custmers" in text and "Customers" in text  # the error names close matches


def test_unreachable_server(inspector: Inspector, home: Path) -> None:
    run = inspector.run(f"http://127.0.0.1:{free_port()}/mcp", "tools/list", home=home,
                        extra_args=["--connect-timeout", "5000"])
    assert run.returncode == EXIT_UNREACHABLE, run.describe()
    assert run.error()["code"] == "unreachable"
