"""The sign-in store never blocks the event loop.

Another process (the other face, `mssql-mcp users`) can hold the store's write lock; a token request then
waits for it, up to SQLite's busy timeout. It must wait on the store's thread, not on the event loop: the
server keeps answering everything else meanwhile.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
import httpx2
import pytest

from tests.support.oauth_flow import DEFAULT_ACCOUNT, MemoryStorage, running_oauth_server, signed_in

pytestmark = pytest.mark.anyio
LOCK_SECONDS = 1.5


async def test_a_token_request_waiting_on_a_locked_store_leaves_the_server_responsive(
    demo_db: Path, tmp_path: Path
) -> None:
    storage = MemoryStorage()
    with running_oauth_server(demo_db, tmp_path) as server:
        async with signed_in(server.base_url, DEFAULT_ACCOUNT, storage=storage) as client:
            await client.list_tools()
        assert storage.tokens is not None and storage.client_info is not None
        refresh_form = {
            "grant_type": "refresh_token",
            "refresh_token": storage.tokens.refresh_token,
            "client_id": storage.client_info.client_id,
        }

        locker = sqlite3.connect(tmp_path / "oauth.sqlite", isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # another process's write in progress: writers must wait
        refreshed: dict[str, float] = {}
        health: list[float] = []
        try:
            async with httpx2.AsyncClient(timeout=30) as http, anyio.create_task_group() as tg:

                async def refresh() -> None:
                    started = time.perf_counter()
                    response = await http.post(f"{server.base_url}/token", data=refresh_form)
                    assert response.status_code == 200, response.text
                    refreshed["seconds"] = time.perf_counter() - started

                tg.start_soon(refresh)
                await anyio.sleep(0.2)  # the refresh is now waiting for the lock
                deadline = time.perf_counter() + LOCK_SECONDS
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    assert (await http.get(f"{server.base_url}/health")).status_code == 200
                    health.append(time.perf_counter() - started)
                    await anyio.sleep(0.05)
                assert "seconds" not in refreshed  # still blocked by the lock...
                locker.execute("ROLLBACK")  # ...until the other writer lets go
        finally:
            locker.close()
    assert refreshed["seconds"] >= LOCK_SECONDS  # it did wait on the lock, and then succeeded
    assert len(health) >= 10 and max(health) < 0.25, health  # while the loop kept serving
