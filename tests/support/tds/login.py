"""PRELOGIN and LOGIN7 (MS-TDS 2.2.6.5 and 2.2.6.4): negotiate encryption, check the credentials, answer."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tests.support.tds import fedauth, wire

# PRELOGIN option tokens and encryption values (MS-TDS 2.2.6.5)
OPT_VERSION, OPT_ENCRYPTION, OPT_INSTOPT, OPT_THREADID, OPT_MARS, OPT_TERMINATOR = 0, 1, 2, 3, 4, 0xFF
ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0, 1, 2, 3


def parse_prelogin(payload: bytes) -> dict[int, bytes]:
    options: dict[int, bytes] = {}
    pos = 0
    while pos < len(payload) and payload[pos] != OPT_TERMINATOR:
        token, offset, length = struct.unpack(">BHH", payload[pos : pos + 5])
        options[token] = payload[offset : offset + length]
        pos += 5
    return options


def build_prelogin(encryption: int) -> bytes:
    fields = [
        (OPT_VERSION, bytes([16, 0, 0x10, 0x00, 0, 0])),  # "16.0.4096": SQL Server 2022
        (OPT_ENCRYPTION, bytes([encryption])),
        (OPT_INSTOPT, b"\x00"),
        (OPT_THREADID, b""),
        (OPT_MARS, b"\x00"),
    ]
    offset = len(fields) * 5 + 1
    head, body = b"", b""
    for token, data in fields:
        head += struct.pack(">BHH", token, offset + len(body), len(data))
        body += data
    return head + bytes([OPT_TERMINATOR]) + body


def answer_encryption(client: int, tls_available: bool) -> int:
    """ON when the client asks for it and we can; otherwise NOT_SUP (no encryption at all, not even the login)."""
    if client in (ENCRYPT_ON, ENCRYPT_REQ) and tls_available:
        return ENCRYPT_ON
    return ENCRYPT_NOT_SUP


@dataclass
class Login:
    tds_version: int
    packet_size: int
    user: str
    password: str
    app: str
    server: str
    database: str
    extension: bool
    access_token: str | None = None  # FEDAUTH: the Entra access token Driver 18 signed in with (fedauth.py)


def _decode_password(data: bytes) -> str:
    # Each byte was nibble-swapped then XORed with 0xA5 (MS-TDS 2.2.6.4): undo in reverse order.
    return bytes((((b ^ 0xA5) & 0x0F) << 4) | ((b ^ 0xA5) >> 4) for b in data).decode("utf-16-le")


def parse_login7(payload: bytes) -> Login:
    _length, version, packet_size = struct.unpack("<III", payload[:12])
    flags3 = payload[27]

    def field(at: int) -> bytes:
        offset, chars = struct.unpack("<HH", payload[at : at + 4])
        return payload[offset : offset + chars * 2]

    return Login(
        tds_version=version,
        packet_size=packet_size,
        user=field(40).decode("utf-16-le"),
        password=_decode_password(field(44)),
        app=field(48).decode("utf-16-le"),
        server=field(52).decode("utf-16-le"),
        database=field(68).decode("utf-16-le"),
        extension=bool(flags3 & 0x10),
        access_token=fedauth.access_token(payload),
    )


def login_ok(login: Login, database: str, packet_size: int) -> bytes:
    """What SQL Server sends after a good login: environment, LOGINACK, feature acks, DONE."""
    out = wire.env_text(wire.ENV_DATABASE, database, "master")
    out += wire.message(5701, f"Changed database context to '{database}'.", severity=0, token=wire.TOKEN_INFO)
    out += wire.env_text(wire.ENV_LANGUAGE, "us_english")
    out += wire.env_bytes(wire.ENV_COLLATION, wire.COLLATION)
    out += wire.env_text(wire.ENV_PACKET_SIZE, str(packet_size), "4096")
    out += wire.loginack(tds_version=0x74000004)
    if login.extension:  # only FEDAUTH is acknowledged, when the login used it
        out += bytes([wire.TOKEN_FEATUREEXTACK]) + (fedauth.ack() if login.access_token is not None else b"") + b"\xff"
    return out + wire.done()


def login_failed(user: str, number: int = 18456, text: str | None = None) -> bytes:
    return wire.message(number, text or f"Login failed for user '{user}'.", severity=14) + wire.done(wire.DONE_ERROR)
