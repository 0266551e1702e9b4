"""T-SQL on the embedded database: each rewrite is checked by running it on SQLite and comparing the value
T-SQL defines, not the text of the translation."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot

from mssql_mcp import sqlgate
from mssql_mcp.db.base import TableRef
from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.db.tsql_sqlite import Schema, translate
from mssql_mcp.errors import TranslationError


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteDatabase]:
    path = tmp_path_factory.mktemp("tsql") / "t.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript(
            """
            CREATE TABLE People (ID INT PRIMARY KEY, First NVARCHAR(20), Last NVARCHAR(20), Age INT,
                                 Born DATETIME2, Score DECIMAL(6,2));
            INSERT INTO People VALUES (1, 'Zoë', 'Ólafsdóttir', 41, '1983-11-05 14:30:00', 12.50),
                                      (2, 'Łukasz', NULL, 29, '1995-02-28 08:00:00', 7.25);
            """
        )
    con.close()
    database = SqliteDatabase(path, read_only=True)
    yield database
    database.close()


def value(db: SqliteDatabase, sql: str) -> object:
    return db.execute(sql, max_rows=10, timeout=5).rows[0][0]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT N'Grüße'", "Grüße"),
        ("SELECT First + N' ' + Last FROM People WHERE ID = 1", "Zoë Ólafsdóttir"),
        ("SELECT 'Age: ' + CAST(Age AS NVARCHAR(5)) FROM People WHERE ID = 1", "Age: 41"),
        ("SELECT Age + 1 FROM People WHERE ID = 1", 42),  # numbers still add
        ("SELECT LEFT(Last, 3) FROM People WHERE ID = 1", "Óla"),
        ("SELECT RIGHT(First, 2) FROM People WHERE ID = 2", "sz"),
        ("SELECT YEAR(Born) FROM People WHERE ID = 1", 1983),
        ("SELECT MONTH(Born) FROM People WHERE ID = 1", 11),
        ("SELECT DAY(Born) FROM People WHERE ID = 1", 5),
        ("SELECT DATEPART(quarter, Born) FROM People WHERE ID = 1", 4),
        ("SELECT DATEPART(hour, Born) FROM People WHERE ID = 1", 14),
        ("SELECT DATEPART(weekday, '2024-06-02')", 1),  # a Sunday: DATEFIRST 7
        ("SELECT CONCAT(First, ' ', Last, '!') FROM People WHERE ID = 2", "Łukasz !"),  # NULL is ''
        ("SELECT TOP 1 ID FROM People ORDER BY ID DESC", 2),
        ("SELECT ID FROM People ORDER BY ID OFFSET 1 ROWS FETCH NEXT 1 ROWS ONLY", 2),
        ("SELECT ISNULL(Last, N'(none)') FROM People WHERE ID = 2", "(none)"),
        ("SELECT LEN(GETDATE()) ", 19),
        ("SELECT EOMONTH('2024-02-10')", "2024-02-29"),
        ("SELECT DATEDIFF(month, '2024-01-31', '2024-02-01')", 1),
        ("SELECT DATEDIFF(year, '2023-12-31', '2024-01-01')", 1),
        ("SELECT [p].[Age] FROM [dbo].[People] AS [p] WITH (NOLOCK) WHERE p.ID = 2", 29),
        ("SELECT dbo.People.Age FROM dbo.People WHERE ID = 1", 41),
        (
            "WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5)"
            " SELECT SUM(i) FROM n OPTION (MAXRECURSION 10)",
            15,
        ),
        ("(SELECT Age FROM People WHERE ID = 1)", 41),
        ("SELECT IIF(Age > 30, 'old', 'young') FROM People WHERE ID = 2", "young"),
        ("SELECT CHARINDEX('ë', First) FROM People WHERE ID = 1", 3),
    ],
)
def test_tsql_runs_with_tsql_meaning(db: SqliteDatabase, sql: str, expected: object) -> None:
    assert value(db, sql) == expected


def test_newid_is_random_and_uuid_sized(db: SqliteDatabase) -> None:
    a, b = value(db, "SELECT NEWID()"), value(db, "SELECT NEWID()")
    assert isinstance(a, str) and len(a) == 32 and a != b


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT TOP 10 PERCENT WITH TIES * FROM People ORDER BY Age", "PERCENT WITH TIES"),
        ("SELECT FORMATMESSAGE('x')", "FORMATMESSAGE is not available"),
        ("SELECT DATEPART(tzoffset, Born) FROM People", "is not supported"),
        ("SELECT 1 +", "Could not parse"),
        ("SELECT 1; SELECT 2", "one statement"),
    ],
)
def test_untranslatable_tsql_gets_a_one_line_reason(db: SqliteDatabase, sql: str, reason: str) -> None:
    with pytest.raises(TranslationError) as info:
        db.execute(sql, max_rows=10, timeout=5)
    assert reason in info.value.message and "\n" not in info.value.message


def test_translation_is_cached_per_schema() -> None:
    schema = Schema({"t": {"a": "NVARCHAR(5)"}})
    assert translate("SELECT a + 'x' FROM t", schema) == translate("SELECT a + 'x' FROM t", schema)
    assert "||" in translate("SELECT a + b FROM t", schema)
    assert "||" not in translate("SELECT a + b FROM t", Schema({"t": {"a": "INT", "b": "INT"}}))


def test_an_unrelated_file_is_not_modified_by_reads(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (a TEXT)")
    con.close()
    before = path.read_bytes()
    database = SqliteDatabase(path, read_only=True)
    try:
        assert database.execute("SELECT COUNT(*) FROM t", max_rows=1, timeout=1).rows == [(0,)]
    finally:
        database.close()
    assert path.read_bytes() == before


def test_a_file_whose_name_looks_like_a_uri_is_opened_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "odd ?name#%41.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (a TEXT)")
        con.execute("INSERT INTO t VALUES ('here')")
    con.close()
    database = SqliteDatabase(path, read_only=True)
    try:
        assert database.execute("SELECT a FROM t", max_rows=1, timeout=1).rows == [("here",)]
    finally:
        database.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing created beside it


def test_row_counts_stop_at_their_time_budget(tmp_path: Path) -> None:
    """A file with huge tables still lists them promptly: past the budget a count is unknown (None)."""
    path = tmp_path / "many.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript("CREATE TABLE a (x INT); CREATE TABLE b (x INT); INSERT INTO a VALUES (1), (2);")
    con.close()
    for budget, expected in ((5.0, {"a": 2, "b": 0}), (0.0, {"a": None, "b": None})):
        database = SqliteDatabase(path, read_only=True, count_budget=budget)
        try:
            assert {t.ref.name: t.row_count for t in database.list_tables()} == expected
        finally:
            database.close()


def test_the_gates_tree_feeds_the_translation_and_stays_unchanged() -> None:
    """The parsed tree the gate already made is translated (no second parse), on a copy: verdicts are cached
    and shared, so a rewrite in place would change what the next caller of the same text gets."""
    schema = Schema({"people": {"first": "NVARCHAR(20)", "last": "NVARCHAR(20)"}})
    sql = "SELECT TOP 2 LEFT(First, 1) + N'. ' + Last AS who FROM dbo.People WITH (NOLOCK) ORDER BY 1"
    verdict = sqlgate.check(sql)
    before = verdict.statement.sql(dialect="tsql")
    from_tree = translate(sql, schema, statement=verdict.statement)
    assert verdict.statement.sql(dialect="tsql") == before
    assert sqlgate.check(sql) is verdict and "||" in from_tree and "NOLOCK" not in from_tree
    fresh_schema = Schema(schema.types)  # a new cache key: this one parses the text itself
    assert translate(sql, fresh_schema) == from_tree


def test_the_backend_runs_the_gates_tree(db: SqliteDatabase) -> None:
    """What runs is the translation of the tree handed over; the text is only the cache key."""
    sql = "SELECT N'from the text' AS source"
    tree = sqlgate.check("SELECT N'from the tree' AS source").statement
    assert db.execute(sql, max_rows=1, timeout=5, statement=tree).rows == [("from the tree",)]


@pytest.fixture(scope="module")
def demo(demo_db: Path) -> Iterator[SqliteDatabase]:
    database = SqliteDatabase(demo_db, read_only=True)
    yield database
    database.close()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT CAST('2024-03-05 10:11:12' AS DATETIME2)", "2024-03-05 10:11:12"),
        ("SELECT CONVERT(VARCHAR(10), CAST('2024-03-05 10:11:12' AS DATETIME2), 120)", "2024-03-05"),
        ("SELECT LEN(CONVERT(VARCHAR(10), GETDATE(), 120))", 10),
        ("SELECT CAST(3.14159 AS DECIMAL(10,2))", 3.14),
        ("SELECT COUNT(*) FROM Customers WHERE CompanyName LIKE '[A-C]%'", "> 0"),
        ("SELECT COUNT(*) FROM Customers WHERE City = 'zürich'", "> 0"),
        ("SELECT COUNT(*) FROM Customers WHERE City = 'zurich'", 0),  # accent-sensitive
        ("SELECT COUNT(*) FROM Customers WHERE CustomerGuid IN (SELECT UPPER(CustomerGuid) FROM Customers)", "> 0"),
        ("SELECT LEN('abc  ')", 3),
    ],
)
def test_the_wrong_answers_of_the_embedded_database_are_right(demo: SqliteDatabase, sql: str, expected: object) -> None:
    got = value(demo, sql)
    if expected == "> 0":
        assert isinstance(got, int) and got > 0
    else:
        assert got == expected


def test_the_clock_is_read_once_per_statement(demo: SqliteDatabase) -> None:
    # SQL Server evaluates GETDATE and SYSDATETIME once per query, not per row: every row sees one moment.
    sql = "SELECT COUNT(DISTINCT d) FROM (SELECT SYSDATETIME() AS d FROM OrderLines) AS t"
    assert value(demo, sql) == 1
    row = demo.execute("SELECT GETDATE(), GETDATE(), SYSDATETIME()", max_rows=1, timeout=10).rows[0]
    assert row[0] == row[1] and str(row[2]).startswith(str(row[0])[:19])
    first = value(demo, "SELECT SYSDATETIME()")
    assert value(demo, "SELECT SYSDATETIME()") != first  # the next statement reads the clock again


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT [nocol] FROM Customers", "Unknown column 'nocol'"),
        ('SELECT "nocol" FROM Customers', "Unknown column 'nocol'"),
        ("SELECT CAST(AVG(Freight) AS VARCHAR(20)) FROM Orders", "decimal or float value to text"),
        ("SELECT FORMAT(1.5, 'N2')", "FORMAT"),
        ("SELECT CAST('abc' AS INT)", "Conversion failed"),
    ],
)
def test_unknown_names_and_unsupported_constructs_are_errors(demo: SqliteDatabase, sql: str, message: str) -> None:
    with pytest.raises(Exception) as caught:
        demo.execute(sql, max_rows=10, timeout=5)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_unnamed_expressions_have_no_column_name_as_in_sql_server(demo: SqliteDatabase) -> None:
    result = demo.execute(
        "SELECT COUNT(*), City, LEN(City) AS n, STRING_AGG(Country, ',') FROM Customers GROUP BY City",
        max_rows=1,
        timeout=5,
    )
    assert result.columns == ["", "City", "n", ""]
    assert demo.execute("SELECT 1 UNION SELECT 2", max_rows=5, timeout=5).columns == [""]


def test_describe_table_names_keys_as_sql_server_users_see_them(demo: SqliteDatabase) -> None:
    for table, expected in (
        ("Customers", {"PK_Customers", "UQ_Customers_CustomerGuid"}),
        ("Categories", {"PK_Categories", "UQ_Categories_CategoryName"}),
        ("OrderLines", {"PK_OrderLines"}),
    ):
        names = {index.name for index in demo.describe_table(TableRef("dbo", table)).indexes}
        assert expected <= names and not any(name.lower().startswith("sqlite_") for name in names), names


def test_demo_script_for_sql_server_parses_as_tsql_and_holds_the_demo() -> None:
    from mssql_mcp.demo_mssql import script

    batches = list(itertools.islice(script(scale=1), 20))  # the schema and the first tables' rows
    text = "".join(batches[:12])
    for table in ("Categories", "Customers", "OrderLines"):
        assert f"CREATE TABLE {table}" in text and f"CONSTRAINT PK_{table}" in text
    assert "CONSTRAINT UQ_Customers_CustomerGuid UNIQUE" in text and '"NVARCHAR(MAX)"' not in text
    inserts = [b for b in batches if b.startswith("INSERT")]
    assert inserts and all(b.count("\n(") <= 1000 for b in inserts)
    assert any("N'Zürich Alpine Outfitters AG'" in b for b in inserts)
    for batch in batches[:12] + inserts[:3]:  # the DDL and some data batches are valid T-SQL
        assert sqlglot.parse_one(batch.removesuffix("GO\n"), read="tsql") is not None
