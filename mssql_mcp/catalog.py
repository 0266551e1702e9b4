"""Resolving user-written table names against the catalog.

A name a model writes (`Customers`, `dbo.Customers`, `[dbo].[Customers]`, `"sales"."Order Details"`) is
parsed here and matched case-insensitively against the tables the backend listed; a name already split
into schema and table (an id's) is looked up without parsing. Only a `TableRef` that came from the
catalog is ever quoted into SQL, so user text never reaches a statement as an identifier.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from mssql_mcp.db.base import TableInfo, quote_ident
from mssql_mcp.errors import InvalidArgument, UnknownTable

_CLOSERS = {"[": "]", '"': '"', "`": "`"}


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
            raise InvalidArgument("table_name is empty. Use list_tables to see the tables.")
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

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        names = {t.ref.qualified: t.ref.name.lower() for t in self.tables}
        close = set(difflib.get_close_matches(name.lower(), list(names.values()), n=limit, cutoff=0.6))
        close |= {n for n in names.values() if name.lower() in n and len(name) >= 3}
        return sorted(q for q, n in names.items() if n in close)[:limit]
