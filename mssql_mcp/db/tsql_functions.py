"""SQL Server semantics the embedded database computes in Python: a collation, LIKE, and conversions.

Registered on every SQLite connection (`register`); the T-SQL translation (`tsql_semantics`) emits calls to
them where SQLite's own behaviour differs from SQL Server's:

- the collation TSQL_CI_AS: SQL Server's default collations are case-insensitive and accent-sensitive
  (https://learn.microsoft.com/sql/relational-databases/collations/collation-and-unicode-support), and `=`
  ignores trailing spaces (https://learn.microsoft.com/sql/t-sql/language-elements/equals-transact-sql);
- `like`, replacing SQLite's own: T-SQL's wildcards `%`, `_`, `[a-c]`, `[^a-c]` under that collation
  (https://learn.microsoft.com/sql/t-sql/language-elements/like-transact-sql);
- the conversions of `tsql_convert`, and the date and string functions of `tsql_dates` and `tsql_strings`.

A failed conversion raises; SQLite reports only "user-defined function raised exception", so the message is
kept per thread for `take_error` (the backend reads it on the same worker thread).
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any, cast

COLLATION = "TSQL_CI_AS"
GUID_COLLATION = "TSQL_GUID"
_local = threading.local()
_Key = tuple[tuple[str, ...], tuple[str, ...]]
SqliteValue = str | int | float | bytes | None


class ConversionFailed(ValueError):
    pass


def take_error() -> str | None:
    """The message of this thread's last failed conversion, once."""
    message: str | None = getattr(_local, "error", None)
    _local.error = None
    return message


def _fail(message: str) -> ConversionFailed:
    _local.error = message
    return ConversionFailed(message)


class Unsupported(ValueError):
    """Not computed the SQL Server way here: a refusal, which TRY_CAST must not turn into NULL."""


def refuse(what: str) -> Unsupported:
    message = f"{what} is not supported on the embedded SQLite database."
    _local.error = message
    return Unsupported(message)


# -- collation ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def sort_key(text: str) -> _Key:
    """Letters first by base letter (case ignored), then by accent: a < á < b, and 'A' = 'a', 'á' != 'a'.

    Trailing spaces do not count, as in SQL Server's `=` (ANSI padding).
    """
    bases: list[str] = []
    accents: list[str] = []
    for char in unicodedata.normalize("NFC", text.rstrip(" ")):
        decomposed = unicodedata.normalize("NFD", char)
        bases.append(decomposed[0].lower())
        accents.append(decomposed[1:])
    return tuple(bases), tuple(accents)


def collate(left: str, right: str) -> int:
    if left.isascii() and right.isascii():  # no accents: the sort key is the lower-cased text (ORDER BY names)
        x, y = left.rstrip(" ").lower(), right.rstrip(" ").lower()
        return (x > y) - (x < y)
    a, b = sort_key(left), sort_key(right)
    return (a > b) - (a < b)


def _char_key(char: str) -> _Key:
    return sort_key(char) if char != " " else ((" ",), ("",))


@functools.lru_cache(maxsize=512)
def _like_regex(pattern: str, escape: str | None) -> list[tuple[str, object]]:
    """The pattern as tokens: ('%', None), ('_', None), ('lit', key), ('set', (negated, items))."""
    tokens: list[tuple[str, object]] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if escape is not None and char == escape and i + 1 < len(pattern):
            tokens.append(("lit", _char_key(pattern[i + 1])))
            i += 2
            continue
        if char in "%_":
            tokens.append((char, None))
        elif char == "[" and pattern.find("]", i + 2) > i:
            end = pattern.find("]", i + 2)
            body = pattern[i + 1 : end]
            negated = body.startswith("^") and len(body) > 1
            body = body[1:] if negated else body
            items: list[tuple[object, object]] = []
            j = 0
            while j < len(body):
                if j + 2 < len(body) and body[j + 1] == "-":
                    items.append((_char_key(body[j]), _char_key(body[j + 2])))
                    j += 3
                else:
                    items.append((_char_key(body[j]), None))
                    j += 1
            tokens.append(("set", (negated, tuple(items))))
            i = end + 1
            continue
        else:
            tokens.append(("lit", _char_key(char)))
        i += 1
    return tokens


def _matches_one(token: tuple[str, object], char: str) -> bool:
    kind, arg = token
    if kind == "_":
        return True
    key = _char_key(char)
    if kind == "lit":
        return key == arg
    negated, items = cast(tuple[bool, tuple[tuple[_Key, _Key | None], ...]], arg)
    hit = any(key == lo if hi is None else lo <= key <= hi for lo, hi in items)
    return hit != negated


def like(pattern: object, value: object, escape: object = None) -> int | None:
    """T-SQL's LIKE under TSQL_CI_AS (SQLite calls like(pattern, value[, escape]))."""
    if pattern is None or value is None:
        return None
    tokens = _like_regex(str(pattern), None if escape is None else str(escape))
    return int(_match(tokens, str(value), 0))


def _match(tokens: list[tuple[str, object]], text: str, start: int) -> bool:
    """Whether text[start:] matches the pattern's tokens."""
    # Greedy matching with backtracking over % (the classic wildcard algorithm, linear memory).
    t, p = start, 0
    star_p, star_t = -1, 0
    while t < len(text):
        if p < len(tokens) and tokens[p][0] != "%" and _matches_one(tokens[p], text[t]):
            t, p = t + 1, p + 1
        elif p < len(tokens) and tokens[p][0] == "%":
            star_p, star_t = p, t
            p += 1
        elif star_p >= 0:
            star_t += 1
            t, p = star_t, star_p + 1
        else:
            return False
    while p < len(tokens) and tokens[p][0] == "%":
        p += 1
    return p == len(tokens)


_PATINDEX_LIMIT = 100_000  # characters: the search tries each start, inside one uninterruptible call


def patindex(pattern: object, value: object) -> int | None:
    """PATINDEX: the 1-based start of the first match of `pattern` (LIKE's wildcards), 0 when none
    (https://learn.microsoft.com/sql/t-sql/functions/patindex-transact-sql). A leading % lets the match
    start anywhere; without one it must start at the first character."""
    if pattern is None or value is None:
        return None
    text, written = str(value), str(pattern)
    if len(text) > _PATINDEX_LIMIT:
        raise refuse(f"PATINDEX over more than {_PATINDEX_LIMIT:,} characters")
    if not written.startswith("%"):
        return int(_match(_like_regex(written, None), text, 0))
    tokens = _like_regex(written[1:], None)
    return next((start + 1 for start in range(len(text) + 1) if _match(tokens, text, start)), 0)


def _guid_key(text: str) -> bytes | None:
    try:
        stored = uuid.UUID(text.strip()).bytes_le  # SQL Server's storage order of the 16 bytes
    except ValueError:
        return None
    return bytes(stored[i] for i in _GUID_ORDER)


# SQL Server compares uniqueidentifier values by byte groups: bytes 10-15 first, then 8-9, 6-7, 4-5 and 0-3
# (https://learn.microsoft.com/dotnet/framework/data/adonet/sql/comparing-guid-and-uniqueidentifier-values).
_GUID_ORDER = (10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3)


def collate_guid(left: str, right: str) -> int:
    a, b = _guid_key(left), _guid_key(right)
    if a is None or b is None:  # not a GUID: as text under the default collation
        return collate(left, right)
    return (a > b) - (a < b)


def register(con: sqlite3.Connection) -> None:
    # they build on this module
    from mssql_mcp.db import tsql_convert, tsql_dates, tsql_decimal, tsql_numbers, tsql_strings

    con.create_collation(COLLATION, collate)
    con.create_collation(GUID_COLLATION, collate_guid)
    con.create_aggregate("tsql_avg", 1, cast(Callable[[], Any], tsql_numbers.Average))
    con.create_function("tsql_now", 2, tsql_dates.now)  # not deterministic: the clock
    for name, arity, function in (
        ("upper", 1, tsql_strings.upper),
        ("round", 1, tsql_strings.round_),
        ("round", 2, tsql_strings.round_),
        ("round", 3, tsql_strings.round_),
        ("lower", 1, tsql_strings.lower),
        ("tsql_charindex", 3, tsql_strings.charindex),
        ("tsql_replace", 3, tsql_strings.replace),
        ("tsql_stuff", 4, tsql_strings.stuff),
        ("tsql_replicate", 2, tsql_strings.replicate),
        ("tsql_reverse", 1, tsql_strings.reverse),
        ("tsql_concat_ws", -1, tsql_strings.concat_ws),
        ("tsql_divide", 2, tsql_strings.divide),
        (tsql_decimal.DIVIDE_FUNCTION, 4, tsql_decimal.divide),
        ("tsql_modulo", 2, tsql_strings.modulo),
        ("tsql_space", 1, tsql_strings.space),
        ("tsql_datefromparts", 3, tsql_strings.datefromparts),
        ("tsql_dateadd", 4, tsql_dates.dateadd),
        ("tsql_datediff", 4, tsql_dates.datediff),
        ("tsql_datename", 3, tsql_dates.datename),
        ("tsql_datepart", 3, tsql_dates.datepart),
        ("tsql_patindex", 2, patindex),
    ):
        con.create_function(name, arity, cast(Callable[..., SqliteValue], function), deterministic=True)
    con.create_function("like", 2, like, deterministic=True)
    con.create_function("like", 3, like, deterministic=True)
    con.create_function(tsql_convert.CAST_FUNCTION, 6, tsql_convert.tsql_cast, deterministic=True)
    con.create_function("tsql_try_cast", 6, tsql_convert.try_cast, deterministic=True)
