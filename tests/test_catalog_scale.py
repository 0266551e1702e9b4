"""The catalog at scale: suggestions on 50,000 names without a full fuzzy scan, and reloads off the hot path."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from mssql_mcp import queries as queries_module
from mssql_mcp.catalog import Catalog
from mssql_mcp.db.base import TableInfo, TableRef
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.errors import UnknownTable
from mssql_mcp.queries import QueryService
from mssql_mcp.settings import load_settings
from tests.support.big_schema import table_names
from tests.support.tds import TdsServer
from tests.support.tds.fixtures import DESCRIPTIONS, DRIVER_CASES, backend_env, make_fixture_db

pytestmark = pytest.mark.anyio
CASE = next(c for c in DRIVER_CASES if c.id == "msodbc18")
CATALOG_QUERY = "is_ms_shipped = 0"  # a phrase of the backend's catalog query (mssql_catalog.TABLES) alone


def test_did_you_mean_stays_fast_on_50000_names() -> None:
    names = table_names(50_000)
    catalog = Catalog([TableInfo(TableRef("dbo", n), "TABLE", 0) for n in names])
    targets = [names[i] for i in (10, 4_321, 12_346, 33_334, 49_999)]  # CamelCase and snake_case ones
    typos = [t[:5] + t[6:] for t in targets]  # one letter dropped
    with pytest.raises(UnknownTable) as first:
        catalog.resolve(typos[0])  # builds the trigram index once
    assert f"dbo.{targets[0]}" in first.value.message
    for target, typo in zip(targets, typos, strict=True):
        assert f"dbo.{target}" in catalog.suggest(typo), typo
    misses = [*typos, "crm_vendor_snapshot", "InvJournalQeue", "HrAssetAudit4", "Wms", "qa"]
    started = time.perf_counter()
    for _ in range(5):
        for miss in misses:
            with pytest.raises(UnknownTable):
                catalog.resolve(miss)
    per_miss = (time.perf_counter() - started) / (5 * len(misses))
    assert per_miss < 0.25, per_miss  # a full difflib pass over 50,000 names takes seconds per miss
    # A small catalog keeps the exact full comparison it always had.
    small = Catalog([TableInfo(TableRef("dbo", n), "TABLE", 0) for n in ("Customers", "Orders", "Products")])
    assert small.suggest("Custmers") == ["dbo.Customers"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TdsServer]:
    db = make_fixture_db(tmp_path / "fixture.sqlite")
    with TdsServer(db, tmp_path / "tds", tls=CASE.tls, descriptions=DESCRIPTIONS).running() as srv:
        yield srv


def catalog_loads(server: TdsServer) -> int:
    return sum(1 for e in list(server.events) if e.kind == "statement" and CATALOG_QUERY in e.detail)


async def test_an_expired_catalog_is_refreshed_in_the_background(
    server: TdsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries_module, "CATALOG_TTL_SECONDS", 0.3)
    database = MssqlDatabase(load_settings(backend_env(server, CASE), env_file=None))
    service = QueryService(database, max_rows=50, timeout=10, workers=4, read_only=True)
    try:
        first = await service.catalog()
        assert catalog_loads(server) == 1
        await anyio.sleep(0.5)  # expired
        server.faults.add(CATALOG_QUERY, delay=3.0)  # the reload is slow
        started = time.perf_counter()
        stale = await service.catalog()
        assert stale is first and time.perf_counter() - started < 1.0  # nobody waits for the reload
        with anyio.fail_after(10):
            while catalog_loads(server) < 2 or (await service.catalog()) is first:
                await anyio.sleep(0.1)
        assert catalog_loads(server) == 2  # one reload, however many calls met the expired catalog
        service.invalidate_catalog()  # after DDL the next call waits for the new catalog instead
        server.faults.clear()
        assert (await service.catalog()) is not first and catalog_loads(server) == 3
    finally:
        service.close()
