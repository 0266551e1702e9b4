"""The query service's catalog cache is single-flight: callers that miss together wait for one load.

Loads are counted where they happen, in the TDS test server's statement log (through a real ODBC driver):
the catalog query is slowed down there, so every caller arrives while the first load is still running.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.queries import QueryService
from mssql_mcp.settings import load_settings
from tests.support.tds import TdsServer
from tests.support.tds.fixtures import DESCRIPTIONS, DRIVER_CASES, backend_env, make_fixture_db

pytestmark = pytest.mark.anyio

CASE = next(c for c in DRIVER_CASES if c.id == "msodbc18")
CATALOG_QUERY = "is_ms_shipped = 0"  # a phrase of the backend's catalog query (mssql_catalog.TABLES) alone
CALLERS = 12


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TdsServer]:
    db = make_fixture_db(tmp_path / "fixture.sqlite")
    with TdsServer(db, tmp_path / "tds", tls=CASE.tls, descriptions=DESCRIPTIONS).running() as srv:
        yield srv


@pytest.fixture
def queries(server: TdsServer) -> Iterator[QueryService]:
    database = MssqlDatabase(load_settings(backend_env(server, CASE), env_file=None))
    service = QueryService(database, max_rows=50, timeout=10, workers=CALLERS, read_only=True)
    yield service
    service.close()


def catalog_loads(server: TdsServer) -> int:
    return sum(1 for e in list(server.events) if e.kind == "statement" and CATALOG_QUERY in e.detail)


async def gather(queries: QueryService) -> list[object]:
    """CALLERS concurrent first calls of three kinds that all need the catalog; each result or error."""
    results: list[object] = [None] * CALLERS

    async def one(i: int) -> None:
        try:
            if i % 3 == 0:
                results[i] = [t.ref.qualified for t in await queries.list_tables()]
            elif i % 3 == 1:
                results[i] = (await queries.resolve("customers")).ref.qualified
            else:
                results[i] = [c.name for c in (await queries.describe("dbo.Orders")).columns]
        except MssqlMcpError as exc:
            results[i] = exc

    async with anyio.create_task_group() as tg:
        for i in range(CALLERS):
            tg.start_soon(one, i)
    return results


async def test_concurrent_misses_wait_for_one_catalog_load(queries: QueryService, server: TdsServer) -> None:
    await queries.health()  # the pool's first connection exists, so the callers race for the catalog alone
    server.faults.add(CATALOG_QUERY, delay=0.5)
    results = await gather(queries)

    assert catalog_loads(server) == 1
    assert results[0] == ["dbo.BigCustomers", "dbo.Customers", "dbo.Orders", "dbo.TypeSamples"]
    assert results[1] == "dbo.Customers"
    assert results[2] == ["OrderID", "CustomerID", "Total"]
    assert all(r == results[i % 3] for i, r in enumerate(results))

    await queries.list_tables()  # fresh: served from the cache
    assert catalog_loads(server) == 1
    queries.invalidate_catalog()
    await queries.list_tables()
    assert catalog_loads(server) == 2


async def test_a_failed_load_is_every_waiters_answer_then_the_next_call_retries(
    queries: QueryService, server: TdsServer
) -> None:
    await queries.health()
    server.faults.add(CATALOG_QUERY, delay=0.5, error=229, error_text="The SELECT permission was denied.", times=1)
    results = await gather(queries)

    assert catalog_loads(server) == 1  # one failure shared, not one slow failure per caller in turn
    assert all(isinstance(r, MssqlMcpError) for r in results), results
    assert len({r.message for r in results if isinstance(r, MssqlMcpError)}) == 1

    assert "dbo.Customers" in [t.ref.qualified for t in await queries.list_tables()]  # the fault is spent
    assert catalog_loads(server) == 2
