"""A TTL cache (cachetools) bounded by entries and by bytes, with an injectable clock.

The ChatGPT face keeps query results here for CACHE_TTL_SECONDS so that `fetch` of a `query:` id right
after `search` does not run the query twice. Nothing depends on an entry being present: a miss simply
re-runs the query, whose SQL travels inside the id (see `mssql_mcp/faces/chatgpt/ids.py`). That is why this can
stay an in-process cache; a shared store (Redis) would only raise the hit rate across replicas.

A count of entries alone does not bound memory: 256 results of a few MB each are a gigabyte. So each entry
is also weighed (by default, the length of its text form: proportional to what it holds, and cheap), the
entries together stay under `max_bytes`, and one entry over a quarter of that is not kept at all (the next
`fetch` re-runs its query) rather than pushing everything else out.

`timer` is the clock the expiry reads (default `time.monotonic`); tests pass their own to step time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

V = TypeVar("V")

DEFAULT_MAXSIZE = 256  # entries
DEFAULT_MAX_BYTES = 32 * 1024 * 1024  # all entries together, by their weight
ENTRY_SHARE = 4  # an entry may weigh at most max_bytes // ENTRY_SHARE


def text_weight(value: object) -> int:
    """Approximate bytes of a value: the length of its repr, which grows with every row and cell it holds."""
    return len(repr(value))


class ResultCache(Generic[V]):
    """`get`/`put` over a TTLCache; `ttl <= 0` disables caching (every get misses)."""

    def __init__(
        self,
        *,
        ttl: float,
        maxsize: int = DEFAULT_MAXSIZE,
        max_bytes: int = DEFAULT_MAX_BYTES,
        weigh: Callable[[V], int] = text_weight,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self._weigh = weigh
        # cachetools bounds one measure: the weights' sum (`currsize`). The entry count is bounded in put().
        self._data: TTLCache[Hashable, V] | None = (
            TTLCache(maxsize=max_bytes, ttl=ttl, timer=timer, getsizeof=weigh) if ttl > 0 else None
        )
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
        if self._weigh(value) > self.max_bytes // ENTRY_SHARE:
            with self._lock:
                self._data.pop(key, None)  # an older, smaller value under this key is stale now
            return
        with self._lock:
            self._data.expire()
            if key not in self._data:
                while len(self._data) >= self.maxsize:
                    self._data.popitem()  # the least recently used
            self._data[key] = value  # evicts least recently used entries until the bytes fit

    @property
    def bytes(self) -> int:
        """The entries' total weight now."""
        with self._lock:
            return int(self._data.currsize) if self._data is not None else 0

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
