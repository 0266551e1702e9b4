"""The session context that names the person, through the real drivers to the TDS test server.

Every key is overwritten before every query on the connection the query uses, unless that connection
already holds exactly this person's keys (set by their previous call: a person's own SQL cannot set one,
since the gate refuses EXEC); a connection whose keys could not be set is discarded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from mssql_mcp import sqlgate
from mssql_mcp.db.identity import (
    LOCAL_ISSUER,
    MAX_VALUE_BYTES,
    DbIdentity,
    groups_value,
    identity_of,
    person_scope,
    session_values,
)
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.errors import DatabaseUnavailable, QueryRefused
from mssql_mcp.serialize import json_rows
from mssql_mcp.settings import load_settings
from tests.support.tds import TdsServer
from tests.support.tds import fixtures as tds_fixtures
from tests.support.tds.fixtures import DriverCase, backend_env

case, fixture_db, server = tds_fixtures.case, tds_fixtures.fixture_db, tds_fixtures.server

ALICE = DbIdentity("oidc:https://idp.example.com#alice-sub", "https://idp.example.com", "alice@example.com", ("hr",))
BOB = identity_of("bob")  # a local password account: no e-mail, no groups
WHO = (
    "SELECT SESSION_CONTEXT(N'mcp_user') AS u, SESSION_CONTEXT(N'mcp_email') AS e, "
    "SESSION_CONTEXT(N'mcp_groups') AS g, SESSION_CONTEXT(N'mcp_groups_truncated') AS t, "
    "SESSION_CONTEXT(N'mcp_issuer') AS i, @@SPID AS spid"
)


@pytest.fixture
def db(server: TdsServer, case: DriverCase) -> Iterator[MssqlDatabase]:
    database = MssqlDatabase(load_settings(backend_env(server, case, DB_WORKERS="1"), env_file=None))
    yield database
    database.close()


def who(db: MssqlDatabase) -> list[object]:
    return json_rows(db.execute(WHO, (), max_rows=5, timeout=5).rows)[0]


def test_each_request_sees_only_its_own_keys_on_the_same_connection(db: MssqlDatabase) -> None:
    with person_scope(ALICE):
        alice = who(db)
    with person_scope(BOB):
        bob = who(db)
    nobody = who(db)
    assert alice[:5] == [ALICE.key, "alice@example.com", '["hr"]', None, "https://idp.example.com"]
    # Bob lacks an e-mail: alice's is gone, not left over, on the very same connection.
    assert bob[:5] == ["bob", None, "[]", None, LOCAL_ISSUER]
    assert nobody[:5] == [None, None, None, None, None]
    assert alice[5] == bob[5] == nobody[5]  # one connection served all three


def test_interleaved_people_never_see_each_others_keys(db: MssqlDatabase) -> None:
    for i in range(6):
        person = (ALICE, BOB)[i % 2]
        with person_scope(person):
            assert who(db)[0] == person.key


def _context_batches(server: TdsServer, since: int) -> int:
    return sum(e.kind == "batch" and "sp_set_session_context" in e.detail for e in server.events[since:])


def test_a_connection_holding_the_persons_keys_skips_the_round_trip(db: MssqlDatabase, server: TdsServer) -> None:
    """Alice twice: her keys are set once. Bob in between: set again, and Alice's are set anew after him."""
    sets = []
    for person in (ALICE, ALICE, BOB, ALICE, None, None):
        before = len(server.events)
        with person_scope(person):
            seen = who(db)
        assert seen[0] == (person.key if person else None)
        assert seen[1] == (person.email if person else None)
        sets.append(_context_batches(server, before))
    assert sets == [1, 0, 1, 1, 1, 0]


def test_a_persons_sql_cannot_set_a_key() -> None:
    for sql in (
        "EXEC sp_set_session_context @key = N'mcp_user', @value = N'someone-else'",
        "EXECUTE sys.sp_set_session_context N'mcp_user', N'x', 0",
        "SELECT 1; EXEC sp_set_session_context N'mcp_user', N'x'",
    ):
        for read_only in (True, False):
            with pytest.raises(QueryRefused):
                sqlgate.check(sql, read_only=read_only, allow_ddl=True)


def test_a_connection_whose_keys_could_not_be_set_is_discarded(db: MssqlDatabase, server: TdsServer) -> None:
    server.faults.add("sp_set_session_context", error=15664, error_text="Cannot set key.", times=1)
    with person_scope(BOB), pytest.raises(DatabaseUnavailable, match="session context"):
        db.execute("SELECT 42 AS never_ran", (), max_rows=5, timeout=5)
    assert not any("never_ran" in e.detail for e in server.events if e.kind == "statement")
    failed = [e.spid for e in server.events if e.kind == "statement" and "sp_set_session_context" in e.detail][-1]
    assert db.pool.discarded == 1
    with person_scope(BOB):
        after = who(db)
    assert after[0] == "bob" and after[5] != failed  # another connection, with bob's keys


def test_groups_past_8000_bytes_keep_only_the_listed_ones() -> None:
    groups = tuple(f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(300))  # Entra group ids
    keep = (groups[7], groups[250], "not-a-member")
    text, truncated = groups_value(groups, keep)
    assert truncated and json.loads(text) == [groups[7], groups[250]]
    small, cut = groups_value(groups[:10], keep)
    assert not cut and json.loads(small) == list(groups[:10])
    values = dict(session_values(DbIdentity("k", "iss", None, groups), keep))
    assert values["mcp_groups_truncated"] == "1"
    for value in values.values():
        assert value is None or len(value.encode("utf-16-le")) <= MAX_VALUE_BYTES


def test_a_persons_issuer_comes_from_their_key() -> None:
    assert identity_of("oidc:https://login.example.com/t/v2.0#abc").issuer == "https://login.example.com/t/v2.0"
    assert identity_of("carol").issuer == LOCAL_ISSUER and identity_of("carol").is_local


def test_values_are_literals_that_cannot_break_out(db: MssqlDatabase, server: TdsServer) -> None:
    odd = DbIdentity("o'brien'; EXEC x --", LOCAL_ISSUER, "o'b@example.com", ("a'b", "Zürich 👋"))
    with person_scope(odd):
        got = who(db)
    assert got[:3] == [odd.key, odd.email, json.dumps(list(odd.groups), ensure_ascii=False)]
    # One plain batch per query names the person: no parameters for the driver to describe first.
    batches = [e.detail for e in server.events if e.kind == "batch" and "sp_set_session_context" in e.detail]
    assert batches and not [e for e in server.events if e.kind == "rpc" and "describe" in e.detail]
