"""search_schema: names split into words, descriptions, a deterministic ranking; one index for both faces.

In process over the generated 20,000-table SQLite file (the ranking), and end to end through the Claude
face's tool against the TDS test server with ODBC Driver 18 (descriptions; a bounded number of statements).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp import schema_search
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.queries import QueryService
from mssql_mcp.schema_index import question_words
from mssql_mcp.settings import load_settings
from tests.support.big_schema import DESCRIPTIONS, PLANTED, big_db  # noqa: F401 - a fixture
from tests.support.mcp_client import connect, structured, text_of
from tests.support.procs import running_server
from tests.support.tds import TdsServer
from tests.support.tds.fixtures import DRIVER_CASES, backend_env

pytestmark = pytest.mark.anyio
CASE = next(c for c in DRIVER_CASES if c.id == "msodbc18")


@pytest.fixture(scope="module")
def big_queries(big_db: Path) -> Iterator[QueryService]:  # noqa: F811
    service = QueryService(SqliteDatabase(big_db), max_rows=50, timeout=10, workers=2, read_only=True)
    yield service
    service.close()


async def names(queries: QueryService, question: str, limit: int = 5) -> list[str]:
    _words, matches = (await schema_search.for_service(queries).index()).search(question, limit)
    return [m.table.ref.name for m in matches]


def test_questions_split_like_names() -> None:
    assert question_words("Where are CustomerOrderLines stored?") == ["customer", "order", "line"]
    assert question_words("order_lines") == ["order", "line"]
    assert question_words("the of is") == []


async def test_a_camel_case_name_is_found_by_its_words(big_queries: QueryService) -> None:
    assert (await names(big_queries, "order lines"))[:1] == ["CustomerOrderLines"]
    # Look-alikes share the words; the one whose name has no word the question lacks comes first.
    assert await names(big_queries, "customer order lines", 3) == [
        "CustomerOrderLines",
        "CustomerOrderLinesArchive",
        "Customer_Orders",
    ]
    assert (await names(big_queries, "customer orders"))[0] == "Customer_Orders"
    assert (await names(big_queries, "where is the order line status"))[0] == "OrderLineStatus"


async def test_the_ranking_is_deterministic_and_names_keys_and_matching_columns(big_queries: QueryService) -> None:
    index = await schema_search.for_service(big_queries).index()
    first = index.search("sales batch detail", 20)[1]
    assert [m.table.ref.name for m in first] == [m.table.ref.name for m in index.search("Sales Batch Details", 20)[1]]
    assert len({m.score for m in first}) == 1 and [m.table.ref.name.casefold() for m in first] == sorted(
        m.table.ref.name.casefold() for m in first
    )  # equal scores: in name order
    (lines,) = [m for m in index.search("line amount", 1)[1]]
    assert lines.table.ref.name == "CustomerOrderLines" and lines.key_columns == ["CustomerOrderLineID"]
    assert ("LineAmount", "decimal(12,2)", None) in lines.columns
    assert schema_search.for_service(big_queries).builds == 1  # built once, then served from memory


@pytest.fixture(scope="module")
def planted_tds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TdsServer]:
    tmp = tmp_path_factory.mktemp("search-tds")
    with sqlite3.connect(tmp / "planted.sqlite") as db:
        db.executescript(PLANTED)
        db.executescript("".join(f"CREATE TABLE Filler{i} (FillerID INT PRIMARY KEY, Note TEXT);" for i in range(40)))
    with TdsServer(tmp / "planted.sqlite", tmp / "tds", tls=CASE.tls, descriptions=DESCRIPTIONS).running() as srv:
        yield srv


async def test_a_word_only_in_a_column_description_finds_its_table(
    planted_tds: TdsServer, dev_server_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**dev_server_env, **backend_env(planted_tds, CASE)}
    with running_server(env, tmp_path) as server:
        async with connect(server.base_url) as client:
            result = await client.call_tool("search_schema", {"query": "Where is revenue stored?"})
            assert not result.is_error, text_of(result)
            data = structured(result)
            assert data["words"] == ["revenue"]
            (match,) = data["matches"]
            assert (match["schema"], match["name"]) == ("dbo", "FinPeriodTotals")
            assert match["key_columns"] == ["PeriodID"]
            assert match["matching_columns"] == [
                {"name": "Amt1", "type": "decimal(12,2)", "description": DESCRIPTIONS[("FinPeriodTotals", "Amt1")]}
            ]
            assert "Amt1: Net revenue" in text_of(result)
            nothing = await client.call_tool("search_schema", {"query": "where is it"})
            assert nothing.is_error and "a few words" in text_of(nothing)


async def test_the_columns_load_in_a_fixed_number_of_statements(planted_tds: TdsServer) -> None:
    def statements() -> int:  # those that read the catalog views; not the session's set-up or context
        return sum(
            1
            for e in list(planted_tds.events)
            if e.kind == "statement" and "sys." in e.detail and "session_context" not in e.detail
        )

    database = MssqlDatabase(load_settings(backend_env(planted_tds, CASE), env_file=None))
    try:
        before = statements()
        rows = database.list_columns()
        after = statements()
    finally:
        database.close()
    tables = {(r[0], r[1]) for r in rows}
    assert len(tables) == 45 and ("dbo", "Filler39") in tables  # every table's columns, whatever their number
    assert after - before == 2  # the columns and the tables' descriptions: not one statement per table
