"""What one result may carry: each cell at most MAX_CELL_BYTES, the whole result at most MAX_RESULT_BYTES.

    fetch_bounded(rows, max_rows=, cell_limit=, result_limit=)  -> Bounded: rows cut as they are read
    cap_result(result, limit)                                   -> the byte cap, applied after the fact

A backend reads rows through `fetch_bounded`, so it never holds more than one uncut row beyond the kept
ones: a thousand rows of 16 MB values cost one 16 MB value, not 16 GB. A cut cell ends with a mark that
says so (`cut_mark`); a cut binary value becomes text (its first bytes in 0x notation, then the mark), so
it cannot pass for the value. A result that would pass the byte cap stops at the row before, and says
`truncated` with the reason "bytes" ("rows" when the row cap cut it).

Sizes are what the JSON of a value costs, estimated without encoding it: text counts a byte a character
(three when not ASCII: `str.isascii()` is a flag lookup), binary its base64, anything else 16 bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mssql_mcp.db.base import QueryResult

BINARY_PREFIX_BYTES = 16  # how much of a cut binary value is shown, in 0x notation
OTHER_CELL_BYTES = 16  # a number, date, bool or NULL in JSON


def cut_mark(limit: int) -> str:
    return f"… [cut: longer than {limit} bytes, MAX_CELL_BYTES]"


def cut(value: Any, limit: int) -> Any:
    """`value` if it fits in `limit` bytes; else its first `limit` bytes, marked as cut."""
    if isinstance(value, str):
        if len(value) * 4 <= limit:  # the common case, without encoding: 4 bytes a character at most
            return value
        data = value.encode("utf-8", "surrogatepass")
        if len(data) <= limit:
            return value
        return data[:limit].decode("utf-8", "ignore") + cut_mark(limit)
    if isinstance(value, bytes | bytearray | memoryview) and len(value) > limit:
        return "0x" + bytes(value[:BINARY_PREFIX_BYTES]).hex().upper() + cut_mark(limit)
    return value


def cell_bytes(value: Any) -> int:
    kind = type(value)
    if kind is str:
        return len(value) if value.isascii() else 3 * len(value)
    if kind is bytes or kind is bytearray or kind is memoryview:
        return (len(value) + 2) // 3 * 4 + 14  # {"base64": "..."}
    return OTHER_CELL_BYTES


@dataclass
class Bounded:
    rows: list[tuple[Any, ...]]
    truncated: bool
    reason: str | None  # "rows" or "bytes" when truncated
    size: int  # estimated JSON bytes of the kept rows


def _cut_row(row: Sequence[Any], cell_limit: int) -> tuple[tuple[Any, ...], int]:
    """The row with its long cells cut, and its size."""
    size = 0
    values: list[Any] | None = None
    quick = cell_limit // 4
    for i, value in enumerate(row):
        kind = type(value)
        if (kind is str and len(value) > quick) or (kind is bytes and len(value) > cell_limit):
            short = cut(value, cell_limit)
            if short is not value:
                if values is None:
                    values = list(row)
                values[i] = short
                value = short
        size += cell_bytes(value)
    return (tuple(values) if values is not None else tuple(row)), size


def fetch_bounded(rows: Iterable[Sequence[Any]], *, max_rows: int, cell_limit: int, result_limit: int) -> Bounded:
    """Read at most `max_rows` rows (one more, to know if there were more), cutting cells as they come."""
    kept: list[tuple[Any, ...]] = []
    total = 0
    source = iter(rows)
    for row in source:
        if len(kept) >= max_rows:
            return Bounded(kept, True, "rows", total)
        cut_row, size = _cut_row(row, cell_limit)
        if total + size > result_limit:
            return Bounded(kept, True, "bytes", total)
        kept.append(cut_row)
        total += size
    return Bounded(kept, False, None, total)


def cap_result(result: QueryResult, limit: int) -> None:
    """Apply the byte cap to a result a backend returned whole, and name why a truncated one was cut."""
    if (result.size_bytes is None or result.size_bytes > limit) and result.rows:
        total = 0
        for i, row in enumerate(result.rows):
            size = sum(cell_bytes(v) for v in row)
            if total + size > limit:
                del result.rows[i:]
                result.truncated, result.truncated_reason, result.row_count = True, "bytes", i
                break
            total += size
        result.size_bytes = total
    if result.truncated and result.truncated_reason is None:
        result.truncated_reason = "rows"


FETCH_BATCH = 100  # rows fetched at a time: a batch is the most held before its long cells are cut


def collect(cursor: Any, max_rows: int, cell_limit: int, result_limit: int) -> QueryResult:
    """A pyodbc cursor's first result set (skipping row counts before it): capped at max_rows and
    `result_limit` bytes, long cells cut to `cell_limit` as they are read, so no more than a batch of uncut
    rows is ever held."""
    affected = cursor.rowcount
    while cursor.description is None:
        if not cursor.nextset():
            return QueryResult([], [], False, max(affected, 0))
        affected = cursor.rowcount
    columns = [d[0] for d in cursor.description]
    size = min(FETCH_BATCH, max_rows + 1)
    batches = iter(lambda: cursor.fetchmany(size), [])
    got = fetch_bounded(
        itertools.chain.from_iterable(batches), max_rows=max_rows, cell_limit=cell_limit, result_limit=result_limit
    )
    return QueryResult(
        columns, got.rows, got.truncated, len(got.rows), truncated_reason=got.reason, size_bytes=got.size
    )
