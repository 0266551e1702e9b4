"""The ChatGPT face on the SQL Server backend: a real `serve --face chatgpt` process with MSSQL_HOST set,
reaching the TDS test server (which speaks SQL Server's protocol over the demo data) through a real ODBC
driver. Every grammar form, the known customer, row/column/query ids, and writes refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp.demo import KNOWN_CUSTOMER
from mssql_mcp.faces.chatgpt import ids
from tests.support.chatgpt_contract import fetched, search_results, signed, unsigned
from tests.support.mcp_client import connect, text_of
from tests.support.procs import ServerProcess, running_server
from tests.support.tds import TdsServer
from tests.support.tds.fixtures import DRIVER_CASES, DriverCase, backend_env

pytestmark = pytest.mark.anyio
PREFIX = "/chatgpt"
# One driver of each family: FreeTDS, and Microsoft's Driver 18 over TLS (the production default).
CASES = [c for c in DRIVER_CASES if c.id in ("freetds", "msodbc18-tls")]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: c.id)
def served(
    request: pytest.FixtureRequest,
    demo_db: Path,
    tmp_path_factory: pytest.TempPathFactory,
    dev_server_env: dict[str, str],
) -> Iterator[tuple[ServerProcess, TdsServer]]:
    case: DriverCase = request.param
    tmp = tmp_path_factory.mktemp(f"chatgpt-mssql-{case.id}")
    with TdsServer(demo_db, tmp / "tds", tls=case.tls).running() as tds:
        env = {k: v for k, v in dev_server_env.items() if k != "SQLITE_PATH"}
        env.update(backend_env(tds, case), READ_ONLY_MODE="false")  # the face must stay read-only regardless
        with running_server(env, tmp, face="chatgpt", health_path="/chatgpt/health") as server:
            yield server, tds


async def test_every_form_over_sql_server(served: tuple[ServerProcess, TdsServer]) -> None:
    server, _ = served
    async with connect(server.base_url, prefix=PREFIX) as client:

        async def search(query: str) -> list[dict[str, str]]:
            return search_results(await client.call_tool("search", {"query": query}))

        async def fetch(record_id: str) -> dict[str, object]:
            return fetched(await client.call_tool("fetch", {"id": signed(record_id)}))

        listed = {unsigned(r["id"]) for r in await search("list tables")}
        assert {"catalog:tables", "table:dbo.Customers", "table:dbo.Orders"} <= listed
        (table,) = await search("describe Customers")
        assert "CustomerID" in str((await fetch(table["id"]))["text"])
        (sample,) = await search("sample dbo.Orders limit 3")
        assert (await fetch(sample["id"]))["metadata"] == {"kind": "sample", "table": "dbo.Orders", "row_count": 3}
        (query,) = await search("SELECT TOP 2 CustomerID, CompanyName FROM dbo.Customers ORDER BY CustomerID")
        assert KNOWN_CUSTOMER in str((await fetch(query["id"]))["text"])

        found = await search("Zürich Alpine")
        assert unsigned(found[0]["id"]) == "row:dbo.Customers:CustomerID=1" and KNOWN_CUSTOMER in found[0]["title"]
        row = await fetch(found[0]["id"])
        assert f"CompanyName: {KNOWN_CUSTOMER}" in str(row["text"]).splitlines()
        composite = await fetch("row:dbo.OrderLines:OrderID=1,LineNumber=1")
        assert "LineNumber: 1" in str(composite["text"])
        column = await fetch("column:dbo.Customers:City")
        assert "example values:" in str(column["text"])


async def test_writes_are_refused_over_sql_server(served: tuple[ServerProcess, TdsServer]) -> None:
    server, tds = served
    async with connect(server.base_url, prefix=PREFIX) as client:
        for sql in ("DELETE FROM dbo.Customers", "UPDATE dbo.Customers SET City = 'x'", "DROP TABLE dbo.Orders"):
            result = await client.call_tool("search", {"query": sql})
            assert result.is_error and "Refused" in text_of(result)
            result = await client.call_tool("fetch", {"id": signed(ids.format_id(ids.QueryId(sql)))})
            assert result.is_error and "Refused" in text_of(result)
    statements = " ".join(e.detail.upper() for e in tds.events if e.kind in ("statement", "rpc"))
    assert "SELECT" in statements  # the log is live: the reads reached the server, the writes never did
    assert "DELETE" not in statements and "UPDATE" not in statements and "DROP" not in statements
