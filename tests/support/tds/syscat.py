"""SQL Server's catalog views (sys.objects, sys.columns, ...) as SQLite tables built from a SQLite database.

The server attaches the result as schema `sys`, so the backend's catalog queries (plain joins over
sys views, with parameters) run unchanged. Row counts and ids are a snapshot taken at start.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from tests.support.tds.types import SqlType, parse_type

SYS_SCHEMA = """
CREATE TABLE schemas (schema_id INT, name NVARCHAR(128), principal_id INT);
CREATE TABLE objects (object_id INT, name NVARCHAR(128), schema_id INT, parent_object_id INT, type CHAR(2),
    type_desc NVARCHAR(60), is_ms_shipped BIT);
CREATE TABLE types (name NVARCHAR(128), system_type_id TINYINT, user_type_id INT, max_length SMALLINT,
    precision TINYINT, scale TINYINT, is_user_defined BIT);
CREATE TABLE columns (object_id INT, name NVARCHAR(128), column_id INT, system_type_id TINYINT, user_type_id INT,
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
# (row counts per object, descriptions per column) would scan, and 20,000 tables would take minutes.
SYS_INDEXES = """
CREATE INDEX ix_objects ON objects (object_id);
CREATE INDEX ix_columns ON columns (object_id, column_id);
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


def build(source: Path, target: Path, *, descriptions: Descriptions, permissions: tuple[str, ...]) -> None:
    """Write the sys catalog of `source` into a new SQLite file `target`."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    dst.executescript(SYS_SCHEMA)
    dst.executemany("INSERT INTO schemas VALUES (?, ?, 1)", [(1, "dbo"), (4, "sys"), (3, "INFORMATION_SCHEMA")])
    dst.executemany("INSERT INTO types VALUES (?, ?, ?, 0, 0, 0, 0)", [(n, i, i) for n, i in TYPE_IDS.items()])
    dst.executemany("INSERT INTO fn_my_permissions_database VALUES ('database', '', ?)", [(p,) for p in permissions])
    objects = src.execute(
        "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    ids = {name.lower(): 1000 + n * 16 for n, (name, _kind) in enumerate(objects)}
    next_id = 1000 + len(objects) * 16
    for name, kind in objects:
        oid = ids[name.lower()]
        code, desc = ("U", "USER_TABLE") if kind == "table" else ("V", "VIEW")
        dst.execute("INSERT INTO objects VALUES (?, ?, 1, 0, ?, ?, 0)", (oid, name, code, desc))
        if descriptions.get((name, None)):
            dst.execute(
                "INSERT INTO extended_properties VALUES (1, ?, 0, 'MS_Description', ?)",
                (oid, descriptions[(name, None)]),
            )
        info = src.execute(f'PRAGMA table_xinfo("{name}")').fetchall()  # noqa: S608 - names from sqlite_schema
        pk_cols = sorted((c[5], c[0] + 1) for c in info if c[5])
        for cid, cname, declared, notnull, default, pk, _hidden in info:
            t, identity = column_type(declared)
            max_length, precision, scale = _sizes(t)
            default_id = 0
            if default is not None:
                default_id = next_id = next_id + 1
                dst.execute(
                    "INSERT INTO objects VALUES (?, ?, 1, ?, 'D', 'DEFAULT_CONSTRAINT', 0)",
                    (default_id, f"DF_{name}_{cname}", oid),
                )
                dst.execute(
                    "INSERT INTO default_constraints VALUES (?, ?, ?, ?, ?)",
                    (default_id, f"DF_{name}_{cname}", oid, cid + 1, f"(({default}))"),
                )
            type_id = TYPE_IDS.get(t.name, 231)
            dst.execute(
                "INSERT INTO columns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                (
                    oid,
                    cname,
                    cid + 1,
                    type_id,
                    type_id,
                    max_length,
                    precision,
                    scale,
                    0 if (notnull or pk) else 1,
                    int(identity),
                    default_id,
                ),
            )
            if descriptions.get((name, cname)):
                dst.execute(
                    "INSERT INTO extended_properties VALUES (1, ?, ?, 'MS_Description', ?)",
                    (oid, cid + 1, descriptions[(name, cname)]),
                )
        if kind != "table":
            continue
        count = src.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]  # noqa: S608
        dst.execute("INSERT INTO partitions VALUES (?, ?, ?, 1, ?)", (oid * 100, oid, 1 if pk_cols else 0, count))
        if pk_cols:
            dst.execute("INSERT INTO indexes VALUES (?, ?, 1, 1, 'CLUSTERED', 1, 1, 0)", (oid, f"PK_{name}"))
            for ordinal, (_seq, column_id) in enumerate(pk_cols, start=1):
                dst.execute(
                    "INSERT INTO index_columns VALUES (?, 1, ?, ?, ?, 0, 0)", (oid, ordinal, column_id, ordinal)
                )
        else:
            dst.execute("INSERT INTO indexes VALUES (?, NULL, 0, 0, 'HEAP', 0, 0, 0)", (oid,))
        column_ids = {c[1].lower(): c[0] + 1 for c in info}
        index_id = 1
        for _seq, iname, unique, origin, _partial in src.execute(f'PRAGMA index_list("{name}")').fetchall():
            if origin == "pk":
                continue
            index_id += 1
            label = iname if origin == "c" else f"UQ_{name}_{index_id}"
            dst.execute(
                "INSERT INTO indexes VALUES (?, ?, ?, 2, 'NONCLUSTERED', ?, 0, ?)",
                (oid, label, index_id, unique, int(origin == "u")),
            )
            for ordinal, (_no, _cid, cname) in enumerate(src.execute(f'PRAGMA index_info("{iname}")'), start=1):
                dst.execute(
                    "INSERT INTO index_columns VALUES (?, ?, ?, ?, ?, 0, 0)",
                    (oid, index_id, ordinal, column_ids[cname.lower()], ordinal),
                )
        fks: dict[int, list[tuple[str, str, str]]] = {}
        for fk_id, _seq, ref_table, from_col, to_col, *_ in src.execute(f'PRAGMA foreign_key_list("{name}")'):
            fks.setdefault(fk_id, []).append((ref_table, from_col, to_col))
        for fk_id, cols in sorted(fks.items()):
            ref = cols[0][0]
            fk_oid = next_id = next_id + 1
            fk_name = f"FK_{name}_{ref}_{fk_id}"
            dst.execute(
                "INSERT INTO objects VALUES (?, ?, 1, ?, 'F', 'FOREIGN_KEY_CONSTRAINT', 0)", (fk_oid, fk_name, oid)
            )
            dst.execute("INSERT INTO foreign_keys VALUES (?, ?, ?, ?)", (fk_oid, fk_name, oid, ids[ref.lower()]))
            ref_info = src.execute(f'PRAGMA table_info("{ref}")').fetchall()
            ref_ids = {c[1].lower(): c[0] + 1 for c in ref_info}
            ref_pk = [c[1] for c in sorted(ref_info, key=lambda c: c[5]) if c[5]]
            for n, (_r, from_col, to_col) in enumerate(cols, start=1):
                to_col = to_col or ref_pk[n - 1]
                dst.execute(
                    "INSERT INTO foreign_key_columns VALUES (?, ?, ?, ?, ?, ?)",
                    (fk_oid, n, oid, column_ids[from_col.lower()], ids[ref.lower()], ref_ids[to_col.lower()]),
                )
    dst.executescript(SYS_INDEXES)
    dst.commit()
    dst.close()
    src.close()


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


def declared_types(source: Path) -> dict[str, dict[str, str]]:
    """table -> column -> SQL Server type text, for typing result columns (and sqlglot's annotator)."""
    out: dict[str, dict[str, str]] = {}
    with sqlite3.connect(source) as db:
        for (name,) in db.execute(
            "SELECT name FROM sqlite_schema WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%'"
        ):
            out[name] = {
                c[1]: (_IDENTITY.sub("", c[2]) or "NVARCHAR(MAX)").strip('"')
                for c in db.execute(f'PRAGMA table_info("{name}")')
            }
    db.close()
    return out
