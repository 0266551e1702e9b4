"""The catalog cache: one catalog per database principal, each cached briefly and refreshed in the background.

In DB_IDENTITY=service everyone queries as the server's login, so there is one shared catalog (scope None).
When each person queries as themselves (DB_IDENTITY other than service), SQL Server's metadata visibility
shows each principal its own tables, so a catalog is loaded as that principal and kept for that principal
only: one person's list of tables never answers another's. Those catalogs live in a least-recently-used
cache of DB_IDENTITY_CACHE_PRINCIPALS entries (cachetools.LRUCache); the least recently used principal's
catalog is dropped first, and loaded again on its next call.

Per scope: a catalog younger than CATALOG_TTL_SECONDS is served as is; an older one is still served while a
fresh one loads in the background (on a database of thousands of tables no call waits for a reload, only
the first); loads are single-flight, and calls that waited for a load that failed share its error.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

import anyio
from cachetools import LRUCache

from mssql_mcp.catalog import Catalog
from mssql_mcp.db.base import TableInfo
from mssql_mcp.errors import MssqlMcpError

log = logging.getLogger("mssql_mcp.queries")

# The catalog changes rarely; a short TTL keeps name resolution off the database on the hot path
# while a new table still shows up within seconds.
CATALOG_TTL_SECONDS = 30.0
DEFAULT_PRINCIPALS = 16

Loader = Callable[[], Awaitable[list[TableInfo]]]


class CatalogSlot:
    """One scope's catalog: fresh, stale-while-refreshing, or not loaded yet."""

    def __init__(self) -> None:
        self.catalog: Catalog | None = None
        self.loaded_at = 0.0
        self.lock = anyio.Lock()
        self.loads = 0  # loads started, so a waiter can tell that one finished while it waited
        self.error: MssqlMcpError | None = None  # how the last load failed, if it did
        self.refresh: asyncio.Task[None] | None = None

    def fresh(self, ttl: float) -> Catalog | None:
        if self.catalog is not None and time.monotonic() - self.loaded_at < ttl:
            return self.catalog
        return None


class CatalogCache:
    def __init__(self, load: Loader, *, principals: int = DEFAULT_PRINCIPALS, ttl: float = CATALOG_TTL_SECONDS):
        self._load = load
        self.ttl = ttl
        self._slots: LRUCache[Hashable, CatalogSlot] = LRUCache(maxsize=max(1, principals))
        self._generation = 0  # bumped by invalidate: a load begun before it is not kept
        self.loads = 0  # every load started, in every scope (tests and measurements read it)

    @property
    def principals(self) -> int:
        return int(self._slots.maxsize)

    def scopes(self) -> list[Hashable]:
        """The scopes whose catalogs are held now, least recently used first."""
        return list(self._slots.keys())

    def _slot(self, scope: Hashable) -> CatalogSlot:
        slot = self._slots.get(scope)  # get() marks it most recently used
        if slot is None:
            slot = self._slots[scope] = CatalogSlot()
        return slot

    async def get(self, scope: Hashable, background: contextvars.Context) -> Catalog:
        """The catalog of `scope`. A stale one is refreshed in a task that runs in `background` (the caller's
        person, so the load sees what they see, but on no caller's share of the workers)."""
        slot = self._slot(scope)
        fresh = slot.fresh(self.ttl)
        if fresh is not None:
            return fresh
        if slot.catalog is not None:
            if slot.refresh is None or slot.refresh.done():
                slot.refresh = asyncio.get_running_loop().create_task(self._refresh(slot), context=background)
            return slot.catalog
        return await self._load_into(slot)

    async def _refresh(self, slot: CatalogSlot) -> None:
        try:
            await self._load_into(slot)
        except MssqlMcpError as exc:  # the stale catalog keeps serving; the next expired read tries again
            log.warning("catalog refresh failed: %s", exc.message)

    async def _load_into(self, slot: CatalogSlot) -> Catalog:
        loads = slot.loads
        async with slot.lock:  # single flight: one load at a time, the others wait for it
            fresh = slot.fresh(self.ttl)
            if fresh is not None:
                return fresh
            if slot.loads != loads and slot.error is not None:
                # The load this call waited for failed: the same answer now, not one more wait per caller.
                raise slot.error
            slot.loads += 1
            self.loads += 1
            slot.error = None
            generation = self._generation
            try:
                tables = await self._load()
            except MssqlMcpError as exc:
                slot.error = exc
                raise
            catalog = Catalog(tables)
            if generation == self._generation:  # no DDL invalidated it while it loaded
                slot.catalog, slot.loaded_at = catalog, time.monotonic()
            return catalog

    def invalidate(self) -> None:
        """After DDL: every scope's next call waits for a new catalog, not the old one."""
        self._generation += 1
        self._slots.clear()
