"""CAST, CONVERT, TRY_CAST and TRY_CONVERT as SQL Server computes them, for the embedded database.

`tsql_cast(value, target, precision, scale, style, source)` converts to the date and time types (DATETIME in
1/300 s, SMALLDATETIME to the minute, DATETIME2(n)), DECIMAL/NUMERIC(p, s) (rounded half away from zero,
overflow an error), MONEY, BIT, the integer types and UNIQUEIDENTIFIER, and to text with CONVERT's date
styles (https://learn.microsoft.com/sql/t-sql/functions/cast-and-convert-transact-sql). `source` is the
value's T-SQL type when the statement tells it ('' when not).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from mssql_mcp.db.tsql_functions import ConversionFailed, _fail, refuse, take_error

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


_DATE_TEXT = re.compile(r"^\s*(\d{4})-?(\d{2})-?(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*$")
_OFFSET_TEXT = re.compile(r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[+-]\d{1,2}:\d{2}|Z)\s*$", re.IGNORECASE)
_TIME_TEXT = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?\s*$")


def parse_datetime(value: object, target: str) -> tuple[dt.datetime, int]:
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
    if _OFFSET_TEXT.search(value):  # SQL Server reads it as a datetimeoffset; values here carry no offset
        raise refuse("A date with a time zone offset (datetimeoffset)")
    raise _fail(f"Conversion failed when converting date and/or time from character string {value!r}.")


def _to_date_type(value: object, target: str, scale: int) -> str:
    moment, ticks = parse_datetime(value, target)
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
    moment, ticks = parse_datetime(value, source if source in DATE_TYPES else "DATETIME2")
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


def _text(value: object, style: int, source: str) -> str:
    """A value as text: a date in its style, a decimal with its type's scale (12.50 for decimal(4,2))."""
    if source in DATE_TYPES and style >= 0:
        return _date_style(value, style, source)
    if source.startswith("SCALE:"):  # set by the translation from the value's declared type
        try:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
            return str(number.quantize(Decimal(1).scaleb(-int(source[6:])), ROUND_HALF_UP))
        except InvalidOperation:  # a file that is not ours may store text in a DECIMAL column
            return str(value)
    if isinstance(value, bytes):
        raise refuse("Converting binary data to text")
    if isinstance(value, float) and source != "TEXT":
        # SQL Server prints a decimal with its type's scale and a float in its own style: neither is known here
        raise refuse("Converting a computed decimal or float value to text")
    return str(value)


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
        text = _text(value, style, source)
        return text[:precision] if precision > 0 else text
    raise _fail(f"Conversion to {target.lower()} is not supported on the embedded database.")


def try_cast(
    value: object, target: str, precision: int, scale: int, style: int, source: str
) -> str | int | float | None:
    try:
        return tsql_cast(value, target, precision, scale, style, source)
    except ConversionFailed:
        take_error()  # TRY_ forms give NULL, not the error
        return None
