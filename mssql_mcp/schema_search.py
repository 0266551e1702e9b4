"""One schema search index per query service and database principal, built once, then refreshed in the background.

The first search waits for the columns' load (a fixed number of statements, db/bulk_columns.py) and the
index's build (on a worker thread: it is CPU work). After that a search never waits: when the catalog's
tables change, or the index is older than INDEX_MAX_AGE_SECONDS (columns change without the table list
changing), a new index is built in the background while the old one keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Hashable
from typing import Any

import anyio
from cachetools import LRUCache

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


class _Held:
    """One scope's index, and what it was built from."""

    def __init__(self) -> None:
        self.index: SchemaIndex | None = None
        self.refs: list[TableRef] = []
        self.built_at = 0.0
        self.lock = anyio.Lock()
        self.refresh: asyncio.Task[None] | None = None


class SchemaSearch:
    """The index of each scope (queries.scope(): one shared one, or one per database principal when people
    query as themselves), in a least-recently-used cache as large as the catalogs' (DB_IDENTITY_CACHE_PRINCIPALS):
    a person's search never ranks or shows a table or column their database user cannot see."""

    def __init__(self, queries: QueryService) -> None:
        self.queries = queries
        self._held: LRUCache[Hashable, _Held] = LRUCache(maxsize=queries.cache_principals)
        self.builds = 0

    def scopes(self) -> list[Hashable]:
        return list(self._held.keys())

    async def index(self) -> SchemaIndex:
        scope = self.queries.scope()
        catalog = await self.queries.catalog()
        held = self._held.get(scope)
        if held is None:
            held = self._held[scope] = _Held()
        if held.index is not None:
            if self._stale(held, catalog) and (held.refresh is None or held.refresh.done()):
                held.refresh = asyncio.get_running_loop().create_task(
                    self._rebuild(held, catalog), context=self.queries.background_context(scope)
                )
            return held.index
        async with held.lock:  # single flight for the first build
            if held.index is None:
                await self._build(held, catalog)
            assert held.index is not None
            return held.index

    @staticmethod
    def _stale(held: _Held, catalog: Catalog) -> bool:
        if time.monotonic() - held.built_at > INDEX_MAX_AGE_SECONDS:
            return True
        return len(catalog.tables) != len(held.refs) or any(
            t.ref != r for t, r in zip(catalog.tables, held.refs, strict=True)
        )

    async def _rebuild(self, held: _Held, catalog: Catalog) -> None:
        try:
            async with held.lock:
                await self._build(held, catalog)
        except MssqlMcpError as exc:  # the old index keeps answering; the next search tries again
            log.warning("schema index refresh failed: %s", exc.message)

    async def _build(self, held: _Held, catalog: Catalog) -> None:
        database = self.queries.database
        columns = await self.queries.load_catalog_part(lambda: _columns(database))
        held.index = await anyio.to_thread.run_sync(SchemaIndex, catalog.tables, columns)
        held.refs = [t.ref for t in catalog.tables]
        held.built_at = time.monotonic()
        self.builds += 1
