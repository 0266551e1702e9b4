"""T-SQL to SQLite, for the embedded backend: users (and models) write T-SQL whatever the database is.

`sqlglot.transpile(read="tsql", write="sqlite")` does most of it (TOP, brackets, OFFSET/FETCH, GETDATE,
ISNULL, CAST, CONVERT, LEN, IIF, CHARINDEX). What it gets wrong at run time is fixed here as tree rewrites
(each fails, or silently computes something else, on SQLite):

    N'…'                      a plain string literal (SQLite strings are already Unicode)
    a + b on strings          a || b, decided from literal types and the declared column types
    LEFT/RIGHT(s, n)          SUBSTR
    YEAR/MONTH/DAY, DATEPART  STRFTIME, as integers (DATEPART weekday counts Sunday as 1, as DATEFIRST 7)
    CONCAT(a, b, …)           COALESCE(a, '') || …, since T-SQL's CONCAT treats NULL as ''
    EOMONTH, NEWID, GETUTCDATE  SQLite date modifiers, randomblob, CURRENT_TIMESTAMP
    dbo.X                     X: SQLite has no schemas, and the catalog calls every table dbo.X
    OPTION (…) and table hints dropped (with or without WITH): they tune SQL Server's planner, not SQLite's

A construct with no SQLite equivalent raises TranslationError with a one-line reason.

The caller usually has the statement parsed already (the gate's `Verdict.statement`): passing it saves a
second parse of the same text. That tree is shared (the gate caches verdicts), so only a copy is rewritten.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlglot
from cachetools import LRUCache
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

from mssql_mcp.db import tsql_collation, tsql_semantics, tsql_top
from mssql_mcp.db.tsql_convert import CAST_FUNCTION
from mssql_mcp.db.tsql_parse import NEEDS_OWN_PARSE, EmbeddedTSQL, part_name
from mssql_mcp.errors import TranslationError
from mssql_mcp.sqlgate.parse_messages import describe


@dataclass(frozen=True, eq=False)
class Schema:
    """Declared column types: table (lower case) -> column (lower case) -> type (upper case).

    Hashed by identity, so looking a statement up in the translation cache costs the same whatever the
    schema's size; a changed schema is a new Schema, and so gets new cache entries.
    """

    types: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


NO_SCHEMA = Schema()

_TEXT_TYPES = ("CHAR", "TEXT", "CLOB", "XML")
_STRING_FUNCS = (exp.Upper, exp.Lower, exp.Substring, exp.Trim, exp.Concat, exp.DPipe, exp.Left, exp.Right)
_DATEPART = {
    "year": "%Y",
    "month": "%m",
    "day": "%d",
    "hour": "%H",
    "minute": "%M",
    "second": "%S",
    "dayofyear": "%j",
    "doy": "%j",
}


_CACHE: LRUCache[tuple[str, Schema], str] = LRUCache(maxsize=1024)
_CACHE_LOCK = threading.Lock()  # cachetools caches are not thread-safe; backends call from worker threads


def translate(sql: str, schema: Schema = NO_SCHEMA, *, statement: exp.Expr | None = None) -> str:
    """One T-SQL statement as SQLite SQL. The schema's column types let `+` on text become `||`.

    `statement`, when given, is `sql` already parsed with sqlglot's tsql dialect; it is not changed.
    Results are cached by text and schema, so a repeated statement costs one dictionary lookup.
    """
    key = (sql, schema)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    # The gate's tree loses DATEPART's written part and SYSDATETIME's type: parse those statements here.
    own = statement is None or NEEDS_OWN_PARSE.search(sql) is not None
    tree = _parse(sql) if own else statement.copy()  # type: ignore[union-attr]
    translated = _translate_tree(tree, schema)
    with _CACHE_LOCK:
        _CACHE[key] = translated
    return translated


def _parse(sql: str) -> exp.Expr:
    try:
        # A trailing `; -- comment` parses as a Semicolon node: it is not a statement.
        trees = [t for t in sqlglot.parse(sql, read=EmbeddedTSQL) if t is not None and not isinstance(t, exp.Semicolon)]
    except ParseError as exc:
        raise TranslationError(f"Could not parse the T-SQL: {describe(exc)}.") from None
    if len(trees) != 1:
        raise TranslationError("Send one statement per call.")
    return trees[0]


def _translate_tree(tree: exp.Expr, schema: Schema) -> str:
    """Rewrite `tree` (the caller's own copy: it is changed in place) and render it as SQLite SQL."""
    tree = _unwrap(tree)
    _drop_planner_hints(tree)
    _date_parts(tree)
    tsql_top.apply(tree)
    columns = tsql_semantics.declared_types(tree, schema.types)
    text_columns = {key for key, declared in columns.items() if _is_text_type(declared)}
    tree = _rewrite_tree(tree, text_columns, columns)
    tree = tsql_collation.apply(tree, columns)
    _unnamed_projections(tree)
    try:
        # Every identifier quoted, in backquotes: SQLite reads an unknown "name" as a string, never `name`.
        return tree.sql(dialect=_QuotingSQLite, identify=True, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise TranslationError(f"The embedded SQLite database cannot run this T-SQL: {_first_line(exc)}") from None


def _date_parts(tree: exp.Expr) -> None:
    """DATEPART/DATENAME's first argument is a part name, not a column: make it the canonical name."""
    for call in list(tree.find_all(exp.Anonymous)):
        if call.name.upper() in ("TSQL_DATEPART_RAW", "TSQL_DATENAME_RAW"):
            if len(call.expressions) != 2:
                raise TranslationError(f"{call.name.upper()[5:13]} takes a date part and a date.")
            part = tsql_semantics.part_name(part_name(call.expressions[0]))
            call.expressions[0].replace(exp.Literal.string(part))


def _unnamed_projections(tree: exp.Expr) -> None:
    """An expression without an alias has no column name in SQL Server: it must not get the SQLite text."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    select.set(
        "expressions",
        [
            p if isinstance(p, exp.Alias | exp.Column | exp.Star) else exp.alias_(p, "", quoted=True)
            for p in select.expressions
        ],
    )


def _unwrap(tree: exp.Expr) -> exp.Expr:
    """`(SELECT …) ORDER BY …` is T-SQL; SQLite wants a SELECT at the top, so select from the parenthesis."""
    if not isinstance(tree, exp.Subquery) or tree.alias:
        return tree
    outer = exp.Select(expressions=[exp.Star()]).from_(exp.Subquery(this=tree.this))
    for modifier in ("order", "limit", "offset"):
        if tree.args.get(modifier) is not None:
            outer.set(modifier, tree.args[modifier])
    return outer


def _rewrite_tree(tree: exp.Expr, text_columns: set[tuple[str, str]], columns: tsql_semantics.ColumnTypes) -> exp.Expr:
    # Children first, so that `a + b + c` sees its inner `a + b` already turned into `||`.
    for node in reversed(list(tree.walk())):
        new = _rewrite(tsql_semantics.rewrite(node, columns), text_columns)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _drop_planner_hints(tree: exp.Expr) -> None:
    for select in tree.find_all(exp.Select):
        select.set("options", None)
    for table in tree.find_all(exp.Table):
        table.set("hints", None)
        call = table.this
        if isinstance(call, exp.Anonymous) and call.expressions and all(_bare_name(a) for a in call.expressions):
            # `FROM t (NOLOCK, READPAST)`: T-SQL's hint list without WITH, which sqlglot reads as a call of t
            # (the gate has checked the hints).
            table.set("this", call.this if isinstance(call.this, exp.Identifier) else exp.to_identifier(call.name))


def _bare_name(node: exp.Expr) -> bool:
    """A word of a hint list: NOLOCK, or the INDEX(ix) / INDEX = ix hint."""
    if isinstance(node, exp.EQ):
        node = node.this
    if isinstance(node, exp.Anonymous):
        return node.name.upper() == "INDEX"
    return isinstance(node, exp.Column) and not node.table and isinstance(node.this, exp.Identifier)


class _QuotingSQLite(SQLite):
    class Tokenizer(SQLite.Tokenizer):
        IDENTIFIERS = ["`"]


def _is_text_type(declared: str) -> bool:
    return any(word in declared.upper() for word in _TEXT_TYPES)


def _is_text(node: exp.Expr, text_columns: set[tuple[str, str]]) -> bool:
    if isinstance(node, exp.Paren):
        return _is_text(node.this, text_columns)
    if isinstance(node, exp.Literal):
        return node.is_string
    if isinstance(node, (exp.National, exp.DPipe, *_STRING_FUNCS)):
        return True
    if isinstance(node, exp.Cast | exp.Convert):
        to = node.args.get("to")
        return isinstance(to, exp.DataType) and to.is_type(*exp.DataType.TEXT_TYPES)
    if isinstance(node, exp.Column):
        return (node.table.lower(), node.name.lower()) in text_columns
    if isinstance(node, exp.Anonymous) and node.name.lower() in (CAST_FUNCTION, "tsql_try_cast"):
        return bool(node.expressions[1].name == "TEXT")
    if isinstance(node, exp.Add):
        return _is_text(node.left, text_columns) or _is_text(node.right, text_columns)
    return False


def _is_number(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string


def _strftime_int(fmt: str, value: exp.Expr) -> exp.Expr:
    strftime = exp.Anonymous(this="STRFTIME", expressions=[exp.Literal.string(fmt), value])
    return exp.Cast(this=strftime, to=exp.DataType.build("INTEGER"))


def _plain(value: exp.Expr) -> exp.Expr:
    """The value under the date-conversion wrappers sqlglot adds (STRFTIME takes the text as it is)."""
    inner: exp.Expr = value.this if isinstance(value, exp.TsOrDsToDate | exp.TimeStrToTime) else value
    return inner


def _date_arg(node: exp.Expr) -> exp.Expr:
    return _plain(node.this)


def _quarter(value: exp.Expr) -> exp.Expr:
    month_plus_two = exp.Paren(this=exp.Add(this=_strftime_int("%m", value), expression=exp.Literal.number(2)))
    return exp.Cast(
        this=exp.Div(this=month_plus_two, expression=exp.Literal.number(3)), to=exp.DataType.build("INTEGER")
    )


def _rewrite(node: exp.Expr, text_columns: set[tuple[str, str]]) -> exp.Expr:
    if isinstance(node, exp.National):
        return exp.Literal.string(node.this)
    if (
        isinstance(node, exp.Add)
        and (_is_text(node.left, text_columns) or _is_text(node.right, text_columns))
        and not (_is_number(node.left) or _is_number(node.right))  # '1' + 1 is 2: the number wins
    ):
        return exp.DPipe(this=node.left, expression=node.right)
    if isinstance(node, exp.Left):
        return exp.Substring(this=node.this, start=exp.Literal.number(1), length=node.expression)
    if isinstance(node, exp.Right):
        return exp.Substring(this=node.this, start=exp.Neg(this=exp.Paren(this=node.expression)))
    if isinstance(node, exp.Year | exp.Month | exp.Day):
        fmt = {exp.Year: "%Y", exp.Month: "%m", exp.Day: "%d"}[type(node)]
        return _strftime_int(fmt, _date_arg(node))
    if isinstance(node, exp.Extract):
        return _datepart(node)
    if isinstance(node, exp.Concat):
        empty = exp.Literal.string("")
        parts = [
            exp.Coalesce(this=exp.Cast(this=e, to=exp.DataType.build("TEXT")), expressions=[empty.copy()])
            for e in node.expressions
        ]
        out: exp.Expr = parts[0]
        for part in parts[1:]:
            out = exp.DPipe(this=out, expression=part)
        return exp.Paren(this=out)
    if isinstance(node, exp.LastDay):  # EOMONTH(d)
        modifiers = ["start of month", "+1 month", "-1 day"]
        return exp.Anonymous(this="DATE", expressions=[_date_arg(node), *map(exp.Literal.string, modifiers)])
    if isinstance(node, exp.Uuid):  # NEWID(): a random version-4-shaped value is all callers rely on
        return exp.Anonymous(
            this="LOWER",
            expressions=[
                exp.Anonymous(
                    this="HEX", expressions=[exp.Anonymous(this="RANDOMBLOB", expressions=[exp.Literal.number(16)])]
                )
            ],
        )
    if isinstance(node, exp.DateDiff) and node.text("unit").upper() in ("YEAR", "QUARTER", "MONTH"):
        return _month_diff(node)
    if isinstance(node, exp.Table) and node.args.get("db") is not None and node.db.lower() == "dbo":
        node = node.copy()
        node.set("db", None)
        return node
    if isinstance(node, exp.Column) and node.args.get("db") is not None and node.db.lower() == "dbo":
        node = node.copy()
        node.set("db", None)
        return node
    return node


def _datepart(node: exp.Extract) -> exp.Expr:
    part = node.this.name.lower()
    value = _plain(node.expression)
    if part in _DATEPART:
        return _strftime_int(_DATEPART[part], value)
    if part == "quarter":
        return _quarter(value)
    if part in ("week", "wk", "ww"):
        # Weeks start on Sunday (DATEFIRST 7) and week 1 holds January 1:
        # (day of year + weekday of January 1 (Sunday 0) - 1) / 7 + 1.
        jan1 = exp.Anonymous(this="DATE", expressions=[value.copy(), exp.Literal.string("start of year")])
        days = exp.Add(this=_strftime_int("%j", value), expression=_strftime_int("%w", jan1))
        offset = exp.Paren(this=exp.Sub(this=days, expression=exp.Literal.number(1)))
        weeks = exp.Cast(this=exp.Div(this=offset, expression=exp.Literal.number(7)), to=exp.DataType.build("INTEGER"))
        return exp.Paren(this=exp.Add(this=weeks, expression=exp.Literal.number(1)))
    if part in ("dayofweek", "weekday", "dw"):  # SQL Server's default DATEFIRST 7: Sunday is 1
        return exp.Add(this=_strftime_int("%w", value), expression=exp.Literal.number(1))
    raise TranslationError(f"DATEPART({part}, …) is not supported on the embedded SQLite database.")


def _month_diff(node: exp.DateDiff) -> exp.Expr:
    """DATEDIFF(month|quarter|year, a, b) counts boundaries crossed, not elapsed time (T-SQL semantics)."""
    unit = node.text("unit").upper()

    def months(value: exp.Expr) -> exp.Expr:
        value = _plain(value)
        year = _strftime_int("%Y", value)
        if unit == "YEAR":
            return year
        if unit == "QUARTER":
            return exp.Add(this=exp.Mul(this=year, expression=exp.Literal.number(4)), expression=_quarter(value))
        month = _strftime_int("%m", value)
        return exp.Add(this=exp.Mul(this=year, expression=exp.Literal.number(12)), expression=month)

    return exp.Paren(this=exp.Sub(this=months(node.this), expression=exp.Paren(this=months(node.expression))))
