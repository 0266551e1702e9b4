"""The person records tool calls read, kept for a short while, so a call does not read the store for them.

A tool call by a person from the identity provider names them to the database by their record's issuer,
e-mail and groups (faces/common.py `people_lookup`). Those change only when the person signs in again, so
they are kept for PERSON_CACHE_SECONDS, for at most PERSON_CACHE_SIZE people. A sign-in through this
process replaces the entry at once (`Provider.save_person` calls `forget`); one through another process
(the other face, a replica) is seen within PERSON_CACHE_SECONDS. Whether the call may run at all is the
token check's, which still reads the store on every call, so a revoked or removed person stops at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from cachetools import TTLCache

from mssql_mcp.oauth.store import PersonRecord

PERSON_CACHE_SECONDS = 30.0
PERSON_CACHE_SIZE = 4096


class PersonCache:
    """`get(key)`: the record as `read(key)` gives it, read at most once per PERSON_CACHE_SECONDS."""

    def __init__(
        self, read: Callable[[str], Awaitable[PersonRecord | None]], *, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._read = read
        # Used from the event loop only; two calls that miss at once both read the store, and the later wins.
        self._entries: TTLCache[str, PersonRecord | None] = TTLCache(PERSON_CACHE_SIZE, PERSON_CACHE_SECONDS, timer)

    async def get(self, key: str) -> PersonRecord | None:
        try:
            return self._entries[key]
        except KeyError:
            record = self._entries[key] = await self._read(key)
            return record

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)
