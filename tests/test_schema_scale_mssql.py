"""Thousands of tables on the SQL Server path: the generated ERP schema (tests/support/big_schema.py) served by
the TDS test server and read through ODBC Driver 18.

Paging visits every table once, in one stable order, across a restart of our server, each page within its
budget; search_schema finds tables by a description, by a camel-case word, and the right one first among
look-alikes; the catalog load is a fixed number of statements, counted at the TDS server, whatever the number
of tables. 2,000 tables run in `make test`; the same tests on 20,000 are marked slow (`make test-all`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.faces.paging import PAGE_MAX_TABLES
from mssql_mcp.settings import load_settings
from tests.support.big_schema import DESCRIPTIONS, all_table_names, make_big_db
from tests.support.mcp_client import connect, structured
from tests.support.procs import ServerProcess, running_server
from tests.support.table_pages import check_every_table_once, page_through
from tests.support.tds import TdsServer
from tests.support.tds.fixtures import DRIVER_CASES, backend_env

pytestmark = pytest.mark.anyio
CASE = next(c for c in DRIVER_CASES if c.id == "msodbc18")
# Ready once the face serves its landing page: /health also pings the database within 1 s, which the test
# server's first login on 20,000 tables may not make on a loaded machine.
READY = "/"
SIZES = [pytest.param(2_000, id="2000"), pytest.param(20_000, id="20000", marks=pytest.mark.slow)]


def tds_server(tmp: Path, count: int) -> TdsServer:
    db = make_big_db(tmp / "big.sqlite", count)
    return TdsServer(db, tmp / "tds", tls=CASE.tls, descriptions=DESCRIPTIONS)


@pytest.fixture(scope="module", params=SIZES)
def big_tds(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TdsServer]:
    with tds_server(tmp_path_factory.mktemp(f"tds-{request.param}"), request.param).running() as server:
        yield server


@pytest.fixture(scope="module")
def small_tds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TdsServer]:
    with tds_server(tmp_path_factory.mktemp("tds-small"), 200).running() as server:
        yield server


def mcp_env(tds: TdsServer, base: dict[str, str], tmp: Path) -> dict[str, str]:
    # The dev environment's 2 s query timeout is for the demo database; the catalog of 20,000 tables read
    # through the Python test server on a loaded machine may take longer. So may a login: the test server's
    # SQLite reads the whole 20,000-table schema for each new connection.
    env = {**base, **backend_env(tds, CASE, MSSQL_LOGIN_TIMEOUT="60"), "QUERY_TIMEOUT_SECONDS": "60"}
    return {**env, "OAUTH_STORE_PATH": str(tmp / "oauth.sqlite")}


@pytest.fixture(scope="module")
def mcp_server(
    big_tds: TdsServer, dev_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("mcp")
    with running_server(mcp_env(big_tds, dev_server_env, tmp), tmp, health_path=READY) as server:
        yield server


async def test_paging_visits_every_table_once_across_a_restart(
    big_tds: TdsServer, mcp_server: ServerProcess, dev_server_env: dict[str, str], tmp_path: Path
) -> None:
    expected = all_table_names(big_tds.db_path)
    half = len(expected) // PAGE_MAX_TABLES // 2
    with running_server(mcp_env(big_tds, dev_server_env, tmp_path), tmp_path, health_path=READY) as first:
        async with connect(first.base_url) as client:
            before, cursor, pages = await page_through(client, {}, None, stop_after=half)
    assert cursor is not None and pages == half
    # Another process goes on from the cursor the client holds: nothing of the first one's state is there.
    async with connect(mcp_server.base_url) as client:
        after, cursor, more_pages = await page_through(client, {}, cursor)
    check_every_table_once(before + after, expected, pages + more_pages)


async def search(server: ServerProcess, query: str, limit: int = 10) -> dict[str, Any]:
    # The first search reads every column (300,000 at 20,000 tables) through the Python test server.
    async with connect(server.base_url, read_timeout=300) as client:
        return structured(await client.call_tool("search_schema", {"query": query, "limit": limit}))


async def test_search_finds_descriptions_camel_case_words_and_the_best_look_alike(mcp_server: ServerProcess) -> None:
    found = await search(mcp_server, "Where is revenue stored?")
    assert found["words"] == ["revenue"]  # in no name: only in the MS_Description of FinPeriodTotals.Amt1
    assert [(m["name"], [c["name"] for c in m["matching_columns"]]) for m in found["matches"]] == [
        ("FinPeriodTotals", ["Amt1"])
    ]
    assert (await search(mcp_server, "order lines", 1))["matches"][0]["name"] == "CustomerOrderLines"
    ranked = await search(mcp_server, "customer order lines", 3)
    look_alikes = ["CustomerOrderLines", "CustomerOrderLinesArchive", "Customer_Orders"]
    assert [m["name"] for m in ranked["matches"]] == look_alikes


def catalog_statements(tds: TdsServer) -> tuple[int, int, int, int]:
    """(statements reading the sys views, all statements, tables, columns) of one catalog and search-index load
    by a new backend. "All" takes in the sessions' set-up (a second pool connection may open meanwhile)."""

    def count() -> tuple[int, int]:
        found = [e.detail for e in list(tds.events) if e.kind == "statement"]
        return sum(1 for d in found if "sys." in d and "session_context" not in d), len(found)

    env = backend_env(tds, CASE, MSSQL_LOGIN_TIMEOUT="60", QUERY_TIMEOUT_SECONDS="60")
    database = MssqlDatabase(load_settings(env, env_file=None))
    try:
        catalog_before, all_before = count()
        tables, columns = database.list_tables(), database.list_columns()
        catalog_after, all_after = count()
    finally:
        database.close()
    return catalog_after - catalog_before, all_after - all_before, len(tables), len(columns)


def test_the_catalog_load_is_a_fixed_number_of_statements(big_tds: TdsServer, small_tds: TdsServer) -> None:
    small_catalog, small_all, small_tables, _ = catalog_statements(small_tds)
    catalog, everything, tables, columns = catalog_statements(big_tds)
    assert small_tables == 205 and tables == len(all_table_names(big_tds.db_path))
    assert columns > 10 * tables  # every table's 10 to 20 columns came back
    # The tables, every column, the tables' descriptions: three set-based statements at 205 tables as at 20,005.
    assert catalog == small_catalog == 3
    assert everything < 40 and small_all < 40
