"""The demo generator, and lossless JSON for every value type (unit level and through the real server)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mssql_mcp.db.base import TableRef
from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.demo import KNOWN_CUSTOMER, ensure_demo, generate
from mssql_mcp.errors import InvalidArgument
from mssql_mcp.serialize import DECIMAL_DIGITS, json_rows, json_value, render_table
from tests.support.mcp_client import connect, structured
from tests.support.procs import ServerProcess


def dump_digest(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        digest = hashlib.sha256()
        for line in con.iterdump():
            digest.update(line.encode())
        return digest.hexdigest()
    finally:
        con.close()


def test_demo_is_deterministic_and_realistic(demo_db: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.sqlite"
    counts = generate(again, scale=1)
    assert dump_digest(again) == dump_digest(demo_db)  # same seed, same data, byte for byte in SQL form
    assert len(counts) >= 8 and 90_000 <= counts["OrderLines"] <= 110_000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # written atomically

    db = SqliteDatabase(demo_db, read_only=True)
    try:
        tables = {t.ref.name: t for t in db.list_tables()}
        assert {
            "Customers",
            "Products",
            "Categories",
            "Suppliers",
            "Employees",
            "Orders",
            "OrderLines",
            "Shippers",
        } <= set(tables)
        assert tables["SalesByCategory"].type == "VIEW"
        lines = db.describe_table(TableRef("dbo", "OrderLines"))
        assert [c.name for c in lines.columns if c.primary_key] == ["OrderID", "LineNumber"]
        assert {fk.references.name for fk in lines.foreign_keys} == {"Orders", "Products"}
        types = {c.name: c.type for c in lines.columns}
        assert types["UnitPrice"] == "decimal(10,2)"  # spelled as SQL Server does
        con = sqlite3.connect(demo_db)
        try:
            assert con.execute("SELECT count(*) FROM Customers WHERE Email IS NULL").fetchone()[0] > 0
            assert con.execute("SELECT count(*) FROM Orders WHERE ShippedDate IS NULL").fetchone()[0] > 0
            assert con.execute("SELECT CompanyName, City FROM Customers WHERE CustomerID = 1").fetchone() == (
                KNOWN_CUSTOMER,
                "Zürich",
            )
            assert con.execute("SELECT count(*) FROM Customers WHERE City = 'Łódź'").fetchone()[0] > 0
            orphans = con.execute(
                "SELECT count(*) FROM OrderLines l LEFT JOIN Orders o USING (OrderID) WHERE o.OrderID IS NULL"
            ).fetchone()[0]
            assert orphans == 0
        finally:
            con.close()
    finally:
        db.close()


def test_demo_scale_bounds_and_existing_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="between 1 and 10"):
        generate(tmp_path / "x.sqlite", scale=11)
    mine = tmp_path / "mine.sqlite"
    mine.write_bytes(b"")
    assert ensure_demo(mine) is False and mine.read_bytes() == b""  # an existing file is served as it is
    with pytest.raises(InvalidArgument, match="exists"):
        generate(mine)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (42, 42),
        (2**53, str(2**53)),
        (-(2**63), str(-(2**63))),
        (1.5, 1.5),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        # DECIMAL/NUMERIC/MONEY: a number up to 15 significant digits (a double reproduces it), else exact text
        (Decimal("1234.50"), 1234.5),
        (Decimal("25.0000"), 25),
        (Decimal("-0.00"), 0),
        (Decimal("0.000000000000000000000001"), 1e-24),
        (Decimal("999999999999999"), 999999999999999),
        (Decimal("99999999999999.99"), "99999999999999.99"),
        (Decimal("1234567890123456789.5"), "1234567890123456789.5"),
        (Decimal("12345678901234567890"), "12345678901234567890"),
        (Decimal("NaN"), "NaN"),
        (dt.datetime(2024, 5, 1, 13, 45, 0, 123000), "2024-05-01T13:45:00.123000"),
        (dt.datetime(2024, 5, 1, 13, 45, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "2024-05-01T13:45:00-05:00"),
        (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.time(23, 59, 59, 999999), "23:59:59.999999"),
        (dt.timedelta(minutes=1, microseconds=5), 60.000005),
        (b"\x00\xffbin", {"base64": base64.b64encode(b"\x00\xffbin").decode()}),
        (uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff"), "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
        ("Grüße", "Grüße"),
    ],
)
def test_json_value_is_lossless(value: object, expected: object) -> None:
    out = json_value(value)
    assert out == expected
    assert json.loads(json.dumps(out, allow_nan=False)) == expected  # strict JSON, no NaN literals


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_a_decimal_is_a_json_number_exactly_when_a_double_reproduces_it(value: Decimal) -> None:
    out = json_value(value)
    significant = len(value.normalize().as_tuple().digits) if value else 0
    if isinstance(out, str):  # only past 15 significant digits (or a double's range): the exact text
        assert Decimal(out) == value and (significant > DECIMAL_DIGITS or abs(value.adjusted()) > 307)
    else:  # the number's JSON text reads back as the same value
        assert isinstance(out, int | float) and Decimal(json.dumps(out)) == value


def test_json_rows_gives_each_cell_its_json_value() -> None:
    row = (None, True, 7, 2**53, -(2**53) + 1, 1.5, float("inf"), Decimal("12.50"), Decimal("1" * 20), "x", b"\x01")
    assert json_rows([row]) == [[json_value(v) for v in row]]
    assert [type(v) for v in json_rows([row])[0][:5]] == [type(None), bool, int, str, int]


def test_rendered_table_escapes_and_cuts_cells() -> None:
    rows = json_rows([("a|b", None, b"\x01\x02", "x" * 100, "line\nbreak")])
    text = render_table(["c1", "c2", "c3", "c4", "c5"], rows)
    header, rule, body = text.splitlines()
    assert header == "| c1 | c2 | c3 | c4 | c5 |" and rule == "|---|---|---|---|---|"
    assert "a\\|b" in body and "NULL" in body and "0x0102" in body and "line break" in body
    assert "x" * 100 not in body and "…" in body


@pytest.mark.anyio
async def test_every_demo_type_arrives_as_lossless_json(dev_server: ServerProcess, demo_db: Path) -> None:
    sql = (
        "SELECT TOP 1 p.UnitPrice, p.Discontinued, c.CustomerGuid, c.CreatedAt, o.Freight, o.ShippedDate, "
        "e.Photo, e.HireDate, c.Region FROM Products p, Customers c, Orders o, Employees e "
        "WHERE p.ProductID = 1 AND c.CustomerID = 1 AND o.ShippedDate IS NULL AND e.Photo IS NOT NULL "
        "ORDER BY o.OrderID, e.EmployeeID"
    )
    async with connect(dev_server.base_url) as client:
        data = structured(await client.call_tool("execute_sql", {"query": sql}))
    row = dict(zip(data["columns"], data["rows"][0], strict=True))
    con = sqlite3.connect(demo_db)
    try:
        price, guid, created = con.execute(
            "SELECT CAST(UnitPrice AS TEXT), CustomerGuid, CreatedAt FROM Products, "
            "Customers WHERE ProductID = 1 AND CustomerID = 1"
        ).fetchone()
        photo = con.execute("SELECT Photo FROM Employees WHERE Photo IS NOT NULL ORDER BY EmployeeID").fetchone()[0]
    finally:
        con.close()
    # DECIMAL(10,2) and MONEY: numbers (at most 15 significant digits), the same value as the stored text
    assert isinstance(row["UnitPrice"], int | float) and Decimal(repr(row["UnitPrice"])) == Decimal(price)
    assert isinstance(row["Freight"], int | float) and row["Freight"] >= 0
    assert row["Discontinued"] in (True, False)  # BIT: a boolean
    assert row["CustomerGuid"] == str(uuid.UUID(guid)).upper()  # SQL Server prints GUIDs in upper case
    assert row["CreatedAt"] == created and row["ShippedDate"] is None and row["Region"] is None
    assert row["Photo"] == {"base64": base64.b64encode(photo).decode()}
    assert dt.date.fromisoformat(row["HireDate"])
