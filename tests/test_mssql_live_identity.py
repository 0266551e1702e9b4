"""Opt-in: query as yourself against a real SQL Server, where the permissions are SQL Server's own.

    MSSQL_TEST_CONNECTION_STRING="Driver={ODBC Driver 18 for SQL Server};Server=tcp:HOST,1433;Database=SCRATCH;\
UID=owner;PWD=...;Encrypt=yes" .venv/bin/pytest -m live_mssql tests/test_mssql_live_identity.py

The TDS test server's permission model and row filter are our emulation; these tests are the proof on SQL
Server itself (2016 or later, or Azure SQL): impersonation with real GRANT/DENY and metadata visibility, a
row-level-security policy on SESSION_CONTEXT(N'mcp_user'), and dynamic data masking for an impersonated
user. Each test creates its own users WITHOUT LOGIN, tables, predicate function and policy under a random
suffix, and drops them afterwards, so the login needs db_owner on a scratch database; without it, or
without the variable, the tests are skipped with the reason.
"""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mssql_mcp.db.identity import identity_of, person_scope
from mssql_mcp.db.mssql import MssqlDatabase
from mssql_mcp.doctor import run_doctor
from mssql_mcp.errors import QueryError
from mssql_mcp.serialize import json_rows
from mssql_mcp.settings import Settings, load_settings

LIVE = os.environ.get("MSSQL_TEST_CONNECTION_STRING")
pytestmark = [
    pytest.mark.live_mssql,
    pytest.mark.skipif(
        not LIVE,
        reason="MSSQL_TEST_CONNECTION_STRING is not set: no real SQL Server to prove GRANT/DENY, RLS and masking on "
        "(the TDS test server emulates them)",
    ),
]
ALICE, BOB = identity_of("alice"), identity_of("bob")


@dataclass
class Scratch:
    """The objects one test made, by name (all carry the same random suffix)."""

    suffix: str
    alice: str
    bob: str
    conn: Any  # the owner's own connection (autocommit), for setup and teardown
    drops: list[str]

    def run(self, sql: str, drop: str | None = None) -> None:
        self.conn.cursor().execute(sql)
        if drop:
            self.drops.append(drop)

    def name(self, base: str) -> str:
        return f"mcp_live_{base}_{self.suffix}"


@pytest.fixture
def scratch() -> Iterator[Scratch]:
    import pyodbc

    assert LIVE
    conn = pyodbc.connect(LIVE, autocommit=True)
    suffix = secrets.token_hex(4)
    made = Scratch(suffix, f"mcp_live_alice_{suffix}", f"mcp_live_bob_{suffix}", conn, [])
    try:
        made.run(f"CREATE USER [{made.alice}] WITHOUT LOGIN", f"DROP USER IF EXISTS [{made.alice}]")
        made.run(f"CREATE USER [{made.bob}] WITHOUT LOGIN", f"DROP USER IF EXISTS [{made.bob}]")
    except pyodbc.Error as exc:
        _drop(made)
        conn.close()
        pytest.skip(
            f"the login of MSSQL_TEST_CONNECTION_STRING cannot create users ({exc.args[0]}): these tests need "
            "db_owner on a scratch database"
        )
    try:
        yield made
    finally:
        _drop(made)
        conn.close()


def _drop(made: Scratch) -> None:
    for sql in reversed(made.drops):  # the policy before its function, the tables before the users
        try:
            made.conn.cursor().execute(sql)
        except Exception as exc:  # keep dropping the rest; say what was left behind
            print(f"cleanup: {sql} failed: {exc}")


def impersonating(made: Scratch, tmp: Path) -> tuple[MssqlDatabase, Settings]:
    mapping = tmp / "people.json"
    mapping.write_text(json.dumps({"alice": made.alice, "bob": made.bob}))
    assert LIVE
    driver = "FreeTDS" if "freetds" in LIVE.lower() else "ODBC Driver 18 for SQL Server"
    settings = load_settings(
        {
            "MSSQL_HOST": "live",
            "MSSQL_CONNECTION_STRING": LIVE,
            "MSSQL_DRIVER": driver,
            "MSSQL_REFUSE_WRITABLE_LOGIN": "false",  # the owner login that made the objects
            "DB_IDENTITY": "impersonate",
            "DB_IDENTITY_MAP_FILE": str(mapping),
            "DB_WORKERS": "1",
        },
        env_file=None,
    )
    return MssqlDatabase(settings), settings


def as_(person: Any, db: MssqlDatabase, sql: str) -> list[list[object]]:
    with person_scope(person):
        return json_rows(db.execute(sql, (), max_rows=50, timeout=30).rows)


def test_grant_and_deny_decide_per_person_with_their_own_catalog(scratch: Scratch, tmp_path: Path) -> None:
    notes, secret = scratch.name("notes"), scratch.name("secret")
    scratch.run(f"CREATE TABLE dbo.[{notes}] (Id int PRIMARY KEY, Body nvarchar(50))", f"DROP TABLE dbo.[{notes}]")
    scratch.run(f"CREATE TABLE dbo.[{secret}] (Id int PRIMARY KEY, Amount int)", f"DROP TABLE dbo.[{secret}]")
    scratch.run(f"INSERT INTO dbo.[{notes}] VALUES (1, N'hello'); INSERT INTO dbo.[{secret}] VALUES (1, 100)")
    scratch.run(f"GRANT SELECT ON dbo.[{notes}] TO [{scratch.alice}], [{scratch.bob}]")
    scratch.run(f"GRANT SELECT ON dbo.[{secret}] TO [{scratch.alice}]")
    scratch.run(f"DENY SELECT ON dbo.[{secret}] TO [{scratch.bob}]")
    db, settings = impersonating(scratch, tmp_path)
    try:
        assert as_(ALICE, db, "SELECT USER_NAME()") == [[scratch.alice]]
        assert as_(BOB, db, "SELECT USER_NAME()") == [[scratch.bob]]
        assert as_(ALICE, db, f"SELECT Amount FROM dbo.[{secret}]") == [[100]]
        with person_scope(BOB), pytest.raises(QueryError) as refused:
            db.execute(f"SELECT Amount FROM dbo.[{secret}]", (), max_rows=5, timeout=30)
        assert refused.value.number == 229
        assert as_(BOB, db, f"SELECT Body FROM dbo.[{notes}]") == [["hello"]]
        # the catalog is read as each person: SQL Server's metadata visibility hides what bob may not read
        with person_scope(ALICE):
            seen_by_alice = {t.ref.name for t in db.list_tables()}
        with person_scope(BOB):
            seen_by_bob = {t.ref.name for t in db.list_tables()}
        assert {notes, secret} <= seen_by_alice and notes in seen_by_bob and secret not in seen_by_bob
        # after all that, the pooled connection is the service login again
        assert db.execute("SELECT USER_NAME()", (), max_rows=1, timeout=30).rows[0][0] not in (
            scratch.alice,
            scratch.bob,
        )
    finally:
        db.close()
    out = io.StringIO()
    run_doctor(settings, out, as_person="alice")
    assert any(line.startswith("OK") and f"impersonate {scratch.alice}" in line for line in out.getvalue().splitlines())


def test_a_row_level_security_policy_on_session_context(scratch: Scratch, tmp_path: Path) -> None:
    notes, pred, policy = scratch.name("rls_notes"), scratch.name("owner_pred"), scratch.name("owner_policy")
    scratch.run(
        f"CREATE TABLE dbo.[{notes}] (Id int PRIMARY KEY, Owner nvarchar(200) NOT NULL, Body nvarchar(50))",
        f"DROP TABLE IF EXISTS dbo.[{notes}]",
    )
    scratch.run(f"INSERT INTO dbo.[{notes}] VALUES (1, N'alice', N'a1'), (2, N'alice', N'a2'), (3, N'bob', N'b1')")
    scratch.run(f"GRANT SELECT ON dbo.[{notes}] TO [{scratch.alice}], [{scratch.bob}]")
    scratch.run(
        f"CREATE FUNCTION dbo.[{pred}](@Owner nvarchar(200)) RETURNS TABLE WITH SCHEMABINDING AS "
        "RETURN SELECT 1 AS allowed WHERE @Owner = CAST(SESSION_CONTEXT(N'mcp_user') AS nvarchar(200))",
        f"DROP FUNCTION IF EXISTS dbo.[{pred}]",
    )
    scratch.run(
        f"CREATE SECURITY POLICY dbo.[{policy}] ADD FILTER PREDICATE dbo.[{pred}](Owner) ON dbo.[{notes}] "
        "WITH (STATE = ON)",
        f"DROP SECURITY POLICY IF EXISTS dbo.[{policy}]",
    )
    db, _ = impersonating(scratch, tmp_path)
    try:
        assert as_(ALICE, db, f"SELECT Body FROM dbo.[{notes}] ORDER BY Id") == [["a1"], ["a2"]]
        assert as_(BOB, db, f"SELECT Body FROM dbo.[{notes}] ORDER BY Id") == [["b1"]]
        assert as_(ALICE, db, f"SELECT COUNT(*) FROM dbo.[{notes}]") == [[2]]  # the policy, not the gate
    finally:
        db.close()


def test_dynamic_data_masking_for_an_impersonated_user(scratch: Scratch, tmp_path: Path) -> None:
    people = scratch.name("masked")
    scratch.run(
        f"CREATE TABLE dbo.[{people}] (Id int PRIMARY KEY, "
        "Email nvarchar(100) MASKED WITH (FUNCTION = 'email()') NULL)",
        f"DROP TABLE IF EXISTS dbo.[{people}]",
    )
    scratch.run(f"INSERT INTO dbo.[{people}] VALUES (1, N'carol.secret@example.com')")
    scratch.run(f"GRANT SELECT ON dbo.[{people}] TO [{scratch.alice}], [{scratch.bob}]")
    scratch.run(f"GRANT UNMASK TO [{scratch.alice}]", f"REVOKE UNMASK FROM [{scratch.alice}]")
    db, _ = impersonating(scratch, tmp_path)
    try:
        assert as_(ALICE, db, f"SELECT Email FROM dbo.[{people}]") == [["carol.secret@example.com"]]
        masked = as_(BOB, db, f"SELECT Email FROM dbo.[{people}]")[0][0]
        assert isinstance(masked, str) and "secret" not in masked and "XXX" in masked, masked
    finally:
        db.close()
