"""STORE_URL=redis+sentinel://...: the Redis store follows whichever server Sentinel says is the primary.

    redis+sentinel://[USER:PASSWORD@]HOST:26379[,HOST2:26379...]/SERVICE[/DB][?socket_timeout=1&sentinel_password=...]
    rediss+sentinel://...   the same over TLS (to the Redis servers)

USER and PASSWORD are the app's on the Redis servers; `sentinel_password` is the Sentinels' own, if they
have one. redis-py's Sentinel pool asks the Sentinels for the primary and asks again when a connection
fails or the server it reached has become a replica (READONLY), so after a failover the next call, or the
one after the store's one-second breaker, reaches the new primary without a restart.
"""

from __future__ import annotations

import typing
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from mssql_mcp.errors import ConfigError

DEFAULT_TIMEOUT = 1.0
SENTINEL_PORT = 26379
_USAGE = "STORE_URL: a Sentinel URL is redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB]"


def sentinel_client(url: str) -> redis.Redis:
    parts = urlsplit(url)
    hosts = [_host(item) for item in parts.netloc.rsplit("@", 1)[-1].split(",") if item]
    path = [p for p in parts.path.split("/") if p]
    if not hosts or not 1 <= len(path) <= 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigError(_USAGE)
    query = dict(parse_qsl(parts.query))
    try:
        timeouts = {
            "socket_timeout": float(query.pop("socket_timeout", DEFAULT_TIMEOUT)),
            "socket_connect_timeout": float(query.pop("socket_connect_timeout", DEFAULT_TIMEOUT)),
        }
    except ValueError:
        raise ConfigError("STORE_URL: socket_timeout and socket_connect_timeout are seconds") from None
    sentinel_password = query.pop("sentinel_password", None)
    if query:
        raise ConfigError(f"STORE_URL: unknown Sentinel option(s): {', '.join(sorted(query))}")
    server: dict[str, Any] = {
        **timeouts,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "ssl": parts.scheme.startswith("rediss"),
    }
    # redis-py's sentinel module has no annotations.
    sentinel = Sentinel(hosts, sentinel_kwargs={**timeouts, "password": sentinel_password}, **server)  # type: ignore[no-untyped-call]
    client = sentinel.master_for(  # type: ignore[no-untyped-call]
        unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        decode_responses=True,
        retry=Retry(NoBackoff(), 1),
        client_name="mssql-mcp",
    )
    return typing.cast(redis.Redis, client)


def _host(item: str) -> tuple[str, int]:
    host, sep, port = item.rpartition(":")
    if not sep:
        return item, SENTINEL_PORT
    if not port.isdigit():
        raise ConfigError(_USAGE)
    return host, int(port)
