"""Numbers as SQL Server types them, for the embedded database: implicit conversions, ISNULL, AVG, scale.

- Data type precedence (https://learn.microsoft.com/sql/t-sql/data-types/data-type-precedence-transact-sql):
  an int compared with or combined with text converts the text to int, so `1 = '1'` is true and
  `1 + '1.5'` fails ("Conversion failed ... to data type int"); SQLite would compare them as unequal values
  of different storage classes, or add 1.5.
- ISNULL returns the type of its first argument, so the replacement is cut to a varchar(n)'s length
  (https://learn.microsoft.com/sql/t-sql/functions/isnull-transact-sql); COALESCE takes the type of highest
  precedence and keeps SQLite's behaviour.
- AVG of an integer is an integer (https://learn.microsoft.com/sql/t-sql/functions/avg-transact-sql: the
  return type of int is int): the sum divided by the count, truncated. AVG of a decimal, and `/` with a
  decimal operand, are SQL Server's exact quotient at the result's scale (tsql_decimal.py).
- A decimal converted to text keeps its type's scale (CAST(12.5 AS DECIMAL(4,2)) prints 12.50).
"""

from __future__ import annotations

from sqlglot import exp

from mssql_mcp.db import tsql_decimal
from mssql_mcp.db.tsql_convert import CAST_FUNCTION, INTEGER_RANGES
from mssql_mcp.errors import TranslationError

ColumnTypes = dict[tuple[str, str], str]
_INTEGER_WORDS = ("INT",)  # INT, INTEGER, BIGINT, SMALLINT, TINYINT
_DECIMAL_WORDS = ("DECIMAL", "NUMERIC")
_INEXACT_WORDS = ("FLOAT", "REAL", "DOUBLE")
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)


def _declared(node: exp.Column, columns: ColumnTypes) -> str:
    return columns.get((node.table.lower(), node.name.lower()), "")


class Average:
    """AVG of values whose type the statement does not declare: an integer result when every value is one."""

    def __init__(self) -> None:
        self.total: int | float = 0
        self.count = 0
        self.integers = True

    def step(self, value: object) -> None:
        if isinstance(value, int | float):
            self.total += value
            self.count += 1
            self.integers = self.integers and isinstance(value, int)

    def finalize(self) -> int | float | None:
        if not self.count:
            return None
        if self.integers and isinstance(self.total, int):
            quotient = abs(self.total) // self.count  # truncated toward zero, as int division
            return quotient if self.total >= 0 else -quotient
        return self.total / self.count


def _declared_scale(declared: str, money: int = 2) -> int | None:
    if any(word in declared for word in _INEXACT_WORDS):
        return None
    if "MONEY" in declared:
        return money  # as text two decimals, style 0 (cast-and-convert-transact-sql); four when computed
    if any(word in declared for word in _DECIMAL_WORDS):
        inside = declared.partition("(")[2].rstrip(")").split(",")
        return int(inside[1]) if len(inside) > 1 and inside[1].strip().isdigit() else 0
    if any(word in declared for word in _INTEGER_WORDS):
        return 0
    return None


def text_scale(node: exp.Expr, columns: ColumnTypes, money: int = 2) -> int | None:
    """Digits after the point when the value is shown as text (`money` 2) or computed (`money` 4), where its
    exact numeric type is known: a decimal's scale, that of + and - the larger, that of * the sum
    (https://learn.microsoft.com/sql/t-sql/data-types/precision-scale-and-length-transact-sql)."""
    if isinstance(node, exp.Paren | exp.Neg | exp.Round | exp.Sum | exp.Min | exp.Max | exp.Abs):
        return text_scale(node.this, columns, money)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):
        left, right = text_scale(node.this, columns, money), text_scale(node.expression, columns, money)
        if left is None or right is None:
            return None
        return left + right if isinstance(node, exp.Mul) else max(left, right)
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.name
        if "e" in text.lower():
            return None
        return len(text.partition(".")[2]) if "." in text else 0
    if isinstance(node, exp.Column):
        return _declared_scale(_declared(node, columns), money)
    if isinstance(node, exp.Anonymous) and node.name.lower() == CAST_FUNCTION:
        target = node.expressions[1].name
        if target in INTEGER_RANGES or target == "BIT":
            return 0
        if target in ("MONEY", "SMALLMONEY"):
            return money
        if target == "DECIMAL":
            return int(node.expressions[3].name)
    if isinstance(node, exp.Count):
        return 0
    if isinstance(node, exp.Anonymous) and node.name.lower() == tsql_decimal.DIVIDE_FUNCTION:
        return int(node.expressions[2].name)
    return None


def inexact(node: exp.Expr, columns: ColumnTypes) -> bool:
    """Whether a value of unknown type may be a decimal or float (its text form would then be unknown)."""
    for sub in node.walk():
        if isinstance(sub, exp.Column) and _declared_scale(_declared(sub, columns)) not in (None, 0):
            return True
        if isinstance(sub, exp.Column) and any(w in _declared(sub, columns) for w in _INEXACT_WORDS):
            return True
        if isinstance(sub, exp.Literal) and not sub.is_string and not sub.is_int:
            return True
        if isinstance(sub, exp.Avg | exp.Sqrt | exp.Pow | exp.Exp | exp.Ln | exp.Log):
            return True
    return False


def is_integer(node: exp.Expr, columns: ColumnTypes) -> bool:
    if isinstance(node, exp.Literal):
        return node.is_int
    if isinstance(node, exp.Column):
        declared = _declared(node, columns)
        return any(word in declared for word in _INTEGER_WORDS)
    return isinstance(node, exp.Paren) and is_integer(node.this, columns)


def _is_text(node: exp.Expr, columns: ColumnTypes) -> bool:
    if isinstance(node, exp.Literal):
        return node.is_string
    if isinstance(node, exp.Column):
        declared = _declared(node, columns)
        return any(word in declared for word in ("CHAR", "TEXT"))
    return False


def _to_int(node: exp.Expr) -> exp.Expr:
    args = [node, exp.Literal.string("INT"), *(exp.Literal.number(n) for n in (38, 0, -1)), exp.Literal.string("")]
    return exp.Anonymous(this=CAST_FUNCTION, expressions=args)


def rewrite(node: exp.Expr, columns: ColumnTypes) -> exp.Expr | None:
    """The node with SQL Server's typing applied, or None when nothing changes."""
    if isinstance(node, (*_COMPARISONS, *_ARITHMETIC)):
        left, right = node.this, node.expression
        if is_integer(left, columns) and _is_text(right, columns):
            node.set("expression", _to_int(right))
        elif is_integer(right, columns) and _is_text(left, columns):
            node.set("this", _to_int(left))
        if isinstance(node, exp.Div):
            return tsql_decimal.rewrite_division(node, columns)
        return _exact(node, columns) if isinstance(node, exp.Add | exp.Sub | exp.Mul) else None
    if isinstance(node, exp.Sum) and not isinstance(node.parent, exp.Window) or isinstance(node, exp.Window):
        return _exact(node, columns) if isinstance(node.this, exp.Sum) or isinstance(node, exp.Sum) else None
    if isinstance(node, exp.Coalesce) and node.args.get("is_null"):
        return _isnull(node, columns)
    if isinstance(node, exp.Avg):
        inner = node.this.expressions[0] if isinstance(node.this, exp.Distinct) and node.this.expressions else node.this
        known = is_integer(inner, columns) or text_scale(inner, columns) is not None or inexact(inner, columns)
        if known and not is_integer(inner, columns):
            # A known decimal: SQL Server's exact average; money and float keep SQLite's AVG (the docs say so).
            return tsql_decimal.rewrite_average(node, columns)
        if isinstance(node.parent, exp.Window):
            raise TranslationError(
                "AVG over a window of integer (or untyped) values is not supported on the embedded SQLite database."
            )
        if known:
            total, count = exp.Sum(this=node.this.copy()), exp.Count(this=node.this.copy())
            return exp.Anonymous(this="tsql_divide", expressions=[total, count])
        # A derived table's column has no declared type: its values tell (all integers: an int average).
        return exp.Anonymous(this="tsql_avg", expressions=[node.this.copy()])
    return None


def _exact(node: exp.Expr, columns: ColumnTypes) -> exp.Expr | None:
    """Decimal arithmetic and sums are exact on SQL Server; SQLite computes them in binary floating point
    (12.1 * 3 is 36.3 there, 36.29999… here): rounded to the result type's scale, the value is SQL Server's."""
    inner = node.this if isinstance(node, exp.Window) else node
    scale = text_scale(inner, columns, money=4)
    if not scale or isinstance(node.parent, exp.Round):
        return None
    return exp.Round(this=node.copy(), decimals=exp.Literal.number(scale))


def _isnull(node: exp.Coalesce, columns: ColumnTypes) -> exp.Expr | None:
    """ISNULL(a, b) has a's type: a varchar(n) cuts b to n characters, an int truncates b."""
    first = node.this
    length = _text_length(first, columns)
    if length:
        args = [node.copy(), exp.Literal.string("TEXT"), *(exp.Literal.number(n) for n in (length, 0, -1))]
        return exp.Anonymous(this=CAST_FUNCTION, expressions=[*args, exp.Literal.string("TEXT")])
    return None


def _text_length(node: exp.Expr, columns: ColumnTypes) -> int | None:
    if isinstance(node, exp.Anonymous) and node.name.lower() == CAST_FUNCTION and node.expressions[1].name == "TEXT":
        length = int(node.expressions[2].name)
        return length or None
    if isinstance(node, exp.Column):
        declared = _declared(node, columns)
        if "CHAR" in declared and "(" in declared and "MAX" not in declared:
            size = declared.partition("(")[2].rstrip(")").strip()
            return int(size) if size.isdigit() else None
    return None
