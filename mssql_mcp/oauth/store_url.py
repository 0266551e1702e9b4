"""STORE_URL: which `OAuthStore` a process opens.

    sqlite:///data/oauth.sqlite        a file, relative to the working directory (the default, via OAUTH_STORE_PATH)
    sqlite:////var/lib/mcp/oauth.db    an absolute path (four slashes, as SQLAlchemy spells it)
    redis://[user:password@]host:6379/0?socket_timeout=1&socket_connect_timeout=1
    rediss://...                       the same over TLS (ssl_ca_certs=..., ssl_cert_reqs=required by default)
    redis+sentinel://[user:password@]host:26379,host2:26379/SERVICE/0   the primary Sentinel names (redis_sentinel.py)

Redis URLs take redis-py's query options (timeouts, TLS files) and one of ours: `prefix=` (default
"mssql-mcp:"), to share a database between deployments. With STORE_URL unset, OAUTH_STORE_PATH names the
SQLite file, as before.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mssql_mcp.errors import ConfigError
from mssql_mcp.oauth.store import OAuthStore
from mssql_mcp.settings import Settings

SCHEMES = ("sqlite", "redis", "rediss", "redis+sentinel", "rediss+sentinel")


def open_store(settings: Settings) -> OAuthStore:
    if settings.store_url is None:  # the path as given: no URL round trip for a file name with '?' or '#'
        from mssql_mcp.oauth.sqlite_store import SqliteStore

        return SqliteStore(settings.oauth_store_path)
    return open_store_url(settings.store_url.reveal())


def open_store_url(url: str) -> OAuthStore:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from mssql_mcp.oauth.sqlite_store import SqliteStore

        return SqliteStore(sqlite_path(url))
    if parts.scheme in SCHEMES[1:]:
        from mssql_mcp.oauth.redis_sentinel import sentinel_client
        from mssql_mcp.oauth.redis_store import RedisStore

        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = dict(query).get("prefix", "mssql-mcp:")
        rest = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "prefix"])))
        if parts.scheme.endswith("+sentinel"):
            return RedisStore(rest, prefix=prefix, client=sentinel_client(rest))
        return RedisStore(rest, prefix=prefix)
    raise ConfigError(f"STORE_URL: use one of {', '.join(s + '://' for s in SCHEMES)} (got {parts.scheme or url!r})")


def sqlite_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/") or len(parts.path) < 2:
        raise ConfigError("STORE_URL: a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path")
    return Path(parts.path[1:])


def describe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:****@" if parts.username else ":****@"
    return urlunsplit(parts._replace(netloc=user + netloc))
