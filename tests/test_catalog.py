"""Table-name resolution: every way a model writes a name maps to one catalog entry, or a clear error."""

from __future__ import annotations

import pytest

from mssql_mcp.catalog import Catalog, split_name
from mssql_mcp.db.base import TableInfo, TableRef
from mssql_mcp.errors import InvalidArgument, UnknownTable

CATALOG = Catalog(
    [
        TableInfo(TableRef("dbo", "Customers"), "TABLE", 10),
        TableInfo(TableRef("dbo", "Orders"), "TABLE", 20),
        TableInfo(TableRef("sales", "Orders"), "TABLE", 5),
        TableInfo(TableRef("sales", "Order Details"), "TABLE", 7),
        TableInfo(TableRef("hr", "Staff"), "VIEW", None),
        TableInfo(TableRef("hr", "Odd]Name"), "TABLE", 1),
    ]
)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Customers", ["Customers"]),
        ("dbo.Customers", ["dbo", "Customers"]),
        ("[dbo].[Customers]", ["dbo", "Customers"]),
        ('"sales"."Order Details"', ["sales", "Order Details"]),
        ("[sales].[Order Details]", ["sales", "Order Details"]),
        ("[hr].[Odd]]Name]", ["hr", "Odd]Name"]),
        ("db.dbo.Customers", ["db", "dbo", "Customers"]),
        ("  dbo . Customers ", ["dbo", "Customers"]),
    ],
)
def test_split_name(text: str, parts: list[str]) -> None:
    assert split_name(text) == parts


@pytest.mark.parametrize("text", ["[dbo.Customers", "a..b", ".x", "a.b.c.d", "dbo."])
def test_split_name_refuses_malformed(text: str) -> None:
    with pytest.raises(InvalidArgument):
        split_name(text)


@pytest.mark.parametrize(
    ("text", "qualified"),
    [
        ("Customers", "dbo.Customers"),
        ("customers", "dbo.Customers"),
        ("[dbo].[Customers]", "dbo.Customers"),
        ("Orders", "dbo.Orders"),  # ambiguous by name, but dbo wins as in SQL Server's default schema
        ("sales.orders", "sales.Orders"),
        ("[sales].[Order Details]", "sales.Order Details"),
        ("Staff", "hr.Staff"),
        ("[hr].[Odd]]Name]", "hr.Odd]Name"),
        ("mydb.sales.Orders", "sales.Orders"),
    ],
)
def test_resolve(text: str, qualified: str) -> None:
    assert CATALOG.resolve(text).ref.qualified == qualified


def test_unknown_table_suggests_close_names() -> None:
    with pytest.raises(UnknownTable) as info:
        CATALOG.resolve("Custmers")
    assert info.value.suggestions == ["dbo.Customers"]
    assert "Did you mean: dbo.Customers?" in info.value.message


def test_unknown_schema_is_unknown_not_guessed() -> None:
    with pytest.raises(UnknownTable):
        CATALOG.resolve("hr.Customers")


def test_injection_text_is_just_an_unknown_name() -> None:
    with pytest.raises(UnknownTable) as info:
        CATALOG.resolve("Customers; DROP TABLE Customers--")
    assert "Unknown table" in info.value.message


def test_ambiguous_without_dbo_asks_for_a_schema() -> None:
    catalog = Catalog([TableInfo(TableRef("a", "T"), "TABLE", 1), TableInfo(TableRef("b", "T"), "TABLE", 1)])
    with pytest.raises(InvalidArgument, match="ambiguous.*a.T, b.T"):
        catalog.resolve("T")
