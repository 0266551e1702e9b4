"""Catalog queries for SQL Server: plain joins over the sys views, every name passed as a parameter.

They run on SQL Server 2016+ and Azure SQL, need only VIEW DEFINITION on the objects (sys views show
a login just what it may see), and are what the TDS test server answers from its SQLite copy of them.
Row counts come from sys.partitions (the heap or clustered index): an estimate that costs no scan.
"""

from __future__ import annotations

from typing import Any

from mssql_mcp.db.base import ColumnInfo, ForeignKey, IndexInfo, TableDetail, TableInfo, TableRef
from mssql_mcp.db.bulk_columns import ColumnRow
from mssql_mcp.errors import UnknownTable

TABLES = """
SELECT s.name AS schema_name, o.name AS table_name, o.type AS object_type,
       (SELECT SUM(p.rows) FROM sys.partitions p WHERE p.object_id = o.object_id AND p.index_id IN (0, 1)) AS row_count
FROM sys.objects o
JOIN sys.schemas s ON s.schema_id = o.schema_id
WHERE o.type IN ('U', 'V') AND o.is_ms_shipped = 0
ORDER BY s.name, o.name
"""

OBJECT = """
SELECT o.object_id, o.type AS object_type,
       (SELECT SUM(p.rows) FROM sys.partitions p WHERE p.object_id = o.object_id AND p.index_id IN (0, 1)) AS row_count,
       (SELECT CAST(ep.value AS NVARCHAR(4000)) FROM sys.extended_properties ep
        WHERE ep.class = 1 AND ep.major_id = o.object_id AND ep.minor_id = 0 AND ep.name = 'MS_Description')
         AS description
FROM sys.objects o
JOIN sys.schemas s ON s.schema_id = o.schema_id
WHERE s.name = ? AND o.name = ? AND o.type IN ('U', 'V')
"""

COLUMNS = """
SELECT c.name, t.name AS type_name, c.max_length, c.precision, c.scale, c.is_nullable, c.is_identity,
       dc.definition AS default_definition,
       (SELECT CAST(ep.value AS NVARCHAR(4000)) FROM sys.extended_properties ep
        WHERE ep.class = 1 AND ep.major_id = c.object_id AND ep.minor_id = c.column_id
          AND ep.name = 'MS_Description') AS description
FROM sys.columns c
JOIN sys.types t ON t.user_type_id = c.user_type_id
LEFT JOIN sys.default_constraints dc ON dc.object_id = c.default_object_id
WHERE c.object_id = ?
ORDER BY c.column_id
"""

INDEXES = """
SELECT i.name, i.is_unique, i.is_primary_key, col.name AS column_name
FROM sys.indexes i
JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns col ON col.object_id = ic.object_id AND col.column_id = ic.column_id
WHERE i.object_id = ? AND i.type > 0 AND ic.is_included_column = 0
ORDER BY i.index_id, ic.key_ordinal
"""

FOREIGN_KEYS = """
SELECT fk.name, pc.name AS column_name, rs.name AS ref_schema, ro.name AS ref_table, rc.name AS ref_column
FROM sys.foreign_keys fk
JOIN sys.foreign_key_columns fkc ON fkc.constraint_object_id = fk.object_id
JOIN sys.columns pc ON pc.object_id = fkc.parent_object_id AND pc.column_id = fkc.parent_column_id
JOIN sys.objects ro ON ro.object_id = fkc.referenced_object_id
JOIN sys.schemas rs ON rs.schema_id = ro.schema_id
JOIN sys.columns rc ON rc.object_id = fkc.referenced_object_id AND rc.column_id = fkc.referenced_column_id
WHERE fk.parent_object_id = ?
ORDER BY fk.name, fkc.constraint_column_id
"""


# Every column of every table and view at once, for the schema search's index: one round trip whatever the
# number of tables. The key flag and the descriptions are joins, not a query per table.
ALL_COLUMNS = """
SELECT s.name AS schema_name, o.name AS table_name, c.name AS column_name, t.name AS type_name,
       c.max_length, c.precision, c.scale,
       CASE WHEN pk.column_id IS NULL THEN 0 ELSE 1 END AS is_key,
       CAST(ep.value AS NVARCHAR(4000)) AS description
FROM sys.columns c
JOIN sys.objects o ON o.object_id = c.object_id
JOIN sys.schemas s ON s.schema_id = o.schema_id
JOIN sys.types t ON t.user_type_id = c.user_type_id
LEFT JOIN (SELECT ic.object_id, ic.column_id FROM sys.index_columns ic
           JOIN sys.indexes i ON i.object_id = ic.object_id AND i.index_id = ic.index_id
           WHERE i.is_primary_key = 1) pk ON pk.object_id = c.object_id AND pk.column_id = c.column_id
LEFT JOIN sys.extended_properties ep
       ON ep.class = 1 AND ep.major_id = c.object_id AND ep.minor_id = c.column_id AND ep.name = 'MS_Description'
WHERE o.type IN ('U', 'V') AND o.is_ms_shipped <> 1
ORDER BY s.name, o.name, c.column_id
"""

# The tables' own descriptions (a second round trip; few tables have one).
TABLE_DESCRIPTIONS = """
SELECT s.name AS schema_name, o.name AS table_name, CAST(ep.value AS NVARCHAR(4000)) AS description
FROM sys.extended_properties ep
JOIN sys.objects o ON o.object_id = ep.major_id
JOIN sys.schemas s ON s.schema_id = o.schema_id
WHERE ep.class = 1 AND ep.minor_id = 0 AND ep.name = 'MS_Description' AND o.type IN ('U', 'V')
"""


def type_text(name: str, max_length: int, precision: int, scale: int) -> str:
    """sys.columns' numbers as the type a user writes: nvarchar(40), decimal(10,2), varbinary(max)."""
    n = name.lower()
    if n in ("nvarchar", "nchar"):
        return f"{n}({'max' if max_length == -1 else max_length // 2})"
    if n in ("varchar", "char", "varbinary", "binary"):
        return f"{n}({'max' if max_length == -1 else max_length})"
    if n in ("decimal", "numeric"):
        return f"{n}({precision},{scale})"
    if n in ("datetime2", "time", "datetimeoffset") and scale != 7:
        return f"{n}({scale})"
    return n


def _kind(code: Any) -> str:
    return "VIEW" if str(code).strip().upper() == "V" else "TABLE"


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def list_tables(cursor: Any) -> list[TableInfo]:
    rows = cursor.execute(TABLES).fetchall()
    return [TableInfo(TableRef(r[0], r[1]), _kind(r[2]), _count(r[3])) for r in rows]  # type: ignore[arg-type]


def list_columns(cursor: Any) -> list[ColumnRow]:
    """Every column (and each table's description) in two statements, for the schema search's index."""
    rows: list[ColumnRow] = [
        (r[0], r[1], r[2], type_text(r[3], int(r[4]), int(r[5]), int(r[6])), bool(r[7]), r[8])
        for r in cursor.execute(ALL_COLUMNS).fetchall()
    ]
    rows += [(r[0], r[1], None, "", False, r[2]) for r in cursor.execute(TABLE_DESCRIPTIONS).fetchall()]
    return rows


def describe_table(cursor: Any, table: TableRef) -> TableDetail:
    found = cursor.execute(OBJECT, table.schema, table.name).fetchone()
    if found is None:
        raise UnknownTable(table.qualified, [])
    object_id, code, row_count, description = found[0], found[1], found[2], found[3]
    indexes: dict[str, tuple[bool, bool, list[str]]] = {}
    for name, unique, primary, column in cursor.execute(INDEXES, object_id).fetchall():
        indexes.setdefault(name, (bool(unique), bool(primary), []))[2].append(column)
    pk = next((cols for _u, primary, cols in indexes.values() if primary), [])
    columns = tuple(
        ColumnInfo(
            name=r[0],
            type=type_text(r[1], int(r[2]), int(r[3]), int(r[4])),
            nullable=bool(r[5]),
            default=r[7],
            primary_key=r[0] in pk,
            identity=bool(r[6]),
            description=r[8],
        )
        for r in cursor.execute(COLUMNS, object_id).fetchall()
    )
    fks: dict[str, tuple[list[str], TableRef, list[str]]] = {}
    for name, column, ref_schema, ref_table, ref_column in cursor.execute(FOREIGN_KEYS, object_id).fetchall():
        entry = fks.setdefault(name, ([], TableRef(ref_schema, ref_table), []))
        entry[0].append(column)
        entry[2].append(ref_column)
    return TableDetail(
        info=TableInfo(table, _kind(code), _count(row_count)),  # type: ignore[arg-type]
        columns=columns,
        foreign_keys=tuple(ForeignKey(n, tuple(c), ref, tuple(rc)) for n, (c, ref, rc) in fks.items()),
        indexes=tuple(IndexInfo(n, tuple(cols), u, p) for n, (u, p, cols) in indexes.items()),
        description=description,
    )
