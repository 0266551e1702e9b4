"""STORE_URL=rediss://: the store over TLS to a real redis-server that has no plain port, its certificate
checked against the CA named in the URL; a server the client cannot verify is a store outage, not a
fallback to trusting it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mssql_mcp.errors import StoreUnavailable
from mssql_mcp.oauth.store import TokenRecord, digest
from mssql_mcp.oauth.store_url import open_store_url
from tests.support.redis import RedisServer
from tests.support.tlsca import Pair, issue, make_ca


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[RedisServer, Pair]]:
    ca = make_ca(tmp_path / "ca")
    server = RedisServer(tmp_path / "redis", tls=issue(ca, tmp_path / "leaf", ["127.0.0.1"])).start()
    yield server, ca
    server.stop()


def test_the_store_speaks_tls_and_checks_the_certificate(tls_redis: tuple[RedisServer, Pair], tmp_path: Path) -> None:
    server, ca = tls_redis
    url = f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={ca.cert}"
    store, again = open_store_url(url), open_store_url(url)
    try:
        store.save_token(TokenRecord(digest("t"), "access", "c", "u", ("mcp",), "r", 1e12, "f", 1.0))
        found = again.get_token(digest("t"))
        assert found is not None and found.username == "u"
        assert store.server_key() == again.server_key()
    finally:
        store.close()
        again.close()
    other_ca = make_ca(tmp_path / "other-ca", name="someone else")
    for bad in (
        f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={other_ca.cert}",  # a certificate we cannot verify
        f"rediss://127.0.0.1:{server.port}/0",  # the system's CAs do not know the test CA either
        f"redis://127.0.0.1:{server.port}/0",  # no plain text on a TLS port
    ):
        refused = open_store_url(bad)
        try:
            with pytest.raises(StoreUnavailable):
                refused.get_token(digest("t"))
        finally:
            refused.close()
