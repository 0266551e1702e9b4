"""The pure parts of the ChatGPT face: the search grammar, the id format, LIKE escaping. Cases as data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mssql_mcp import sqlgate
from mssql_mcp.errors import InvalidArgument
from mssql_mcp.faces.chatgpt import ids
from mssql_mcp.faces.chatgpt.keyword_search import like_pattern
from mssql_mcp.faces.chatgpt.search_grammar import Describe, Keywords, ListTables, Sample, Sql, parse

GRAMMAR = [
    ("list tables", ListTables()),
    ("  LIST TABLES; ", ListTables()),
    ("show tables", ListTables()),
    ("tables", ListTables()),
    ("describe dbo.Customers", Describe("dbo.Customers")),
    ("DESC [sales].[Order Details]", Describe("[sales].[Order Details]")),
    ("describe Customers;", Describe("Customers")),
    ("sample dbo.Orders limit 5", Sample("dbo.Orders", 5)),
    ("Sample Orders LIMIT 25;", Sample("Orders", 25)),
    ("sample [dbo].[Order Details]", Sample("[dbo].[Order Details]", 10)),
    ("SELECT TOP 5 * FROM dbo.Orders", Sql("SELECT TOP 5 * FROM dbo.Orders")),
    ("select\n1", Sql("select\n1")),
    ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", Sql("WITH x AS (SELECT 1 AS a) SELECT a FROM x")),
    ("sql: describe", Sql("describe")),
    # write verbs are SQL, so the gate refuses them with its reason instead of searching the words
    ("DELETE FROM dbo.Customers", Sql("DELETE FROM dbo.Customers")),
    ("drop table x", Sql("drop table x")),
    ("EXEC sp_who", Sql("EXEC sp_who")),
    ("update", Keywords(("update",))),  # one word: a keyword, not a statement
    ("Zürich Alpine", Keywords(("Zürich", "Alpine"))),
    ('"Zürich Alpine" outfitters', Keywords(("Zürich Alpine", "outfitters"))),
    ("O'Brien", Keywords(("O'Brien",))),
    ("ship ship SHIP", Keywords(("ship",))),
    ("selected customers", Keywords(("selected", "customers"))),
]


@pytest.mark.parametrize(("query", "expected"), GRAMMAR)
def test_grammar(query: str, expected: object) -> None:
    assert parse(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "query is empty"),
        ("   ", "query is empty"),
        ("sample Orders limit x", "whole number"),
        ("describe ;", "Name a table"),
        ('""', "no keywords"),
        ("x" * 9000, "too long"),
    ],
)
def test_grammar_errors(query: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse(query)


ROUND_TRIPS = [
    ("catalog:tables", ids.CatalogId()),
    ("table:dbo.Orders", ids.TableId("dbo.Orders")),
    ("table:[sales].[Order Details]", ids.TableId("sales.[Order Details]")),
    ("table:dbo.Città", ids.TableId("dbo.Città")),
    ("column:dbo.Customers:CompanyName", ids.ColumnId("dbo.Customers", "CompanyName")),
    ("column:dbo.X:[we]]ird:name]", ids.ColumnId("dbo.X", "we]ird:name")),
    ("row:dbo.Orders:OrderID=10248", ids.RowId("dbo.Orders", (("OrderID", 10248),))),
    ("row:dbo.OrderLines:OrderID=1,LineNumber=2", ids.RowId("dbo.OrderLines", (("OrderID", 1), ("LineNumber", 2)))),
    ("row:dbo.Customers:Code='O''Brien, Ltd: =x'", ids.RowId("dbo.Customers", (("Code", "O'Brien, Ltd: =x"),))),
    ("row:dbo.T:a=-3.50,b=0x0AFF", ids.RowId("dbo.T", (("a", Decimal("-3.50")), ("b", b"\x0a\xff")))),
    ("sample:dbo.Orders:10", ids.SampleId("dbo.Orders", 10)),
]


@pytest.mark.parametrize(("text", "rid"), ROUND_TRIPS)
def test_ids_parse_and_format(text: str, rid: ids.RecordId) -> None:
    assert ids.parse_id(text) == rid
    assert ids.parse_id(ids.format_id(rid)) == rid


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tables",
        "nope:x",
        "table:Orders",
        "table:a.b.c",
        "table:dbo.Orders extra",
        "table:dbo.[Orders",
        "row:dbo.Orders",
        "row:dbo.Orders:",
        "row:dbo.Orders:OrderID",
        "row:dbo.Orders:OrderID=",
        "row:dbo.Orders:OrderID=x",
        "row:dbo.Orders:OrderID=1,OrderID=2",
        "row:dbo.Orders:OrderID='1",
        "row:dbo.Orders:OrderID=1 --",
        "sample:dbo.Orders",
        "sample:dbo.Orders:-1",
        "sample:dbo.Orders:1e3",
        "column:dbo.Orders:",
        "catalog:x",
        "query:",
        "query:0123456789abcdef:!!!",
        "query:0123456789abcdef:" + "A" * 40,
        "table:" + "a" * 20_000,
    ],
)
def test_malformed_ids_are_refused(text: str) -> None:
    with pytest.raises(ids.BadId, match="Invalid id"):
        ids.parse_id(text)


def test_query_ids_carry_their_sql_and_check_it() -> None:
    sql = "SELECT N'Zürich' AS city, 'it''s' AS quote"
    text = ids.format_id(ids.query_id(sql))
    assert text.startswith(f"query:{ids.query_digest(sql)}:") and ids.parse_id(text) == ids.QueryId(sql)
    kind, digest, payload = text.split(":")
    other = ids.format_id(ids.QueryId("SELECT 2")).split(":")[2]
    with pytest.raises(ids.BadId, match="digest does not match"):
        ids.parse_id(f"{kind}:{digest}:{other}")
    with pytest.raises(InvalidArgument, match="too long to cite"):
        ids.query_id("SELECT '" + "x" * ids.MAX_QUERY_SQL + "'")


NAMES = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20).filter(lambda s: s == s.strip())
VALUES = st.one_of(
    st.integers(-(2**63), 2**63),
    st.text(max_size=30),
    st.binary(max_size=16),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9),
)


@settings(max_examples=300, database=None, deadline=None)
@given(
    schema=NAMES,
    table=NAMES,
    key=st.lists(st.tuples(NAMES, VALUES), min_size=1, max_size=3, unique_by=lambda kv: kv[0].lower()),
)
def test_any_row_id_round_trips(schema: str, table: str, key: list[tuple[str, ids.KeyValue]]) -> None:
    rid = ids.RowId(ids.TableName(schema, table), tuple(key))
    back = ids.parse_id(ids.format_id(rid))
    assert isinstance(back, ids.RowId) and back.table == rid.table
    assert [c for c, _ in back.key] == [c for c, _ in key]
    assert [v for _, v in back.key] == [v for _, v in key]  # Decimal(100) == 100: same value


@pytest.mark.parametrize(
    ("term", "pattern"),
    [("abc", "%abc%"), ("50%", "%50\\%%"), ("a_b", "%a\\_b%"), ("[x]", "%\\[x]%"), ("c:\\", "%c:\\\\%")],
)
def test_like_patterns_match_the_term_literally(term: str, pattern: str) -> None:
    assert like_pattern(term) == pattern


def test_keyword_sql_passes_the_read_only_gate() -> None:
    from mssql_mcp.db.base import ColumnInfo, TableInfo, TableRef
    from mssql_mcp.faces.chatgpt.keyword_search import literal_sql

    table = TableInfo(TableRef("dbo", "Odd]Name"), "VIEW", None)
    sql = literal_sql(table, [ColumnInfo("Na]me", "NVARCHAR(10)", True)], ("O'Brien", "100%"), 50)
    assert "[dbo].[Odd]]Name]" in sql and "N'%O''Brien%'" in sql and "N'%100\\%%'" in sql
    assert sqlgate.check(sql, read_only=True).kind == "read"
