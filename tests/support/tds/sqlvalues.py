"""Values between the client and SQLite: RPC parameters in, result rows out (ROW and NBCROW tokens)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tests.support.tds import wire
from tests.support.tds.types import SqlType, encoder


def bind_value(value: Any) -> Any:
    """A driver's parameter value as SQLite stores the same thing."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    return value


def row_tokens(types: Sequence[SqlType], rows: Sequence[Sequence[Any]], textsize: int | None = None) -> bytes:
    """ROW tokens, or NBCROW (a null bitmap, then only the non-null values) for rows holding NULLs.

    `textsize` (SET TEXTSIZE) cuts varchar(max), nvarchar(max) and varbinary(max) values to that many bytes.
    """
    encoders = [encoder(t, textsize) for t in types]
    out = bytearray()
    for row in rows:
        if None in row:
            bitmap = bytearray((len(row) + 7) // 8)
            for i, v in enumerate(row):
                if v is None:
                    bitmap[i // 8] |= 1 << (i % 8)
            out.append(wire.TOKEN_NBCROW)
            out += bitmap
            out += b"".join([f(v) for f, v in zip(encoders, row, strict=True) if v is not None])
        else:
            out.append(wire.TOKEN_ROW)
            out += b"".join([f(v) for f, v in zip(encoders, row, strict=True)])
    return bytes(out)
