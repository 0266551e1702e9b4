"""SQL Server's catalog views (sys.objects, sys.columns, ...) as SQLite tables built from a SQLite database.

The server attaches the result as schema `sys`, so the backend's catalog queries (plain joins over
sys views, with parameters) run unchanged. Row counts and ids are a snapshot taken at start.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mssql_mcp.db.tsql_functions import COLLATION, collate
from tests.support.tds.types import SqlType, parse_type

SYS_SCHEMA = """
CREATE TABLE schemas (schema_id INT NOT NULL, name NVARCHAR(128) NOT NULL, principal_id INT);
CREATE TABLE objects (object_id INT NOT NULL, name NVARCHAR(128) NOT NULL, schema_id INT NOT NULL,
    parent_object_id INT, type CHAR(2), type_desc NVARCHAR(60), is_ms_shipped BIT);
CREATE TABLE types (name NVARCHAR(128), system_type_id TINYINT, user_type_id INT, max_length SMALLINT,
    precision TINYINT, scale TINYINT, is_user_defined BIT);
CREATE TABLE columns (object_id INT NOT NULL, name NVARCHAR(128), column_id INT NOT NULL, system_type_id TINYINT,
    user_type_id INT,
    max_length SMALLINT, precision TINYINT, scale TINYINT, is_nullable BIT, is_identity BIT, is_computed BIT,
    default_object_id INT);
CREATE TABLE default_constraints (object_id INT, name NVARCHAR(128), parent_object_id INT, parent_column_id INT,
    definition "NVARCHAR(MAX)");
CREATE TABLE indexes (object_id INT, name NVARCHAR(128), index_id INT, type TINYINT, type_desc NVARCHAR(60),
    is_unique BIT, is_primary_key BIT, is_unique_constraint BIT);
CREATE TABLE index_columns (object_id INT, index_id INT, index_column_id INT, column_id INT, key_ordinal TINYINT,
    is_included_column BIT, is_descending_key BIT);
CREATE TABLE foreign_keys (object_id INT, name NVARCHAR(128), parent_object_id INT, referenced_object_id INT);
CREATE TABLE foreign_key_columns (constraint_object_id INT, constraint_column_id INT, parent_object_id INT,
    parent_column_id INT, referenced_object_id INT, referenced_column_id INT);
CREATE TABLE partitions (partition_id BIGINT, object_id INT, index_id INT, partition_number INT, rows BIGINT);
CREATE TABLE extended_properties (class TINYINT, major_id INT, minor_id INT, name NVARCHAR(128),
    value NVARCHAR(4000));
CREATE TABLE fn_my_permissions_database (entity_name NVARCHAR(128), subentity_name NVARCHAR(128),
    permission_name NVARCHAR(60));
"""

# SQL Server's own catalog tables are keyed by these; without them the catalog queries' correlated lookups
# (row counts per object, descriptions per column) would scan, and 20,000 tables would take minutes. Names are
# unique per schema under the collation (as SQL Server's are) and the keys NOT NULL, so SQLite can read
# "ORDER BY schema, name, column_id" off the indexes: sorting 300,000 columns calls the Python collation
# millions of times.
SYS_INDEXES = """
CREATE INDEX ix_objects ON objects (object_id);
CREATE UNIQUE INDEX ix_objects_name ON objects (schema_id, name COLLATE TSQL_CI_AS);
CREATE UNIQUE INDEX ix_schemas ON schemas (schema_id);
CREATE UNIQUE INDEX ix_schemas_name ON schemas (name COLLATE TSQL_CI_AS);
CREATE UNIQUE INDEX ix_columns ON columns (object_id, column_id);
CREATE INDEX ix_types ON types (user_type_id);
CREATE INDEX ix_partitions ON partitions (object_id, index_id);
CREATE INDEX ix_extended_properties ON extended_properties (major_id, minor_id);
CREATE INDEX ix_indexes ON indexes (object_id, index_id);
CREATE INDEX ix_index_columns ON index_columns (object_id, index_id);
"""

# system_type_id of each type (sys.types); user_type_id equals it for built-in types
TYPE_IDS = {
    "image": 34,
    "text": 35,
    "uniqueidentifier": 36,
    "date": 40,
    "time": 41,
    "datetime2": 42,
    "datetimeoffset": 43,
    "tinyint": 48,
    "smallint": 52,
    "int": 56,
    "smalldatetime": 58,
    "real": 59,
    "money": 60,
    "datetime": 61,
    "float": 62,
    "ntext": 99,
    "bit": 104,
    "decimal": 106,
    "numeric": 108,
    "smallmoney": 122,
    "bigint": 127,
    "varbinary": 165,
    "varchar": 167,
    "binary": 173,
    "char": 175,
    "nvarchar": 231,
    "nchar": 239,
    "xml": 241,
}
_FIXED_SIZE = {
    "tinyint": 1,
    "smallint": 2,
    "int": 4,
    "bigint": 8,
    "bit": 1,
    "real": 4,
    "float": 8,
    "money": 8,
    "smallmoney": 4,
    "datetime": 8,
    "smalldatetime": 4,
    "date": 3,
    "uniqueidentifier": 16,
}
_IDENTITY = re.compile(r"\s+IDENTITY(\s*\(\s*\d+\s*,\s*\d+\s*\))?", re.I)

Descriptions = Mapping[tuple[str, str | None], str]  # (table, column or None) -> MS_Description


def column_type(declared: str) -> tuple[SqlType, bool]:
    """The SQL Server type of a declared SQLite column type, and whether it says IDENTITY."""
    identity = bool(_IDENTITY.search(declared))
    t = parse_type(_IDENTITY.sub("", declared)) if declared else None
    return (t or SqlType("nvarchar", length=-1)), identity


def _sizes(t: SqlType) -> tuple[int, int, int]:
    """(max_length in bytes, precision, scale) as sys.columns reports them."""
    if t.name == "decimal":
        p = t.precision or 18
        return (5 if p <= 9 else 9 if p <= 19 else 13 if p <= 28 else 17), p, t.scale or 0
    if t.name in ("datetime2", "time", "datetimeoffset"):
        s = t.scale if t.scale is not None else 7
        base = {"time": 3, "datetime2": 6, "datetimeoffset": 8}[t.name]
        return base + (0 if s <= 2 else 1 if s <= 4 else 2), 0, s
    if t.name in ("nvarchar", "nchar"):
        return (-1 if t.length == -1 else (t.length or 1) * 2), 0, 0
    if t.name in ("varchar", "char", "varbinary", "binary"):
        return (t.length or 1), 0, 0
    if t.name == "xml":
        return -1, 0, 0
    return _FIXED_SIZE.get(t.name, 8), 0, 0


# Every object's columns, indexes and foreign keys in one statement each: pragma table-valued functions joined
# to sqlite_schema, so 20,000 tables cost three reads, not 60,000 PRAGMA round trips.
_OBJECTS = """
SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name
"""
_COLUMNS = """
SELECT m.name, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden
FROM sqlite_schema m JOIN pragma_table_xinfo(m.name) p
WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid
"""
_INDEX_LIST = """
SELECT m.name, i.name, i."unique", i.origin FROM sqlite_schema m JOIN pragma_index_list(m.name) i
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND i.origin <> 'pk' ORDER BY m.name, i.seq
"""
_FOREIGN_KEYS = """
SELECT m.name, f.id, f."table", f."from", f."to" FROM sqlite_schema m JOIN pragma_foreign_key_list(m.name) f
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, f.id, f.seq
"""


@functools.lru_cache(maxsize=1024)
def _column_shape(declared: str) -> tuple[int, int, int, int, bool]:
    """(type id, max_length, precision, scale, identity) of a declared type; few distinct ones repeat a lot."""
    t, identity = column_type(declared)
    return (TYPE_IDS.get(t.name, 231), *_sizes(t), identity)


def _by_table(rows: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name, *rest in rows:
        out.setdefault(name, []).append(tuple(rest))
    return out


def _table_columns(src: sqlite3.Connection, objects: list[tuple[str, str]]) -> dict[str, list[tuple[Any, ...]]]:
    """table -> (cid, name, type, notnull, default, pk) rows; table by table only if a broken view fails the join."""
    try:
        return _by_table(src.execute(_COLUMNS).fetchall())
    except sqlite3.Error:
        return {name: src.execute(f'PRAGMA table_xinfo("{name}")').fetchall() for name, _kind in objects}  # noqa: S608


def _row_counts(src: sqlite3.Connection, tables: list[str]) -> dict[str, int]:
    """COUNT(*) of each table, a few hundred tables per statement (SQLite allows 500 terms in a UNION ALL)."""
    counts: dict[str, int] = {}
    for start in range(0, len(tables), 400):
        chunk = tables[start : start + 400]
        terms = [f'SELECT {i}, COUNT(*) FROM "{name.replace(chr(34), chr(34) * 2)}"' for i, name in enumerate(chunk)]
        counts.update((chunk[i], n) for i, n in src.execute(" UNION ALL ".join(terms)))  # noqa: S608 - catalog names
    return counts


def build(
    source: Path, target: Path, *, descriptions: Descriptions, permissions: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    """Write the sys catalog of `source` into a new SQLite file `target`; return `source`'s declared types
    (as `declared_types` does), read on the way."""
    src = sqlite3.connect(source)
    objects = src.execute(_OBJECTS).fetchall()
    columns = _table_columns(src, objects)
    index_lists = _by_table(src.execute(_INDEX_LIST).fetchall())
    foreign_keys = _by_table(src.execute(_FOREIGN_KEYS).fetchall())
    counts = _row_counts(src, [name for name, kind in objects if kind == "table"])
    ids = {name.lower(): 1000 + n * 16 for n, (name, _kind) in enumerate(objects)}
    next_id = 1000 + len(objects) * 16
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _TABLES}
    for name, kind in objects:
        oid = ids[name.lower()]
        code, desc = ("U", "USER_TABLE") if kind == "table" else ("V", "VIEW")
        rows["objects"].append((oid, name, 1, 0, code, desc))
        if descriptions.get((name, None)):
            rows["extended_properties"].append((oid, 0, descriptions[(name, None)]))
        info = columns.get(name, [])
        for cid, cname, declared, notnull, default, pk, *_hidden in info:
            type_id, max_length, precision, scale, identity = _column_shape(declared or "")
            default_id = 0
            if default is not None:
                default_id = next_id = next_id + 1
                rows["objects"].append((default_id, f"DF_{name}_{cname}", 1, oid, "D", "DEFAULT_CONSTRAINT"))
                rows["default_constraints"].append((default_id, f"DF_{name}_{cname}", oid, cid + 1, f"(({default}))"))
            shape = (type_id, type_id, max_length, precision, scale, 0 if (notnull or pk) else 1, int(identity))
            rows["columns"].append((oid, cname, cid + 1, *shape, default_id))
            if descriptions.get((name, cname)):
                rows["extended_properties"].append((oid, cid + 1, descriptions[(name, cname)]))
        if kind == "table":
            next_id = _table_keys(src, name, oid, info, (index_lists, foreign_keys, ids, counts), rows, next_id)
    dst = sqlite3.connect(target)
    dst.create_collation(COLLATION, collate)  # the name indexes' order
    dst.executescript(SYS_SCHEMA)
    dst.executemany("INSERT INTO schemas VALUES (?, ?, 1)", [(1, "dbo"), (4, "sys"), (3, "INFORMATION_SCHEMA")])
    dst.executemany("INSERT INTO types VALUES (?, ?, ?, 0, 0, 0, 0)", [(n, i, i) for n, i in TYPE_IDS.items()])
    dst.executemany("INSERT INTO fn_my_permissions_database VALUES ('database', '', ?)", [(p,) for p in permissions])
    for table, insert in _TABLES.items():
        dst.executemany(insert, rows[table])
    dst.executescript(SYS_INDEXES)
    dst.commit()
    dst.close()
    src.close()
    return {name: {c[1]: _type_text(c[2] or "") for c in info if not c[6]} for name, info in columns.items() if info}


_TABLES = {
    "objects": "INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?, 0)",
    "default_constraints": "INSERT INTO default_constraints VALUES (?, ?, ?, ?, ?)",
    "columns": "INSERT INTO columns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
    "extended_properties": "INSERT INTO extended_properties VALUES (1, ?, ?, 'MS_Description', ?)",
    "partitions": "INSERT INTO partitions VALUES (?, ?, ?, 1, ?)",
    "indexes": "INSERT INTO indexes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "index_columns": "INSERT INTO index_columns VALUES (?, ?, ?, ?, ?, 0, 0)",
    "foreign_keys": "INSERT INTO foreign_keys VALUES (?, ?, ?, ?)",
    "foreign_key_columns": "INSERT INTO foreign_key_columns VALUES (?, ?, ?, ?, ?, ?)",
}


def _table_keys(
    src: sqlite3.Connection,
    name: str,
    oid: int,
    info: list[tuple[Any, ...]],
    found: tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[tuple[Any, ...]]], dict[str, int], dict[str, int]],
    rows: dict[str, list[tuple[Any, ...]]],
    next_id: int,
) -> int:
    """A table's row count, indexes and foreign keys as sys rows; returns the next free object id."""
    index_lists, foreign_keys, ids, counts = found
    pk_cols = sorted((c[5], c[0] + 1) for c in info if c[5])
    count = counts[name]
    rows["partitions"].append((oid * 100, oid, 1 if pk_cols else 0, count))
    if pk_cols:
        rows["indexes"].append((oid, f"PK_{name}", 1, 1, "CLUSTERED", 1, 1, 0))
        for ordinal, (_seq, column_id) in enumerate(pk_cols, start=1):
            rows["index_columns"].append((oid, 1, ordinal, column_id, ordinal))
    else:
        rows["indexes"].append((oid, None, 0, 0, "HEAP", 0, 0, 0))
    column_ids = {c[1].lower(): c[0] + 1 for c in info} if name in index_lists or name in foreign_keys else {}
    for index_id, (iname, unique, origin) in enumerate(index_lists.get(name, []), start=2):
        label = iname if origin == "c" else f"UQ_{name}_{index_id}"
        rows["indexes"].append((oid, label, index_id, 2, "NONCLUSTERED", unique, 0, int(origin == "u")))
        for ordinal, (_no, _cid, cname) in enumerate(src.execute(f'PRAGMA index_info("{iname}")'), start=1):
            rows["index_columns"].append((oid, index_id, ordinal, column_ids[cname.lower()], ordinal))
    fks: dict[int, list[tuple[str, str, str]]] = {}
    for fk_id, ref_table, from_col, to_col in foreign_keys.get(name, []):
        fks.setdefault(fk_id, []).append((ref_table, from_col, to_col))
    for fk_id, cols in sorted(fks.items()):
        ref = cols[0][0]
        fk_oid = next_id = next_id + 1
        fk_name = f"FK_{name}_{ref}_{fk_id}"
        rows["objects"].append((fk_oid, fk_name, 1, oid, "F", "FOREIGN_KEY_CONSTRAINT"))
        rows["foreign_keys"].append((fk_oid, fk_name, oid, ids[ref.lower()]))
        ref_info = src.execute(f'PRAGMA table_info("{ref}")').fetchall()
        ref_ids = {c[1].lower(): c[0] + 1 for c in ref_info}
        ref_pk = [c[1] for c in sorted(ref_info, key=lambda c: c[5]) if c[5]]
        for n, (_r, from_col, to_col) in enumerate(cols, start=1):
            to_col = to_col or ref_pk[n - 1]
            rows["foreign_key_columns"].append(
                (fk_oid, n, oid, column_ids[from_col.lower()], ids[ref.lower()], ref_ids[to_col.lower()])
            )
    return next_id


INFORMATION_SCHEMA = """
CREATE TABLE TABLES (TABLE_CATALOG NVARCHAR(128), TABLE_SCHEMA NVARCHAR(128), TABLE_NAME NVARCHAR(128),
    TABLE_TYPE VARCHAR(10));
CREATE TABLE COLUMNS (TABLE_CATALOG NVARCHAR(128), TABLE_SCHEMA NVARCHAR(128), TABLE_NAME NVARCHAR(128),
    COLUMN_NAME NVARCHAR(128), ORDINAL_POSITION INT, COLUMN_DEFAULT NVARCHAR(4000), IS_NULLABLE VARCHAR(3),
    DATA_TYPE NVARCHAR(128), CHARACTER_MAXIMUM_LENGTH INT, NUMERIC_PRECISION TINYINT, NUMERIC_SCALE INT);
"""


def build_information_schema(sys_db: Path, target: Path, database: str) -> None:
    """INFORMATION_SCHEMA.TABLES and COLUMNS, derived from the sys tables as SQL Server derives them."""
    dst = sqlite3.connect(target)
    dst.create_collation(COLLATION, collate)  # the sys tables' name indexes use it
    dst.executescript(INFORMATION_SCHEMA)
    dst.execute("ATTACH DATABASE ? AS s", (str(sys_db),))
    dst.execute(
        "INSERT INTO TABLES SELECT ?, 'dbo', o.name, CASE o.type WHEN 'U' THEN 'BASE TABLE' ELSE 'VIEW' END "
        "FROM s.objects o WHERE o.type IN ('U', 'V') ORDER BY o.name",
        (database,),
    )
    dst.execute(
        "INSERT INTO COLUMNS SELECT ?, 'dbo', o.name, c.name, c.column_id, d.definition, "
        "CASE c.is_nullable WHEN 1 THEN 'YES' ELSE 'NO' END, t.name, "
        "CASE WHEN t.name IN ('nvarchar', 'nchar') AND c.max_length > 0 THEN c.max_length / 2 "
        "WHEN t.name IN ('varchar', 'char', 'varbinary', 'binary') OR c.max_length = -1 THEN c.max_length END, "
        "CASE WHEN t.name IN ('decimal', 'numeric') THEN c.precision END, "
        "CASE WHEN t.name IN ('decimal', 'numeric') THEN c.scale END "
        "FROM s.columns c JOIN s.objects o ON o.object_id = c.object_id AND o.type IN ('U', 'V') "
        "JOIN s.types t ON t.user_type_id = c.user_type_id "
        "LEFT JOIN s.default_constraints d ON d.object_id = c.default_object_id ORDER BY o.name, c.column_id",
        (database,),
    )
    dst.commit()
    dst.close()


_DECLARED = """
SELECT m.name, p.name, p.type FROM sqlite_schema m JOIN pragma_table_info(m.name) p
WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid
"""


@functools.lru_cache(maxsize=1024)
def _type_text(declared: str) -> str:
    return (_IDENTITY.sub("", declared) or "NVARCHAR(MAX)").strip('"')


def declared_types(source: Path) -> dict[str, dict[str, str]]:
    """table -> column -> SQL Server type text, for typing result columns (and sqlglot's annotator)."""
    out: dict[str, dict[str, str]] = {}
    with contextlib.closing(sqlite3.connect(source)) as db:
        try:
            rows = db.execute(_DECLARED).fetchall()
        except sqlite3.Error:  # a broken view fails the join: read table by table, so the error names it
            names = db.execute(_OBJECTS).fetchall()
            rows = [(n, c[1], c[2]) for n, _kind in names for c in db.execute(f'PRAGMA table_info("{n}")')]
    for table, column, declared in rows:
        out.setdefault(table, {})[column] = _type_text(declared or "")
    return out
