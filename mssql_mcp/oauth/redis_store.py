"""`OAuthStore` in Redis (STORE_URL=redis://...), so several replicas and worker processes act as one server.

Layout (every key under one prefix, default "mssql-mcp:"): one hash per record (`client:ID`, `user:NAME`,
`person:KEY`, `pending:H`, `code:H`, `token:H`, `throttle:KEY`, `rate:KEY`), sets that index them
(`clients`, `clients:unused`, `users`, `people`, `family:ID`, `usertokens:NAME`; never KEYS), and
`meta:server_key`. Secrets are stored as digests, as in SQLite. Every read-then-write is one Lua script or
one MULTI (redis_scripts.py), so a code or a rotated refresh token is redeemed once across all replicas.

Expiry is Redis's: pending sign-ins, codes, tokens, throttle and rate counters carry TTLs. Codes and tokens
are kept a day past their expiry (as SQLite keeps their rows), so a replayed one is still recognised as a
replay and revokes its family; TTLs count from Redis's clock, never shorter than that day.

When Redis cannot be reached every call raises `StoreUnavailable` (a 503 to the client) within the socket
timeouts; after a connection failure, calls fail at once for `BREAKER_SECONDS` instead of each waiting out
the timeout, then the next call tries again, so the server recovers by itself when Redis is back.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import secrets
import threading
import time
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mssql_mcp.errors import StoreUnavailable
from mssql_mcp.logs import event
from mssql_mcp.oauth import redis_scripts as lua
from mssql_mcp.oauth.store import (
    THROTTLE_FORGET_AFTER,
    THROTTLE_MAX_DELAY,
    ClientRecord,
    CodeRecord,
    PendingRecord,
    PersonRecord,
    ThrottleSlot,
    TokenRecord,
    UserRecord,
)

log = logging.getLogger("mssql_mcp.auth")
R = TypeVar("R")

KEEP_AFTER_EXPIRY = 86_400.0  # as SqliteStore: a replay within a day is still recognised
PENDING_GRACE = 900.0
BREAKER_SECONDS = 1.0
DEFAULT_TIMEOUT = 1.0  # socket connect and read timeout unless the URL says otherwise


class RedisStore:
    def __init__(self, url: str, *, prefix: str = "mssql-mcp:", client: redis.Redis | None = None) -> None:
        self.prefix = prefix
        self._r: redis.Redis = client or redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=DEFAULT_TIMEOUT,
            socket_connect_timeout=DEFAULT_TIMEOUT,
            # One retry: a pooled connection left over from before a Redis restart fails once, then reconnects.
            retry=Retry(NoBackoff(), 1),
            client_name="mssql-mcp",
        )
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._scripts = {
            name: self._r.register_script(getattr(lua, name))
            for name in dir(lua)
            if name.isupper() and not name.startswith("_")
        }

    # -- plumbing -------------------------------------------------------------------------------
    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @contextmanager
    def _up(self) -> Iterator[None]:
        """Map every Redis failure to StoreUnavailable; open the breaker on a connection failure."""
        if time.monotonic() < self._down_until:
            raise StoreUnavailable()
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            with self._lock:
                first = self._down_until == 0.0
                self._down_until = time.monotonic() + BREAKER_SECONDS
            if first:
                event(log, "store_unreachable", level=logging.WARNING, detail=type(exc).__name__)
            raise StoreUnavailable() from exc
        except redis.RedisError as exc:  # e.g. OOM with noeviction, NOPERM, a read-only replica after failover
            event(log, "store_error", level=logging.WARNING, detail=str(exc).splitlines()[0][:200])
            raise StoreUnavailable() from exc
        else:
            if self._down_until:
                with self._lock:
                    self._down_until = 0.0
                event(log, "store_reachable")

    def _run(self, name: str, keys: Sequence[str], args: Sequence[Any] = ()) -> Any:
        with self._up():
            return self._scripts[name](keys=list(keys), args=list(args))

    def _call(self, fn: typing.Callable[[], R]) -> R:
        with self._up():
            return fn()

    def ping(self) -> bool:
        """True if Redis answers now (the health endpoint)."""
        try:
            return bool(self._call(self._r.ping))
        except StoreUnavailable:
            return False

    def close(self) -> None:
        self._r.close()

    # -- meta -----------------------------------------------------------------------------------
    def server_key(self) -> bytes:
        key = self._k("meta", "server_key")

        def get() -> str:
            self._r.set(key, secrets.token_bytes(32).hex(), nx=True)
            return str(self._r.get(key))

        return bytes.fromhex(self._call(get))

    def set_server_key(self, value: bytes) -> None:
        """`store copy`: take over a deployment's key, so its CSRF cookies and signed record ids stay valid."""
        self._call(lambda: self._r.set(self._k("meta", "server_key"), value.hex()))

    # -- users ----------------------------------------------------------------------------------
    def get_user(self, username: str) -> UserRecord | None:
        return self._get(UserRecord, self._k("user", username))

    def put_user(self, username: str, password_hash: str, now: float) -> bool:
        keys = (self._k("user", username), self._k("users"))
        return bool(self._run("PUT_USER", keys, (username, password_hash, _f(now))))

    def restore_user(self, record: UserRecord) -> None:
        """`store copy`: a user exactly as another store had them (creation and password dates kept)."""
        self._call(lambda: self._r.sadd(self._k("users"), record.username))
        self._save(self._k("user", record.username), record, ttl_ms=None)

    def delete_user(self, username: str) -> bool:
        def delete() -> bool:
            pipe = self._r.pipeline()
            pipe.delete(self._k("user", username))
            pipe.srem(self._k("users"), username)
            return bool(pipe.execute()[0])

        return self._call(delete)

    def list_users(self) -> list[UserRecord]:
        return self._list(UserRecord, "users", "user")

    def count_users(self) -> int:
        return int(self._call(lambda: self._r.scard(self._k("users"))))

    # -- clients --------------------------------------------------------------------------------
    def get_client(self, client_id: str) -> ClientRecord | None:
        return self._get(ClientRecord, self._k("client", client_id))

    def save_client(self, record: ClientRecord) -> None:
        keys = (self._k("client", record.client_id), self._k("clients"), self._k("clients", "unused"))
        self._run("SAVE_CLIENT", keys, [record.client_id, *_flat(record)])

    def count_unused_clients(self) -> int:
        return int(self._call(lambda: self._r.scard(self._k("clients", "unused"))))

    def purge_unused_clients(self, before: float, now: float) -> int:
        # A client ever issued a token has signed_in_at (set by SAVE_TOKEN in the same step), so it is
        # never in `clients:unused`; `now` is not needed to find live tokens.
        keys = (self._k("clients", "unused"), self._k("clients"))
        return int(self._run("PURGE_UNUSED", keys, (_f(before), self.prefix)))

    # -- sign-in throttle and rate limits -------------------------------------------------------
    def throttle_reserve(self, slots: Sequence[ThrottleSlot], now: float) -> float:
        keys = [self._k("throttle", s.key) for s in slots]
        args = [_f(now), _f(THROTTLE_FORGET_AFTER), _f(THROTTLE_MAX_DELAY), *(s.free for s in slots)]
        return float(self._run("THROTTLE_RESERVE", keys, args))

    def throttle_release(self, slot: ThrottleSlot) -> None:
        self._run("THROTTLE_RELEASE", [self._k("throttle", slot.key)], (slot.free, _f(THROTTLE_MAX_DELAY)))

    def throttle_clear(self, key: str) -> None:
        self._call(lambda: self._r.delete(self._k("throttle", key)))

    def rate_hit(self, key: str, limit: int, window: float, now: float) -> float:
        return float(self._run("RATE_HIT", [self._k("rate", key)], (_f(now), _f(window), limit)))

    # -- pending sign-ins -----------------------------------------------------------------------
    def save_pending(self, record: PendingRecord) -> None:
        self._save(self._k("pending", record.key_hash), record, _ttl(record.expires_at, PENDING_GRACE))

    def get_pending(self, key_hash: str) -> PendingRecord | None:
        return self._get(PendingRecord, self._k("pending", key_hash))

    def mark_pending_signed_in(self, key_hash: str, username: str, browser_hash: str) -> None:
        args = ("username", username, "browser_hash", browser_hash)
        self._run("UPDATE_IF_EXISTS", [self._k("pending", key_hash)], args)

    def take_pending(self, key_hash: str) -> PendingRecord | None:
        key = self._k("pending", key_hash)

        def take() -> dict[str, str]:
            pipe = self._r.pipeline()  # MULTI/EXEC: read and delete in one step; consent is given once
            pipe.hgetall(key)
            pipe.delete(key)
            return dict(pipe.execute()[0])

        return _decode(PendingRecord, self._call(take))

    # -- codes ----------------------------------------------------------------------------------
    def save_code(self, record: CodeRecord) -> None:
        self._save(self._k("code", record.code_hash), record, _ttl(record.expires_at, KEEP_AFTER_EXPIRY))

    def get_code(self, code_hash: str) -> CodeRecord | None:
        return self._get(CodeRecord, self._k("code", code_hash))

    def use_code(self, code_hash: str, now: float) -> bool:
        return bool(self._run("USE_CODE", [self._k("code", code_hash)], (_f(now),)))

    # -- tokens ---------------------------------------------------------------------------------
    def save_token(self, r: TokenRecord) -> None:
        keys = (
            self._k("token", r.token_hash),
            self._k("family", r.family_id),
            self._k("usertokens", r.username),
            self._k("client", r.client_id),
            self._k("clients", "unused"),
        )
        ttl = _ttl(r.expires_at, KEEP_AFTER_EXPIRY)
        self._run("SAVE_TOKEN", keys, [ttl, r.client_id, _f(r.created_at), *_flat(r)])

    def get_token(self, token_hash: str) -> TokenRecord | None:
        return self._get(TokenRecord, self._k("token", token_hash))

    def use_refresh(self, token_hash: str, now: float) -> bool:
        return bool(self._run("USE_REFRESH", [self._k("token", token_hash)], (_f(now),)))

    def revoke_family(self, family_id: str, now: float) -> int:
        return int(self._run("REVOKE_SET", [self._k("family", family_id)], (_f(now),)))

    def revoke_user(self, username: str, now: float) -> int:
        return int(self._run("REVOKE_SET", [self._k("usertokens", username)], (_f(now),)))

    def purge(self, now: float) -> None:
        """Nothing to do: Redis expires records itself (TTLs), and the revocation scripts prune their sets."""

    # -- people from the identity provider ------------------------------------------------------
    def get_person(self, key: str) -> PersonRecord | None:
        return self._get(PersonRecord, self._k("person", key))

    def save_person(self, record: PersonRecord) -> None:
        self._run("SAVE_PERSON", (self._k("person", record.key), self._k("people")), [record.key, *_flat(record)])

    def list_people(self) -> list[PersonRecord]:
        return self._list(PersonRecord, "people", "person")

    def block_person(self, key: str, blocked_at: float | None) -> bool:
        if blocked_at is None:
            return bool(self._run("CLEAR_IF_EXISTS", [self._k("person", key)], ("blocked_at",)))
        return bool(self._run("UPDATE_IF_EXISTS", [self._k("person", key)], ("blocked_at", _f(blocked_at))))

    def save_upstream_tokens(self, key: str, sealed: str | None) -> None:
        if sealed is None:
            self._run("CLEAR_IF_EXISTS", [self._k("person", key)], ("upstream",))
        else:
            self._run("UPDATE_IF_EXISTS", [self._k("person", key)], ("upstream", sealed))

    # -- records as hashes ----------------------------------------------------------------------
    def _get(self, cls: type[R], key: str) -> R | None:
        return _decode(cls, self._call(lambda: typing.cast(dict[str, str], self._r.hgetall(key))))

    def _save(self, key: str, record: Any, ttl_ms: int | None) -> None:
        def save() -> None:
            pipe = self._r.pipeline()
            pipe.delete(key)
            pipe.hset(key, mapping=dict(zip(*[iter(_flat(record))] * 2, strict=True)))
            if ttl_ms is not None:
                pipe.pexpire(key, ttl_ms)
            pipe.execute()

        self._call(save)

    def _list(self, cls: type[R], index: str, kind: str) -> list[R]:
        def fetch() -> list[dict[str, str]]:
            names = sorted(typing.cast(set[str], self._r.smembers(self._k(index))))
            pipe = self._r.pipeline(transaction=False)
            for name in names:
                pipe.hgetall(self._k(kind, name))
            return list(pipe.execute())

        return [r for r in (_decode(cls, d) for d in self._call(fetch)) if r is not None]


def _f(value: float) -> str:
    return repr(float(value))


def _ttl(expires_at: float, keep: float) -> int:
    """Milliseconds to keep a record: until `keep` seconds past its expiry, by Redis's (wall) clock."""
    return int((max(0.0, expires_at - time.time()) + keep) * 1000)


def _flat(record: Any) -> list[str]:
    """A record's fields as field, value, ...; None is left out (an absent field)."""
    out: list[str] = []
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, tuple):
            text = json.dumps(list(value))
        elif isinstance(value, int | float):
            text = _f(value)
        else:
            text = str(value)
        out += [f.name, text]
    return out


def _as_bool(raw: str) -> bool:
    return raw == "1"


def _as_tuple(raw: str) -> tuple[str, ...]:
    return tuple(json.loads(raw))


def _as_str(raw: str) -> str:
    return raw


@functools.cache
def _decoders(cls: Any) -> tuple[tuple[str, typing.Callable[[str], Any], bool], ...]:
    """Per field of a record class: its name, how to read it back, and whether None must be passed for it
    (a field without a default whose None was left out, e.g. a person's email)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        options = typing.get_args(kind) or (kind,)
        if bool in options:
            read: typing.Callable[[str], Any] = _as_bool
        elif float in options:
            read = float
        elif typing.get_origin(kind) is tuple:
            read = _as_tuple
        else:
            read = _as_str
        out.append((f.name, read, f.default is dataclasses.MISSING))
    return tuple(out)


def _decode(cls: type[R], data: dict[str, str]) -> R | None:
    if not data:
        return None
    kwargs: dict[str, Any] = {}
    for name, read, required in _decoders(typing.cast(Any, cls)):
        raw = data.get(name)
        if raw is not None:
            kwargs[name] = read(raw)
        elif required:
            kwargs[name] = None
    return cls(**kwargs)
