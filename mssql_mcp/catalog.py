"""Resolving user-written table names against the catalog.

A name a model writes (`Customers`, `dbo.Customers`, `[dbo].[Customers]`, `"sales"."Order Details"`) is
parsed here and matched case-insensitively against the tables the backend listed; a name already split
into schema and table (an id's) is looked up without parsing. Only a `TableRef` that came from the
catalog is ever quoted into SQL, so user text never reaches a statement as an identifier.
"""

from __future__ import annotations

import bisect
import difflib
import functools
from collections import Counter
from collections.abc import Sequence

from mssql_mcp.db.base import TableInfo, quote_ident
from mssql_mcp.errors import InvalidArgument, UnknownTable

_CLOSERS = {"[": "]", '"': '"', "`": "`"}
# Up to this many names, a miss compares the name with every table (difflib); past it, only with the few
# names that share the most letter trigrams with it, so a miss costs milliseconds on 50,000 tables.
FULL_SCAN_NAMES = 2000
SUGGEST_CANDIDATES = 200


def table_key(schema: str, name: str) -> tuple[str, str, str, str]:
    """The stable order of tables for paging: case-folded (schema, name), then the exact spelling."""
    return (schema.casefold(), name.casefold(), schema, name)


def _trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def split_name(text: str) -> list[str]:
    """`[dbo].[My.Table]` -> ['dbo', 'My.Table']. Raises InvalidArgument on unbalanced quoting."""
    parts: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _CLOSERS and not buf:
            close = _CLOSERS[ch]
            j = i + 1
            while True:
                end = text.find(close, j)
                if end < 0:
                    raise InvalidArgument(f"Unbalanced quoting in table name {text!r}.")
                if text.startswith(close * 2, end):  # a doubled closer (]] or "") is an escaped one
                    buf.append(text[j:end] + close)
                    j = end + 2
                    continue
                buf.append(text[j:end])
                i = end + 1
                break
            continue
        if ch == ".":
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf).strip())
    if any(not p for p in parts) or len(parts) > 3:
        raise InvalidArgument(f"Not a table name: {text!r}. Use schema.table, e.g. dbo.Customers.")
    return parts


class Catalog:
    """An immutable snapshot of the tables, indexed for lookups."""

    def __init__(self, tables: Sequence[TableInfo]) -> None:
        self.tables = list(tables)
        self._by_qualified = {(t.ref.schema.lower(), t.ref.name.lower()): t for t in self.tables}
        self._by_name: dict[str, list[TableInfo]] = {}
        for t in self.tables:
            self._by_name.setdefault(t.ref.name.lower(), []).append(t)

    def resolve(self, text: str) -> TableInfo:
        raw = text.strip()
        if not raw:
            error = InvalidArgument("The table name is empty. Use list_tables to see the tables.")
            error.tools = ("list_tables",)  # each face says it as it calls it (errors.MssqlMcpError.worded)
            raise error
        parts = split_name(raw)
        if len(parts) == 3:
            parts = parts[1:]  # database.schema.table: the database is the connected one
        if len(parts) == 2:
            found = self._by_qualified.get((parts[0].lower(), parts[1].lower()))
            if found:
                return found
        else:
            matches = self._by_name.get(parts[0].lower(), [])
            if len(matches) == 1:
                return matches[0]
            if matches:
                dbo = [m for m in matches if m.ref.schema.lower() == "dbo"]
                if len(dbo) == 1:
                    return dbo[0]
                options = ", ".join(sorted(m.ref.qualified for m in matches))
                raise InvalidArgument(f"Table name {raw!r} is ambiguous; qualify it with a schema: {options}.")
        raise UnknownTable(raw, self.suggest(parts[-1]))

    def lookup(self, schema: str, name: str) -> TableInfo:
        """The table `schema`.`name` (case-insensitive), for a name that is already split: nothing to parse."""
        found = self._by_qualified.get((schema.lower(), name.lower()))
        if found is None:
            shown = f"{quote_ident(schema, minimal=True)}.{quote_ident(name, minimal=True)}"
            raise UnknownTable(shown, self.suggest(name))
        return found

    @functools.cached_property
    def _ordered(self) -> tuple[list[TableInfo], list[tuple[str, str, str, str]]]:
        ordered = sorted(self.tables, key=lambda t: table_key(t.ref.schema, t.ref.name))
        return ordered, [table_key(t.ref.schema, t.ref.name) for t in ordered]

    def ordered(self) -> list[TableInfo]:
        """The tables in paging order (`table_key`)."""
        return self._ordered[0]

    def position_after(self, key: tuple[str, str, str, str]) -> int:
        """The index in `ordered()` of the first table after `key` (which need not exist any more)."""
        return bisect.bisect_right(self._ordered[1], key)

    @functools.cached_property
    def _lower_names(self) -> list[str]:
        return sorted({t.ref.name.lower() for t in self.tables})

    @functools.cached_property
    def _trigram_index(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for i, n in enumerate(self._lower_names):
            for g in _trigrams(n):
                index.setdefault(g, []).append(i)
        return index

    def _candidates(self, name: str) -> list[str]:
        """The names worth comparing with `name`: all of them in a small catalog, else the trigram neighbours."""
        names = self._lower_names
        if len(names) <= FULL_SCAN_NAMES:
            return names
        grams = _trigrams(name)
        if not grams:  # one or two letters: the names that start with them
            start = bisect.bisect_left(names, name)
            return [n for n in names[start : start + SUGGEST_CANDIDATES] if n.startswith(name)]
        shared = Counter(i for g in grams for i in self._trigram_index.get(g, ()))
        best = sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:SUGGEST_CANDIDATES]
        # A name containing `name` holds all its trigrams: those are candidates even beyond the best few.
        whole = [i for i, count in shared.items() if count == len(grams)]
        return [names[i] for i in sorted({i for i, _ in best} | set(whole))]

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        lowered = name.lower()
        candidates = self._candidates(lowered)
        close = set(difflib.get_close_matches(lowered, candidates, n=limit, cutoff=0.6))
        close |= {n for n in candidates if lowered in n and len(name) >= 3}
        return sorted(t.ref.qualified for n in close for t in self._by_name.get(n, ()))[:limit]
