"""A bounded TTL cache (cachetools) with an injectable clock.

The ChatGPT face keeps query results here for CACHE_TTL_SECONDS so that `fetch` of a `query:` id right
after `search` does not run the query twice. Nothing depends on an entry being present: a miss simply
re-runs the query, whose SQL travels inside the id (see `mssql_mcp/faces/chatgpt/ids.py`). That is why this can
stay an in-process cache; a shared store (Redis) would only raise the hit rate across replicas.

`timer` is the clock the expiry reads (default `time.monotonic`); tests pass their own to step time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

V = TypeVar("V")

DEFAULT_MAXSIZE = 256


class ResultCache(Generic[V]):
    """`get`/`put` over a TTLCache; `ttl <= 0` disables caching (every get misses)."""

    def __init__(
        self, *, ttl: float, maxsize: int = DEFAULT_MAXSIZE, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._data: TTLCache[Hashable, V] | None = TTLCache(maxsize=maxsize, ttl=ttl, timer=timer) if ttl > 0 else None
        # cachetools caches are not thread-safe; tools run on the event loop, but keep it safe anyway.
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._data.get(key) if self._data is not None else None
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        if self._data is None:
            return
        with self._lock:
            self._data[key] = value

    def __len__(self) -> int:
        with self._lock:
            if self._data is None:
                return 0
            self._data.expire()
            return len(self._data)

    def clear(self) -> None:
        with self._lock:
            if self._data is not None:
                self._data.clear()
