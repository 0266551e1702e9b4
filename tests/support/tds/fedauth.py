"""The FEDAUTH feature of LOGIN7 (MS-TDS 2.2.6.4), as ODBC Driver 18 sends it for SQL_COPT_SS_ACCESS_TOKEN.

LOGIN7 with fExtension set (OptionFlags3 0x10) holds, at ibExtension, a DWORD offset to its FeatureExt:
a list of FeatureId (BYTE), FeatureDataLen (DWORD LE), FeatureData, ended by 0xFF. FEDAUTH is FeatureId 0x02:

    bOptions        BYTE: fFedAuthEcho in bit 0, bFedAuthLibrary in bits 1-7 (0x01: security token)
    FedAuthToken    DWORD LE length, then the access token as UTF-16LE
    [Nonce]         32 bytes, only when the server's PRELOGIN sent a NONCEOPT (this server sends none)

The echo must match the FEDAUTHREQUIRED option of the server's PRELOGIN answer (this server sends none,
so 0). The login response then acknowledges FEDAUTH in its FEATUREEXTACK (2.2.7.11): with no nonce, an
empty FeatureAckData. Seen from Driver 18.6: it sends FEDAUTH with echo 0 over a link with no TLS as well.
"""

from __future__ import annotations

import struct

FEATURE_FEDAUTH = 0x02
LIBRARY_SECURITY_TOKEN = 0x01
TERMINATOR = 0xFF


def features(payload: bytes) -> dict[int, bytes]:
    """LOGIN7's FeatureExt blocks by FeatureId (empty if the login has no extension)."""
    if not payload[27] & 0x10:
        return {}
    at, size = struct.unpack("<HH", payload[56:60])
    if size < 4:
        return {}
    pos = struct.unpack("<I", payload[at : at + 4])[0]
    found: dict[int, bytes] = {}
    while pos < len(payload) and payload[pos] != TERMINATOR:
        feature, length = payload[pos], struct.unpack("<I", payload[pos + 1 : pos + 5])[0]
        found[feature] = payload[pos + 5 : pos + 5 + length]
        pos += 5 + length
    return found


def access_token(payload: bytes) -> str | None:
    """The access token of a FEDAUTH security-token login, or None for another kind of login.

    ValueError if FEDAUTH is there but not as a security token with echo 0 (MS-TDS 3.3.5.2: an error)."""
    data = features(payload).get(FEATURE_FEDAUTH)
    if data is None:
        return None
    options = data[0]
    if options >> 1 != LIBRARY_SECURITY_TOKEN or options & 1:
        raise ValueError(f"FEDAUTH options {options:#04x}: only a security token, with no echo, is served here")
    length = struct.unpack("<I", data[1:5])[0]
    return data[5 : 5 + length].decode("utf-16-le")


def ack() -> bytes:
    """FEATUREEXTACK's FEDAUTH entry for a security token sent without a nonce: no data."""
    return bytes([FEATURE_FEDAUTH]) + struct.pack("<I", 0)
