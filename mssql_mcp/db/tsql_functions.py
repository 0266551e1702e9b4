"""SQL Server semantics the embedded database computes in Python: a collation, LIKE, and conversions.

Registered on every SQLite connection (`register`); the T-SQL translation (`tsql_semantics`) emits calls to
them where SQLite's own behaviour differs from SQL Server's:

- the collation TSQL_CI_AS: SQL Server's default collations are case-insensitive and accent-sensitive
  (https://learn.microsoft.com/sql/relational-databases/collations/collation-and-unicode-support), and `=`
  ignores trailing spaces (https://learn.microsoft.com/sql/t-sql/language-elements/equals-transact-sql);
- `like`, replacing SQLite's own: T-SQL's wildcards `%`, `_`, `[a-c]`, `[^a-c]` under that collation
  (https://learn.microsoft.com/sql/t-sql/language-elements/like-transact-sql);
- tsql_cast: CAST/CONVERT to the date and time types, DECIMAL/NUMERIC(p, s) (rounded half away from zero),
  MONEY, BIT and UNIQUEIDENTIFIER, and the date styles of CONVERT
  (https://learn.microsoft.com/sql/t-sql/functions/cast-and-convert-transact-sql).

A failed conversion raises; SQLite reports only "user-defined function raised exception", so the message is
kept per thread for `take_error` (the backend reads it on the same worker thread).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sqlite3
import threading
import unicodedata
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import cast

COLLATION = "TSQL_CI_AS"
CAST_FUNCTION = "tsql_cast"
DATE_TYPES = frozenset({"DATE", "DATETIME", "DATETIME2", "SMALLDATETIME", "TIME"})
NUMERIC_TYPES = frozenset({"DECIMAL", "NUMERIC", "MONEY", "SMALLMONEY"})
INTEGER_RANGES = {
    "TINYINT": (0, 255),
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INT": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
}
_INTEGER_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
# CONVERT(char, date, style): the styles implemented, as strftime formats (century styles; %3 is milliseconds).
STYLES = {
    101: "%m/%d/%Y",
    102: "%Y.%m.%d",
    103: "%d/%m/%Y",
    104: "%d.%m.%Y",
    105: "%d-%m-%Y",
    108: "%H:%M:%S",
    110: "%m-%d-%Y",
    111: "%Y/%m/%d",
    112: "%Y%m%d",
    120: "%Y-%m-%d %H:%M:%S",
    20: "%Y-%m-%d %H:%M:%S",
    23: "%Y-%m-%d",
}

_local = threading.local()
_Key = tuple[tuple[str, ...], tuple[str, ...]]
SqliteValue = str | int | float | bytes | None


class ConversionFailed(ValueError):
    pass


def take_error() -> str | None:
    """The message of this thread's last failed conversion, once."""
    message: str | None = getattr(_local, "error", None)
    _local.error = None
    return message


def _fail(message: str) -> ConversionFailed:
    _local.error = message
    return ConversionFailed(message)


# -- collation ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def sort_key(text: str) -> _Key:
    """Letters first by base letter (case ignored), then by accent: a < á < b, and 'A' = 'a', 'á' != 'a'.

    Trailing spaces do not count, as in SQL Server's `=` (ANSI padding).
    """
    bases: list[str] = []
    accents: list[str] = []
    for char in unicodedata.normalize("NFC", text.rstrip(" ")):
        decomposed = unicodedata.normalize("NFD", char)
        bases.append(decomposed[0].lower())
        accents.append(decomposed[1:])
    return tuple(bases), tuple(accents)


def collate(left: str, right: str) -> int:
    a, b = sort_key(left), sort_key(right)
    return (a > b) - (a < b)


def _char_key(char: str) -> _Key:
    return sort_key(char) if char != " " else ((" ",), ("",))


@functools.lru_cache(maxsize=512)
def _like_regex(pattern: str, escape: str | None) -> list[tuple[str, object]]:
    """The pattern as tokens: ('%', None), ('_', None), ('lit', key), ('set', (negated, items))."""
    tokens: list[tuple[str, object]] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if escape is not None and char == escape and i + 1 < len(pattern):
            tokens.append(("lit", _char_key(pattern[i + 1])))
            i += 2
            continue
        if char in "%_":
            tokens.append((char, None))
        elif char == "[" and pattern.find("]", i + 2) > i:
            end = pattern.find("]", i + 2)
            body = pattern[i + 1 : end]
            negated = body.startswith("^") and len(body) > 1
            body = body[1:] if negated else body
            items: list[tuple[object, object]] = []
            j = 0
            while j < len(body):
                if j + 2 < len(body) and body[j + 1] == "-":
                    items.append((_char_key(body[j]), _char_key(body[j + 2])))
                    j += 3
                else:
                    items.append((_char_key(body[j]), None))
                    j += 1
            tokens.append(("set", (negated, tuple(items))))
            i = end + 1
            continue
        else:
            tokens.append(("lit", _char_key(char)))
        i += 1
    return tokens


def _matches_one(token: tuple[str, object], char: str) -> bool:
    kind, arg = token
    if kind == "_":
        return True
    key = _char_key(char)
    if kind == "lit":
        return key == arg
    negated, items = cast(tuple[bool, tuple[tuple[_Key, _Key | None], ...]], arg)
    hit = any(key == lo if hi is None else lo <= key <= hi for lo, hi in items)
    return hit != negated


def like(pattern: object, value: object, escape: object = None) -> int | None:
    """T-SQL's LIKE under TSQL_CI_AS (SQLite calls like(pattern, value[, escape]))."""
    if pattern is None or value is None:
        return None
    tokens = _like_regex(str(pattern), None if escape is None else str(escape))
    text = str(value)
    # Greedy matching with backtracking over % (the classic wildcard algorithm, linear memory).
    t = p = 0
    star_p, star_t = -1, 0
    while t < len(text):
        if p < len(tokens) and tokens[p][0] != "%" and _matches_one(tokens[p], text[t]):
            t, p = t + 1, p + 1
        elif p < len(tokens) and tokens[p][0] == "%":
            star_p, star_t = p, t
            p += 1
        elif star_p >= 0:
            star_t += 1
            t, p = star_t, star_p + 1
        else:
            return 0
    while p < len(tokens) and tokens[p][0] == "%":
        p += 1
    return int(p == len(tokens))


# -- conversions ----------------------------------------------------------------------------------------------

_DATE_TEXT = re.compile(r"^\s*(\d{4})-?(\d{2})-?(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*$")
_TIME_TEXT = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?\s*$")


def _parse_datetime(value: object, target: str) -> tuple[dt.datetime, int]:
    """The value as a datetime and its fraction of a second in 100 ns units (datetime2 keeps 7 digits)."""
    if isinstance(value, int | float) and not isinstance(value, bool):  # a number is days since 1900-01-01
        moment = dt.datetime(1900, 1, 1) + dt.timedelta(days=float(value))
        return moment.replace(microsecond=0), moment.microsecond * 10
    if not isinstance(value, str):
        raise _fail(f"Conversion failed when converting the value {value!r} to {target.lower()}.")
    match = _DATE_TEXT.match(value)
    if match:
        y, mo, d, h, mi, s, frac = match.groups()
        try:
            base = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
        except ValueError:
            raise _fail(
                f"Conversion failed when converting date and/or time from character string {value!r}."
            ) from None
        return base, int((frac or "0").ljust(7, "0"))
    match = _TIME_TEXT.match(value)
    if match:  # a time alone is that time on 1900-01-01, SQL Server's default date
        h, mi, s, frac = match.groups()
        return dt.datetime(1900, 1, 1, int(h), int(mi), int(s or 0)), int((frac or "0").ljust(7, "0"))
    raise _fail(f"Conversion failed when converting date and/or time from character string {value!r}.")


def _to_date_type(value: object, target: str, scale: int) -> str:
    moment, ticks = _parse_datetime(value, target)
    if target == "DATE":
        return moment.strftime("%Y-%m-%d")
    if target == "SMALLDATETIME":  # whole minutes; 29.999 seconds or more round up
        if moment.second * 10_000_000 + ticks >= 299_990_000:
            moment += dt.timedelta(minutes=1)
        return moment.replace(second=0).strftime("%Y-%m-%d %H:%M:%S")
    if target == "DATETIME":
        # 1/300 s, shown as .000, .003 or .007 (https://learn.microsoft.com/sql/t-sql/data-types/datetime-transact-sql)
        n = int((Decimal(ticks) * 300 / 10_000_000).quantize(Decimal(1), ROUND_HALF_UP))
        ms = int((Decimal(n) * 10 / 3).quantize(Decimal(1), ROUND_HALF_UP))
        moment += dt.timedelta(milliseconds=ms)
        text = moment.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{moment.microsecond // 1000:03d}" if moment.microsecond else "")
    step = 10 ** (7 - scale)
    total = int((Decimal(ticks) / step).quantize(Decimal(1), ROUND_HALF_UP)) * step
    if total >= 10_000_000:
        moment += dt.timedelta(seconds=1)
        total -= 10_000_000
    digits = str(total).rjust(7, "0")[:scale]
    fmt = "%H:%M:%S" if target == "TIME" else "%Y-%m-%d %H:%M:%S"
    return moment.strftime(fmt) + (f".{digits}" if digits.strip("0") else "")


def _to_number(value: object, target: str, precision: int, scale: int) -> float | int:
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, float) else Decimal(repr(value))
    except InvalidOperation:
        raise _fail(f"Error converting the value {value!r} to data type {target.lower()}.") from None
    quantized = number.quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)
    if len(quantized.as_tuple().digits) > precision and quantized != 0:
        raise _fail(f"Arithmetic overflow error converting {value!r} to data type {target.lower()}.")
    return int(quantized) if scale == 0 else float(quantized)


def _to_integer(value: object, target: str) -> int:
    """Text must spell an integer ('1.5' fails, as in SQL Server); a number is truncated toward zero."""
    if isinstance(value, str) and not _INTEGER_TEXT.match(value):
        raise _fail(f"Conversion failed when converting the value {value!r} to data type {target.lower()}.")
    try:
        number = int(value) if isinstance(value, int | float | str) else int(str(value))
    except ValueError:
        raise _fail(f"Conversion failed when converting the value {value!r} to data type {target.lower()}.") from None
    low, high = INTEGER_RANGES[target]
    if not low <= number <= high:
        raise _fail(f"Arithmetic overflow error converting {value!r} to data type {target.lower()}.")
    return number


def _to_bit(value: object) -> int:
    if isinstance(value, int | float):
        return int(value != 0)
    text = str(value).strip().upper()
    if text in ("TRUE", "FALSE"):
        return int(text == "TRUE")
    try:
        return int(Decimal(text) != 0)
    except InvalidOperation:
        raise _fail(f"Conversion failed when converting the value {value!r} to data type bit.") from None


def _to_guid(value: object) -> str:
    try:
        return str(uuid.UUID(str(value).strip())).upper()
    except ValueError:
        raise _fail("Conversion failed when converting from a character string to uniqueidentifier.") from None


def _date_style(value: object, style: int, source: str) -> str:
    """CONVERT(char, <date value>, style) for a value of type `source`."""
    moment, ticks = _parse_datetime(value, source if source in DATE_TYPES else "DATETIME2")
    if style in (121, 21, 126):
        if source == "DATETIME2":
            frac = "." + str(ticks).rjust(7, "0")
        elif source == "DATETIME":
            ms = int(_to_date_type(value, "DATETIME", 3)[20:23] or 0)
            frac = f".{ms:03d}" if (style != 126 or ms) else ""
        else:
            frac = ".000" if style != 126 else ""
        sep = "T" if style == 126 else " "
        return moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + frac
    if style in (0, 100):  # mon dd yyyy hh:miAM, day and hour padded with a space: 'Mar  5 2024 10:11AM'
        hour = moment.hour % 12 or 12
        ampm = "AM" if moment.hour < 12 else "PM"
        month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[moment.month - 1]  # us_english
        return f"{month} {moment.day:>2} {moment.year} {hour:>2}:{moment.minute:02d}{ampm}"
    return moment.strftime(STYLES[style])


def tsql_cast(
    value: object, target: str, precision: int, scale: int, style: int, source: str
) -> str | int | float | None:
    """CAST/CONVERT(target(precision, scale), value, style); `source` is the value's T-SQL type if known."""
    if value is None:
        return None
    if target in DATE_TYPES:
        return _to_date_type(value, target, 7 if scale < 0 else scale)
    if target in NUMERIC_TYPES:
        return _to_number(value, target, precision, scale)
    if target in INTEGER_RANGES:
        return _to_integer(value, target)
    if target == "BIT":
        return _to_bit(value)
    if target == "UNIQUEIDENTIFIER":
        return _to_guid(value)
    if target == "TEXT":
        text = _date_style(value, style, source) if source in DATE_TYPES and style >= 0 else str(value)
        return text[:precision] if precision > 0 else text
    raise _fail(f"Conversion to {target.lower()} is not supported on the embedded database.")


def try_cast(
    value: object, target: str, precision: int, scale: int, style: int, source: str
) -> str | int | float | None:
    try:
        return tsql_cast(value, target, precision, scale, style, source)
    except ConversionFailed:
        _local.error = None
        return None


def register(con: sqlite3.Connection) -> None:
    from mssql_mcp.db import tsql_dates, tsql_strings  # they build on this module's parsing and collation

    con.create_collation(COLLATION, collate)
    for name, arity, function in (
        ("upper", 1, tsql_strings.upper),
        ("round", 1, tsql_strings.round_),
        ("round", 2, tsql_strings.round_),
        ("round", 3, tsql_strings.round_),
        ("lower", 1, tsql_strings.lower),
        ("tsql_charindex", 3, tsql_strings.charindex),
        ("tsql_replace", 3, tsql_strings.replace),
        ("tsql_stuff", 4, tsql_strings.stuff),
        ("tsql_replicate", 2, tsql_strings.replicate),
        ("tsql_reverse", 1, tsql_strings.reverse),
        ("tsql_divide", 2, tsql_strings.divide),
        ("tsql_modulo", 2, tsql_strings.modulo),
        ("tsql_space", 1, tsql_strings.space),
        ("tsql_datefromparts", 3, tsql_strings.datefromparts),
        ("tsql_dateadd", 4, tsql_dates.dateadd),
        ("tsql_datediff", 4, tsql_dates.datediff),
        ("tsql_datename", 3, tsql_dates.datename),
    ):
        con.create_function(name, arity, cast(Callable[..., SqliteValue], function), deterministic=True)
    con.create_function("like", 2, like, deterministic=True)
    con.create_function("like", 3, like, deterministic=True)
    con.create_function(CAST_FUNCTION, 6, tsql_cast, deterministic=True)
    con.create_function("tsql_try_cast", 6, try_cast, deterministic=True)
