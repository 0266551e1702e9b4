"""The schema search index: words -> tables, views and columns, by their names and their descriptions.

Names are split into words on case changes, digits and underscores (`CustomerOrderLines` -> customer, order,
line; `cust_order_id` -> cust, order, id); descriptions (MS_Description) on anything but letters and digits.
Words are lower-cased and lose a plural ending (`lines` -> line, `categories` -> category), the same way
for the index and for the question, and common English words of a question ("where is ... stored") are
dropped.

Ranking, for each table or view (deterministic; see docs/schema_search.md):
    each question word scores the best place it is found in that table:
        the table's name 10, a column's name 4, the table's description 3, a column's description 2;
        a word that only begins one of those words (at least 3 letters: `cust` for customer) scores half.
    tables rank by: how many question words they hold (more first), the summed score (higher first),
    how many words of the table's name the question did not mention (fewer first: `Orders` before
    `OrdersArchive`), then schema and name (case-folded).

Memory: postings are packed into arrays of 64-bit integers and column names are interned, so 50,000
tables of 20 columns fit in the budget docs/performance.md records.
"""

from __future__ import annotations

import bisect
import heapq
import re
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from sys import intern

from mssql_mcp.db.base import TableInfo
from mssql_mcp.db.bulk_columns import ColumnRow

WEIGHTS = (10.0, 4.0, 3.0, 2.0)  # table name, column name, table description, column description
TABLE_NAME, COLUMN_NAME, TABLE_DESC, COLUMN_DESC = range(4)
PREFIX_FACTOR = 0.5
MIN_PREFIX = 3
MAX_PREFIX_WORDS = 64  # a short prefix expands to at most this many index words
MAX_QUESTION_WORDS = 12
MAX_COLUMNS = 4095  # per table, for the packed postings (SQL Server allows 1,024; wide tables 30,000 sparse)
MATCHING_COLUMNS_SHOWN = 8

_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^\W\d_]+")
_TEXT_WORDS = re.compile(r"[^\W_]+")
STOPWORDS = frozenset(
    "a an and any are as at be by can do does find for from get give has have how i in into is it list me my "
    "of on or our show stored store that the there these this to was we what where which who with you".split()
)


def normalise(word: str) -> str:
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def name_words(name: str) -> list[str]:
    """`CustomerOrderLines` -> ['customer', 'order', 'line']; `HTTPLog2` -> ['http', 'log', '2']."""
    return [normalise(w) for w in _NAME_WORDS.findall(name)]


def text_words(text: str) -> list[str]:
    return [normalise(w) for w in _TEXT_WORDS.findall(text)]


def question_words(text: str) -> list[str]:
    """The words of a question, split like names (so `OrderLines` works too), without stop words."""
    seen: dict[str, None] = {}
    for raw in _TEXT_WORDS.findall(text):
        for w in name_words(raw) or [normalise(raw)]:
            if w not in STOPWORDS:
                seen.setdefault(w, None)
    return list(seen)[:MAX_QUESTION_WORDS]


@dataclass
class Match:
    table: TableInfo
    words_found: int
    score: float
    key_columns: list[str]
    columns: list[tuple[str, str, str | None]]  # (name, type, description) of the matching columns
    description: str | None


@dataclass
class _Table:
    columns: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    keys: tuple[int, ...] = ()
    description: str | None = None
    name_words: frozenset[str] = field(default_factory=frozenset)


class SchemaIndex:
    """An immutable index over one catalog snapshot and its columns."""

    def __init__(self, tables: Sequence[TableInfo], columns: Iterable[ColumnRow]) -> None:
        self.tables = list(tables)
        position = {(t.ref.schema.lower(), t.ref.name.lower()): i for i, t in enumerate(self.tables)}
        postings: dict[str, array[int]] = {}  # packed as they grow: a list of ints would cost 4.5 times as much
        self._column_descriptions: dict[int, str] = {}

        split: dict[str, frozenset[str]] = {}  # column names repeat across tables: split each one once

        def words_of(name: str) -> frozenset[str]:
            found = split.get(name)
            if found is None:
                found = split[name] = frozenset(name_words(name))
            return found

        def add(word: str, ti: int, ci: int, where: int) -> None:
            found = postings.get(word)
            if found is None:
                found = postings[intern(word)] = array("q")
            found.append(((ti * (MAX_COLUMNS + 1) + ci + 1) << 2) | where)

        grouped: dict[int, list[ColumnRow]] = {}
        for row in columns:
            ti = position.get((row[0].lower(), row[1].lower()))
            if ti is not None:
                grouped.setdefault(ti, []).append(row)
        self._meta: list[_Table] = []
        for ti, table in enumerate(self.tables):
            words = name_words(table.ref.name)
            for w in set(words):
                add(w, ti, -1, TABLE_NAME)
            rows = grouped.get(ti, [])
            cols = [r for r in rows if r[2] is not None][:MAX_COLUMNS]
            described = next((r[5] for r in rows if r[2] is None and r[5]), None)
            meta = _Table(
                tuple(intern(r[2] or "") for r in cols),
                tuple(intern(r[3]) for r in cols),
                tuple(ci for ci, r in enumerate(cols) if r[4]),
                described,
                frozenset(words),
            )
            self._meta.append(meta)
            if described:
                for w in set(text_words(described)):
                    add(w, ti, -1, TABLE_DESC)
            for ci, r in enumerate(cols):
                for w in words_of(r[2] or ""):
                    add(w, ti, ci, COLUMN_NAME)
                if r[5]:
                    self._column_descriptions[ti * (MAX_COLUMNS + 1) + ci] = r[5]
                    for w in set(text_words(r[5])):
                        add(w, ti, ci, COLUMN_DESC)
        self._postings = postings
        self._vocabulary = sorted(self._postings)

    def _expansions(self, word: str) -> list[tuple[str, float]]:
        """The index words a question word finds: itself (full weight) and the words it begins (half)."""
        found = [(word, 1.0)] if word in self._postings else []
        if len(word) >= MIN_PREFIX:
            start = bisect.bisect_right(self._vocabulary, word)
            for other in self._vocabulary[start : start + MAX_PREFIX_WORDS]:
                if not other.startswith(word):
                    break
                found.append((other, PREFIX_FACTOR))
        return found

    def search(self, question: str, limit: int = 10) -> tuple[list[str], list[Match]]:
        """(the question's words, the best `limit` tables), ranked as the module docstring says."""
        words = question_words(question)
        count, stride = len(words), MAX_COLUMNS + 1
        best: dict[int, list[float]] = {}  # table -> best score per question word
        hit_columns: dict[int, set[int]] = {}
        for wi, word in enumerate(words):
            for token, factor in self._expansions(word):
                weights = [w * factor for w in WEIGHTS]
                for code in self._postings[token]:
                    slot = code >> 2
                    ti = slot // stride
                    scores = best.get(ti)
                    if scores is None:
                        scores = best[ti] = [0.0] * count
                    score = weights[code & 3]
                    if score > scores[wi]:
                        scores[wi] = score
                    if ci := slot - ti * stride:
                        hit_columns.setdefault(ti, set()).add(ci - 1)
        # The first two keys are cheap: the full key is computed only for the tables that can still place.
        primary = {ti: (-sum(1 for x in scores if x > 0), -sum(scores)) for ti, scores in best.items()}
        cutoff = heapq.nsmallest(limit, primary.values())[-1] if primary else None
        mentioned = set(words)

        def rank(ti: int) -> tuple[int, float, int, str, str]:
            ref = self.tables[ti].ref
            unmentioned = len(self._meta[ti].name_words - mentioned)
            return (*primary[ti], unmentioned, ref.schema.casefold(), ref.name.casefold())

        contenders = [ti for ti, key in primary.items() if cutoff is not None and key <= cutoff]
        ranked = heapq.nsmallest(limit, contenders, key=rank)
        return words, [self._match(ti, best[ti], hit_columns.get(ti, set())) for ti in ranked]

    def _match(self, ti: int, scores: list[float], hits: set[int]) -> Match:
        meta = self._meta[ti]
        shown = sorted(hits)[:MATCHING_COLUMNS_SHOWN]
        return Match(
            self.tables[ti],
            sum(1 for s in scores if s > 0),
            round(sum(scores), 2),
            [meta.columns[ci] for ci in meta.keys],
            [
                (meta.columns[ci], meta.types[ci], self._column_descriptions.get(ti * (MAX_COLUMNS + 1) + ci))
                for ci in shown
            ],
            meta.description,
        )

    def matching_tables(self, terms: Sequence[str], limit: int) -> list[Match]:
        """The ChatGPT face's keyword search over the schema: the same ranking, the terms as one question."""
        return self.search(" ".join(terms), limit)[1]
