"""SQL Server data types on the wire: TYPE_INFO and values for result columns (MS-TDS 2.2.5.4-2.2.5.5).

The server types each result column the SQL Server way (from the declared column type or a CAST) and
encodes SQLite's values into it. Long types (nvarchar(max), varbinary(max), xml) use PLP chunks.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from tests.support.tds.wire import COLLATION

_WIDE = Context(prec=80)  # decimal(38, s) needs more than the default 28 digits
PLP_NULL = b"\xff" * 8
_DAY0 = dt.date(1, 1, 1)
_DAY1900 = dt.date(1900, 1, 1)


@dataclass(frozen=True)
class SqlType:
    name: str  # lower case SQL Server name
    length: int | None = None  # characters (n)varchar/(n)char, bytes for binary; -1 = max
    precision: int | None = None
    scale: int | None = None

    @property
    def is_max(self) -> bool:
        return self.length == -1 or self.name == "xml"


_ALIASES = {
    "integer": "int",
    "boolean": "bit",
    "double": "float",
    "double precision": "float",
    "text": "nvarchar",
    "ntext": "nvarchar",
    "varchar2": "varchar",
    "timestamp": "datetime2",
    "real": "real",
    "blob": "varbinary",
    "numeric": "decimal",
    "dec": "decimal",
    "string": "nvarchar",
    "clob": "nvarchar",
    "char varying": "varchar",
}
_TYPE = re.compile(r"^\s*([a-z][a-z0-9 ]*?)\s*(?:\(\s*(max|\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$", re.I)


def parse_type(text: str) -> SqlType | None:
    """'NVARCHAR(40)' -> nvarchar(40); None when the text is no SQL Server type we encode."""
    m = _TYPE.match(text.strip().strip('"'))
    if not m:
        return None
    name = _ALIASES.get(m.group(1).lower(), m.group(1).lower())
    first = -1 if (m.group(2) or "").lower() == "max" else int(m.group(2)) if m.group(2) else None
    second = int(m.group(3)) if m.group(3) else None
    if name in ("decimal", "numeric"):
        return SqlType("decimal", precision=first or 18, scale=second or 0)
    if name in ("nvarchar", "varchar", "varbinary"):
        unbounded = m.group(1).lower() in ("text", "ntext", "blob", "clob", "string")
        return SqlType(name, length=first if first is not None else -1 if unbounded else 1)
    if name in ("nchar", "char", "binary"):
        return SqlType(name, length=first or 1)
    if name in ("datetime2", "time", "datetimeoffset"):
        return SqlType(name, scale=7 if first is None else first)
    if name in _FIXED or name == "xml":
        return SqlType(name)
    return None


_INTS = {"tinyint": 1, "smallint": 2, "int": 4, "bigint": 8}
_FIXED = {
    *_INTS,
    "bit",
    "float",
    "real",
    "money",
    "smallmoney",
    "date",
    "datetime",
    "smalldatetime",
    "uniqueidentifier",
}


def _decimal_size(precision: int) -> int:
    return 5 if precision <= 9 else 9 if precision <= 19 else 13 if precision <= 28 else 17


def _time_size(scale: int) -> int:
    return 3 if scale <= 2 else 4 if scale <= 4 else 5


def type_info(t: SqlType) -> bytes:
    """TYPE_INFO for COLMETADATA: the nullable variants throughout, as SQL Server itself sends."""
    n = t.name
    if n in _INTS:
        return bytes([0x26, _INTS[n]])
    if n == "bit":
        return bytes([0x68, 1])
    if n in ("float", "real"):
        return bytes([0x6D, 8 if n == "float" else 4])
    if n in ("money", "smallmoney"):
        return bytes([0x6E, 8 if n == "money" else 4])
    if n in ("datetime", "smalldatetime"):
        return bytes([0x6F, 8 if n == "datetime" else 4])
    if n == "decimal":
        assert t.precision is not None and t.scale is not None
        return bytes([0x6A, _decimal_size(t.precision), t.precision, t.scale])
    if n == "uniqueidentifier":
        return bytes([0x24, 16])
    if n == "date":
        return bytes([0x28])
    if n in ("time", "datetime2", "datetimeoffset"):
        return bytes([{"time": 0x29, "datetime2": 0x2A, "datetimeoffset": 0x2B}[n], t.scale or 0])
    if n == "xml":
        return bytes([0xF1, 0])
    code = {"nvarchar": 0xE7, "nchar": 0xEF, "varchar": 0xA7, "char": 0xAF, "varbinary": 0xA5, "binary": 0xAD}[n]
    assert t.length is not None
    width = 2 if n in ("nvarchar", "nchar") else 1
    size = 0xFFFF if t.length == -1 else t.length * width
    return bytes([code]) + struct.pack("<H", size) + (COLLATION if n not in ("varbinary", "binary") else b"")


def _plp(data: bytes | None) -> bytes:
    if data is None:
        return PLP_NULL
    body = struct.pack("<I", len(data)) + data if data else b""
    return struct.pack("<Q", len(data)) + body + b"\x00\x00\x00\x00"


def _ticks(t: dt.time | None, fraction_100ns: int, scale: int) -> bytes:
    """Time of day in units of 10**-scale seconds, in 3-5 bytes."""
    seconds = (t.hour * 3600 + t.minute * 60 + t.second) if t else 0
    units = (seconds * 10**7 + fraction_100ns) // 10 ** (7 - scale)
    return units.to_bytes(_time_size(scale), "little")


_STAMP = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,7}))?)?)?\s*(?:([+-])(\d\d):(\d\d)|Z)?$"
)
_CLOCK = re.compile(r"^(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,7}))?)?$")


def parse_stamp(value: Any) -> tuple[dt.date, dt.time, int, int | None]:
    """(date, time, 100ns fraction, offset minutes or None) from text or a datetime, keeping 7 digits."""
    if isinstance(value, dt.datetime):
        offset = value.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else None
        return value.date(), value.time().replace(microsecond=0), value.microsecond * 10, minutes
    if isinstance(value, dt.date):
        return value, dt.time(), 0, None
    m = _STAMP.match(str(value).strip())
    if not m:
        raise ValueError(f"not a date/time: {value!r}")
    y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
    fraction = int((frac or "").ljust(7, "0"))
    offset = None if not sign else (1 if sign == "+" else -1) * (int(oh) * 60 + int(om))
    return dt.date(int(y), int(mo), int(d)), dt.time(int(h or 0), int(mi or 0), int(s or 0)), fraction, offset


def _as_decimal(value: Any, scale: int) -> Decimal:
    if isinstance(value, bytes):  # exact text kept out of SQLite's numeric affinity (see tests' fixtures)
        value = value.decode("ascii")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    return number.quantize(Decimal(1).scaleb(-scale), context=_WIDE)


def encode(t: SqlType, value: Any, textsize: int | None = None) -> bytes:
    """One value in a ROW token (NULL included) for a column of type `t`.

    A (max) value is cut to `textsize` bytes (SET TEXTSIZE; whole UTF-16 units for nvarchar), silently, as
    SQL Server does; xml is not affected.
    """
    n = t.name
    if t.is_max and n in ("nvarchar", "varchar", "varbinary", "xml"):
        if value is None:
            return PLP_NULL
        if n == "varbinary":
            data = bytes(value) if isinstance(value, bytes | bytearray | memoryview) else str(value).encode()
        else:
            data = str(value).encode("utf-16-le" if n != "varchar" else "cp1252", "replace")
        if textsize is not None and n != "xml":
            data = data[: textsize - textsize % 2 if n == "nvarchar" else textsize]
        return _plp(data)
    if value is None:
        return b"\xff\xff" if n in ("nvarchar", "nchar", "varchar", "char", "varbinary", "binary") else b"\x00"
    if n in _INTS:
        size = _INTS[n]
        return bytes([size]) + int(value).to_bytes(size, "little", signed=n != "tinyint")
    if n == "bit":
        return b"\x01" + (b"\x01" if (value not in (0, "0", False, "false", "False")) else b"\x00")
    if n in ("float", "real"):
        return b"\x08" + struct.pack("<d", float(value)) if n == "float" else b"\x04" + struct.pack("<f", float(value))
    if n in ("money", "smallmoney"):
        units = int(_as_decimal(value, 4).scaleb(4, context=_WIDE))
        if n == "smallmoney":
            return b"\x04" + struct.pack("<i", units)
        return b"\x08" + struct.pack("<iI", units >> 32, units & 0xFFFFFFFF)
    if n == "decimal":
        assert t.precision is not None and t.scale is not None
        number = _as_decimal(value, t.scale)
        size = _decimal_size(t.precision)
        magnitude = abs(int(number.scaleb(t.scale, context=_WIDE)))
        return bytes([size, 0 if number < 0 else 1]) + magnitude.to_bytes(size - 1, "little")
    if n == "uniqueidentifier":
        guid = uuid.UUID(bytes=bytes(value)) if isinstance(value, bytes) else uuid.UUID(str(value))
        return b"\x10" + guid.bytes_le  # the first three groups are little-endian on the wire
    if n in ("nvarchar", "nchar", "varchar", "char"):
        text = value if isinstance(value, str) else _text(value)
        data = text.encode("utf-16-le" if n in ("nvarchar", "nchar") else "cp1252", "replace")
        return struct.pack("<H", len(data)) + data
    if n in ("varbinary", "binary"):
        data = bytes(value) if isinstance(value, bytes | bytearray | memoryview) else str(value).encode()
        return struct.pack("<H", len(data)) + data
    if n == "time":
        m = _CLOCK.match(str(value).strip())
        if m:
            clock, fraction = dt.time(int(m[1]), int(m[2]), int(m[3] or 0)), int((m[4] or "").ljust(7, "0"))
        else:
            _, clock, fraction, _ = parse_stamp(value)
        body = _ticks(clock, fraction, t.scale or 0)
        return bytes([len(body)]) + body
    day, clock, fraction, offset = parse_stamp(value)
    if n == "date":
        return b"\x03" + (day - _DAY0).days.to_bytes(3, "little")
    if n in ("datetime", "smalldatetime"):
        seconds = clock.hour * 3600 + clock.minute * 60 + clock.second
        if n == "smalldatetime":
            return b"\x04" + struct.pack("<HH", (day - _DAY1900).days, seconds // 60)
        ticks = round((seconds * 10**7 + fraction) * 300 / 10**7)  # 1/300 s units
        return b"\x08" + struct.pack("<iI", (day - _DAY1900).days, ticks)
    scale = t.scale or 0
    if n == "datetime2":
        body = _ticks(clock, fraction, scale) + (day - _DAY0).days.to_bytes(3, "little")
        return bytes([len(body)]) + body
    if n == "datetimeoffset":  # stored as UTC plus the offset in minutes (MS-TDS 2.2.5.5.1.8)
        minutes = offset or 0
        local = dt.datetime.combine(day, clock) - dt.timedelta(minutes=minutes)
        body = _ticks(local.time(), fraction, scale) + (local.date() - _DAY0).days.to_bytes(3, "little")
        body += struct.pack("<h", minutes)
        return bytes([len(body)]) + body
    raise ValueError(f"cannot encode type {n}")


def encoder(t: SqlType, textsize: int | None = None) -> Callable[[Any], bytes]:
    """`encode` for one result column and a value that is not NULL, with the common types' work done once per
    column: a catalog read sends hundreds of thousands of ints and names."""
    n = t.name
    if n in _INTS:
        size, signed, prefix = _INTS[n], n != "tinyint", bytes([_INTS[n]])
        return lambda value: prefix + int(value).to_bytes(size, "little", signed=signed)
    if n in ("nvarchar", "nchar", "varchar", "char") and not t.is_max:
        codec = "utf-16-le" if n in ("nvarchar", "nchar") else "cp1252"

        def text(value: Any) -> bytes:
            data = (value if isinstance(value, str) else _text(value)).encode(codec, "replace")
            return len(data).to_bytes(2, "little") + data

        return text
    return lambda value: encode(t, value, textsize)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex().upper()
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


def infer(values: list[Any]) -> SqlType:
    """A type for a computed column SQL Server would have typed from its expression: from its values."""
    seen = {type(v) for v in values if v is not None}
    if seen <= {int, bool} and seen:
        big = any(not -(2**31) <= int(v) < 2**31 for v in values if v is not None)
        return SqlType("bigint" if big else "int")
    if seen <= {int, float} and seen:
        return SqlType("float")
    if seen == {bytes}:
        return SqlType("varbinary", length=-1)
    return SqlType("nvarchar", length=-1 if any(len(_text(v)) > 4000 for v in values if v is not None) else 4000)
