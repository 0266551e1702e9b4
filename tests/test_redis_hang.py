"""A Redis that accepts connections and never answers (a hung server, a half-open network path): the
store's calls give up within their socket timeout with StoreUnavailable, and while the breaker is open the
next ones fail at once instead of each waiting again. A real listening socket on loopback, no mock."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mssql_mcp.errors import StoreUnavailable
from mssql_mcp.oauth.redis_store import BREAKER_SECONDS
from mssql_mcp.oauth.store import digest
from mssql_mcp.oauth.store_url import open_store_url


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts every connection, reads what it is sent, answers nothing."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_silent_redis_costs_one_timeout_then_fails_at_once(silent_port: int) -> None:
    store = open_store_url(f"redis://127.0.0.1:{silent_port}/0?socket_timeout=0.3&socket_connect_timeout=0.3")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get_token(digest("t"))
        first = time.monotonic() - started
        assert 0.3 <= first < 1.5, first  # the read timeout, once retried at most: not a hang
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(StoreUnavailable):
                store.get_token(digest("t"))
        assert time.monotonic() - started < 0.1  # the breaker: no further waiting while it is open
        time.sleep(BREAKER_SECONDS)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get_token(digest("t"))  # after the breaker, one call tries again (and waits again)
        assert time.monotonic() - started >= 0.3
    finally:
        store.close()
