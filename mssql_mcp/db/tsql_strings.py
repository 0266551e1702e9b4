"""String functions whose SQLite namesakes differ from SQL Server's, computed in Python for the embedded database.

- UPPER/LOWER change every letter, not only ASCII ones (SQLite's own change ASCII only), one character for one:
  UPPER(N'ß') stays 'ß' (https://learn.microsoft.com/sql/t-sql/functions/upper-transact-sql).
- CHARINDEX and REPLACE compare under the default collation, case-insensitive and accent-sensitive:
  CHARINDEX('B', 'abc') is 2 (https://learn.microsoft.com/sql/t-sql/functions/charindex-transact-sql,
  https://learn.microsoft.com/sql/t-sql/functions/replace-transact-sql).
- ROUND rounds half away from zero, to negative places too, and truncates when its third argument is not 0:
  ROUND(748.58, -1) is 750 (https://learn.microsoft.com/sql/t-sql/functions/round-transact-sql).
- STUFF, REPLICATE, SPACE, REVERSE and DATEFROMPARTS, which SQLite lacks
  (https://learn.microsoft.com/sql/t-sql/functions/stuff-transact-sql, .../replicate-transact-sql,
  .../datefromparts-transact-sql).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from mssql_mcp.db.tsql_functions import _char_key, _fail


def _one_for_one(text: str, upper: bool) -> str:
    out = []
    for char in text:
        changed = char.upper() if upper else char.lower()
        out.append(changed if len(changed) == 1 else char)
    return "".join(out)


def _plain(value: object) -> int | float | bytes | None:
    return value if isinstance(value, int | float | bytes) or value is None else str(value)  # type: ignore[return-value]


def upper(value: object) -> str | int | float | bytes | None:
    return _one_for_one(value, True) if isinstance(value, str) else _plain(value)


def lower(value: object) -> str | int | float | bytes | None:
    return _one_for_one(value, False) if isinstance(value, str) else _plain(value)


def _fold(*texts: str) -> list[str]:
    """The texts with each character replaced by one representative of its collation key, so that plain
    `str.find` on them agrees with the collation. One key is computed per distinct character and the rest runs
    at C speed: a REPLACE over a 16 MB value is one uninterruptible call, and must stay short."""
    reps: dict[object, str] = {}
    table: dict[int, str] = {}
    for char in set().union(*texts):
        table[ord(char)] = reps.setdefault(_char_key(char), char)
    return [text.translate(table) for text in texts]


def _find(needle: str, haystack: str, start: int) -> int:
    """0-based index of `needle` in `haystack` from `start` under the collation, or -1."""
    folded_needle, folded = _fold(needle, haystack)
    return folded.find(folded_needle, max(start, 0))


def charindex(needle: object, haystack: object, start: object = 1) -> int | None:
    if needle is None or haystack is None:
        return None
    if needle == "":
        return 0
    begin = int(start) - 1 if isinstance(start, int | float) and start > 0 else 0
    return _find(str(needle), str(haystack), begin) + 1


def replace(value: object, old: object, new: object) -> str | None:
    if value is None or old is None or new is None:
        return None
    text, pattern = str(value), str(old)
    if pattern == "":
        return text
    # Each character of the pattern matches every character of the text with the same collation key; the
    # substitution then runs at C speed (a per-match Python loop over a 16 MB value would take seconds).
    keys: dict[object, list[str]] = {}
    for char in set(text) | set(pattern):
        keys.setdefault(_char_key(char), []).append(char)
    classes = ("[" + "".join(re.escape(c) for c in sorted(keys[_char_key(char)])) + "]" for char in pattern)
    return re.compile("".join(classes)).sub(str(new).replace("\\", "\\\\"), text)


def stuff(value: object, start: object, length: object, insert: object) -> str | None:
    if value is None or start is None or length is None:
        return None
    text, begin, count = str(value), int(float(str(start))), int(float(str(length)))
    if begin <= 0 or begin > len(text) or count < 0:
        return None
    return text[: begin - 1] + ("" if insert is None else str(insert)) + text[begin - 1 + count :]


def replicate(value: object, times: object) -> str | None:
    if value is None or times is None:
        return None
    count = int(float(str(times)))
    if count < 0:
        return None
    if count * len(str(value)) > 8000:
        # SQL Server cuts a non-max result at 8,000 bytes and lets varchar(max) grow; which applies depends on
        # the declared type, which the embedded database does not track, so a longer result is refused.
        raise _fail("The embedded database cannot run this query: REPLICATE beyond 8,000 characters is not supported.")
    return str(value) * count


def datefromparts(year: object, month: object, day: object) -> str | None:
    if year is None or month is None or day is None:
        return None
    try:
        return dt.date(int(str(year)), int(str(month)), int(str(day))).isoformat()
    except ValueError:
        raise _fail("Cannot construct data type date, some of the arguments have values which are not valid.") from None


def round_(value: object, places: object = 0, truncate: object = 0) -> int | float | None:
    if value is None or places is None:
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
        digits = int(float(str(places)))
    except (InvalidOperation, ValueError):
        raise _fail(f"ROUND needs a number, not {value!r}.") from None
    mode = ROUND_DOWN if truncate not in (0, None) else ROUND_HALF_UP
    rounded = (
        number.quantize(Decimal(1).scaleb(-digits), mode)
        if digits >= 0
        else ((number.scaleb(digits).quantize(Decimal(1), mode)).scaleb(-digits))
    )
    return int(rounded) if isinstance(value, int) else float(rounded)


def concat_ws(separator: object, *values: object) -> str | None:
    """CONCAT_WS skips NULL values (https://learn.microsoft.com/sql/t-sql/functions/concat-ws-transact-sql)."""
    if separator is None:
        separator = ""
    return str(separator).join(str(v) for v in values if v is not None)


def reverse(value: object) -> str | None:
    return None if value is None else str(value)[::-1]


def space(count: object) -> str | None:
    return replicate(" ", count)


def _divisible(left: object, right: object) -> tuple[int | float, int | float] | None:
    """The operands of `/` or `%` as numbers; None when either is NULL; a divisor of 0 is SQL Server's error."""
    if left is None or right is None:
        return None
    a, b = _number(left), _number(right)
    if b == 0:
        raise _fail("Divide by zero error encountered.")
    return a, b


def divide(left: object, right: object) -> int | float | None:
    """`/` as SQL Server: integers divide to an integer truncated toward zero, and 0 as divisor is an error
    (https://learn.microsoft.com/sql/t-sql/language-elements/divide-transact-sql)."""
    operands = _divisible(left, right)
    if operands is None:
        return None
    a, b = operands
    if isinstance(a, int) and isinstance(b, int):
        quotient = abs(a) // abs(b)
        return quotient if (a < 0) == (b < 0) else -quotient
    return a / b


def modulo(left: object, right: object) -> int | float | None:
    """`%` as SQL Server: the sign of the dividend, and 0 as divisor is an error
    (https://learn.microsoft.com/sql/t-sql/language-elements/modulo-transact-sql)."""
    operands = _divisible(left, right)
    if operands is None:
        return None
    a, b = operands
    if isinstance(a, int) and isinstance(b, int):
        remainder = abs(a) % abs(b)
        return remainder if a >= 0 else -remainder
    return float(Decimal(repr(a)) % Decimal(repr(b)))


def _number(value: object) -> int | float:
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise _fail(f"Conversion failed when converting the value {value!r} to a number.") from None
