"""Ids outlive the process; the face never writes, whatever READ_ONLY_MODE says; keyword search is bounded."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp.faces.chatgpt import ids
from tests.support.chatgpt_contract import fetched, search_results, signed, unsigned
from tests.support.mcp_client import connect, text_of
from tests.support.procs import ServerProcess, running_server

pytestmark = pytest.mark.anyio
PREFIX = "/chatgpt"
HEALTH = "/chatgpt/health"


async def test_fetch_still_works_after_a_restart(dev_server_env: dict[str, str], tmp_path: Path) -> None:
    queries = [
        "list tables",
        "Zürich Alpine",
        "describe dbo.OrderLines",
        "sample dbo.Shippers limit 2",
        "ShipCity",
        "SELECT TOP 3 OrderID, Freight FROM dbo.Orders ORDER BY OrderID DESC",
    ]
    before: dict[str, dict[str, object]] = {}
    with running_server(dev_server_env, tmp_path, face="chatgpt", health_path=HEALTH) as first:
        async with connect(first.base_url, prefix=PREFIX) as client:
            for query in queries:
                hit = search_results(await client.call_tool("search", {"query": query}))[0]
                before[hit["id"]] = fetched(await client.call_tool("fetch", {"id": hit["id"]}))
            # a row of a composite key, found through its id on the first server
            line = signed(ids.format_id(ids.RowId("dbo.OrderLines", (("OrderID", 7), ("LineNumber", 1)))))
            before[line] = fetched(await client.call_tool("fetch", {"id": line}))
    assert {i.split(":")[0] for i in before} == {"catalog", "row", "table", "sample", "column", "query"}

    with running_server(dev_server_env, tmp_path, face="chatgpt", health_path=HEALTH) as second:
        assert second.pid != first.pid
        async with connect(second.base_url, prefix=PREFIX) as client:
            for record_id, old in before.items():
                new = fetched(await client.call_tool("fetch", {"id": record_id}))
                assert (new["id"], new["title"], new["text"]) == (old["id"], old["title"], old["text"]), record_id
                assert new["url"].split("/chatgpt/", 1)[1] == str(old["url"]).split("/chatgpt/", 1)[1]
                if record_id.startswith("query:"):  # a new process has an empty cache: the SQL came from the id
                    assert new["metadata"]["cached"] is False
    query_ids = [i for i in before if i.startswith("query:")]
    assert query_ids and before[query_ids[0]]["metadata"]["cached"] is True  # type: ignore[index]


async def test_the_oauth_store_keeps_the_id_key(dev_server_env: dict[str, str], tmp_path: Path) -> None:
    """The key is derived from the OAuth store's: a restart (or a replica) on the same store takes the ids it
    made; a server with another store refuses them."""
    env = {k: v for k, v in dev_server_env.items() if k != "RECORD_ID_KEYS"}
    env["OAUTH_STORE_PATH"] = str(tmp_path / "oauth.sqlite")
    for run in "abc":
        (tmp_path / run).mkdir()
    with running_server(env, tmp_path / "a", face="chatgpt", health_path=HEALTH) as first:
        async with connect(first.base_url, prefix=PREFIX) as client:
            (hit,) = search_results(await client.call_tool("search", {"query": "describe Customers"}))
    assert signed(unsigned(hit["id"])) != hit["id"]  # not the test key: the store's
    with running_server(env, tmp_path / "b", face="chatgpt", health_path=HEALTH) as second:
        async with connect(second.base_url, prefix=PREFIX) as client:
            assert fetched(await client.call_tool("fetch", {"id": hit["id"]}))["id"] == hit["id"]
    elsewhere = {**env, "OAUTH_STORE_PATH": str(tmp_path / "other.sqlite")}
    with running_server(elsewhere, tmp_path / "c", face="chatgpt", health_path=HEALTH) as third:
        async with connect(third.base_url, prefix=PREFIX) as client:
            refused = await client.call_tool("fetch", {"id": hit["id"]})
            assert refused.is_error and "not made by this server" in text_of(refused)


WRITES = [
    "DELETE FROM dbo.Customers WHERE CustomerID = 1",
    "UPDATE dbo.Customers SET CompanyName = 'pwned' WHERE CustomerID = 1",
    "INSERT INTO dbo.Shippers (ShipperID, CompanyName) VALUES (99, 'x')",
    "DROP TABLE dbo.OrderLines",
    "TRUNCATE TABLE dbo.OrderLines",
    "SELECT * INTO dbo.Stolen FROM dbo.Customers",
    "sql: CREATE TABLE dbo.Evil (x INT)",
    "WITH x AS (SELECT 1 AS a) DELETE FROM dbo.Customers",
    "SELECT 1; DELETE FROM dbo.Customers",
    "EXEC sp_rename 'dbo.Customers', 'Gone'",
]


async def test_writes_are_refused_even_with_read_only_mode_off(
    dev_server_env: dict[str, str], demo_copy: Path, tmp_path: Path
) -> None:
    env = {**dev_server_env, "SQLITE_PATH": str(demo_copy), "READ_ONLY_MODE": "false", "ALLOW_DDL": "true"}

    def snapshot() -> tuple[object, ...]:
        with sqlite3.connect(demo_copy) as db:
            return (
                db.execute("SELECT count(*), max(CompanyName) FROM Customers").fetchone(),
                db.execute("SELECT count(*) FROM Shippers").fetchone(),
                db.execute("SELECT count(*) FROM OrderLines").fetchone(),
                db.execute("SELECT group_concat(name) FROM sqlite_master").fetchone(),
                db.execute("SELECT CompanyName FROM Customers WHERE CustomerID = 1").fetchone(),
            )

    before = snapshot()
    with running_server(env, tmp_path, face="chatgpt", health_path=HEALTH) as server:
        async with connect(server.base_url, prefix=PREFIX) as client:
            tools = (await client.list_tools()).tools
            assert all(t.annotations and t.annotations.read_only_hint for t in tools)
            for sql in WRITES:
                result = await client.call_tool("search", {"query": sql})
                assert result.is_error and "Refused" in text_of(result), (sql, text_of(result))
                forged = signed(ids.format_id(ids.QueryId(sql.removeprefix("sql: "))))
                result = await client.call_tool("fetch", {"id": forged})
                assert result.is_error and "Refused" in text_of(result), (sql, text_of(result))
            ok = search_results(await client.call_tool("search", {"query": "SELECT COUNT(*) AS n FROM dbo.Customers"}))
            assert ok and "(1 rows)" in ok[0]["title"]
    assert snapshot() == before


@contextlib.contextmanager
def serving(script: str, env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    """The ChatGPT face over a small SQLite database made by `script`."""
    db_path = tmp_path / "custom.sqlite"
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        db.executescript(script)
    with running_server({**env, "SQLITE_PATH": str(db_path)}, tmp_path, face="chatgpt", health_path=HEALTH) as s:
        yield s


async def test_keyword_search_stops_at_its_time_budget(dev_server_env: dict[str, str], tmp_path: Path) -> None:
    """A view whose scan never ends: once the budget is spent, the search returns what it found so far."""
    script = (
        "CREATE TABLE Zebra (ZebraID INT PRIMARY KEY, Name NVARCHAR(40));"
        "INSERT INTO Zebra VALUES (1, 'Marty the zebra');"
        "CREATE TABLE Filler (Word NVARCHAR(40)); INSERT INTO Filler VALUES ('x');"
        # endless rows of a text column (typed from Filler.Word) that never contain the keyword
        "CREATE VIEW Endless AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT f.Word AS Label FROM n CROSS JOIN Filler f;"
    )
    env = {**dev_server_env, "SEARCH_TIMEOUT_SECONDS": "1", "QUERY_TIMEOUT_SECONDS": "30"}
    with serving(script, env, tmp_path) as server:
        async with connect(server.base_url, prefix=PREFIX) as client:
            started = time.perf_counter()
            results = search_results(await client.call_tool("search", {"query": "zebra"}))
            elapsed = time.perf_counter() - started
            # names first, then the rows of the name-matched table; then the endless view eats the budget
            expected = ["table:dbo.Zebra", "column:dbo.Zebra:ZebraID", "row:dbo.Zebra:ZebraID=1"]
            assert [unsigned(r["id"]) for r in results] == expected
            assert 0.9 < elapsed < 3, f"search took {elapsed:.2f} s with a 1 s budget"
            assert "time budget spent in dbo.Endless" in server.log()
            # the server is free again at once: the runaway scan was cancelled, not left running
            started = time.perf_counter()
            rows = search_results(await client.call_tool("search", {"query": "SELECT Name FROM dbo.Zebra"}))
            assert rows and time.perf_counter() - started < 1


async def test_awkward_names_and_keys_round_trip_through_ids(dev_server_env: dict[str, str], tmp_path: Path) -> None:
    """Spaces, dots, brackets and colons in names; text and composite keys: every id still resolves."""
    script = (
        'CREATE TABLE "Order Details" ("Order ID" INT, "Line.No" INT, Note NVARCHAR(40), '
        'PRIMARY KEY ("Order ID", "Line.No"));'
        "INSERT INTO \"Order Details\" VALUES (7, 2, 'gift: wrap it, please');"
        'CREATE TABLE "we]ird" (Code NVARCHAR(10) PRIMARY KEY, "na:me" NVARCHAR(40));'
        "INSERT INTO \"we]ird\" VALUES ('O''B,1=1', 'wrapped parcel');"
    )
    with serving(script, dev_server_env, tmp_path) as server:
        async with connect(server.base_url, prefix=PREFIX) as client:
            found = search_results(await client.call_tool("search", {"query": "wrap"}))
            assert [unsigned(r["id"]) for r in found] == [
                "row:dbo.[Order Details]:[Order ID]=7,[Line.No]=2",
                "row:dbo.[we]]ird]:Code='O''B,1=1'",
            ]
            for hit in found:
                record = fetched(await client.call_tool("fetch", {"id": hit["id"]}))
                assert "wrap" in record["text"] and record["id"] == hit["id"]
            for query in ("describe [dbo].[Order Details]", "sample [we]]ird] limit 1", "na:me"):
                (hit,) = search_results(await client.call_tool("search", {"query": query}))[:1]
                assert not (await client.call_tool("fetch", {"id": hit["id"]})).is_error, (query, hit)
