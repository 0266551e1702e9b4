"""One schema search index per query service, built once and then refreshed in the background.

The first search waits for the columns' load (a fixed number of statements, db/bulk_columns.py) and the
index's build (on a worker thread: it is CPU work). After that a search never waits: when the catalog's
tables change, or the index is older than INDEX_MAX_AGE_SECONDS (columns change without the table list
changing), a new index is built in the background while the old one keeps answering.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from typing import Any

import anyio

from mssql_mcp.catalog import Catalog
from mssql_mcp.db.base import TableRef
from mssql_mcp.db.bulk_columns import ColumnRow
from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.queries import QueryService
from mssql_mcp.schema_index import SchemaIndex

log = logging.getLogger("mssql_mcp.schema_search")

INDEX_MAX_AGE_SECONDS = 300.0
_BY_SERVICE: weakref.WeakKeyDictionary[QueryService, SchemaSearch] = weakref.WeakKeyDictionary()


def for_service(queries: QueryService) -> SchemaSearch:
    """The index holder of `queries`: both faces of a process over one service share one index."""
    found = _BY_SERVICE.get(queries)
    if found is None:
        found = _BY_SERVICE[queries] = SchemaSearch(queries)
    return found


def _columns(database: Any) -> list[ColumnRow]:
    load = getattr(database, "list_columns", None)  # a backend without it is searched by table names only
    return list(load()) if load is not None else []


class SchemaSearch:
    def __init__(self, queries: QueryService) -> None:
        self.queries = queries
        self._index: SchemaIndex | None = None
        self._refs: list[TableRef] = []
        self._built_at = 0.0
        self._lock = anyio.Lock()
        self._refresh: asyncio.Task[None] | None = None
        self.builds = 0

    async def index(self) -> SchemaIndex:
        catalog = await self.queries.catalog()
        if self._index is not None:
            if self._stale(catalog) and (self._refresh is None or self._refresh.done()):
                self._refresh = asyncio.get_running_loop().create_task(
                    self._rebuild(catalog), context=contextvars.Context()
                )
            return self._index
        async with self._lock:  # single flight for the first build
            if self._index is None:
                await self._build(catalog)
            assert self._index is not None
            return self._index

    def _stale(self, catalog: Catalog) -> bool:
        if time.monotonic() - self._built_at > INDEX_MAX_AGE_SECONDS:
            return True
        return len(catalog.tables) != len(self._refs) or any(
            t.ref != r for t, r in zip(catalog.tables, self._refs, strict=True)
        )

    async def _rebuild(self, catalog: Catalog) -> None:
        try:
            async with self._lock:
                await self._build(catalog)
        except MssqlMcpError as exc:  # the old index keeps answering; the next search tries again
            log.warning("schema index refresh failed: %s", exc.message)

    async def _build(self, catalog: Catalog) -> None:
        database = self.queries.database
        columns = await self.queries.load_catalog_part(lambda: _columns(database))
        self._index = await anyio.to_thread.run_sync(SchemaIndex, catalog.tables, columns)
        self._refs = [t.ref for t in catalog.tables]
        self._built_at = time.monotonic()
        self.builds += 1
