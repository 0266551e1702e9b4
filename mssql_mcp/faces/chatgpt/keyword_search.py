"""Keyword search for the ChatGPT face: names first, then the values of text columns.

    1. tables whose name contains a term            -> table:…  ids
    2. columns the schema search index matches      -> column:… ids (names split into words, descriptions)
    3. rows where every term is in some text column -> row:…    ids (tables with a primary key)
                                                       query:…  ids (one per view or keyless table)

Bounded twice: at most `limit` (MAX_SEARCH_RESULTS) hits, and a time budget (SEARCH_TIMEOUT_SECONDS) that
every per-table statement's timeout is cut to, so a large database answers late-but-partial, never hangs.

Safety: table and column names come only from the catalog and `describe`, bracket-quoted; the terms travel
as parameters, with LIKE's wildcards escaped. Every statement still passes the read-only gate.
Case: SQL Server's collation decides (usually case-insensitive); SQLite folds ASCII letters only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio

from mssql_mcp import schema_search
from mssql_mcp.db.base import ColumnInfo, TableDetail, TableInfo, quote_ident
from mssql_mcp.errors import MssqlMcpError, QueryTimeout
from mssql_mcp.faces.chatgpt import ids
from mssql_mcp.faces.chatgpt.fetch import Fetcher, id_table, is_text, primary_key, row_title
from mssql_mcp.serialize import json_rows

log = logging.getLogger("mssql_mcp.tools.search")

MAX_TEXT_COLUMNS = 24  # per table: bounds the statement's size (terms x columns LIKEs)
MIN_SLICE_SECONDS = 0.05  # below this, a statement cannot do useful work: stop instead


@dataclass(frozen=True)
class Hit:
    id: str
    title: str


def like_pattern(term: str) -> str:
    """`50%_off` -> `%50\\%\\_off%`: the term literally, anywhere (with ESCAPE '\\'; `[` is T-SQL's too)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("[", "\\[")
    return f"%{escaped}%"


def where_clause(columns: list[ColumnInfo], terms: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """Every term in at least one of the columns: (c1 LIKE ? OR c2 LIKE ?) AND (...)."""
    groups, params = [], []
    for term in terms:
        groups.append("(" + " OR ".join(f"{quote_ident(c.name)} LIKE ? ESCAPE '\\'" for c in columns) + ")")
        params += [like_pattern(term)] * len(columns)
    return " AND ".join(groups), tuple(params)


def literal_sql(table: TableInfo, columns: list[ColumnInfo], terms: tuple[str, ...], top: int) -> str:
    """The same search as standalone T-SQL (N'' literals), to cite as a durable query id."""
    where, params = where_clause(columns, terms)
    for p in params:
        where = where.replace("?", "N'" + p.replace("'", "''") + "'", 1)
    return f"SELECT TOP ({top}) * FROM {table.ref.quoted} WHERE {where}"


class KeywordSearch:
    def __init__(self, fetcher: Fetcher, *, limit: int, budget_seconds: float) -> None:
        self.fetcher = fetcher
        self.queries = fetcher.queries
        self.limit = limit
        self.budget = budget_seconds

    async def search(self, terms: tuple[str, ...]) -> list[Hit]:
        deadline = anyio.current_time() + self.budget
        lowered = [t.lower() for t in terms]

        def named(name: str) -> bool:
            return any(t in name.lower() for t in lowered)

        tables = await self.queries.list_tables()
        hits = [
            Hit(
                self.fetcher.signer.id(ids.TableId(id_table(t.ref))),
                f"{t.ref.qualified} ({t.type.lower()}, {t.row_count if t.row_count is not None else '?'} rows)",
            )
            for t in tables
            if named(t.ref.name)
        ]
        # Columns come from the schema search's index (one load for the whole database, then memory),
        # not from describing every table in turn: on thousands of tables that would be thousands of calls.
        index = await schema_search.for_service(self.queries).index()
        matches = index.matching_tables(terms, self.limit)
        hits += [
            Hit(
                self.fetcher.signer.id(ids.ColumnId(id_table(m.table.ref), name)),
                f"Column {m.table.ref.qualified}.{name} ({ctype})",
            )
            for m in matches
            for name, ctype, _description in m.columns
        ]
        if len(hits) >= self.limit:
            return hits[: self.limit]
        # Rows: first in the tables the index ranked, then those whose names matched, then the rest,
        # each described only when its turn comes, until the time budget is spent.
        order = {m.table.ref: m.table for m in matches}
        order.update((t.ref, t) for t in tables if named(t.ref.name) and t.ref not in order)
        order.update((t.ref, t) for t in tables if t.ref not in order)
        for table in order.values():
            room, left = self.limit - len(hits), deadline - anyio.current_time()
            if room <= 0 or left < MIN_SLICE_SECONDS:
                break
            try:
                with anyio.fail_after(max(left, MIN_SLICE_SECONDS)):
                    detail = await self.fetcher.detail(table)
            except (TimeoutError, MssqlMcpError) as exc:
                log.warning("search: skipped %s: %s", table.ref.qualified, exc)
                continue
            left = deadline - anyio.current_time()
            if left < MIN_SLICE_SECONDS:
                break
            try:
                hits += await self._rows(table, detail, terms, room, left)
            except QueryTimeout:
                log.info("search: time budget spent in %s", table.ref.qualified)
                break
            except MssqlMcpError as exc:  # one odd table (a broken view) must not sink the search
                log.warning("search: skipped rows of %s: %s", table.ref.qualified, exc.message)
        return hits[: self.limit]

    async def _rows(
        self, table: TableInfo, detail: TableDetail, terms: tuple[str, ...], room: int, seconds: float
    ) -> list[Hit]:
        text_columns = [c for c in detail.columns if is_text(c)][:MAX_TEXT_COLUMNS]
        if not text_columns:
            return []
        pk = primary_key(detail)
        where, params = where_clause(text_columns, terms)
        if not pk:  # no row ids: cite the matching rows as one re-runnable query
            sql = literal_sql(table, text_columns, terms, 50)
            outcome = await self.queries.run(sql, force_read_only=True, timeout=seconds)
            if not outcome.result.rows:
                return []
            count = f"{outcome.result.row_count}{'+' if outcome.result.truncated else ''}"
            title = f"{count} matching rows in {table.ref.qualified}"
            return [Hit(self.fetcher.signer.id(ids.query_id(sql)), title)]
        wanted = pk + [c.name for c in text_columns if c.name not in pk]
        select = ", ".join(quote_ident(c) for c in wanted)
        sql = f"SELECT TOP ({room}) {select} FROM {table.ref.quoted} WHERE {where}"
        outcome = await self.queries.run(sql, params, force_read_only=True, timeout=seconds)
        hits = []
        for raw, row in zip(outcome.result.rows, json_rows(outcome.result.rows), strict=True):
            if any(v is None for v in raw[: len(pk)]):
                continue
            key = tuple((c, ids.key_value(v)) for c, v in zip(pk, raw, strict=False))
            rid = self.fetcher.signer.id(ids.RowId(id_table(table.ref), key))
            hits.append(Hit(rid, row_title(table.ref, key, list(zip(wanted, row, strict=True)), detail.columns)))
        return hits
