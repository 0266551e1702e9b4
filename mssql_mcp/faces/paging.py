"""list_tables in pages a model can afford: filters, a budget per page and stateless cursors.

A page holds at most PAGE_MAX_TABLES tables and PAGE_MAX_TEXT_BYTES of text, whichever comes first
(300 tables of a typical `dbo.Name (table, 123 rows)` line are about 12 KB, some 3,000 tokens).
A database that fits in one page is answered exactly as before paging existed, in the catalog's order.

Past one page, tables come in a stable order, (schema, name) case-folded, and a page that is not the last
carries a cursor: base64url JSON of the last table's key and the filter. It holds no server state, so it
works on any replica and after a restart; tables added or dropped between calls are simply met or missed
in their place in the order, and no table is shown twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mssql_mcp.catalog import Catalog, table_key
from mssql_mcp.db.base import TableInfo
from mssql_mcp.errors import InvalidArgument

PAGE_MAX_TABLES = 300
PAGE_MAX_TEXT_BYTES = 16 * 1024
MAX_PATTERN_CHARS = 256
_BAD_CURSOR = "Invalid cursor; call list_tables again without one (or with the same schema and pattern)."


@dataclass(frozen=True)
class Page:
    tables: list[TableInfo]
    next_cursor: str | None  # None on the last (or only) page
    remaining: int  # tables after this page that match the filter
    filtered: bool


def name_filter(pattern: str | None) -> Callable[[str], bool]:
    """A case-insensitive substring test with `*` as the only wildcard (`_` and `%` are literal)."""
    if not pattern:
        return lambda _name: True
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidArgument(f"pattern is longer than {MAX_PATTERN_CHARS} characters.")
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.IGNORECASE | re.DOTALL)
    return lambda name: regex.search(name) is not None


def encode_cursor(after: tuple[str, str], schema: str | None, pattern: str | None) -> str:
    raw = json.dumps({"a": list(after), "s": schema, "p": pattern}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[tuple[str, str], str | None, str | None]:
    """(last key, schema, pattern) from a cursor; InvalidArgument for anything this module did not write."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.strip() + "=" * (-len(cursor.strip()) % 4)))
        after, schema, pattern = data["a"], data.get("s"), data.get("p")
        ok = isinstance(after, list) and len(after) == 2 and all(isinstance(x, str) for x in after)
        if not ok or not all(v is None or isinstance(v, str) for v in (schema, pattern)):
            raise InvalidArgument(_BAD_CURSOR)
    except (ValueError, binascii.Error, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidArgument(_BAD_CURSOR) from None
    return (after[0], after[1]), schema, pattern


def page(
    catalog: Catalog, render: Callable[[TableInfo], str], *, schema: str | None, pattern: str | None, cursor: str | None
) -> Page:
    """One page of the tables matching `schema` and `pattern`, after `cursor`'s table if given."""
    schema, pattern = schema or None, pattern or None
    after: tuple[str, str] | None = None
    if cursor:
        after, c_schema, c_pattern = decode_cursor(cursor)
        if (schema is not None and schema != c_schema) or (pattern is not None and pattern != c_pattern):
            raise InvalidArgument(_BAD_CURSOR)
        schema, pattern = c_schema, c_pattern
    matches = name_filter(pattern)
    wanted_schema = schema.casefold() if schema else None

    def keep(t: TableInfo) -> bool:
        return (wanted_schema is None or t.ref.schema.casefold() == wanted_schema) and matches(t.ref.name)

    filtered = schema is not None or pattern is not None
    if after is None:
        everything = [t for t in catalog.tables if keep(t)] if filtered else catalog.tables
        if _fits(everything, render):  # one page: exactly the unpaged answer, in the catalog's order
            return Page(list(everything), None, 0, filtered)
    ordered = catalog.ordered()
    start = 0 if after is None else catalog.position_after(table_key(*after))
    return _fill(ordered, start, keep, render, schema, pattern, filtered)


def _fits(tables: Sequence[TableInfo], render: Callable[[TableInfo], str]) -> bool:
    if len(tables) > PAGE_MAX_TABLES:
        return False
    return sum(len(render(t).encode()) + 1 for t in tables) <= PAGE_MAX_TEXT_BYTES


def _fill(
    ordered: Sequence[TableInfo],
    start: int,
    keep: Callable[[TableInfo], bool],
    render: Callable[[TableInfo], str],
    schema: str | None,
    pattern: str | None,
    filtered: bool,
) -> Page:
    taken: list[TableInfo] = []
    size = 0
    i = start
    # Room for the closing line ("N more; call again with cursor=...") is kept inside the text budget.
    budget = PAGE_MAX_TEXT_BYTES - 512
    while i < len(ordered) and len(taken) < PAGE_MAX_TABLES:
        t = ordered[i]
        if keep(t):
            line = len(render(t).encode()) + 1
            if taken and size + line > budget:
                break
            taken.append(t)
            size += line
        i += 1
    remaining = sum(1 for t in ordered[i:] if keep(t))
    next_cursor = None
    if remaining and taken:
        next_cursor = encode_cursor((taken[-1].ref.schema, taken[-1].ref.name), schema, pattern)
    return Page(taken, next_cursor, remaining, filtered)
