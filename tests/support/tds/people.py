"""Two people's data on the TDS test server: notes filtered by owner (a row filter on SESSION_CONTEXT
mcp_user) and salaries only alice's database user may read. Used by the impersonation tests."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.oauth_flow import Account
from tests.support.tds.fixtures import DESCRIPTIONS, make_fixture_db
from tests.support.tds.server import TdsServer

# Database users and the tables each may read (tests/support/tds/security.py).
PRINCIPALS = {"alice_db": {"notes", "salaries", "customers"}, "bob_db": {"notes", "customers"}}
ROW_FILTER = ("Notes", "Owner", "mcp_user")
MAPPING = {"alice": "alice_db", "bob": "bob_db", "ghost": "no_such_user"}
# Their local password accounts on the MCP server (MAPPING's keys).
ALICE = Account("alice", "correct horse battery staple")
BOB = Account("bob", "another horse battery staple")
CAROL = Account("carol", "a third horse battery staple")


def make_people_db(path: Path) -> Path:
    make_fixture_db(path)
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE Notes (NoteID INT PRIMARY KEY, Owner NVARCHAR(100) NOT NULL, Body NVARCHAR(100));"
        "INSERT INTO Notes VALUES (1, 'alice', 'a1'), (2, 'alice', 'a2'), (3, 'bob', 'b1');"
        "CREATE TABLE Salaries (Person NVARCHAR(100) PRIMARY KEY, Amount INT);"
        "INSERT INTO Salaries VALUES ('alice', 100), ('bob', 90);"
    )
    db.commit()
    db.close()
    return path


def write_mapping(path: Path) -> Path:
    path.write_text(json.dumps(MAPPING))
    return path


@pytest.fixture(scope="module", name="tds")
def people_tds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TdsServer]:
    """A module's TDS server on the people database, with the principals, the row filter and descriptions."""
    tmp = tmp_path_factory.mktemp("tds-people")
    path = make_people_db(tmp / "people.sqlite")
    with TdsServer(
        path, tmp / "tds", descriptions=DESCRIPTIONS, principals=PRINCIPALS, row_filter=ROW_FILTER
    ).running() as server:
        yield server
