"""RPC requests: the procedure and its typed parameters (MS-TDS 2.2.6.6), decoded to Python values.

Drivers send parameterised statements as RPC calls: `sp_executesql` (FreeTDS, Driver 18 direct execution),
`sp_prepexec`/`sp_execute`/`sp_unprepare` (Driver 18 prepared statements), `sp_prepare`.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.support.tds.wire import Reader

# Well-known procedure ids sent instead of a name (MS-TDS 2.2.6.6, ProcIDSwitch = 0xFFFF)
PROC_IDS = {
    10: "sp_executesql",
    11: "sp_prepare",
    12: "sp_execute",
    13: "sp_prepexec",
    14: "sp_prepexecrpc",
    15: "sp_unprepare",
}
_FIXED = {0x30: 1, 0x34: 2, 0x38: 4, 0x7F: 8, 0x32: 1, 0x3E: 8, 0x3B: 4, 0x3D: 8, 0x3C: 8, 0x7A: 4, 0x3A: 4}
_BYTELEN = {0x26, 0x68, 0x6D, 0x6E, 0x6F, 0x24}
_VARLEN = {0xE7: "n", 0xEF: "n", 0xA7: "c", 0xAF: "c", 0xA5: "b", 0xAD: "b"}


@dataclass
class Param:
    name: str
    value: Any
    output: bool = False


@dataclass
class RpcCall:
    proc: str
    params: list[Param] = field(default_factory=list)


def parse_rpc(payload: bytes) -> list[RpcCall]:
    r = Reader(payload)
    r.skip_all_headers()
    calls: list[RpcCall] = []
    while not r.done:
        length = r.u16()
        proc = PROC_IDS.get(r.u16(), "?") if length == 0xFFFF else r.take(length * 2).decode("utf-16-le")
        r.u16()  # option flags (WithRecomp, NoMetaData, ReuseMetaData)
        call = RpcCall(proc)
        while not r.done and r.data[r.pos] not in (0x80, 0xFF, 0xFE):  # batch separators end a call
            name = r.b_varchar()
            status = r.u8()
            call.params.append(Param(name, _value(r), output=bool(status & 1)))
        calls.append(call)
        if not r.done:
            r.u8()
    return calls


def _value(r: Reader) -> Any:
    code = r.u8()
    if code in _FIXED:
        return _decode(code, r.take(_FIXED[code]), 0)
    if code in _BYTELEN:
        r.u8()
        size = r.u8()
        return None if size == 0 else _decode(code, r.take(size), 0)
    if code in (0x6A, 0x6C):
        r.u8()
        r.u8()
        scale = r.u8()
        size = r.u8()
        return None if size == 0 else _decode(code, r.take(size), scale)
    if code == 0x28:
        size = r.u8()
        return None if size == 0 else _decode(code, r.take(size), 0)
    if code in (0x29, 0x2A, 0x2B):
        scale = r.u8()
        size = r.u8()
        return None if size == 0 else _decode(code, r.take(size), scale)
    if code in _VARLEN:
        maxlen = r.u16()
        if _VARLEN[code] != "b":
            r.take(5)  # collation
        data = _plp(r) if maxlen == 0xFFFF else _short(r)
        return _text(_VARLEN[code], data)
    if code in (0x63, 0x23, 0x22):  # NTEXT, TEXT, IMAGE: LONGLEN max, collation for text, LONGLEN value
        r.u32()
        if code != 0x22:
            r.take(5)
        size = r.u32()
        data = None if size == 0xFFFFFFFF else r.take(size)
        return _text({0x63: "n", 0x23: "c", 0x22: "b"}[code], data)
    if code == 0xF1:  # XML
        if r.u8():
            r.b_varchar()
            r.b_varchar()
            r.us_varchar()
        return _text("n", _plp(r))
    raise ValueError(f"unsupported RPC parameter type 0x{code:02X}")


def _short(r: Reader) -> bytes | None:
    size = r.u16()
    return None if size == 0xFFFF else r.take(size)


def _plp(r: Reader) -> bytes | None:
    total = r.u64()
    if total == 0xFFFFFFFFFFFFFFFF:
        return None
    chunks: list[bytes] = []
    while True:
        size = r.u32()
        if size == 0:
            return b"".join(chunks)
        chunks.append(r.take(size))


def _text(kind: str, data: bytes | None) -> Any:
    if data is None or kind == "b":
        return data
    return data.decode("utf-16-le" if kind == "n" else "cp1252")


def _time(data: bytes, scale: int) -> tuple[dt.time, int]:
    units = int.from_bytes(data, "little") * 10 ** (7 - scale)  # in 100 ns
    seconds, fraction = divmod(units, 10**7)
    return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, fraction // 10), fraction


def _decode(code: int, data: bytes, scale: int) -> Any:
    if code in (0x26, 0x30, 0x34, 0x38, 0x7F):
        return int.from_bytes(data, "little", signed=len(data) > 1)
    if code in (0x68, 0x32):
        return int(data[0] != 0)
    if code in (0x6D, 0x3E, 0x3B):
        return struct.unpack("<d" if len(data) == 8 else "<f", data)[0]
    if code in (0x6E, 0x3C, 0x7A):
        units = (
            struct.unpack("<i", data)[0]
            if len(data) == 4
            else (struct.unpack("<i", data[:4])[0] << 32 | struct.unpack("<I", data[4:])[0])
        )
        return Decimal(units).scaleb(-4)
    if code in (0x6F, 0x3D, 0x3A):
        if len(data) == 4:
            days, minutes = struct.unpack("<HH", data)
            return dt.datetime(1900, 1, 1) + dt.timedelta(days=days, minutes=minutes)
        days, ticks = struct.unpack("<iI", data)
        return dt.datetime(1900, 1, 1) + dt.timedelta(days=days, milliseconds=round(ticks * 10 / 3))
    if code == 0x24:
        return uuid.UUID(bytes_le=data)
    if code in (0x6A, 0x6C):
        magnitude = Decimal(int.from_bytes(data[1:], "little")).scaleb(-scale)
        return magnitude if data[0] else -magnitude
    if code == 0x28:
        return dt.date(1, 1, 1) + dt.timedelta(days=int.from_bytes(data, "little"))
    if code == 0x29:
        return _time(data, scale)[0]
    tlen = len(data) - (3 if code == 0x2A else 5)
    clock, _ = _time(data[:tlen], scale)
    day = dt.date(1, 1, 1) + dt.timedelta(days=int.from_bytes(data[tlen : tlen + 3], "little"))
    stamp = dt.datetime.combine(day, clock)
    if code == 0x2B:
        minutes = struct.unpack("<h", data[tlen + 3 :])[0]
        zone = dt.timezone(dt.timedelta(minutes=minutes))
        return (stamp + dt.timedelta(minutes=minutes)).replace(tzinfo=zone)
    return stamp
