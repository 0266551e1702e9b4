"""Two people's data on the TDS test server: notes filtered by owner (a row filter on SESSION_CONTEXT
mcp_user) and salaries only alice's database user may read. Used by the impersonation tests."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.support.tds.fixtures import make_fixture_db

# Database users and the tables each may read (tests/support/tds/security.py).
PRINCIPALS = {"alice_db": {"notes", "salaries", "customers"}, "bob_db": {"notes", "customers"}}
ROW_FILTER = ("Notes", "Owner", "mcp_user")
MAPPING = {"alice": "alice_db", "bob": "bob_db", "ghost": "no_such_user"}


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
