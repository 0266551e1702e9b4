"""list_tables on 20,000 tables: pages within their budget, filters, and stateless cursors across a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mssql_mcp.faces.paging import PAGE_MAX_TABLES
from tests.support.big_schema import all_table_names, big_db  # noqa: F401 - a fixture
from tests.support.mcp_client import connect
from tests.support.procs import ServerProcess, running_server
from tests.support.table_pages import call_on, check_every_table_once, page_through

pytestmark = pytest.mark.anyio


@pytest.fixture
def big_env(big_db: Path, dev_server_env: dict[str, str], tmp_path: Path) -> dict[str, str]:  # noqa: F811
    return {**dev_server_env, "SQLITE_PATH": str(big_db), "OAUTH_STORE_PATH": str(tmp_path / "oauth.sqlite")}


async def call(server: ServerProcess, args: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
    async with connect(server.base_url) as client:
        return await call_on(client, args)


async def test_a_small_database_answers_as_before(dev_server: ServerProcess) -> None:
    text, data, error = await call(dev_server, {})
    assert not error and set(data) == {"tables"} and "more; call again" not in text
    assert text.splitlines() == [
        f"{t['schema']}.{t['name']} ({t['type'].lower()}, {t['row_count'] if t['row_count'] is not None else '?'} rows)"
        for t in data["tables"]
    ]


async def test_paging_visits_every_table_once_across_a_restart(big_env: dict[str, str], tmp_path: Path) -> None:
    expected = all_table_names(Path(big_env["SQLITE_PATH"]))
    with running_server(big_env, tmp_path) as server:
        async with connect(server.base_url) as client:
            before, cursor, pages = await page_through(client, {}, None, stop_after=30)
    assert cursor is not None and pages == 30
    # A new process: nothing of the first one's state survives, only the cursor the client holds.
    with running_server(big_env, tmp_path) as server:
        async with connect(server.base_url) as client:
            after, cursor, more_pages = await page_through(client, {}, cursor)
    check_every_table_once(before + after, expected, pages + more_pages)


async def test_filters_page_too_and_take_wildcards_literally(big_env: dict[str, str], tmp_path: Path) -> None:
    expected = sorted(n for n in all_table_names(Path(big_env["SQLITE_PATH"])) if "detail" in n.lower())
    with running_server(big_env, tmp_path) as server:
        async with connect(server.base_url) as client:
            tables, _, _ = await page_through(client, {"schema": "DBO", "pattern": "Detail"}, None)
        assert sorted(t["name"] for t in tables) == expected and len(expected) > PAGE_MAX_TABLES

        _, data, _ = await call(server, {"pattern": "customer*LINES"})
        assert [t["name"] for t in data["tables"]] == ["CustomerOrderLines", "CustomerOrderLinesArchive"]
        _, data, _ = await call(server, {"pattern": "_orders"})  # `_` is itself, not any one character
        assert [t["name"] for t in data["tables"]] == ["Customer_Orders"]
        text, data, _ = await call(server, {"pattern": "%"})
        assert data["tables"] == [] and text.startswith("No tables match")
        text, data, _ = await call(server, {"schema": "sales"})
        assert data["tables"] == []

        text, _, error = await call(server, {"cursor": "not a cursor"})
        assert error and text.startswith("Invalid cursor") and "\n" not in text
        other = json.dumps({"a": ["dbo", "x"], "s": None, "p": "Detail"})
        _, _, error = await call(server, {"pattern": "Budget", "cursor": other})
        assert error  # a cursor belongs to its own filter
