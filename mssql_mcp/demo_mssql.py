"""The demo database as a T-SQL script for a real SQL Server (`mssql-mcp demo --mssql FILE`).

The same schema and the same seeded rows as the SQLite demo (`demo.py`), so the T-SQL corpus
(tests/tsql_corpus/) can run on both backends and their answers be compared where a SQL Server exists.
Run it with `sqlcmd -S HOST -d DATABASE -i FILE` in an empty database: batches end with GO, and each INSERT
carries at most 1,000 rows (the limit of a VALUES list:
https://learn.microsoft.com/sql/t-sql/queries/table-value-constructor-transact-sql).

Constraints get the names the embedded database shows in describe_table (PK_<table>, UQ_<table>_<column>).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

from mssql_mcp.demo import MAX_SCALE, SCHEMA, SEED, table_rows
from mssql_mcp.errors import InvalidArgument

_ROWS_PER_INSERT = 1000
_PRIMARY_KEY = re.compile(r"^\s*(\w+)\s+(\w+)\s+PRIMARY KEY", re.MULTILINE)


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, bytes):
        return "0x" + value.hex().upper()
    return "N'" + str(value).replace("'", "''") + "'"


def _schema() -> Iterator[str]:
    """SQLite's CREATE statements as T-SQL batches, with SQL Server constraint names."""
    for statement in (s.strip() for s in SCHEMA.split(";")):
        if not statement:
            continue
        statement = statement.replace('"NVARCHAR(MAX)"', "NVARCHAR(MAX)").replace('"VARBINARY(MAX)"', "VARBINARY(MAX)")
        statement = re.sub(r"\s*--[^\n]*", "", statement)
        table = re.match(r"CREATE TABLE (\w+)", statement)
        if table:
            statement = _named_constraints(table.group(1), statement)
        yield statement


def _named_constraints(name: str, statement: str) -> str:
    def key(m: re.Match[str]) -> str:
        return f"    {m.group(1)} {m.group(2)} CONSTRAINT PK_{name} PRIMARY KEY"

    def unique(m: re.Match[str]) -> str:
        return f"{m.group(1)}{m.group(2)}{m.group(3)}NOT NULL CONSTRAINT UQ_{name}_{m.group(2)} UNIQUE"

    statement = _PRIMARY_KEY.sub(key, statement)
    statement = statement.replace("    PRIMARY KEY (", f"    CONSTRAINT PK_{name} PRIMARY KEY (")
    return re.sub(r"^(\s*)(\w+)(\s+.*?)NOT NULL UNIQUE", unique, statement, flags=re.MULTILINE)


def script(scale: int = 1) -> Iterator[str]:
    """The script's batches, each ending with GO."""
    if not 1 <= scale <= MAX_SCALE:
        raise InvalidArgument(f"scale must be between 1 and {MAX_SCALE} (got {scale}).")
    yield "SET NOCOUNT ON;\nGO\n"
    for statement in _schema():
        yield f"{statement};\nGO\n"
    for table, rows in table_rows(random.Random(SEED + scale), scale):
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            values = ",\n".join(
                "(" + ", ".join(map(_literal, row)) + ")" for row in rows[start : start + _ROWS_PER_INSERT]
            )
            yield f"INSERT INTO {table} VALUES\n{values};\nGO\n"


def write_script(path: Path, scale: int = 1) -> int:
    """Write the script to `path`; returns the number of batches."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as out:
        out.write("-- The mssql-mcp demo database (the embedded demo's schema and rows), for SQL Server.\n")
        for batch in script(scale):
            out.write(batch)
            count += 1
    return count
