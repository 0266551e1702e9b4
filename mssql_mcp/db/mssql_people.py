"""DB_IDENTITY=entra_obo: a small pool of connections per person, each signed in with that person's token.

- People: at most DB_OBO_MAX_PEOPLE hold connections. A newcomer past the bound takes the place of the
  person idle longest; if every one of them has a call running, the newcomer is told to try again.
- Idle: a person without a call for DB_OBO_IDLE_SECONDS loses their connections (checked at every call,
  and by a sweeper thread while anyone holds connections, so a quiet server lets them go too).
- Size: DB_OBO_CONNECTIONS_PER_PERSON connections each; a person's calls past it wait their turn.
- Expiry: a connection lives until a minute before its access token expires; the next one signs in with a
  token MSAL has refreshed (db/mssql_obo.py).
- `drop(key)`: the person's idle connections close at once, the ones in use when their call ends, and
  MSAL forgets their tokens. It runs when Entra refuses the exchange, and when the person's tokens are
  revoked here or their identity provider refuses a refresh (oauth/provider.py `on_revoked`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mssql_mcp.db.drivers import DriverInfo
from mssql_mcp.db.identity import DbIdentity
from mssql_mcp.db.mssql_conn import connect_error, connection_string, query_error
from mssql_mcp.db.mssql_obo import SQL_COPT_SS_ACCESS_TOKEN, OboTokens, token_struct
from mssql_mcp.db.mssql_pool import Pool
from mssql_mcp.errors import ConfigError, DatabaseUnavailable, IdentityRefused, ServerBusy
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.db.people")
RENEW_BEFORE = 60.0  # seconds before its token expires that a pooled connection is retired


@dataclass
class _Entry:
    pool: Pool
    last_used: float
    active: int = 0
    expires_at: float = 0.0  # epoch seconds: the latest token this person signed in with


class PersonPools:
    def __init__(
        self,
        open_with: Callable[[str], Any],
        tokens: OboTokens,
        *,
        max_people: int,
        per_person: int,
        idle_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sweep_every: float | None = None,
    ) -> None:
        self._open_with = open_with  # token -> a connection signed in with it
        self.tokens = tokens
        self.max_people = max_people
        self.per_person = per_person
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.dropped = 0  # people whose connections were closed (tests read it)
        self._sweep_every = sweep_every if sweep_every is not None else max(1.0, min(30.0, idle_seconds / 4))
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def people(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    @contextlib.contextmanager
    def using(self, person: DbIdentity | None) -> Iterator[Pool]:
        """The person's pool for the length of one call. A refused exchange drops their entry."""
        if person is None or person.is_local:
            raise IdentityRefused(
                "This server queries the database as each person's Microsoft Entra identity; "
                "sign in with your Entra account."
            )
        self._sweep()
        entry = self._enter(person)
        try:
            yield entry.pool
        except IdentityRefused:
            self.drop(person.key, "refused")
            raise
        finally:
            with self._lock:
                entry.active -= 1
                entry.last_used = self._clock()

    def _enter(self, person: DbIdentity) -> _Entry:
        with self._lock:
            entry = self._entries.get(person.key)
            if entry is None:
                if len(self._entries) >= self.max_people:
                    self._evict_one()
                entry = self._new_entry(person)
                self._entries[person.key] = entry
            entry.active += 1
            entry.last_used = self._clock()
            if self._sweeper is None and not self._stop.is_set():
                self._sweeper = threading.Thread(target=self._sweeping, name="obo-pool-sweeper", daemon=True)
                self._sweeper.start()
            return entry

    def _new_entry(self, person: DbIdentity) -> _Entry:
        holder: list[_Entry] = []

        def connect() -> Any:
            token, expires_at = self.tokens.token(person)
            holder[0].expires_at = expires_at
            return self._open_with(token)

        def lifetime() -> float:
            return max(0.0, holder[0].expires_at - time.time() - RENEW_BEFORE)

        entry = _Entry(Pool(connect, self.per_person, lifetime=lifetime), self._clock())
        holder.append(entry)
        return entry

    def _evict_one(self) -> None:
        """Make room (the lock held): close the connections of the person idle longest."""
        idle = [(e.last_used, key) for key, e in self._entries.items() if e.active == 0]
        if not idle:
            raise ServerBusy(
                f"The database is serving {len(self._entries)} other people right now (DB_OBO_MAX_PEOPLE); "
                "try again in a moment."
            )
        key = min(idle)[1]
        log.info("closing the connections of the person idle longest, to make room")
        self._close(self._entries.pop(key))

    def _sweeping(self) -> None:
        while not self._stop.wait(self._sweep_every):
            try:
                self._sweep()
            except Exception:  # a background thread: nothing above it would see the error
                log.exception("sweeping idle per-person connections failed")

    def _sweep(self) -> None:
        now = self._clock()
        with self._lock:
            stale = [k for k, e in self._entries.items() if e.active == 0 and now - e.last_used > self.idle_seconds]
            entries = [(k, self._entries.pop(k)) for k in stale]
        for _key, entry in entries:
            self._close(entry)

    def drop(self, key: str, reason: str) -> bool:
        """Close the person's connections now (the ones in use when their call ends); False if they had none."""
        with self._lock:
            entry = self._entries.pop(key, None)
        self.tokens.forget(key)
        if entry is None:
            return False
        log.info("closing a person's database connections (%s)", reason)
        self._close(entry)
        return True

    def _close(self, entry: _Entry) -> None:
        self.dropped += 1
        entry.pool.close()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            entries, self._entries = list(self._entries.items()), {}
        for _key, entry in entries:
            self._close(entry)


def person_pools(settings: Settings, open_with: Callable[[str], Any]) -> PersonPools:
    return PersonPools(
        open_with,
        OboTokens(settings),
        max_people=settings.db_obo_max_people,
        per_person=settings.db_obo_connections_per_person,
        idle_seconds=settings.db_obo_idle_seconds,
    )


def token_connector(
    settings: Settings, driver: DriverInfo, prepare: Callable[[Any], None], where: str
) -> Callable[[str], Any]:
    """token -> a connection signed in with it (Driver 18's SQL_COPT_SS_ACCESS_TOKEN), prepared like any other.

    The connection string is the service's without its credentials: the token is the only one."""
    if driver.is_freetds:
        raise ConfigError(
            "DB_IDENTITY: entra_obo signs in with each person's Entra access token, which FreeTDS cannot send; "
            "use ODBC Driver 18 (MSSQL_DRIVER)."
        )
    import pyodbc

    anonymous = dataclasses.replace(
        settings, mssql_user=None, mssql_password=None, trusted_connection=False, mssql_authentication=None
    )
    conn_str = connection_string(anonymous, driver)

    def connect(token: str) -> Any:
        try:
            conn = pyodbc.connect(
                conn_str,
                timeout=settings.mssql_login_timeout,
                autocommit=False,
                attrs_before={SQL_COPT_SS_ACCESS_TOKEN: token_struct(token)},
            )
        except pyodbc.Error as exc:
            error = connect_error(exc, where)
            if error.number == 18456:
                said = query_error(exc).message  # the server's own words, without our service-login advice
                raise DatabaseUnavailable(
                    f"SQL Server refused your Entra sign-in: {said} Ask the DBA for a database user for you "
                    "(CREATE USER ... FROM EXTERNAL PROVIDER).",
                    18456,
                ) from None
            raise error from None
        try:
            prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    return connect
