"""Database values to JSON, losslessly, and a compact text rendering of result sets for models.

JSON has one number type (a double in most clients) and no dates or bytes, so:

    Decimal, integral    1234                      a number (within 2**53), e.g. MONEY 1234.0000
    Decimal, <= 15 sig.  1234.5                    a number: a double reproduces any decimal of 15 significant
                                                   digits (DBL_DIG), so its text reads back as the same value
    Decimal, longer      "12345678901234.5678"     a string: exact digits are kept
    int beyond 2**53     "9007199254740993"        a string: JavaScript clients would round it
    float NaN/Infinity   "NaN" / "Infinity"        JSON has no literal for them
    datetime/date/time   "2024-05-01T13:45:00.123" ISO-8601 (an offset when the value has one)
    timedelta            seconds as a number
    bytes                {"base64": "..."}          explicit, so it is never mistaken for text
    UUID                 "6f9619ff-8b86-..."       the canonical string
    anything else        str(value)

A JSON number does not keep a decimal's scale (`1234.50` becomes `1234.5`): the column's declared type does.

This sits on the hot path (every row of every result), so the common types take one set lookup.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

JSON_SAFE_INT = 2**53 - 1  # the largest integer a double holds exactly
DECIMAL_DIGITS = 15  # DBL_DIG: a decimal of this many significant digits survives a trip through a double
_PASSTHROUGH: frozenset[type] = frozenset({str, bool, type(None)})
_CELL_WIDTH = 60  # text rendering: longer values are cut, the JSON keeps them whole


def json_value(value: Any) -> Any:
    kind = type(value)
    if kind in _PASSTHROUGH:
        return value
    if kind is int:
        return value if -JSON_SAFE_INT <= value <= JSON_SAFE_INT else str(value)
    if kind is float:
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return json_decimal(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int):  # bool is handled above; other int subclasses
        return json_value(int(value))
    return str(value)


def json_decimal(value: Decimal) -> Any:
    """A decimal as a JSON number when that is exact to its digits (see the module docstring), else its text.

    The common case is decided on the text alone, which is cheap: without an exponent, at most 15 digit
    characters (leading and trailing zeros counted, so never too few) means at most 15 significant digits."""
    text = str(value)
    short = len(text) <= DECIMAL_DIGITS or len(text) - ("." in text) - (text[0] == "-") <= DECIMAL_DIGITS
    if short and "E" not in text and text[-1] <= "9":  # not NaN, Infinity or an exponent form
        number = float(text)
        return int(number) if number.is_integer() else number
    _sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN, Infinity
        return text
    significant = len(digits)
    while significant and digits[significant - 1] == 0:  # trailing zeros: 12.3400 has 4 significant digits
        significant -= 1
    exponent += len(digits) - significant
    if significant == 0:
        return 0
    if exponent >= 0 and -JSON_SAFE_INT <= (whole := int(value)) <= JSON_SAFE_INT:  # integral: 1234.0000 is 1234
        return whole
    # A double's normal range is 1e-307 to 1e308; SQL Server's decimals (38 digits) stay well inside it.
    return float(value) if significant <= DECIMAL_DIGITS and -307 <= value.adjusted() <= 307 else text


def json_rows(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """`json_value` of every cell, with the commonest cases inline: text, NULL, bits, integers a double holds,
    and decimals (a call each, but no dispatch through `json_value`'s chain of type checks)."""
    out: list[list[Any]] = []
    for row in rows:
        out.append(
            [
                v
                if (kind := type(v)) in _PASSTHROUGH or (kind is int and -JSON_SAFE_INT <= v <= JSON_SAFE_INT)
                else json_decimal(v)
                if kind is Decimal
                else json_value(v)
                for v in row
            ]
        )
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict) and set(value) == {"base64"}:
        raw = base64.b64decode(value["base64"])
        text = "0x" + raw[:24].hex().upper() + ("…" if len(raw) > 24 else "")
    else:
        text = str(value)
    text = text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table of JSON-ready rows: models read it well and people can paste it."""
    if not columns:
        return "(no columns)"
    lines = [
        "| " + " | ".join(_cell(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines.extend("| " + " | ".join(_row_cells(row)) + " |" for row in rows)
    return "\n".join(lines)


_NEEDS_CARE = re.compile(r"[\r\n|]")


def _row_cells(row: Sequence[Any]) -> list[str]:
    """`_cell` of each value, with the common cases inline: this runs for every cell of every result.

    A short string without line breaks or pipes is its own cell; a JSON-ready int or float (json_rows
    keeps them under 2**53, so never 60 characters) is its str(). Everything else goes through `_cell`.
    """
    out = []
    for value in row:
        kind = type(value)
        if kind is str:
            out.append(value if len(value) <= _CELL_WIDTH and not _NEEDS_CARE.search(value) else _cell(value))
        elif kind is int or kind is float:
            out.append(str(value))
        else:
            out.append(_cell(value))
    return out
