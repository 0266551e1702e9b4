"""DATEADD, DATEDIFF and DATENAME as SQL Server computes them, for the embedded database.

- DATEDIFF counts the unit boundaries crossed between the two values, not the time elapsed:
  DATEDIFF(day, '23:59', next day '00:01') is 1, DATEDIFF(year, Dec 31, Jan 1) is 1, and week boundaries are
  Sundays (https://learn.microsoft.com/sql/t-sql/functions/datediff-transact-sql).
- DATEADD with month, quarter or year keeps the day, or takes the last day of the month when the month is
  shorter: DATEADD(month, 1, '2024-01-31') is 2024-02-29 (https://learn.microsoft.com/sql/t-sql/functions/dateadd-transact-sql).
- DATENAME(month|weekday) names in us_english (https://learn.microsoft.com/sql/t-sql/functions/datename-transact-sql).
Values are SQLite's text timestamps; `source` is the value's T-SQL type when the statement tells it ('DATE'
keeps a date a date; anything else comes back as a full timestamp, as SQL Server's datetime does).
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import re
import threading
from collections.abc import Iterator

from mssql_mcp.db.tsql_convert import parse_datetime
from mssql_mcp.db.tsql_functions import _fail

UNITS = {
    "year": "year", "yy": "year", "yyyy": "year",
    "quarter": "quarter", "qq": "quarter", "q": "quarter",
    "month": "month", "mm": "month", "m": "month",
    "dayofyear": "day", "dy": "day", "y": "day",
    "day": "day", "dd": "day", "d": "day",
    "week": "week", "wk": "week", "ww": "week",
    "weekday": "day", "dw": "day", "w": "day",
    "hour": "hour", "hh": "hour",
    "minute": "minute", "mi": "minute", "n": "minute",
    "second": "second", "ss": "second", "s": "second",
    "millisecond": "millisecond", "ms": "millisecond",
}  # fmt: skip
_OFFSET = re.compile(r"(?<=\d)\s*(?:[+-]\d{1,2}:\d{2}|Z)\s*$", re.IGNORECASE)
_EPOCH = dt.datetime(1900, 1, 1)  # a Monday; weeks are counted from the Sunday before it
_SECONDS = {"hour": 3600, "minute": 60, "second": 1}


def _moment(value: object, source: str) -> dt.datetime:
    moment, ticks = parse_datetime(value, "DATETIME2" if source != "TIME" else "TIME")
    return moment + dt.timedelta(microseconds=ticks // 10)


def _render(moment: dt.datetime, source: str) -> str:
    if source == "DATE":
        return moment.strftime("%Y-%m-%d")
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return text + (f".{moment.microsecond // 1000:03d}" if moment.microsecond else "")


def _boundary(unit: str, moment: dt.datetime) -> int:
    """How many `unit` boundaries lie between a fixed origin and `moment` (DATEDIFF subtracts two of these)."""
    if unit == "year":
        return moment.year
    if unit == "quarter":
        return moment.year * 4 + (moment.month - 1) // 3
    if unit == "month":
        return moment.year * 12 + moment.month - 1
    days = (moment.date() - _EPOCH.date()).days
    if unit == "day":
        return days
    if unit == "week":
        return (days + 1) // 7  # Sunday 1899-12-31 starts week 0
    seconds = days * 86_400 + moment.hour * 3600 + moment.minute * 60 + moment.second
    if unit == "millisecond":
        return seconds * 1000 + moment.microsecond // 1000
    return seconds // _SECONDS[unit]


def datediff(unit: str, start: object, end: object, source: str) -> int | None:
    if start is None or end is None:
        return None
    part = UNITS[unit]
    return _boundary(part, _moment(end, source)) - _boundary(part, _moment(start, source))


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise _fail("Adding a value to a 'datetime' column caused an overflow.")
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def dateadd(unit: str, number: object, value: object, source: str) -> str | None:
    if number is None or value is None:
        return None
    part, amount, moment = UNITS[unit], int(float(str(number))), _moment(value, source)
    try:
        if part in ("year", "quarter", "month"):
            moment = _add_months(moment, amount * {"year": 12, "quarter": 3, "month": 1}[part])
        elif part == "millisecond":
            moment += dt.timedelta(milliseconds=amount)
        else:
            moment += dt.timedelta(**{f"{part}s": amount})
    except OverflowError:
        raise _fail("Adding a value to a 'datetime' column caused an overflow.") from None
    return _render(moment, source)


# DATEPART's and DATENAME's parts and their abbreviations (datepart-transact-sql); tzoffset is refused, since
# values carry no offset here.
PARTS = {
    **{name: "year" for name in ("year", "yy", "yyyy")},
    **{name: "quarter" for name in ("quarter", "qq", "q")},
    **{name: "month" for name in ("month", "mm", "m")},
    **{name: "dayofyear" for name in ("dayofyear", "dy", "y")},
    **{name: "day" for name in ("day", "dd", "d")},
    **{name: "week" for name in ("week", "wk", "ww")},
    **{name: "weekday" for name in ("weekday", "dw", "w")},
    **{name: "hour" for name in ("hour", "hh")},
    **{name: "minute" for name in ("minute", "mi", "n")},
    **{name: "second" for name in ("second", "ss", "s")},
    **{name: "millisecond" for name in ("millisecond", "ms")},
    **{name: "microsecond" for name in ("microsecond", "mcs")},
    **{name: "nanosecond" for name in ("nanosecond", "ns")},
    **{name: "iso_week" for name in ("iso_week", "isowk", "isoww")},
}


def datepart(part: str, value: object, source: str) -> int | None:
    """DATEPART as with the default DATEFIRST 7 (Sunday is day 1, and week 1 holds January 1)."""
    if value is None:
        return None
    if isinstance(value, str):  # a datetimeoffset's parts are those of its local time (datepart-transact-sql)
        value = _OFFSET.sub("", value)
    moment, ticks = parse_datetime(value, "DATETIME2" if source != "TIME" else "TIME")
    if part == "quarter":
        return (moment.month - 1) // 3 + 1
    if part == "dayofyear":
        return moment.timetuple().tm_yday
    if part == "weekday":
        return (moment.weekday() + 1) % 7 + 1  # Python's Monday 0 is T-SQL's 2
    if part == "week":
        jan1 = (moment.replace(month=1, day=1).weekday() + 1) % 7  # Sunday 0
        return (moment.timetuple().tm_yday + jan1 - 1) // 7 + 1
    if part == "iso_week":
        return moment.isocalendar()[1]
    if part in ("millisecond", "microsecond", "nanosecond"):
        return {"millisecond": ticks // 10_000, "microsecond": ticks // 10, "nanosecond": ticks * 100}[part]
    number: int = getattr(moment, part)
    return number


def datename(part: str, value: object, source: str) -> str | None:
    """DATENAME: month and weekday names in us_english, the other parts as DATEPART's number in text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = _OFFSET.sub("", value)
    moment = _moment(value, source)
    if part == "month":
        return calendar.month_name[moment.month]
    if part == "weekday":
        return calendar.day_name[moment.weekday()]
    return str(datepart(part, value, source))


_STATEMENT = threading.local()  # the moment the statement on this thread began (SQLite calls us on its thread)


@contextlib.contextmanager
def statement_clock() -> Iterator[None]:
    """Within the block, GETDATE, SYSDATETIME and their UTC forms give one moment, as SQL Server evaluates them
    once per query (a runtime constant), not once per row: `SELECT GETDATE(), GETDATE()` shows one time twice."""
    _STATEMENT.moment = dt.datetime.now(dt.UTC)
    try:
        yield
    finally:
        _STATEMENT.moment = None


def now(kind: str, utc: int) -> str:
    """GETDATE (datetime: 1/300 s) and SYSDATETIME (datetime2(7)); the UTC forms when `utc` is 1."""
    from mssql_mcp.db.tsql_convert import tsql_cast

    moment: dt.datetime = getattr(_STATEMENT, "moment", None) or dt.datetime.now(dt.UTC)
    moment = moment.replace(tzinfo=None) if utc else moment.astimezone().replace(tzinfo=None)
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(tsql_cast(text, kind, 38, 7 if kind == "DATETIME2" else 3, -1, ""))
