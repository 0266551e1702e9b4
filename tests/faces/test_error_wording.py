"""Bad and hostile statements get one line in the product's words, through the real server's tools.

A table of inputs goes through `execute_sql` on the Claude face (the demo on the embedded database): each
error is one line and says nothing of the libraries underneath (sqlglot's class and token names, the
sqlite3 module's, SQLite's bare messages). SQL Server's system variables and catalog views get their own
sentence, which points to the tool to use instead, in each face's terms.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mcp_client import connect, text_of
from tests.support.procs import ServerProcess, running_server

pytestmark = pytest.mark.anyio

LIBRARY_WORDS = (
    "sqlglot",
    "ParseError",
    "TokenError",
    "TokenType",
    "<class",
    "<Token",
    "sqlite3",
    "OperationalError",
    "ProgrammingError",
    "IntegrityError",
    "DatabaseError",
    "Traceback",
    "pyodbc",
    "SQLSTATE",
    # SQLite's own sentences, said in ours instead
    "no such table",
    "no such column",
    "syntax error",
    "unrecognized token",
    "incomplete input",
    "bindings supplied",
)

SYSTEM_VARIABLES = ["@@VERSION", "@@SERVERNAME", "@@SPID", "@@ROWCOUNT", "@@TRANCOUNT", "@@IDENTITY", "@@LANGUAGE"]
CATALOG_VIEWS = [
    "sys.tables",
    "sys.objects",
    "sys.columns",
    "sys.databases",
    "[sys].[indexes]",
    "INFORMATION_SCHEMA.TABLES",
    "information_schema.columns",
    "INFORMATION_SCHEMA.ROUTINES",
]

BAD = [
    # (statement, a phrase the message must contain, case-insensitive)
    ("SELECT * FROM (", "could not parse"),
    ("SELEC 1", "could not parse"),
    ("SELECT 1 +", "something is missing near '+'"),
    ("SELECT * FROM Customers WHERE", "near 'WHERE'"),
    ("SELECT (1", "')' was expected"),
    ("SELECT CASE WHEN 1 = 1 THEN 2", "END was expected"),
    ("SELECT 'abc", "unterminated"),
    ("SELECT [unclosed FROM Customers", "unterminated"),
    ("SELECT a.", "something is missing"),
    ("SELECT " + "(" * 3000 + "1" + ")" * 3000, "Refused"),
    ("SELECT * FROM NoSuchTable", "Unknown table 'NoSuchTable'"),
    ("SELECT * FROM dbo.NoSuchTable", "Unknown table"),
    ("SELECT nope FROM Customers", "Unknown column 'nope'"),
    ("SELECT x.* FROM Customers", "Unknown table 'x'"),
    ("SELECT CustomerID FROM Customers, Orders", "is ambiguous"),
    ("SELECT SUM(*) FROM Customers", "Wrong number of arguments for SUM()"),
    ("SELECT COUNT(DISTINCT) FROM Customers", "DISTINCT"),
    ("SELECT CustomerID FROM Customers ORDER BY 5", "column number past the select list"),
    ("SELECT CustomerID FROM Customers WHERE SUM(CustomerID) > 1", "aggregate is not allowed"),
    ("SELECT CustomerID FROM Customers UNION SELECT 1, 2", "same number of columns"),
    ("SELECT (SELECT 1, 2)", "one column"),
    ("SELECT * FROM Customers GROUP BY", ""),
    ("SELECT ?", "placeholder"),
    ("SELECT @x", "Variables (@name) are not supported on the embedded database"),
    ("SELECT DB_NAME()", "not available on the embedded"),
    ("SELECT SERVERPROPERTY('ProductVersion')", "SERVERPROPERTY"),
    ("SELECT * FROM Customers FOR XML PATH", "embedded"),
    ("DROP TABLE Customers", "Refused"),
    ("SELECT load_extension('x')", "Refused"),
    ("SELECT * FROM pragma_database_list", ""),
    ("SELECT 1\u2028DROP TABLE Customers", "Refused"),
]


def assert_plain_one_line(text: str) -> None:
    assert text and "\n" not in text and "\r" not in text, text
    leaked = [w for w in LIBRARY_WORDS if w.lower() in text.lower()]
    assert not leaked, (leaked, text)


async def execute_error(server: ServerProcess, query: str) -> str:
    async with connect(server.base_url) as client:
        result = await client.call_tool("execute_sql", {"query": query})
    assert result.is_error, text_of(result)
    return text_of(result)


@pytest.mark.parametrize(("query", "phrase"), BAD, ids=[q[:40] for q, _ in BAD])
async def test_bad_statements_get_one_plain_line(dev_server: ServerProcess, query: str, phrase: str) -> None:
    text = await execute_error(dev_server, query)
    assert_plain_one_line(text)
    assert phrase.lower() in text.lower(), text


@pytest.mark.parametrize("variable", SYSTEM_VARIABLES)
async def test_system_variables_are_not_supported_on_the_embedded_database(
    dev_server: ServerProcess, variable: str
) -> None:
    for query in (f"SELECT {variable}", f"SELECT 1 AS one, {variable.lower()} AS v", f"SELECT '@@x', {variable}"):
        text = await execute_error(dev_server, query)
        assert_plain_one_line(text)
        assert text == f"{variable} is not supported on the embedded database.", text


@pytest.mark.parametrize("view", CATALOG_VIEWS)
async def test_catalog_views_point_to_list_tables(dev_server: ServerProcess, view: str) -> None:
    text = await execute_error(dev_server, f"SELECT * FROM {view}")
    assert_plain_one_line(text)
    assert "is not available on the embedded database" in text and "Use list_tables" in text, text
    assert view.replace("[", "").replace("]", "").lower() in text.lower()


@pytest.fixture(scope="module")
def chatgpt_server(dev_server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(dev_server_env, tmp_path_factory.mktemp("chatgpt-words"), face="chatgpt") as server:
        yield server


@pytest.mark.parametrize(
    ("query", "phrase"),
    [
        ("SELECT * FROM sys.tables", 'Use search "list tables"'),
        ("SELECT name FROM INFORMATION_SCHEMA.COLUMNS", 'search "describe <table>"'),
        ("SELECT * FROM NoSuchTable", 'Use search "list tables" to see the tables'),
        ("SELECT nope FROM Customers", 'Use search "describe <table>"'),
        ("SELECT @@VERSION", "@@VERSION is not supported on the embedded database."),
    ],
)
async def test_the_chatgpt_face_names_its_own_tools(chatgpt_server: ServerProcess, query: str, phrase: str) -> None:
    async with connect(chatgpt_server.base_url, prefix="/chatgpt") as client:
        result = await client.call_tool("search", {"query": query})
    text = text_of(result)
    assert result.is_error and phrase in text, text
    assert "list_tables" not in text and "describe_table" not in text
    assert_plain_one_line(text)
