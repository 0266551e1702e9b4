"""TDS framing and token building (MS-TDS §2.2.3 packet header, §2.2.7 tokens).

A message is one or more packets of `[type, status, length(BE), spid(BE), packet_id, window] + payload`;
the last packet has status bit EOM. Tokens are little-endian; only the packet header is big-endian.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

# Packet types (MS-TDS 2.2.3.1.1)
SQL_BATCH = 0x01
RPC = 0x03
TABULAR_RESULT = 0x04
ATTENTION = 0x06
TRANSACTION_MANAGER = 0x0E
LOGIN7 = 0x10
PRELOGIN = 0x12

STATUS_EOM = 0x01
HEADER = struct.Struct(">BBHHBB")

# Token types (MS-TDS 2.2.7)
TOKEN_COLMETADATA = 0x81
TOKEN_ERROR = 0xAA
TOKEN_INFO = 0xAB
TOKEN_LOGINACK = 0xAD
TOKEN_FEATUREEXTACK = 0xAE
TOKEN_ROW = 0xD1
TOKEN_NBCROW = 0xD2
TOKEN_ENVCHANGE = 0xE3
TOKEN_DONE = 0xFD
TOKEN_DONEPROC = 0xFE
TOKEN_DONEINPROC = 0xFF
TOKEN_RETURNSTATUS = 0x79

# DONE status bits (MS-TDS 2.2.7.6)
DONE_FINAL = 0x00
DONE_MORE = 0x01
DONE_ERROR = 0x02
DONE_INXACT = 0x04
DONE_COUNT = 0x10
DONE_ATTN = 0x20

# ENVCHANGE types (MS-TDS 2.2.7.9)
ENV_DATABASE = 1
ENV_LANGUAGE = 2
ENV_PACKET_SIZE = 4
ENV_COLLATION = 7
ENV_BEGIN_TRAN = 8
ENV_COMMIT_TRAN = 9
ENV_ROLLBACK_TRAN = 10

# Latin1_General_CI_AS: LCID 1033, case/accent/kana/width flags, sort id 52 (MS-TDS 2.2.5.1.2)
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])
SERVER_NAME = "tds-test"


def b_varchar(text: str) -> bytes:
    """B_VARCHAR: a 1-byte character count, then UCS-2LE."""
    data = text.encode("utf-16-le")
    return bytes([len(data) // 2]) + data


def us_varchar(text: str) -> bytes:
    """US_VARCHAR: a 2-byte character count, then UCS-2LE."""
    data = text.encode("utf-16-le")
    return struct.pack("<H", len(data) // 2) + data


def done(status: int = DONE_FINAL, rows: int | None = None, token: int = TOKEN_DONE, curcmd: int = 0xC1) -> bytes:
    if rows is not None:
        status |= DONE_COUNT
    return struct.pack("<BHHQ", token, status, curcmd, rows or 0)


def envchange(kind: int, new: bytes, old: bytes) -> bytes:
    body = bytes([kind]) + new + old
    return struct.pack("<BH", TOKEN_ENVCHANGE, len(body)) + body


def env_text(kind: int, new: str, old: str = "") -> bytes:
    return envchange(kind, b_varchar(new), b_varchar(old))


def env_bytes(kind: int, new: bytes, old: bytes = b"") -> bytes:
    """ENVCHANGE with B_VARBYTE values (collation, transaction descriptors)."""
    return envchange(kind, bytes([len(new)]) + new, bytes([len(old)]) + old)


def message(number: int, text: str, *, severity: int = 16, state: int = 1, token: int = TOKEN_ERROR) -> bytes:
    """An ERROR (or INFO) token: number, state, class, text, server, procedure, line (MS-TDS 2.2.7.10)."""
    body = struct.pack("<iBB", number, state, severity) + us_varchar(text) + b_varchar(SERVER_NAME)
    body += b_varchar("") + struct.pack("<i", 1)
    return struct.pack("<BH", token, len(body)) + body


def loginack(program: str = "Microsoft SQL Server", tds_version: int = 0x74000004) -> bytes:
    # The TDS version is sent big-endian here, unlike everything else in the token stream.
    body = bytes([1]) + struct.pack(">I", tds_version) + b_varchar(program) + bytes([16, 0, 0x10, 0x00])
    return struct.pack("<BH", TOKEN_LOGINACK, len(body)) + body


@dataclass
class Message:
    type: int
    status: int
    payload: bytes


class Transport:
    """Blocking byte transport (a plain socket, or TLS over it once PRELOGIN negotiated it)."""

    def recv(self, n: int) -> bytes:
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def read_exact(recv: Callable[[int], bytes], n: int) -> bytes:
    chunks: list[bytes] = []
    while n > 0:
        chunk = recv(n)
        if not chunk:
            raise ConnectionError("client closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(recv: Callable[[int], bytes]) -> Message:
    """One whole message: packets are read until the EOM status bit."""
    parts: list[bytes] = []
    while True:
        kind, status, length, _spid, _pid, _win = HEADER.unpack(read_exact(recv, HEADER.size))
        if length < HEADER.size:
            raise ConnectionError(f"bad TDS packet length {length}")
        parts.append(read_exact(recv, length - HEADER.size))
        if status & STATUS_EOM:
            return Message(kind, status, b"".join(parts))


def packets(kind: int, payload: bytes, packet_size: int, spid: int = 51, *, eom: bool = True) -> list[bytes]:
    """Split a payload into packets of at most `packet_size` bytes; the last one carries EOM if `eom`."""
    room = packet_size - HEADER.size
    out: list[bytes] = []
    chunks = [payload[i : i + room] for i in range(0, len(payload), room)] or [b""]
    for number, chunk in enumerate(chunks, start=1):
        last = number == len(chunks)
        status = STATUS_EOM if (last and eom) else 0
        out.append(HEADER.pack(kind, status, len(chunk) + HEADER.size, spid, number % 256, 0) + chunk)
    return out


class Reader:
    """A cursor over a request payload (RPC parameters, LOGIN7 fields)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated TDS request")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack("<H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def b_varchar(self) -> str:
        return self.take(self.u8() * 2).decode("utf-16-le")

    def us_varchar(self) -> str:
        return self.take(self.u16() * 2).decode("utf-16-le")

    def skip_all_headers(self) -> None:
        """ALL_HEADERS (TDS 7.2+, MS-TDS 2.2.5.3): a total length that counts itself."""
        total = struct.unpack("<I", self.data[self.pos : self.pos + 4])[0]
        self.pos += total

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)
