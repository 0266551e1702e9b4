"""A generated ERP-like SQLite database with thousands of tables of 10 to 20 columns each.

Names are deterministic (module + noun + qualifier + number, in CamelCase or with underscores), so a test can
predict them; the few tables the schema search tests look for are added by name.

SQLite rescans its whole schema table for each CREATE TABLE, so 20,000 of them take minutes. The generated
tables are empty and only ever read, so they are written straight into sqlite_schema (writable_schema), all
sharing the first one's empty b-tree: the file opens, lists, describes and counts like the slow way's.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
from pathlib import Path

import pytest

MODULES = ["Sales", "Fin", "Inv", "Hr", "Prod", "Purch", "Crm", "Wms", "Qa", "Mnt"]
NOUNS = ["Account", "Batch", "Budget", "Contract", "Ledger", "Item", "Journal", "Shipment", "Vendor", "Asset"]
QUALIFIERS = ["Detail", "History", "Staging", "Map", "Audit", "Snapshot", "Queue", "Line"]
COLUMN_WORDS = ["Code", "Name", "Amount", "Date", "Status", "Qty", "Note", "Ref", "Flag", "Rate", "Owner"]
TYPES = ["INT", "NVARCHAR(40)", "DECIMAL(12,2)", "DATETIME2", "BIT"]

# The look-alikes the search tests rank, and the table only a column's description names.
PLANTED = """
CREATE TABLE CustomerOrderLines (CustomerOrderLineID INT PRIMARY KEY, OrderID INT, LineAmount DECIMAL(12,2));
CREATE TABLE CustomerOrderLinesArchive (ArchiveID INT PRIMARY KEY, CustomerOrderLineID INT, ArchivedAt DATETIME2);
CREATE TABLE Customer_Orders (OrderID INT PRIMARY KEY, CustomerID INT, OrderDate DATETIME2);
CREATE TABLE OrderLineStatus (StatusCode NVARCHAR(10) PRIMARY KEY, Label NVARCHAR(40));
CREATE TABLE FinPeriodTotals (PeriodID INT PRIMARY KEY, Amt1 DECIMAL(12,2), Amt2 DECIMAL(12,2));
"""
# MS_Description text for the TDS server: "revenue" appears nowhere else in the schema.
DESCRIPTIONS: dict[tuple[str, str | None], str] = {
    ("FinPeriodTotals", "Amt1"): "Net revenue booked in the period, in CHF"
}


def table_names(count: int) -> list[str]:
    names = []
    for i in range(count):
        m, n, q = MODULES[i % 10], NOUNS[(i // 10) % 10], QUALIFIERS[(i // 100) % 8]
        names.append(f"{m}{n}{q}{i:05d}" if i % 3 else f"{m.lower()}_{n.lower()}_{q.lower()}_{i:05d}")
    return names


def make_big_db(path: Path, count: int = 20_000, seed: int = 16) -> Path:
    rng = random.Random(seed)
    statements = []
    for name in table_names(count):
        columns = [f"{name}ID INTEGER PRIMARY KEY"]
        for j in range(rng.randint(9, 19)):
            columns.append(f"{rng.choice(COLUMN_WORDS)}{j} {rng.choice(TYPES)}")
        statements.append((name, f"CREATE TABLE {name} ({', '.join(columns)})"))
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.executescript(PLANTED)
        db.execute(statements[0][1])
        (root,) = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", (statements[0][0],)).fetchone()
        db.execute("PRAGMA writable_schema = ON")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES ('table', ?, ?, ?, ?)",
            [(name, name, root, sql) for name, sql in statements[1:]],
        )
        db.execute("COMMIT")
        db.execute("PRAGMA writable_schema = OFF")
    finally:
        db.close()
    return path


@pytest.fixture(scope="session")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 generated tables plus the planted ones, built once per test session."""
    return make_big_db(tmp_path_factory.mktemp("big-schema") / "big.sqlite")


def all_table_names(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
