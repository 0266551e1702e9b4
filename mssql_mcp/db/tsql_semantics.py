"""The rewrites that make SQLite answer as SQL Server would, or refuse: conversions, LEN, collation, quoting.

Runs after the syntactic rewrites of `tsql_sqlite` on the same tree. The SQL Server behaviour each follows:
- CAST/CONVERT/TRY_CAST/TRY_CONVERT to the date and time types, DECIMAL/NUMERIC, MONEY, BIT, the integer
  types and UNIQUEIDENTIFIER call `tsql_cast` (`tsql_convert`); to VARCHAR(n) they cut the text to n
  characters (30 when n is not given), and CONVERT's date styles apply to a value known to be a date
  (https://learn.microsoft.com/sql/t-sql/functions/cast-and-convert-transact-sql);
- LEN does not count trailing spaces (https://learn.microsoft.com/sql/t-sql/functions/len-transact-sql);
- text comparisons, IN, BETWEEN, GROUP BY, PARTITION BY, DISTINCT and ORDER BY use the collation
  TSQL_CI_AS (case-insensitive, accent-sensitive, as SQL Server's default collations);
- GUIDs print in upper case and sort by SQL Server's byte groups (`tsql_collation`);
- FORMAT, PIVOT and UNPIVOT are refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from mssql_mcp.db import tsql_numbers
from mssql_mcp.db.tsql_convert import CAST_FUNCTION, DATE_TYPES, STYLES
from mssql_mcp.errors import TranslationError

ColumnTypes = dict[tuple[str, str], str]

_PYTHON_CASTS = {
    exp.DType.DATE: ("DATE", -1),
    exp.DType.DATETIME: ("DATETIME", -1),
    exp.DType.DATETIME2: ("DATETIME2", -1),
    exp.DType.SMALLDATETIME: ("SMALLDATETIME", -1),
    exp.DType.TIME: ("TIME", -1),
    exp.DType.DECIMAL: ("DECIMAL", 0),
    exp.DType.MONEY: ("MONEY", 4),
    exp.DType.SMALLMONEY: ("SMALLMONEY", 4),
    exp.DType.BIT: ("BIT", 0),
    exp.DType.BOOLEAN: ("BIT", 0),
    exp.DType.UUID: ("UNIQUEIDENTIFIER", 0),
    exp.DType.TINYINT: ("TINYINT", 0),
    exp.DType.UTINYINT: ("TINYINT", 0),  # T-SQL's TINYINT is unsigned: sqlglot reads it so
    exp.DType.SMALLINT: ("SMALLINT", 0),
    exp.DType.INT: ("INT", 0),
    exp.DType.BIGINT: ("BIGINT", 0),
}
_TEXT_TARGETS = (exp.DType.VARCHAR, exp.DType.NVARCHAR, exp.DType.CHAR, exp.DType.NCHAR)
_DATETIME_STYLES = frozenset({*STYLES, 0, 100, 121, 21, 126})
_REFUSED: dict[type[exp.Expr], str] = {
    exp.NumberToStr: "FORMAT",
    exp.Pivot: "PIVOT and UNPIVOT",
}


def declared_types(tree: exp.Expr, types: Mapping[str, Mapping[str, str]]) -> ColumnTypes:
    """(qualifier, column) pairs, lower case, to their declared type (upper case); qualifier "" if none."""
    scope: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        scope[table.name.lower()] = table.name.lower()
        if table.alias:
            scope[table.alias.lower()] = table.name.lower()
    found: ColumnTypes = {}
    for column in tree.find_all(exp.Column):
        name, qualifier = column.name.lower(), column.table.lower()
        candidates = [scope[qualifier]] if qualifier in scope else list(dict.fromkeys(scope.values()))
        for candidate in candidates:
            declared = types.get(candidate, {}).get(name)
            if declared:
                found[(qualifier, name)] = declared.upper()
                break
    _derived_types(tree, types, found)
    return found


def _derived_types(tree: exp.Expr, types: Mapping[str, Mapping[str, str]], found: ColumnTypes) -> None:
    """A derived table's columns have the types of the projections that make them (a CAST, a literal, a
    column), when every branch of a UNION agrees; the outer statement's columns that name them get those."""
    derived: dict[str, dict[str, str]] = {}
    for subquery in tree.find_all(exp.Subquery):
        if not subquery.alias or not isinstance(subquery.parent, exp.From | exp.Join):
            continue
        branches = list(subquery.this.flatten()) if isinstance(subquery.this, exp.SetOperation) else [subquery.this]
        if not all(isinstance(b, exp.Select) for b in branches):
            continue
        inner = declared_types(subquery.this, types)
        names = [p.alias_or_name.lower() for p in branches[0].expressions]
        for index, name in enumerate(names):
            kinds = {_projection_type(b.expressions[index], inner) for b in branches if index < len(b.expressions)}
            if len(kinds) == 1 and "" not in kinds:
                derived.setdefault(subquery.alias.lower(), {})[name] = kinds.pop()
    for column in tree.find_all(exp.Column):
        name, qualifier = column.name.lower(), column.table.lower()
        if (qualifier, name) in found:
            continue
        tables = [qualifier] if qualifier else list(derived)
        for table in tables:
            if name in derived.get(table, {}):
                found[(qualifier, name)] = derived[table][name]
                break


def _projection_type(projection: exp.Expr, inner: ColumnTypes) -> str:
    node = projection.this if isinstance(projection, exp.Alias) else projection
    if isinstance(node, exp.Cast | exp.TryCast) and isinstance(node.args.get("to"), exp.DataType):
        return str(node.args["to"].sql(dialect="tsql")).upper()
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "VARCHAR"
        if node.is_int:
            return "INT"
        digits = node.name.partition(".")[2]
        return f"DECIMAL(38,{len(digits)})" if digits.isdigit() else ""
    if isinstance(node, exp.National):
        return "NVARCHAR"
    if isinstance(node, exp.Column):
        return inner.get((node.table.lower(), node.name.lower()), "")
    return ""


def _column_type(node: exp.Column, columns: ColumnTypes) -> str:
    return columns.get((node.table.lower(), node.name.lower()), "")


def value_type(node: exp.Expr, columns: ColumnTypes) -> str:
    """The T-SQL type of a value where the statement tells it: a date type's name, TEXT, GUID, or ''."""
    if isinstance(node, exp.Paren):
        return value_type(node.this, columns)
    if isinstance(node, exp.Literal):
        return "TEXT" if node.is_string else ""
    if isinstance(node, exp.CurrentTimestamp):
        return "DATETIME"
    if isinstance(node, exp.Anonymous) and node.name.lower() == "tsql_now":
        return str(node.expressions[0].name)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "tsql_datename":
        return "TEXT"
    if isinstance(node, exp.Anonymous) and node.name.lower() == "tsql_dateadd":
        return node.expressions[3].name or "DATETIME"
    if isinstance(node, exp.Anonymous) and node.name.lower() == "tsql_datefromparts":
        return "DATE"
    if isinstance(node, exp.Anonymous) and node.name.lower() == CAST_FUNCTION:
        target = node.expressions[1].name
        if target == "UNIQUEIDENTIFIER":
            return "GUID"
        return "TEXT" if target == "TEXT" else target if target in DATE_TYPES else ""
    if isinstance(node, exp.Collate):
        return value_type(node.this, columns)
    if isinstance(node, exp.Column):
        declared = _column_type(node, columns)
        for name in ("SMALLDATETIME", "DATETIME2", "DATETIMEOFFSET", "DATETIME", "DATE", "TIME"):
            if name in declared:
                return "" if name == "DATETIMEOFFSET" else name
        if "UNIQUEIDENTIFIER" in declared:
            return "GUID"
        if any(word in declared for word in ("CHAR", "TEXT", "CLOB", "XML")):
            return "TEXT"
    if isinstance(node, exp.Anonymous) and node.name.lower() in (
        "tsql_replace",
        "tsql_stuff",
        "tsql_replicate",
        "tsql_reverse",
        "tsql_space",
        "tsql_concat_ws",
    ):
        return "TEXT"
    if isinstance(node, exp.Upper | exp.Lower | exp.Substring | exp.Trim | exp.DPipe | exp.Concat):
        return "TEXT"
    return ""


def _is_text(node: exp.Expr, columns: ColumnTypes) -> bool:
    return value_type(node, columns) in ("TEXT", "GUID")


def _call(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _params(to: exp.DataType) -> list[int | None]:
    out: list[int | None] = []
    for param in to.expressions:
        inner = param.this if isinstance(param, exp.DataTypeParam) else param
        out.append(int(inner.name) if isinstance(inner, exp.Literal) and inner.is_int else None)
    return out


def _conversion(value: exp.Expr, to: exp.DataType, style: int, safe: bool, columns: ColumnTypes) -> exp.Expr | None:
    """The call that converts `value` as SQL Server would, or None to keep SQLite's own CAST."""
    params = _params(to)
    source = value_type(value, columns)
    if to.this in _PYTHON_CASTS:
        target, default_scale = _PYTHON_CASTS[to.this]
        precision, scale = 38, default_scale
        if target == "DECIMAL":
            precision = params[0] or 18 if params else 18
            scale = (params[1] or 0) if len(params) > 1 else 0
        elif target in DATE_TYPES and params and params[0] is not None:
            scale = params[0]
        if style >= 0 and source not in ("TEXT", ""):
            raise TranslationError(
                f"CONVERT to {target.lower()} with a style is not supported on the embedded database."
            )
    elif to.this in _TEXT_TARGETS:
        target = "TEXT"
        precision = (params[0] or 0) if params else 30  # VARCHAR(MAX): no limit; VARCHAR: 30 characters
        scale = 0
        if source in DATE_TYPES:
            style = _default_style(source) if style < 0 else style
            if style not in _DATETIME_STYLES or (source == "TIME" and style not in (108, 20, 120, 121, 21)):
                raise TranslationError(f"CONVERT style {style} is not supported on the embedded database.")
        elif style >= 0 and source != "TEXT":
            raise TranslationError(
                "CONVERT with a style is supported on the embedded database only for a value it knows is a date "
                "(a date column, GETDATE(), or a CAST to a date type)."
            )
        elif source == "GUID":
            value = _call("UPPER", value)
        elif source == "":
            digits = tsql_numbers.text_scale(value, columns)
            if digits is not None:
                source = f"SCALE:{digits}"
            elif tsql_numbers.inexact(value, columns):
                raise TranslationError(
                    "Converting a computed decimal or float value to text is not supported on the embedded "
                    "SQLite database (SQL Server prints it with its type's scale)."
                )
    elif to.this == exp.DType.TIMESTAMPTZ:  # DATETIMEOFFSET
        raise TranslationError("datetimeoffset is not supported on the embedded SQLite database.")
    else:
        if safe:
            raise TranslationError(
                f"TRY_CAST and TRY_CONVERT to {to.sql('tsql')} are not supported on the embedded database."
            )
        return None
    args = [value, exp.Literal.string(target), *(exp.Literal.number(n) for n in (precision, scale, style))]
    return _call("tsql_try_cast" if safe else CAST_FUNCTION, *args, exp.Literal.string(source))


def _default_style(source: str) -> int:
    # CAST(date AS VARCHAR): date and datetime2 print as ISO 8601 (styles 23 and 121), datetime as style 0.
    return {"DATE": 23, "DATETIME2": 121, "TIME": 121}.get(source, 0)


def _bare(node: exp.Expr) -> exp.Expr:
    """The value under the conversion wrappers sqlglot adds around a date argument."""
    while isinstance(node, exp.TsOrDsToDate | exp.TimeStrToTime | exp.TsOrDsToTimestamp):
        node = node.this
    if isinstance(node, exp.Cast) and node.to.this == exp.DType.TIMESTAMP:
        node = node.this
    return node


def part_name(name: str) -> str:
    """DATEPART's part by any of its names (datepart-transact-sql), or a one-line refusal."""
    from mssql_mcp.db.tsql_dates import PARTS

    part = PARTS.get(name.lower())
    if part is None:
        raise TranslationError(f"The date part {name.lower()} is not supported on the embedded SQLite database.")
    return part


def _date_call(name: str, unit: str, *args: exp.Expr) -> exp.Expr:
    from mssql_mcp.db.tsql_dates import UNITS

    if unit.lower() not in UNITS:
        tsql_name = name.removeprefix("tsql_").upper()
        raise TranslationError(f"{tsql_name} with {unit.lower()} is not supported on the embedded database.")
    return _call(name, exp.Literal.string(unit.lower()), *args)


def _functions(node: exp.Expr, columns: ColumnTypes) -> exp.Expr | None:
    """Date and string functions whose SQLite translation would compute something else."""
    if isinstance(node, exp.DateAdd):
        value = _bare(node.this)
        source = value_type(value, columns)
        return _date_call("tsql_dateadd", node.text("unit"), node.expression, value, exp.Literal.string(source))
    if isinstance(node, exp.DateDiff):
        start, end = _bare(node.expression), _bare(node.this)
        source = value_type(start, columns) or value_type(end, columns)
        return _date_call("tsql_datediff", node.text("unit"), start, end, exp.Literal.string(source))
    if isinstance(node, exp.TimeToStr):  # FORMAT(date, …); DATENAME is parsed apart (tsql_parse)
        raise TranslationError("FORMAT is not supported on the embedded SQLite database.")
    if isinstance(node, exp.Anonymous) and node.name.upper() in ("TSQL_DATEPART_RAW", "TSQL_DATENAME_RAW"):
        part, value = node.expressions[0], _bare(node.expressions[1])
        name = "tsql_datepart" if node.name.upper() == "TSQL_DATEPART_RAW" else "tsql_datename"
        return _call(name, part, value, exp.Literal.string(value_type(value, columns)))
    if isinstance(node, exp.Year | exp.Month | exp.Day):
        value = _bare(node.this)
        part = exp.Literal.string(type(node).__name__.lower())
        return _call("tsql_datepart", part, value, exp.Literal.string(value_type(value, columns)))
    if isinstance(node, exp.CurrentTimestamp) or (
        isinstance(node, exp.Anonymous) and node.name.upper() in ("SYSDATETIME", "GETUTCDATE", "SYSUTCDATETIME")
    ):
        # GETDATE and CURRENT_TIMESTAMP are datetime, SYSDATETIME datetime2(7) (getdate-transact-sql)
        name = "GETDATE" if isinstance(node, exp.CurrentTimestamp) else node.name.upper()
        kind = "DATETIME2" if "SYS" in name else "DATETIME"
        return _call("tsql_now", exp.Literal.string(kind), exp.Literal.number(int("UTC" in name)))
    if isinstance(node, exp.StrPosition):
        start = node.args.get("position") or exp.Literal.number(1)
        return _call("tsql_charindex", node.args["substr"], node.this, start)
    if isinstance(node, exp.Replace):
        return _call("tsql_replace", node.this, node.expression, node.args["replacement"])
    if isinstance(node, exp.Stuff):
        return _call("tsql_stuff", node.this, node.args["start"], node.args["length"], node.expression)
    if isinstance(node, exp.Repeat):
        return _call("tsql_replicate", node.this, node.args["times"])
    if isinstance(node, exp.Div):
        return _call("tsql_divide", node.this, node.expression)
    if isinstance(node, exp.Mod):
        return _call("tsql_modulo", node.this, node.expression)
    if isinstance(node, exp.Extract):  # EXTRACT(part FROM d): the parts are named as in DATEPART
        value = _bare(node.expression)
        typed = exp.Literal.string(value_type(value, columns))
        return _call("tsql_datepart", exp.Literal.string(part_name(node.this.name)), value, typed)
    if isinstance(node, exp.Anonymous) and node.name.upper() == "PATINDEX" and len(node.expressions) == 2:
        return _call("tsql_patindex", *node.expressions)
    if type(node) is exp.Concat:  # each argument converted as CAST to text would (a decimal keeps its scale)
        text = exp.DataType.build("VARCHAR(MAX)", dialect="tsql")
        for arg in list(node.expressions):
            if value_type(arg, columns) not in ("TEXT", "GUID") and not isinstance(arg, exp.Null):
                arg.replace(_conversion(arg.copy(), text, -1, False, columns) or arg.copy())
        return None
    if isinstance(node, exp.ConcatWs):
        return _call("tsql_concat_ws", *node.expressions)
    if isinstance(node, exp.Reverse):
        return _call("tsql_reverse", node.this)
    if isinstance(node, exp.Space):
        return _call("tsql_space", node.this)
    if isinstance(node, exp.Anonymous) and node.name.upper() == "CHOOSE" and len(node.expressions) > 1:
        # CHOOSE(i, a, b, …): the i-th value, NULL when i is out of range (logical-functions-choose-transact-sql)
        index, *values = node.expressions
        ifs = [exp.If(this=exp.Literal.number(n), true=v) for n, v in enumerate(values, start=1)]
        return exp.Case(this=index, ifs=ifs)
    if isinstance(node, exp.DateFromParts):
        return _call("tsql_datefromparts", node.args["year"], node.args["month"], node.args["day"])
    return None


def rewrite(node: exp.Expr, columns: ColumnTypes) -> exp.Expr:
    """One node, children already rewritten."""
    done = tsql_numbers.rewrite(node, columns) or _functions(node, columns)
    if done is not None:
        return done
    if isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Order):
        raise TranslationError("STRING_AGG … WITHIN GROUP is not supported on the embedded SQLite database.")
    for kind, what in _REFUSED.items():
        if isinstance(node, kind):
            raise TranslationError(f"{what} is not supported on the embedded SQLite database.")
    if isinstance(node, exp.Cast | exp.TryCast) and isinstance(node.args.get("to"), exp.DataType):
        safe = isinstance(node, exp.TryCast) or bool(node.args.get("safe"))
        return _conversion(node.this, node.args["to"], -1, safe, columns) or node
    if isinstance(node, exp.Convert) and isinstance(node.this, exp.DataType):
        style_node = node.args.get("style")
        if style_node is not None and not (isinstance(style_node, exp.Literal) and style_node.is_int):
            raise TranslationError("CONVERT's style must be a number on the embedded database.")
        style = int(style_node.name) if style_node is not None else -1
        return _conversion(node.expression, node.this, style, bool(node.args.get("safe")), columns) or node
    if isinstance(node, exp.Length):  # LEN: trailing spaces do not count
        inner = node.this.this if isinstance(node.this, exp.Cast) else node.this
        if value_type(inner, columns) in DATE_TYPES:  # LEN(GETDATE()): the date as text, style 0 or ISO
            inner = _conversion(inner, exp.DataType.build("VARCHAR(MAX)", dialect="tsql"), -1, False, columns) or inner
        return exp.Length(
            this=_call("RTRIM", exp.Cast(this=inner, to=exp.DataType.build("TEXT")), exp.Literal.string(" "))
        )
    return node
