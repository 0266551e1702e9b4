"""`fetch` for the ChatGPT face: an id (see `ids.py`) back to a readable record (docs/chatgpt-connector-setup.md).

Every id is checked against the live catalog before any SQL is built: tables must exist (looked up by the
schema and name the id was read into, never re-parsed), row ids must name
exactly the table's primary-key columns, and identifiers reach SQL only from catalog objects, bracket-quoted.
Values travel as parameters. Query ids re-run through the read-only gate (`force_read_only=True`) whenever
the result cache misses, so an expired cache is never an error.

A `Record` carries both the model's text (a compact table or `key: value` lines, capped) and the structured
data the HTML record view renders (`views.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from mssql_mcp.cache import ResultCache
from mssql_mcp.catalog_cache import CATALOG_TTL_SECONDS
from mssql_mcp.db.base import ColumnInfo, TableDetail, TableInfo, TableRef, quote_ident
from mssql_mcp.db.identity import PERSON
from mssql_mcp.errors import InvalidArgument, MssqlMcpError
from mssql_mcp.faces.chatgpt import ids
from mssql_mcp.faces.chatgpt.signing import IdSigner
from mssql_mcp.faces.common import truncation_note
from mssql_mcp.queries import QueryService
from mssql_mcp.serialize import json_rows, json_value, render_table

URL_SAFE = ":=,.()-_~"  # left as-is in record URLs (ids stay readable); everything else percent-encoded
MAX_TEXT_CHARS = 20_000  # what one fetch hands the model; the HTML view shows the same rows


@dataclass
class Record:
    id: str
    title: str
    text: str
    url: str
    metadata: dict[str, Any]  # typed: counts are numbers, flags booleans, lists arrays
    columns: list[str] | None = None  # tabular records: JSON-ready rows
    rows: list[list[Any]] | None = None
    fields: list[tuple[str, Any]] | None = None  # one-row records: (column, JSON-ready value)
    related: list[tuple[str, str]] = field(default_factory=list)  # (label, id): links on the record page

    def contract(self) -> dict[str, Any]:
        """The JSON ChatGPT expects from fetch: {id, title, text, url, metadata}."""
        return {"id": self.id, "title": self.title, "text": self.text, "url": self.url, "metadata": self.metadata}


@dataclass(frozen=True)
class QueryRun:
    """A finished read, as cached: JSON-ready rows, so a cache hit costs no serialisation."""

    sql: str
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float
    truncated_reason: str | None = None
    ran_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


def cap_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Cut at a line boundary and say so: the model must know it did not see everything."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    cut = cut if cut > limit // 2 else limit
    note = f"\n[cut: showing {cut:,} of {len(text):,} characters; narrow the query or fetch single rows]"
    return text[:cut] + note


def primary_key(detail: TableDetail) -> list[str]:
    """Primary-key columns in key order (the PK index's order where the backend reports it)."""
    for index in detail.indexes:
        if index.primary_key:
            return list(index.columns)
    return [c.name for c in detail.columns if c.primary_key]


def id_table(ref: TableRef) -> ids.TableName:
    return ids.TableName(ref.schema, ref.name)


class Fetcher:
    def __init__(self, queries: QueryService, *, base_url: str, cache: ResultCache[QueryRun], signer: IdSigner) -> None:
        self.queries = queries
        self.signer = signer
        self.base_url = base_url
        self.cache = cache
        self._details: ResultCache[TableDetail] = ResultCache(ttl=CATALOG_TTL_SECONDS)

    def url(self, record_id: str) -> str:
        return f"{self.base_url}/records/{quote(record_id, safe=URL_SAFE)}"

    async def detail(self, table: TableInfo) -> TableDetail:
        """The table's description, cached per database principal: another person's user may see it differently
        (or not at all)."""
        key = (self.queries.scope(), table.ref)
        cached = self._details.get(key)
        if cached is None:
            cached = await self.queries.describe(table.ref)
            self._details.put(key, cached)
        return cached

    async def run_query(self, sql: str) -> tuple[QueryRun, bool]:
        """The cached result of a read, or a fresh run (always read-only). Returns (run, from_cache).

        Keyed by the person as well: the database may answer each one differently (their own database user
        under DB_IDENTITY=impersonate, a row-level-security policy on the session context in every mode)."""
        person = PERSON.get()
        key = (person.key if person is not None else None, sql)
        hit = self.cache.get(key)
        if hit is not None:
            return hit, True
        outcome = await self.queries.run(sql, force_read_only=True)
        r = outcome.result
        rows = json_rows(r.rows)
        run = QueryRun(sql, list(r.columns), rows, r.row_count, r.truncated, outcome.elapsed_ms, r.truncated_reason)
        self.cache.put(key, run)
        return run, False

    async def fetch(self, text: str) -> Record:
        rid = self.signer.parse(text)  # a forged or edited id stops here, before anything is read or shown
        if isinstance(rid, ids.CatalogId):
            return await self._catalog()
        if isinstance(rid, ids.QueryId):
            return await self._query(rid)
        table = await self.queries.lookup(rid.table.schema, rid.table.name)
        if isinstance(rid, ids.TableId):
            return await self._table(table)
        if isinstance(rid, ids.ColumnId):
            return await self._column(table, rid.column)
        if isinstance(rid, ids.SampleId):
            return await self._sample(table, rid.limit)
        return await self._row(table, rid)

    # -- kinds --------------------------------------------------------------------------------

    async def _catalog(self) -> Record:
        tables = await self.queries.list_tables()
        rows = [
            [t.ref.qualified, t.type.lower(), t.row_count, self.signer.id(ids.TableId(id_table(t.ref)))] for t in tables
        ]
        columns = ["table", "type", "rows", "id"]
        rid = self.signer.id(ids.CatalogId())
        return Record(
            rid,
            f"All tables and views ({len(tables)})",
            cap_text(render_table(columns, rows)),
            self.url(rid),
            {"kind": "catalog", "tables": len(tables)},
            columns,
            rows,
        )

    async def _table(self, table: TableInfo) -> Record:
        d = await self.detail(table)
        rid = self.signer.id(ids.TableId(id_table(table.ref)))
        pk = primary_key(d)
        columns = ["column", "type", "null", "key", "default"]
        rows = [
            [c.name, c.type, "NULL" if c.nullable else "NOT NULL", "PK" if c.name in pk else "", c.default or ""]
            for c in d.columns
        ]
        lines = [f"{table.ref.qualified}: {table.type.lower()}, {_count(table)} rows"]
        lines += [d.description] if d.description else []
        lines += [f"Primary key: {', '.join(pk) if pk else '(none)'}", "", render_table(columns, rows)]
        lines += [
            f"Foreign key ({', '.join(fk.columns)}) -> {fk.references.qualified} ({', '.join(fk.referenced_columns)})"
            for fk in d.foreign_keys
        ]
        lines += [
            f"{'Unique index' if ix.unique else 'Index'} {ix.name} ({', '.join(ix.columns)})"
            for ix in d.indexes
            if not ix.primary_key
        ]
        lines += ["", f"First rows: fetch {self.signer.id(ids.SampleId(id_table(table.ref), 10))}"]
        meta = {
            "kind": "table",
            "schema": table.ref.schema,
            "name": table.ref.name,
            "type": table.type,
            "row_count": table.row_count,
            "primary_key": pk,
        }
        sample = self.signer.id(ids.SampleId(id_table(table.ref), 10))
        return Record(
            rid,
            f"{table.ref.qualified} ({table.type.lower()})",
            cap_text("\n".join(lines)),
            self.url(rid),
            meta,
            columns,
            rows,
            related=[("First 10 rows", sample)],
        )

    async def _column(self, table: TableInfo, name: str) -> Record:
        d = await self.detail(table)
        col = _find_column(d, name)
        if col is None:
            raise InvalidArgument(f"{table.ref.qualified} has no column {name!r}. Fetch table:{id_table(table.ref)}.")
        try:
            run = await self.queries.run(
                f"SELECT DISTINCT TOP (5) {quote_ident(col.name)} FROM {table.ref.quoted} "
                f"WHERE {quote_ident(col.name)} IS NOT NULL",
                force_read_only=True,
            )
            examples = ", ".join(str(json_value(row[0])) for row in run.result.rows) or "(none)"
        except MssqlMcpError as exc:  # e.g. SQL Server refuses DISTINCT on text/ntext/image: still describe it
            examples = f"(unavailable: {exc.message})"
        rid = self.signer.id(ids.ColumnId(id_table(table.ref), col.name))
        fields: list[tuple[str, Any]] = [
            ("table", table.ref.qualified),
            ("column", col.name),
            ("type", col.type),
            ("nullable", "yes" if col.nullable else "no"),
            ("primary key", "yes" if col.name in primary_key(d) else "no"),
            ("default", col.default),
            ("description", col.description),
            ("example values", examples),
        ]
        fields = [(k, v) for k, v in fields if v is not None]
        meta = {"kind": "column", "table": table.ref.qualified, "column": col.name, "type": col.type}
        return Record(
            rid,
            f"{table.ref.qualified}.{col.name} ({col.type})",
            _kv_text(fields),
            self.url(rid),
            meta,
            fields=fields,
            related=[("Table", self.signer.id(ids.TableId(id_table(table.ref))))],
        )

    async def _sample(self, table: TableInfo, limit: int) -> Record:
        outcome = await self.queries.sample(table.ref, limit)
        r = outcome.result
        rows = json_rows(r.rows)
        rid = self.signer.id(ids.SampleId(id_table(table.ref), limit))
        text = render_table(r.columns, rows) + f"\n({r.row_count} rows{_cut(r.truncated, r.truncated_reason)})"
        meta: dict[str, Any] = {"kind": "sample", "table": table.ref.qualified, "row_count": r.row_count}
        if r.truncated:
            meta |= {"truncated": True, "truncated_reason": r.truncated_reason or "rows"}
        return Record(
            rid,
            f"First {r.row_count} rows of {table.ref.qualified}",
            cap_text(text),
            self.url(rid),
            meta,
            list(r.columns),
            rows,
        )

    async def _row(self, table: TableInfo, rid: ids.RowId) -> Record:
        d = await self.detail(table)
        pk = primary_key(d)
        if not pk:
            raise InvalidArgument(f"{table.ref.qualified} has no primary key, so its rows have no ids.")
        given = {c.lower(): v for c, v in rid.key}
        if sorted(given) != sorted(c.lower() for c in pk):
            raise InvalidArgument(f"A row id of {table.ref.qualified} names its primary key exactly: {', '.join(pk)}.")
        key = tuple((c, given[c.lower()]) for c in pk)
        where = " AND ".join(f"{quote_ident(c)} = ?" for c in pk)
        params = tuple(str(v) if isinstance(v, Decimal) else v for _, v in key)  # exact digits; drivers compare
        outcome = await self.queries.run(
            f"SELECT TOP (1) * FROM {table.ref.quoted} WHERE {where}", params, force_read_only=True
        )
        r = outcome.result
        if not r.rows:
            raise InvalidArgument(f"No row of {table.ref.qualified} has {_key_text(key)} (it may have been deleted).")
        fields = list(zip(r.columns, json_rows(r.rows[:1])[0], strict=True))
        canonical = self.signer.id(ids.RowId(id_table(table.ref), key))
        meta = {"kind": "row", "table": table.ref.qualified, "key": _key_text(key)}
        return Record(
            canonical,
            row_title(table.ref, key, fields, d.columns),
            _kv_text(fields),
            self.url(canonical),
            meta,
            fields=fields,
            related=[("Table", self.signer.id(ids.TableId(id_table(table.ref))))],
        )

    async def _query(self, rid: ids.QueryId) -> Record:
        run, cached = await self.run_query(rid.sql)
        text = f"SQL: {run.sql}\n\n" + render_table(run.columns, run.rows)
        text += f"\n({run.row_count} rows{_cut(run.truncated, run.truncated_reason)})"
        record_id = self.signer.id(rid)
        meta = {
            "kind": "query",
            "sql": run.sql,
            "row_count": run.row_count,
            "truncated": run.truncated,
            **({"truncated_reason": run.truncated_reason or "rows"} if run.truncated else {}),
            "ran_at": run.ran_at,
            "cached": cached,
        }
        return Record(record_id, query_title(run), cap_text(text), self.url(record_id), meta, run.columns, run.rows)


# -- text helpers -------------------------------------------------------------------------------


def _count(table: TableInfo) -> str:
    return str(table.row_count) if table.row_count is not None else "?"


def _cut(truncated: bool, reason: str | None) -> str:
    return f", {truncation_note(reason)}" if truncated else ""


def _find_column(d: TableDetail, name: str) -> ColumnInfo | None:
    return next((c for c in d.columns if c.name.lower() == name.lower()), None)


def _key_text(key: tuple[tuple[str, ids.KeyValue], ...]) -> str:
    return ", ".join(f"{c}={ids.format_value(v)}" for c, v in key)


def _kv_text(fields: list[tuple[str, Any]]) -> str:
    return cap_text("\n".join(f"{k}: {_plain(v)}" for k, v in fields))


def _plain(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict) and "base64" in value:
        return f"(binary, base64) {value['base64']}"
    return str(value)


def row_title(
    ref: TableRef, key: tuple[tuple[str, Any], ...], fields: list[tuple[str, Any]], columns: tuple[ColumnInfo, ...]
) -> str:
    """`dbo.Customers CustomerID=1: Zürich Alpine Outfitters AG`: the key plus the first text value."""
    text_cols = {c.name for c in columns if is_text(c)}
    label = next((str(v) for k, v in fields if k in text_cols and isinstance(v, str) and v.strip()), "")
    head = f"{ref.qualified} {_key_text(key)}"
    return f"{head}: {label[:80]}" if label else head


def query_title(run: QueryRun) -> str:
    sql = " ".join(run.sql.split())
    return f"Query: {sql[:100]}{'…' if len(sql) > 100 else ''} ({run.row_count} rows)"


def is_text(column: ColumnInfo) -> bool:
    kind = column.type.lower()
    return ("char" in kind or "text" in kind) and "binary" not in kind
