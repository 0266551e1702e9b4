"""What a ChatGPT `search` query means (docs/chatgpt-connector-setup.md). Pure: text in, a typed request out.

    list tables                   every table and view            (also: "show tables", "tables")
    describe <table>              one table's columns and keys    (also: "desc <table>")
    sample <table> [limit N]      its first N rows (default 10)
    SELECT … / WITH …             a read-only T-SQL query         ("sql: …" forces this reading)
    anything else                 keywords: table and column names first, then text values

A statement that starts with a write or admin verb (INSERT, UPDATE, DELETE, DROP, EXEC, …) is read as SQL
too, so the read-only gate refuses it with its reason, rather than the words being searched as keywords.
Quoted phrases stay whole: `"Zürich Alpine" outfitters` is two terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from mssql_mcp.errors import InvalidArgument

DEFAULT_SAMPLE = 10
MAX_TERMS = 8
MAX_QUERY_CHARS = 8_000

_READ_VERBS = {"select", "with"}
# Words that begin a statement in T-SQL but never a read: routed to the gate so it can refuse them.
_STATEMENT_VERBS = {
    "insert",
    "update",
    "delete",
    "merge",
    "drop",
    "create",
    "alter",
    "truncate",
    "exec",
    "execute",
    "grant",
    "revoke",
    "deny",
    "backup",
    "restore",
    "declare",
    "set",
    "use",
    "begin",
    "commit",
    "rollback",
    "dbcc",
    "shutdown",
    "kill",
    "bulk",
    "waitfor",
    "reconfigure",
    "checkpoint",
    "openrowset",
    "sp_executesql",
}
_LIST = re.compile(r"(?:list|show)\s+(?:all\s+)?tables|tables", re.IGNORECASE)
_DESCRIBE = re.compile(r"(?:describe|desc)\s+(?P<table>.+)", re.IGNORECASE | re.DOTALL)
_SAMPLE = re.compile(r"sample\s+(?P<table>.+?)(?:\s+limit\s+(?P<limit>\S+))?", re.IGNORECASE | re.DOTALL)
_SQL_PREFIX = re.compile(r"sql\s*:\s*", re.IGNORECASE)
_WORD = re.compile(r'"([^"]*)"|([^\s"]+)')


@dataclass(frozen=True)
class ListTables:
    pass


@dataclass(frozen=True)
class Describe:
    table: str


@dataclass(frozen=True)
class Sample:
    table: str
    limit: int


@dataclass(frozen=True)
class Sql:
    sql: str


@dataclass(frozen=True)
class Keywords:
    terms: tuple[str, ...]


Request: TypeAlias = ListTables | Describe | Sample | Sql | Keywords


def parse(query: str) -> Request:
    text = (query or "").strip()
    if not text:
        raise InvalidArgument("query is empty. Try 'list tables', 'describe <table>', SQL, or keywords.")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidArgument(f"query is too long ({len(text)} characters; at most {MAX_QUERY_CHARS}).")
    prefixed = _SQL_PREFIX.match(text)
    if prefixed:
        return Sql(text[prefixed.end() :].strip())
    words = text.split(None, 1)
    first, rest = words[0].lower().rstrip(";"), (words[1] if len(words) > 1 else "")
    if _LIST.fullmatch(text.rstrip(";").strip()):
        return ListTables()
    if first in _READ_VERBS or first.startswith(("select(", "with(")):
        return Sql(text)
    if first in _STATEMENT_VERBS and rest.strip():
        return Sql(text)
    described = _DESCRIBE.fullmatch(text)
    if described:
        return Describe(_strip_table(described["table"]))
    sampled = _SAMPLE.fullmatch(text)
    if sampled:
        return Sample(_strip_table(sampled["table"]), _limit(sampled["limit"]))
    return Keywords(_terms(text))


def _strip_table(name: str) -> str:
    name = name.strip().rstrip(";").strip()
    if not name:
        raise InvalidArgument("Name a table, e.g. 'describe dbo.Customers'.")
    return name


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_SAMPLE
    try:
        return int(raw.rstrip(";"))
    except ValueError:
        raise InvalidArgument(f"limit must be a whole number (got {raw!r}).") from None


def _terms(text: str) -> tuple[str, ...]:
    terms: list[str] = []
    for phrase, plain in _WORD.findall(text):  # only double quotes group: O'Brien stays one word
        word = phrase or plain
        word = word.strip().strip(",;")
        if word and word.lower() not in (t.lower() for t in terms):
            terms.append(word)
    if not terms:
        raise InvalidArgument("query has no keywords.")
    return tuple(terms[:MAX_TERMS])
