"""Decimal division and AVG of decimals as SQL Server types them, on the embedded database.

SQL Server divides decimals exactly and keeps the quotient at the result type's scale: for e1 / e2 with
precisions p1, p2 and scales s1, s2 that is scale max(6, s1 + p2 + 1) and precision
p1 - s1 + s2 + max(6, s1 + p2 + 1). Past 38 digits the precision is 38 and the scale is cut back: to
min(scale, 38 - integral digits) while those are under 32, otherwise to 6 (a smaller scale stays), the result
rounded to it (https://learn.microsoft.com/sql/t-sql/data-types/precision-scale-and-length-transact-sql).
AVG of a decimal(p, s) is a decimal(38, max(s, 6))
(https://learn.microsoft.com/sql/t-sql/functions/avg-transact-sql). SQLite divides in binary floating point
instead (10.0 / 3 is 3.3333333333333335 there, 3.333333333333 on SQL Server).

The translation works out an operand's precision and scale where the statement fixes them: a decimal or
integer column, a literal, a CAST, and +, -, *, / over those. The division then runs in Python's decimal
arithmetic (`divide`), rounded half away from zero at the result's scale. Money and float operands, and
values whose type the statement does not declare, keep SQLite's division.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from sqlglot import exp

from mssql_mcp.db.tsql_convert import CAST_FUNCTION
from mssql_mcp.db.tsql_functions import _fail
from mssql_mcp.errors import TranslationError

DIVIDE_FUNCTION = "tsql_decimal_divide"
MAX_PRECISION = 38
MIN_DIVISION_SCALE = 6
SHOWN_AS_NUMBER = 15  # significant digits a double reproduces exactly; a longer quotient is exact text
INTEGER_PRECISION = {"TINYINT": 3, "SMALLINT": 5, "INT": 10, "INTEGER": 10, "BIGINT": 19}
INT_MAX = 2**31 - 1

ColumnTypes = dict[tuple[str, str], str]
Numeric = tuple[int, int, bool]  # precision, scale, and whether the type is decimal (not an integer)


def _declared(declared: str) -> Numeric | None:
    word = declared.partition("(")[0].strip()
    if word in INTEGER_PRECISION:
        return INTEGER_PRECISION[word], 0, False
    if word not in ("DECIMAL", "NUMERIC", "DEC"):
        return None
    inside = [part.strip() for part in declared.partition("(")[2].rstrip(")").split(",")]
    if not inside[0]:
        return 18, 0, True  # decimal-and-numeric-transact-sql: the default precision is 18, scale 0
    if not all(part.isdigit() for part in inside):
        return None
    return int(inside[0]), int(inside[1]) if len(inside) > 1 else 0, True


def _literal(text: str) -> Numeric | None:
    """A numeric constant's type (constants-transact-sql): an int, or a decimal of exactly its digits."""
    digits = text.lstrip("-+")
    if "e" in digits.lower():
        return None  # a float constant
    whole, _, fraction = digits.partition(".")
    if not fraction and "." not in digits:
        if int(whole or "0") <= INT_MAX:
            return 10, 0, False
        return len(whole.lstrip("0")), 0, True  # past int's range a constant is a decimal
    scale = len(fraction)
    return max(len(whole.lstrip("0")) + scale, scale, 1), scale, True


def _capped(precision: int, scale: int) -> tuple[int, int]:
    """The multiplication and division rule for a precision past 38 (the module docstring)."""
    if precision <= MAX_PRECISION:
        return precision, scale
    integral = precision - scale
    if integral < 32:
        scale = min(scale, MAX_PRECISION - integral)
    elif scale > MIN_DIVISION_SCALE:
        scale = MIN_DIVISION_SCALE
    return MAX_PRECISION, max(scale, 0)


def division_type(left: Numeric, right: Numeric) -> Numeric:
    (p1, s1, _), (p2, s2, _) = left, right
    scale = max(MIN_DIVISION_SCALE, s1 + p2 + 1)
    precision, scale = _capped(p1 - s1 + s2 + scale, scale)
    return precision, scale, True


def numeric_type(node: exp.Expr, columns: ColumnTypes) -> Numeric | None:
    """The precision and scale of an exact numeric value, where the statement fixes them; None otherwise."""
    if isinstance(node, exp.Paren | exp.Neg | exp.Round | exp.Abs):
        return numeric_type(node.this, columns)
    if isinstance(node, exp.Literal):
        return None if node.is_string else _literal(node.name)
    if isinstance(node, exp.Column):
        return _declared(columns.get((node.table.lower(), node.name.lower()), ""))
    if isinstance(node, exp.Anonymous):
        name, args = node.name.lower(), node.expressions
        if name == CAST_FUNCTION:
            target = args[1].name
            if target in INTEGER_PRECISION:
                return INTEGER_PRECISION[target], 0, False
            if target == "DECIMAL":
                return int(args[2].name), int(args[3].name), True
        if name == DIVIDE_FUNCTION:
            return int(args[3].name), int(args[2].name), True
        return None
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):
        left, right = numeric_type(node.this, columns), numeric_type(node.expression, columns)
        if left is None or right is None:
            return None
        (p1, s1, d1), (p2, s2, d2) = left, right
        if isinstance(node, exp.Mul):
            precision, scale = _capped(p1 + p2 + 1, s1 + s2)
        else:
            integral, scale = max(p1 - s1, p2 - s2), max(s1, s2)
            precision = min(scale + integral + 1, MAX_PRECISION)
            scale = min(scale, precision - integral)
        return precision, max(scale, 0), d1 or d2
    return None


def _call(*args: exp.Expr | int) -> exp.Expr:
    values = [exp.Literal.number(a) if isinstance(a, int) else a for a in args]
    return exp.Anonymous(this=DIVIDE_FUNCTION, expressions=values)


def rewrite_division(node: exp.Div, columns: ColumnTypes) -> exp.Expr | None:
    """`/` with a decimal operand whose type is known: SQL Server's quotient; None leaves it as it was."""
    left, right = numeric_type(node.this, columns), numeric_type(node.expression, columns)
    if left is None or right is None or not (left[2] or right[2]):
        return None  # not known, or two integers (an integer quotient, tsql_divide)
    precision, scale, _ = division_type(left, right)
    return _call(node.this, node.expression, scale, precision)


def rewrite_average(node: exp.Avg, columns: ColumnTypes) -> exp.Expr | None:
    """AVG of a known decimal: its exact sum over its count, at scale max(s, 6)."""
    inner = node.this.expressions[0] if isinstance(node.this, exp.Distinct) and node.this.expressions else node.this
    known = numeric_type(inner, columns)
    if known is None or not known[2]:
        return None
    if isinstance(node.parent, exp.Window):
        raise TranslationError("AVG over a window of decimal values is not supported on the embedded SQLite database.")
    scale = max(known[1], MIN_DIVISION_SCALE)
    # The sum is exact on SQL Server; SQLite adds doubles, so it is rounded back to the values' scale first.
    total = exp.Round(this=exp.Sum(this=node.this.copy()), decimals=exp.Literal.number(known[1]))
    return _call(total, exp.Count(this=node.this.copy()), scale, MAX_PRECISION)


def _exact(value: object) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest text that reads back as this double: the decimal it held
    return Decimal(str(value).strip()) if not isinstance(value, int) else Decimal(value)


def divide(left: object, right: object, scale: int, _precision: int) -> float | str | None:
    """left / right at `scale`, rounded half away from zero: a number when a double holds it exactly (at most
    15 significant digits), else the exact digits as text (as serialize.py shows a long decimal)."""
    if left is None or right is None:
        return None
    try:
        a, b = _exact(left), _exact(right)
    except InvalidOperation:
        raise _fail("Error converting data type varchar to numeric.") from None
    if b == 0:
        raise _fail("Divide by zero error encountered.")
    with localcontext() as context:
        context.prec = 2 * MAX_PRECISION + 10
        quotient = (a / b).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    return float(quotient) if len(quotient.as_tuple().digits) <= SHOWN_AS_NUMBER else str(quotient)
