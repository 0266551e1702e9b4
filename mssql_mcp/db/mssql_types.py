"""SQL Server values out of pyodbc without loss: output converters for the types it drops or rounds.

pyodbc cannot read datetimeoffset at all ("ODBC SQL type -155 is not yet supported") and rounds datetime2
and time(7) to microseconds. With an output converter registered, pyodbc hands over the driver's raw C
structure instead, which both ODBC Driver 18 and FreeTDS fill the same way (checked against both):

    SQL type                      raw bytes
    93  datetime2                 SQL_TIMESTAMP_STRUCT: 6 x int16 (y m d h mi s) + uint32 nanoseconds
    93  datetime / smalldatetime  the TDS value: int32 days since 1900 + uint32 1/300 s (or 2 x uint16)
    -155 datetimeoffset           SQL_SS_TIMESTAMPOFFSET_STRUCT: the timestamp + int16 tz hour, int16 minute
    -154 time                     SQL_SS_TIME2_STRUCT: 3 x uint16 (h mi s), 2 pad bytes, uint32 nanoseconds
    91  date                      SQL_DATE_STRUCT: 3 x int16
    -152 xml                      UTF-16LE text (Driver 18 prefixes a byte-order mark)

A value with sub-microsecond digits becomes its ISO-8601 text with all 7 digits (a Python datetime cannot
hold them); otherwise a datetime/time/date, which `mssql_mcp.serialize` renders as the same ISO text.

Long values are bounded at the source: `SET TEXTSIZE` stops SQL Server sending more of a varchar(max),
nvarchar(max) or varbinary(max) value, so pyodbc never reads a huge one whole. The server cuts silently,
so TEXTSIZE is set past MAX_CELL_BYTES: a value it cut still measures over the cap here, and
`mssql_mcp.db.cells` marks every value over the cap as cut. None is passed on as if it were whole.
"""

from __future__ import annotations

import datetime as dt
import struct
from typing import Any

SQL_TYPE_TIMESTAMP = 93
SQL_TYPE_DATE = 91
SQL_SS_TIME2 = -154
SQL_SS_TIMESTAMPOFFSET = -155
SQL_SS_XML = -152

_TIMESTAMP = struct.Struct("<6hI")
_OFFSET = struct.Struct("<6hI2h")
_TIME2 = struct.Struct("<3H2xI")
_DAY1900 = dt.datetime(1900, 1, 1)


def _fraction(nanoseconds: int) -> str:
    return f".{nanoseconds // 100:07d}"


def timestamp(raw: bytes | None) -> dt.datetime | str | None:
    if raw is None:
        return None
    if len(raw) == 8:  # legacy datetime: days since 1900-01-01 and 1/300 s ticks
        days, ticks = struct.unpack("<iI", raw)
        return _DAY1900 + dt.timedelta(days=days, milliseconds=round(ticks * 10 / 3))
    if len(raw) == 4:  # smalldatetime: days and minutes
        days, minutes = struct.unpack("<HH", raw)
        return _DAY1900 + dt.timedelta(days=days, minutes=minutes)
    y, mo, d, h, mi, s, ns = _TIMESTAMP.unpack(raw[: _TIMESTAMP.size])
    if ns % 1000 == 0:
        return dt.datetime(y, mo, d, h, mi, s, ns // 1000)
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{_fraction(ns)}"


def timestamp_offset(raw: bytes | None) -> dt.datetime | str | None:
    if raw is None:
        return None
    y, mo, d, h, mi, s, ns, tz_h, tz_m = _OFFSET.unpack(raw[: _OFFSET.size])
    offset = dt.timedelta(hours=tz_h, minutes=tz_m)  # both carry the sign of the offset
    if ns % 1000 == 0:
        return dt.datetime(y, mo, d, h, mi, s, ns // 1000, tzinfo=dt.timezone(offset))
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds()) // 60)
    zone = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{_fraction(ns)}{zone}"


def time2(raw: bytes | None) -> dt.time | str | None:
    if raw is None:
        return None
    h, mi, s, ns = _TIME2.unpack(raw[: _TIME2.size])
    if ns % 1000 == 0:
        return dt.time(h, mi, s, ns // 1000)
    return f"{h:02d}:{mi:02d}:{s:02d}{_fraction(ns)}"


def date(raw: bytes | None) -> dt.date | None:
    if raw is None:
        return None
    y, mo, d = struct.unpack("<3h", raw[:6])
    return dt.date(y, mo, d)


def xml(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    text = raw.decode("utf-16-le")
    return text[1:] if text.startswith("\ufeff") else text


CONVERTERS = {
    SQL_TYPE_TIMESTAMP: timestamp,
    SQL_SS_TIMESTAMPOFFSET: timestamp_offset,
    SQL_SS_TIME2: time2,
    SQL_TYPE_DATE: date,
    SQL_SS_XML: xml,
}


def install(connection: Any) -> None:
    """Register the converters on a pyodbc connection."""
    for sql_type, fn in CONVERTERS.items():
        connection.add_output_converter(sql_type, fn)


# -- long values ---------------------------------------------------------------------------------


def textsize(limit: int) -> int:
    """The TEXTSIZE (bytes SQL Server sends of one value) for a cap of `limit` bytes.

    A value the server cut at this size measures more than `limit` bytes of UTF-8 here: nvarchar sends
    UTF-16 (2 bytes a unit, and every unit is at least one byte of UTF-8), varchar and varbinary 1 byte a byte.
    """
    return 2 * limit + 4
