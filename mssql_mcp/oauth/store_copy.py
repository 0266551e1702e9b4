"""`mssql-mcp store copy --from sqlite:///... --to redis://...`: move a deployment's sign-in state to Redis.

What moves: the server key (CSRF cookies and the ChatGPT face's signed record ids stay valid), users with
their password hashes, registered clients, people from the identity provider (with their sealed provider
tokens and blocks), and every token the SQLite file still holds (live ones, and used or revoked ones kept
for replay detection), so nobody has to sign in again. What does not: sign-ins in progress and unredeemed
codes (minutes long; such a person signs in again), and throttle and rate counters (they start afresh).

Run it with the servers stopped (or before switching STORE_URL), then start them on the Redis URL. Copying
twice is harmless: every record is written whole, keyed as in the source.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mssql_mcp.errors import ConfigError
from mssql_mcp.oauth.store import ClientRecord, PersonRecord, TokenRecord, UserRecord
from mssql_mcp.oauth.store_url import describe, open_store_url, sqlite_path

if TYPE_CHECKING:
    from mssql_mcp.oauth.redis_store import RedisStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="store_command", required=True)
    copy = sub.add_parser("copy", help="copy clients, users, people and live tokens from SQLite to Redis")
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="sqlite:///PATH")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="redis://... or rediss://...")


def run(args: argparse.Namespace) -> int:
    counts = copy_store(args.source, args.target, time.time())
    print(
        f"copied {counts.clients} clients, {counts.users} users, {counts.people} people and {counts.tokens} tokens "
        f"({counts.live} live) from {describe(args.source)} to {describe(args.target)}"
    )
    return 0


@dataclass(frozen=True)
class Copied:
    clients: int
    users: int
    people: int
    tokens: int
    live: int


def copy_store(source: str, target: str, now: float) -> Copied:
    if not source.startswith("sqlite:"):
        raise ConfigError("store copy: --from must be a sqlite:/// URL")
    path = sqlite_path(source)
    if not path.is_file():
        raise ConfigError(f"store copy: no SQLite store at {path}")
    from mssql_mcp.oauth.redis_store import RedisStore  # here: redis is imported only by the commands that use it
    from mssql_mcp.oauth.sqlite_store import SqliteStore

    SqliteStore(path).close()  # brings an older file's schema up to date before it is read
    redis = open_store_url(target)
    if not isinstance(redis, RedisStore):
        raise ConfigError("store copy: --to must be a redis:// or rediss:// URL")
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return _copy(db, redis, now)
    finally:
        db.close()
        redis.close()


def _copy(db: sqlite3.Connection, redis: RedisStore, now: float) -> Copied:
    from mssql_mcp.oauth.redis_store import KEEP_AFTER_EXPIRY

    key = db.execute("SELECT value FROM meta WHERE key = 'server_key'").fetchone()
    if key is not None:
        redis.set_server_key(bytes(key["value"]))
    users = [UserRecord(**dict(r)) for r in db.execute("SELECT * FROM users")]
    for user in users:
        redis.restore_user(user)
    clients = [ClientRecord(**{**dict(r), "dynamic": bool(r["dynamic"])}) for r in db.execute("SELECT * FROM clients")]
    for client in clients:
        redis.save_client(client)
    people = []
    for row in db.execute("SELECT * FROM people"):
        d = dict(row)
        d["groups"] = tuple(json.loads(d.pop("groups_json")))
        people.append(PersonRecord(**d))
    for person in people:
        redis.save_person(person)
    tokens = [
        TokenRecord(**{**dict(r), "scopes": tuple(r["scopes"].split())})
        for r in db.execute("SELECT * FROM tokens WHERE expires_at > ?", (now - KEEP_AFTER_EXPIRY,))
    ]
    for token in tokens:
        redis.save_token(token)
    live = sum(1 for t in tokens if t.expires_at > now and t.revoked_at is None and t.used_at is None)
    return Copied(len(clients), len(users), len(people), len(tokens), live)
