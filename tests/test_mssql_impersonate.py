"""DB_IDENTITY=impersonate through the real drivers to the TDS test server: each person's statement runs as
their database user (EXECUTE AS USER ... WITH COOKIE), then the rollback or commit, then the REVERT.

The TDS server's permission model and row filter are our emulation (tests/support/tds/security.py); what
is proved here is the product's order of work and that nothing crosses from one person to the next.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mssql_mcp import sqlgate
from mssql_mcp.db.identity import DbIdentity, identity_of, person_scope
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.errors import ConfigError, DatabaseUnavailable, QueryError, QueryRefused
from mssql_mcp.identity_map import IdentityMap, Unmapped
from mssql_mcp.serialize import json_rows
from mssql_mcp.settings import load_settings
from tests.support.tds import TdsServer
from tests.support.tds import fixtures as tds_fixtures
from tests.support.tds.fixtures import DESCRIPTIONS, DriverCase, backend_env
from tests.support.tds.people import PRINCIPALS, ROW_FILTER, make_people_db, write_mapping

case = tds_fixtures.case
ALICE, BOB, CAROL, GHOST = identity_of("alice"), identity_of("bob"), identity_of("carol"), identity_of("ghost")
IDP = "https://idp.example.com"
WHO = "SELECT USER_NAME() AS u, ORIGINAL_LOGIN() AS o, SESSION_CONTEXT(N'mcp_user') AS k, @@SPID AS spid"


@pytest.fixture
def server(case: DriverCase, tmp_path: Path) -> Iterator[TdsServer]:
    path = make_people_db(tmp_path / "fixture.sqlite")
    with TdsServer(
        path, tmp_path / "tds", tls=case.tls, descriptions=DESCRIPTIONS, principals=PRINCIPALS, row_filter=ROW_FILTER
    ).running() as srv:
        yield srv


def make_db(server: TdsServer, case: DriverCase, tmp_path: Path, **extra: str) -> MssqlDatabase:
    mapping = write_mapping(tmp_path / "people.json")
    env = backend_env(
        server,
        case,
        DB_WORKERS="1",
        DB_IDENTITY="impersonate",
        DB_IDENTITY_MAP_FILE=str(mapping),
        OIDC_ISSUER=IDP,
        DB_IDENTITY_TEMPLATE="{email_local}_db",
        **extra,
    )
    return MssqlDatabase(load_settings(env, env_file=None))


@pytest.fixture
def db(server: TdsServer, case: DriverCase, tmp_path: Path) -> Iterator[MssqlDatabase]:
    database = make_db(server, case, tmp_path)
    yield database
    database.close()


def rows(db: MssqlDatabase, sql: str, *, write: bool = False) -> list[list[object]]:
    return json_rows(db.execute(sql, (), max_rows=50, timeout=5, write=write).rows)


def as_(person: DbIdentity | None, db: MssqlDatabase, sql: str) -> list[list[object]]:
    with person_scope(person):
        return rows(db, sql)


def test_each_person_sees_their_rows_their_tables_and_their_user(db: MssqlDatabase) -> None:
    assert as_(ALICE, db, "SELECT NoteID FROM Notes ORDER BY NoteID") == [[1], [2]]
    assert as_(BOB, db, "SELECT n.Body FROM Notes AS n") == [["b1"]]
    alice, bob = as_(ALICE, db, WHO)[0], as_(BOB, db, WHO)[0]
    assert alice[:3] == ["alice_db", "mcp_reader", "alice"] and bob[:3] == ["bob_db", "mcp_reader", "bob"]
    assert alice[3] == bob[3]  # one connection, reverted between them
    assert as_(ALICE, db, "SELECT Amount FROM Salaries WHERE Person = 'alice'") == [[100]]
    with person_scope(BOB), pytest.raises(QueryError, match="229"):
        rows(db, "SELECT Amount FROM Salaries")
    # Bob's refusal was reverted like any other statement: the next person is themselves, on that connection.
    after = as_(ALICE, db, WHO)[0]
    assert after[0] == "alice_db" and after[3] == alice[3]


def test_an_interleaved_burst_never_crosses_people(db: MssqlDatabase) -> None:
    def one(person: DbIdentity) -> tuple[str, list[list[object]], list[list[object]]]:
        with person_scope(person):
            return person.key, rows(db, WHO), rows(db, "SELECT Owner FROM Notes")

    people = [ALICE, BOB] * 20
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: contextvars.copy_context().run(one, p), people))
    for key, who, notes in results:
        assert who[0][0] == f"{key}_db" and who[0][2] == key
        assert notes and {n[0] for n in notes} == {key}


def test_unmapped_people_are_refused_and_nothing_runs(db: MssqlDatabase, server: TdsServer) -> None:
    before = len(server.events)
    for person in (CAROL, None, DbIdentity("oidc:https://other.example.com#x", "https://other.example.com", "x@e")):
        with person_scope(person), pytest.raises(Unmapped):
            rows(db, "SELECT 1")
    assert not [e for e in server.events[before:] if e.kind in ("statement", "batch", "rpc")]


def test_a_principal_that_does_not_exist_is_an_error_and_the_connection_is_dropped(db: MssqlDatabase) -> None:
    with person_scope(GHOST), pytest.raises(QueryError, match="no_such_user"):
        rows(db, "SELECT 1")
    assert db.pool.discarded == 1
    assert as_(ALICE, db, WHO)[0][0] == "alice_db"


def test_a_failed_revert_discards_the_connection(db: MssqlDatabase, server: TdsServer) -> None:
    first = as_(ALICE, db, WHO)[0]
    server.faults.add("REVERT", error=50000, times=1)
    assert as_(ALICE, db, "SELECT NoteID FROM Notes ORDER BY NoteID") == [[1], [2]]  # the result stands
    assert db.pool.discarded == 1
    after = as_(BOB, db, WHO)[0]
    assert after[0] == "bob_db" and after[3] != first[3]


def test_a_link_lost_mid_impersonation_is_never_reused(db: MssqlDatabase, server: TdsServer) -> None:
    first = as_(ALICE, db, WHO)[0]
    server.faults.add("FROM Notes", drop=True, times=1)
    assert as_(ALICE, db, "SELECT NoteID FROM Notes ORDER BY NoteID") == [[1], [2]]  # retried on a fresh one
    after = as_(BOB, db, WHO)[0]
    assert after[0] == "bob_db" and after[3] != first[3]


def test_write_mode_commits_then_reverts(server: TdsServer, case: DriverCase, tmp_path: Path) -> None:
    db = make_db(server, case, tmp_path, READ_ONLY_MODE="false")
    try:
        with person_scope(ALICE):
            assert db.execute("INSERT INTO Notes VALUES (9, 'alice', 'new')", (), max_rows=5, timeout=5, write=True)
        kinds = [e.kind for e in server.events if e.kind in ("execute_as", "commit", "revert")]
        assert kinds[-3:] == ["execute_as", "commit", "revert"]
        assert as_(ALICE, db, "SELECT Body FROM Notes WHERE NoteID = 9") == [["new"]]
        server.faults.drop_on_commit = True
        with person_scope(ALICE), pytest.raises(DatabaseUnavailable, match="not committed"):
            db.execute("INSERT INTO Notes VALUES (10, 'alice', 'lost')", (), max_rows=5, timeout=5, write=True)
        server.faults.drop_on_commit = False
        assert as_(ALICE, db, "SELECT NoteID FROM Notes WHERE NoteID = 10") == []
        assert as_(BOB, db, WHO)[0][0] == "bob_db"
    finally:
        db.close()


def test_the_gate_refuses_a_persons_own_execute_as_and_revert() -> None:
    for sql in ("REVERT", "EXECUTE AS USER = 'dbo'", "EXECUTE AS LOGIN = 'sa'; SELECT 1", "SELECT 1; REVERT"):
        for read_only in (True, False):
            with pytest.raises(QueryRefused):
                sqlgate.check(sql, read_only=read_only, allow_ddl=True)


def test_the_template_maps_only_people_from_the_configured_issuer(tmp_path: Path) -> None:
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"ops": "ops_db"}))
    env = {
        "MSSQL_HOST": "127.0.0.1,1",
        "DB_IDENTITY": "impersonate",
        "OIDC_ISSUER": IDP + "/",
        "DB_IDENTITY_MAP_FILE": str(mapping),
    }
    with pytest.raises(ConfigError, match="needs SQL Server"):
        load_settings({"DB_IDENTITY": "impersonate"}, env_file=None)
    people = IdentityMap(load_settings(env, env_file=None))
    upstream = DbIdentity(f"oidc:{IDP}#s1", IDP, "dana@example.com")
    assert people.principal(upstream) == "dana@example.com"
    assert people.principal(identity_of("ops")) == "ops_db"
    with pytest.raises(Unmapped):  # a local account named like a colleague's e-mail is not that colleague
        people.principal(identity_of("dana@example.com"))
    with pytest.raises(Unmapped, match="verified e-mail"):
        people.principal(DbIdentity(f"oidc:{IDP}#s2", IDP, None))
    with pytest.raises(ConfigError, match="DB_IDENTITY_TEMPLATE"):
        IdentityMap(load_settings({**env, "DB_IDENTITY_TEMPLATE": "{name}"}, env_file=None))
    mapping.write_text("[1]")
    with pytest.raises(ConfigError, match="DB_IDENTITY_MAP_FILE"):
        IdentityMap(load_settings(env, env_file=None))
