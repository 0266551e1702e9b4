"""Every column of every table and view in one read, for the schema search's index.

Both backends return the same rows: (schema, table, column, type, primary key, description). A row whose
column is None carries the table's own description. SQLite has no descriptions; SQL Server's are the
MS_Description extended properties, the ones describe_table shows.
"""

from __future__ import annotations

import sqlite3

ColumnRow = tuple[str, str, str | None, str, bool, str | None]

SQLITE_COLUMNS = """
SELECT m.name, p.name, p.type, p.pk
FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%'
ORDER BY m.name, p.cid
"""


def sqlite_columns(con: sqlite3.Connection, schema: str) -> list[ColumnRow]:
    """One statement for the whole file; table by table only if a broken view makes it fail."""
    try:
        rows = con.execute(SQLITE_COLUMNS).fetchall()
    except sqlite3.Error:
        rows = []
        names = con.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        for (name,) in names:
            try:
                cols = con.execute("SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", (name,)).fetchall()
            except sqlite3.Error:  # a view over a dropped table: it has no columns to search
                continue
            rows += [(name, c, t, pk) for c, t, pk in cols]
    return [(schema, t, c, (ctype or "").strip('"').lower() or "any", bool(pk), None) for t, c, ctype, pk in rows]
