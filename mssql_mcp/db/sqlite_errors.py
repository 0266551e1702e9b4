"""SQLite's errors, said in the product's words.

A user writes T-SQL; SQLite sees its translation. So its messages ("no such table: sys.tables",
'unrecognized token: "@"', 'near "x": syntax error') would talk about the wrong database, and the class
names of the sqlite3 module mean nothing to them. `sqlite_error` turns each into one of our errors:

- SQL Server's system variables (@@VERSION, @@SPID, ...) and catalog views (sys.*, INFORMATION_SCHEMA.*)
  are not on the embedded database: `NotOnEmbedded`, pointing to list_tables / describe_table;
- a missing table or column, an ambiguous name, a wrong argument count, ...: a sentence of ours;
- anything else keeps SQLite's own short text, framed as coming from the embedded database, on one line.

SQLite's messages are fixed strings in its source (https://www.sqlite.org/rescode.html lists the codes;
the texts come from sqlite3ErrorMsg calls); the patterns below match those of SQLite 3.31 and later.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

from mssql_mcp.db.tsql_functions import take_error
from mssql_mcp.errors import (
    DatabaseUnavailable,
    MssqlMcpError,
    NotOnEmbedded,
    QueryError,
    TranslationError,
    UnknownTable,
)

_STRING = re.compile(r"'(?:[^']|'')*'")
_SYSTEM_VARIABLE = re.compile(r"@@\s*(\w+)")
_VARIABLE = re.compile(r"(?<![@\w])@\w")
_CATALOG = re.compile(r"^(?:main\.)?((?:sys|information_schema)\.\w+)$", re.IGNORECASE)
_DETAIL_CHARS = 200


def _sys_view(name: str) -> NotOnEmbedded:
    return NotOnEmbedded(
        f"{name} is not available on the embedded database, which has no sys or INFORMATION_SCHEMA views. "
        "Use list_tables to see the tables and views, and describe_table for a table's columns.",
        ("list_tables", "describe_table"),
    )


def _no_table(name: str) -> MssqlMcpError:
    catalog = _CATALOG.match(name)
    if catalog:
        return _sys_view(catalog.group(1))
    return UnknownTable(name.removeprefix("main."), [])


def _no_column(name: str) -> MssqlMcpError:
    error = QueryError(f"Unknown column {name!r}. Use describe_table to see a table's columns.")
    error.tools = ("describe_table",)
    return error


# (SQLite's message, what to say instead). First match wins; the groups feed the builder.
_MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], MssqlMcpError]]] = [
    (re.compile(r"no such table: (\S+)"), lambda m: _no_table(m.group(1))),
    (re.compile(r"no such column: (\S+)"), lambda m: _no_column(m.group(1))),
    (
        re.compile(r"no such function: (\w+)", re.IGNORECASE),
        lambda m: TranslationError(f"The function {m.group(1).upper()} is not available on the embedded database."),
    ),
    (
        re.compile(r"ambiguous column name: (\S+)"),
        lambda m: QueryError(f"Column {m.group(1)!r} is ambiguous: prefix it with its table's name or alias."),
    ),
    (
        re.compile(r"wrong number of arguments to function (\w+)\(\)"),
        lambda m: QueryError(f"Wrong number of arguments for {m.group(1).upper()}()."),
    ),
    (
        re.compile(r"misuse of (?:aggregate|window) function (\w+)\(\)|misuse of aggregate: (\w+)\(\)"),
        lambda m: QueryError(
            f"{(m.group(1) or m.group(2)).upper()}() is used where an aggregate is not allowed "
            "(in WHERE, use HAVING; inside another aggregate, use a subquery)."
        ),
    ),
    (
        re.compile(r"(\d+\w*) (ORDER|GROUP) BY term out of range - should be between 1 and (\d+)"),
        lambda m: QueryError(
            f"The {m.group(1)} {m.group(2)} BY term is a column number past the select list, "
            f"which has {m.group(3)} column(s)."
        ),
    ),
    (
        re.compile(r"DISTINCT aggregates must have exactly one argument"),
        lambda m: QueryError("An aggregate with DISTINCT takes exactly one argument."),
    ),
    (
        re.compile(r"sub-select returns (\d+) columns - expected 1"),
        lambda m: QueryError(f"A subquery used as a value must return one column; this one returns {m.group(1)}."),
    ),
    (
        re.compile(r"SELECTs to the left and right of (\w+) do not have the same number of result columns"),
        lambda m: QueryError(f"Each side of {m.group(1)} must select the same number of columns."),
    ),
    (re.compile(r"row value misused"), lambda m: QueryError("A parenthesised list of values is not allowed here.")),
    (re.compile(r"incomplete input"), lambda m: QueryError("The query is incomplete: it ends too early.")),
    (
        re.compile(r"near \"((?:[^\"]|\"\")*)\": syntax error"),
        lambda m: TranslationError(
            f"The embedded database cannot run this query: it has a syntax error near {m.group(1)!r} "
            "(it may use T-SQL the embedded database does not support)."
        ),
    ),
    (
        re.compile(r"unrecognized token: \"((?:[^\"]|\"\")*)\""),
        lambda m: TranslationError(
            f"The embedded database cannot run this query: it does not understand {m.group(1)[:40]!r}."
        ),
    ),
    (
        re.compile(
            r"too many terms in compound SELECT|Expression tree is too large|parser stack overflow|"
            r"too many SQL variables|too many columns|at most \d+ tables in a join|too many FROM clause terms"
        ),
        lambda m: QueryError("The query is too large or nested too deeply for the embedded database. Simplify it."),
    ),
    (
        re.compile(r"integer overflow"),
        lambda m: QueryError("A number in the query is out of range (integer overflow)."),
    ),
    (re.compile(r"readonly database|read-only"), lambda m: QueryError("The database is open read-only.")),
    (
        re.compile(r"database is locked|database table is locked"),
        lambda m: QueryError("The embedded database is busy with a write. Try again in a moment."),
    ),
    (
        re.compile(r"(UNIQUE|NOT NULL|CHECK|FOREIGN KEY|PRIMARY KEY) constraint failed(?:: (.+))?"),
        lambda m: QueryError(
            f"The write was refused: it breaks a {m.group(1)} constraint" + (f" ({m.group(2)})." if m.group(2) else ".")
        ),
    ),
    (
        re.compile(r"Incorrect number of bindings supplied"),
        lambda m: QueryError(
            "The query has a parameter placeholder (?) but no value for it: write the value into the query."
        ),
    ),
    (
        re.compile(r"file is not a database|database disk image is malformed|unable to open database"),
        lambda m: DatabaseUnavailable("The embedded database file cannot be read: it is damaged or not a database."),
    ),
]


def sqlite_error(exc: sqlite3.Error, sql: str) -> MssqlMcpError:
    """Our error for `exc`, raised by SQLite while running `sql` (the translated statement)."""
    text = " ".join(str(exc).split())
    conversion = take_error() if "user-defined function raised exception" in text else None
    if conversion:  # a CAST/CONVERT that SQL Server would refuse too (db/tsql_functions.py)
        return NotOnEmbedded(conversion) if "not supported" in conversion else QueryError(conversion)
    if 'unrecognized token: "@' in text:
        variable = _SYSTEM_VARIABLE.search(_STRING.sub("''", sql))
        if variable:
            return NotOnEmbedded(f"@@{variable.group(1).upper()} is not supported on the embedded database.")
        return NotOnEmbedded("Variables (@name) are not supported on the embedded database.")
    if "Incorrect number of bindings" in text and _VARIABLE.search(_STRING.sub("''", sql)):
        return NotOnEmbedded("Variables (@name) are not supported on the embedded database.")
    for pattern, build in _MESSAGES:
        match = pattern.search(text)
        if match:
            return build(match)
    detail = text[:_DETAIL_CHARS] + ("…" if len(text) > _DETAIL_CHARS else "")
    return QueryError(f"The embedded database could not run this query: {detail or 'unknown error'}.")
