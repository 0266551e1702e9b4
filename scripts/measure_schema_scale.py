"""Measure list_tables and search_schema on 20,000 generated tables (docs/performance.md, "Large schemas").

    .venv/bin/python scripts/measure_schema_scale.py [sqlite|mssql|memory] ...
    .venv/bin/python scripts/measure_schema_scale.py principals

sqlite: a real server process on the generated SQLite file; mssql: the same file served by the TDS test server
through ODBC Driver 18, and the catalog's memory as that backend reads it; memory: tracemalloc over the catalog
and the search index, for 20,000 tables as generated and 50,000 tables of 20 columns; principals: the
per-principal caches (docs/identity.md). Latencies are one client's calls through the MCP SDK client. It
prints the date and the machine's load first: on a shared machine, read the latencies with it.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mssql_mcp.catalog import Catalog  # noqa: E402
from mssql_mcp.db.base import TableInfo, TableRef  # noqa: E402
from mssql_mcp.db.sqlite import SqliteDatabase  # noqa: E402
from mssql_mcp.schema_index import SchemaIndex  # noqa: E402
from tests.support.big_schema import COLUMN_WORDS, make_big_db, table_names  # noqa: E402
from tests.support.mcp_client import connect  # noqa: E402
from tests.support.procs import running_server  # noqa: E402


def size(result: Any) -> int:
    text = "".join(c.text for c in result.content if c.type == "text")
    return len(text.encode()) + len(json.dumps(result.structured_content or {}).encode())


async def timed(client: Any, tool: str, args: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    return (time.perf_counter() - started) * 1000, result


async def measure_server(env: dict[str, str], tmp: Path, label: str) -> None:
    with running_server(env, tmp) as server:
        async with connect(server.base_url, read_timeout=300) as client:  # cold loads on a busy machine
            cold, first = await timed(client, "list_tables", {})
            warm, _ = await timed(client, "list_tables", {})
            filtered, _ = await timed(client, "list_tables", {"pattern": "customer*lines"})
            s_cold, _ = await timed(client, "search_schema", {"query": "customer order lines"})
            s_warm, hit = await timed(client, "search_schema", {"query": "where is the order line amount"})
    print(f"{label}: list_tables cold {cold:.0f} ms, warm {warm:.0f} ms, filtered {filtered:.0f} ms")
    print(f"{label}: search_schema cold {s_cold:.0f} ms, warm {s_warm:.0f} ms")
    print(f"{label}: page 1 {size(first)} bytes (~{size(first) // 4} tokens); search answer {size(hit)} bytes")


def unpaged_bytes(tables: list[TableInfo]) -> int:
    """The answer list_tables gave before paging: every table, as text and as structured content."""
    text = "\n".join(f"{t.ref.qualified} ({t.type.lower()}, {t.row_count} rows)" for t in tables)
    rows = [{"schema": t.ref.schema, "name": t.ref.name, "type": t.type, "row_count": t.row_count} for t in tables]
    return len(text.encode()) + len(json.dumps({"tables": rows}).encode())


def memory(tables: list[TableInfo], columns: list[Any], label: str) -> None:
    tracemalloc.start()
    catalog = Catalog(tables)
    catalog.ordered()
    catalog.suggest("x" + tables[7].ref.name[1:])
    index = SchemaIndex(tables, columns)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label}: catalog + index {current / 2**20:.0f} MiB held, {peak / 2**20:.0f} MiB peak while building")
    del catalog, index


def principals(count: int, per_table: int, bound: int, people: int) -> None:
    """What the per-principal caches hold (DB_IDENTITY other than service): `people` principals, each with its own
    catalog and index of `count` tables, through an LRU cache of `bound` entries, as queries.py keeps them."""
    from cachetools import LRUCache

    tracemalloc.start()
    held: LRUCache[str, tuple[Catalog, SchemaIndex]] = LRUCache(maxsize=bound)
    for n in range(people):
        tables, columns = synthetic(count, per_table)  # a fresh load per principal: nothing shared but interned names
        catalog = Catalog(tables)
        catalog.ordered()
        held[f"user:p{n}"] = (catalog, SchemaIndex(tables, columns))
        del tables, columns, catalog
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{people} principals of {count:,} tables x {per_table} columns, LRU bound {bound}: {len(held)} held, "
        f"{current / 2**20:.1f} MiB ({current / len(held) / 2**20:.2f} MiB each), {peak / 2**20:.1f} MiB peak"
    )


def synthetic(count: int, per_table: int) -> tuple[list[TableInfo], list[Any]]:
    rng = random.Random(16)
    tables = [TableInfo(TableRef("dbo", n), "TABLE", rng.randint(0, 10**6)) for n in table_names(count)]
    columns = [
        ("dbo", t.ref.name, f"{rng.choice(COLUMN_WORDS)}{j}" if j else f"{t.ref.name}ID", "int", j == 0, None)
        for t in tables
        for j in range(per_table)
    ]
    return tables, columns


def main() -> None:
    modes = sys.argv[1:] or ["sqlite", "mssql", "memory"]
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}")
    if modes == ["principals"]:
        principals(1000, 10, 8, 12)
        principals(1000, 10, 64, 64)
        principals(5000, 15, 8, 8)
        return
    tmp = Path(tempfile.mkdtemp(prefix="schema-scale-"))
    db = make_big_db(tmp / "big.sqlite")
    unpaged = unpaged_bytes(SqliteDatabase(db).list_tables())
    print(f"unpaged list_tables answer: {unpaged} bytes (~{unpaged // 4} tokens)")
    base = {"ALLOW_UNAUTH_METHODS": "true", "ALLOW_UNAUTH_TOOLS_CALL": "true", "LOG_LEVEL": "WARNING"}
    base["OAUTH_STORE_PATH"] = str(tmp / "oauth.sqlite")
    if "sqlite" in modes:
        asyncio.run(measure_server({**base, "SQLITE_PATH": str(db)}, tmp, "sqlite"))
    if "mssql" in modes:
        from mssql_mcp.db.mssql import MssqlDatabase
        from mssql_mcp.settings import load_settings
        from tests.support.big_schema import DESCRIPTIONS
        from tests.support.tds import TdsServer
        from tests.support.tds.fixtures import DRIVER_CASES, backend_env

        case = next(c for c in DRIVER_CASES if c.id == "msodbc18")
        started = time.perf_counter()
        with TdsServer(db, tmp / "tds", tls=case.tls, descriptions=DESCRIPTIONS).running() as tds:
            print(f"TDS test server ready in {time.perf_counter() - started:.0f} s")
            env = {**base, **backend_env(tds, case, MSSQL_LOGIN_TIMEOUT="60", QUERY_TIMEOUT_SECONDS="120")}
            asyncio.run(measure_server(env, tmp, "mssql (Driver 18)"))
            database = MssqlDatabase(load_settings(env, env_file=None))
            try:
                tables, columns = database.list_tables(), database.list_columns()
            finally:
                database.close()
        print(f"mssql: unpaged list_tables answer {unpaged_bytes(tables)} bytes (~{unpaged_bytes(tables) // 4} tokens)")
        memory(tables, columns, "mssql: 20,000 generated tables (10-20 columns)")
    if "memory" in modes:
        lite = SqliteDatabase(db, count_budget=0.5)
        memory(lite.list_tables(), lite.list_columns(), "sqlite: 20,000 generated tables (10-20 columns)")
        memory(*synthetic(50_000, 20), "50,000 tables x 20 columns")


if __name__ == "__main__":
    main()
