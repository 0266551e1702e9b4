"""Durable, stateless ids for the ChatGPT face's `fetch`.

An id says what it points at, so `fetch` works after a restart and on any replica:

    catalog:tables                               the list of tables and views
    table:dbo.Orders                             one table: columns, keys, indexes
    column:dbo.Customers:CompanyName             one column of a table
    row:dbo.Orders:OrderID=10248                 one row, by its primary key
    row:dbo.OrderLines:OrderID=1,LineNumber=2    a composite key, in key order
    row:dbo.Customers:Code='ALFKI'               strings quoted as T-SQL literals ('' doubles a quote)
    sample:dbo.Orders:10                         the first N rows of a table
    query:<digest>:<payload>                     a read-only query: payload = base64url(zlib(SQL))

Names that are not plain identifiers are bracket-quoted as in T-SQL: `table:[sales].[Order Details]`.
Values: integers and decimals bare (`-12`, `3.50`), strings quoted, binary as `0x…`.

This module only parses and formats. A table is read once, into a `TableName` (the id's text plus its
schema and name), so resolving it needs no second parse. It never trusts what it parsed: `fetch` looks
every table up in the catalog and checks that a row id names exactly the table's primary-key columns, so
an id can reach only existing tables and real keys (forged ids are refused there). A query id's digest
must match its SQL, and the SQL goes through the read-only gate again on every run, so a forged query id
can do nothing that a `search` with the same SQL could not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias

from mssql_mcp.db.base import is_regular_ident, quote_ident
from mssql_mcp.errors import InvalidArgument

KeyValue: TypeAlias = int | Decimal | str | bytes
MAX_ID_LENGTH = 16_384
MAX_QUERY_SQL = 8_000  # characters of SQL a query id may carry
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_BINARY = re.compile(r"0x([0-9A-Fa-f]*)")
_DIGEST_HEX = 16


class TableName(str):
    """An id's table as the id writes it (`dbo.Orders`, `sales.[Order Details]`), keeping the schema and name
    it was made from: the catalog looks those up directly. A str, so ids format and compare as text."""

    schema: str
    name: str

    def __new__(cls, schema: str, name: str) -> TableName:
        self = super().__new__(cls, f"{quote_ident(schema, minimal=True)}.{quote_ident(name, minimal=True)}")
        self.schema, self.name = schema, name
        return self


@dataclass(frozen=True)
class CatalogId:
    pass


@dataclass(frozen=True)
class TableId:
    table: TableName


@dataclass(frozen=True)
class ColumnId:
    table: TableName
    column: str


@dataclass(frozen=True)
class RowId:
    table: TableName
    key: tuple[tuple[str, KeyValue], ...]


@dataclass(frozen=True)
class SampleId:
    table: TableName
    limit: int


@dataclass(frozen=True)
class QueryId:
    sql: str


RecordId: TypeAlias = CatalogId | TableId | ColumnId | RowId | SampleId | QueryId


class BadId(InvalidArgument):
    """An id this server did not make (or one damaged in transit)."""

    def __init__(self, text: str, reason: str) -> None:
        shown = text if len(text) <= 120 else text[:117] + "..."
        super().__init__(f"Invalid id {shown!r}: {reason}. Use an id returned by search.")


# -- formatting ---------------------------------------------------------------------------------


def format_value(value: Any) -> str:
    """A key value as id text. Raises InvalidArgument for values that cannot identify a row (NULL)."""
    if value is None:
        raise InvalidArgument("a NULL key value cannot identify a row")
    value = key_value(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    if isinstance(value, bytes):
        return "0x" + value.hex().upper()
    return "'" + str(value).replace("'", "''") + "'"


def key_value(raw: Any) -> KeyValue:
    """A driver's key value as an id value: numbers and bytes kept exact, anything else as its text."""
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, int | Decimal | str | bytes):
        return raw
    if isinstance(raw, bytearray | memoryview):
        return bytes(raw)
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return raw.isoformat(" ") if hasattr(raw, "isoformat") else str(raw)


def format_id(rid: RecordId) -> str:
    if isinstance(rid, CatalogId):
        return "catalog:tables"
    if isinstance(rid, TableId):
        return f"table:{rid.table}"
    if isinstance(rid, ColumnId):
        return f"column:{rid.table}:{quote_ident(rid.column, minimal=True)}"
    if isinstance(rid, RowId):
        return f"row:{rid.table}:" + ",".join(f"{quote_ident(c, minimal=True)}={format_value(v)}" for c, v in rid.key)
    if isinstance(rid, SampleId):
        return f"sample:{rid.table}:{rid.limit}"
    payload = base64.urlsafe_b64encode(zlib.compress(rid.sql.encode("utf-8"), 9)).decode("ascii").rstrip("=")
    return f"query:{query_digest(rid.sql)}:{payload}"


def query_digest(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()[:_DIGEST_HEX]


def query_id(sql: str) -> QueryId:
    if len(sql) > MAX_QUERY_SQL:
        raise InvalidArgument(f"The query is too long to cite ({len(sql)} characters; at most {MAX_QUERY_SQL}).")
    return QueryId(sql)


# -- parsing ------------------------------------------------------------------------------------


class _Cursor:
    def __init__(self, text: str, pos: int) -> None:
        self.text, self.pos = text, pos

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, ch: str, what: str) -> None:
        if self.peek() != ch:
            raise ValueError(f"expected {ch!r} {what}")
        self.pos += 1

    def quoted(self, close: str, problem: str) -> str:
        """The text between the opener at `pos` and its closer; a doubled closer is one literal closer."""
        out, i = [], self.pos + 1
        while True:
            end = self.text.find(close, i)
            if end < 0:
                raise ValueError(problem)
            out.append(self.text[i:end])
            if self.text.startswith(close * 2, end):
                out.append(close)
                i = end + 2
                continue
            self.pos = end + 1
            return "".join(out)

    def part(self, stops: str) -> str:
        """One name: `[...]` with `]]` escapes, or a bare run up to a stop character."""
        if self.peek() == "[":
            return self.quoted("]", "unbalanced '['")
        start = self.pos
        while not self.at_end() and self.peek() not in stops:
            self.pos += 1
        name = self.text[start : self.pos]
        if not is_regular_ident(name):
            raise ValueError(f"not a plain name: {name!r} (bracket-quote it)")
        return name

    def table(self) -> TableName:
        """`schema.table` (either part bracketed)."""
        parts = [self.part(".:")]
        while self.peek() == ".":
            self.pos += 1
            parts.append(self.part(".:"))
        if len(parts) != 2:
            raise ValueError("the table must be schema.table")
        return TableName(*parts)

    def value(self) -> KeyValue:
        if self.peek() == "'":
            return self.quoted("'", "unterminated string")
        binary = _BINARY.match(self.text, self.pos)
        if binary:
            self.pos = binary.end()
            return bytes.fromhex(binary.group(1))
        number = _NUMBER.match(self.text, self.pos)
        if not number:
            raise ValueError("a key value must be a number, a 'quoted string' or 0x…")
        self.pos = number.end()
        return Decimal(number.group()) if number.group(1) else int(number.group())


def parse_id(text: str) -> RecordId:
    """Parse an id made by `format_id`. Raises BadId (an InvalidArgument) for anything else."""
    if not isinstance(text, str) or not text.strip():
        raise BadId(str(text), "it is empty")
    text = text.strip()
    if len(text) > MAX_ID_LENGTH:
        raise BadId(text, f"longer than {MAX_ID_LENGTH} characters")
    kind, sep, _ = text.partition(":")
    if not sep:
        raise BadId(text, "it has no kind (table:, row:, query:, ...)")
    try:
        rid = _parse(kind, text, _Cursor(text, len(kind) + 1))
    except ValueError as exc:
        raise BadId(text, str(exc)) from None
    return rid


def _parse(kind: str, text: str, cur: _Cursor) -> RecordId:
    if kind == "catalog":
        if text != "catalog:tables":
            raise ValueError("the only catalog id is catalog:tables")
        return CatalogId()
    if kind == "query":
        return _parse_query(text[cur.pos :])
    if kind not in ("table", "column", "row", "sample"):
        raise ValueError(f"unknown kind {kind!r}")
    table = cur.table()
    rid: RecordId
    if kind == "table":
        rid = TableId(table)
    else:
        cur.expect(":", "after the table")
        if kind == "column":
            rid = ColumnId(table, cur.part(":"))
        elif kind == "sample":
            digits = text[cur.pos :]
            if not digits.isdigit() or len(digits) > 6:
                raise ValueError("a sample id ends with its row count")
            cur.pos = len(text)
            rid = SampleId(table, int(digits))
        else:
            rid = RowId(table, _parse_key(cur))
    if not cur.at_end():
        raise ValueError(f"unexpected text at {text[cur.pos :][:20]!r}")
    return rid


def _parse_key(cur: _Cursor) -> tuple[tuple[str, KeyValue], ...]:
    pairs: list[tuple[str, KeyValue]] = []
    while True:
        column = cur.part("=,")
        cur.expect("=", f"after column {column!r}")
        pairs.append((column, cur.value()))
        if cur.peek() != ",":
            break
        cur.pos += 1
    names = [c.lower() for c, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("a key column appears twice")
    return tuple(pairs)


def _parse_query(rest: str) -> QueryId:
    digest, sep, payload = rest.partition(":")
    if not sep or len(digest) != _DIGEST_HEX:
        raise ValueError("a query id is query:<digest>:<payload>")
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        decompressor = zlib.decompressobj()
        data = decompressor.decompress(raw, MAX_QUERY_SQL * 4 + 1)  # bounded: no zip bombs
        if decompressor.unconsumed_tail or not decompressor.eof:
            raise ValueError("the payload is damaged or too large")
        sql = data.decode("utf-8")
    except (binascii.Error, zlib.error, UnicodeDecodeError):
        raise ValueError("the payload is damaged") from None
    if query_digest(sql) != digest.lower():
        raise ValueError("the digest does not match the query")
    return query_id(sql)
