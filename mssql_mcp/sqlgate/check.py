"""The SQL gate: decide whether one T-SQL text may run, before any database sees it.

    check(sql, read_only=True)   -> Verdict("read", tree)  or raise QueryRefused("Refused: ...")
    check(sql, read_only=False)  -> also Verdict("dml", tree); "ddl" only with allow_ddl=True
    check(sql, policy=Policy(user_functions=False, server_views=True))  -> the DBA's choices (settings)

It is an allowlist over sqlglot's tsql parse tree, failing closed: exactly one statement, whose every
node is a known-safe shape. Anything sqlglot cannot parse, reads as a Command, or shapes in a way not
listed in `sqlgate.rules` is refused. The gate is pure (no database, no I/O) and is only the first
layer; docs/read_only.md describes the others and the reasoning behind each rule.

The statement that runs is the caller's original text, never a re-rendering of the tree, so the gate
also refuses texts where SQL Server and sqlglot could disagree about statement boundaries: control
characters, `GO`, and reserved words used as bare names (`SELECT 1 SHUTDOWN` is two statements to
SQL Server but an alias to sqlglot).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError
from sqlglot.tokenizer_core import Token, TokenType

from mssql_mcp.errors import QueryRefused
from mssql_mcp.sqlgate import functions, parse_messages, rules
from mssql_mcp.sqlgate.rules import DEFAULT_POLICY, Policy
from mssql_mcp.sqlgate.walk import FOUR_PART_REASON, NOT_BUILTIN, Mode, not_builtin, walk

StatementKind = Literal["read", "dml", "ddl"]


@dataclass(frozen=True)
class Verdict:
    """An accepted statement. `statement` may be shared with later calls (cache): copy before changing it."""

    kind: StatementKind
    statement: exp.Expression  # the parsed tsql tree of the single statement


def check(sql: str, *, read_only: bool = True, allow_ddl: bool = False, policy: Policy = DEFAULT_POLICY) -> Verdict:
    """Accept one statement or raise QueryRefused with a one-line reason a model can act on."""
    decide = _decide_cached if len(sql) <= _CACHE_MAX_CHARS else _decide
    outcome = decide(sql, read_only, allow_ddl, policy)
    if isinstance(outcome, str):
        raise QueryRefused(f"Refused: {outcome}")
    return outcome


class _DropCommandFallbackWarning(logging.Filter):
    """sqlglot logs the statement text at WARNING when it falls back to a Command. The gate refuses
    those anyway, and SQL text may only be logged at DEBUG, so the record is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_DropCommandFallbackWarning())

_DIALECT = Dialect.get_or_raise("tsql")
_CACHE_MAX_CHARS = 8192  # longer texts are checked every time rather than pinned in the cache
# SQL Server and sqlglot may disagree on whether these end a `--` comment or split a name.
_ODD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029]")
_STRING_TOKENS = frozenset({TokenType.STRING, TokenType.NATIONAL_STRING})
_QUOTED_TOKENS = frozenset({tt for tt in TokenType if "STRING" in tt.name} | {TokenType.IDENTIFIER})
_NAME_PREFIXES = frozenset({TokenType.PARAMETER, TokenType.HASH, TokenType.DOT})
_EMPTY = "the query is empty (only whitespace, comments or semicolons)."
_DML_WORDS = frozenset(rules.DML_TOP.values())
_DDL_WORDS = frozenset(rules.DDL_TOP.values())


@functools.lru_cache(maxsize=1024)
def _decide_cached(sql: str, read_only: bool, allow_ddl: bool, policy: Policy) -> Verdict | str:
    return _decide(sql, read_only, allow_ddl, policy)


def _decide(sql: str, read_only: bool, allow_ddl: bool, policy: Policy) -> Verdict | str:
    """A Verdict, or the reason for refusing (without the "Refused: " prefix)."""
    if _ODD_CHARS.search(sql):
        return "control characters and Unicode line separators are not allowed in a query."
    try:
        tokens = _DIALECT.tokenize(sql)
    except Exception:  # TokenError, or anything else: fail closed
        return "could not parse this as T-SQL: an unterminated string, comment or [name]."
    words = [t for t in tokens if t.token_type != TokenType.SEMICOLON]
    if not words:
        return _EMPTY
    if any(t.token_type == TokenType.COMMAND and t.text.upper() == "GO" for t in words):
        return rules.LEADING_WORD_REASONS["GO"]
    if ("{" in sql or "}" in sql) and _brace_outside_strings(sql, tokens):
        return "ODBC escapes ({fn ...}, {call ...}) are not allowed: the driver rewrites them after the gate."
    lead = words[0].text.upper()
    try:
        trees = _DIALECT.parser().parse(tokens, sql)
    except ParseError as err:
        return _leading_reason(lead, read_only, allow_ddl) or _parse_reason(err)
    except Exception:  # RecursionError on absurd nesting, or a parser bug: fail closed
        return "could not parse this as T-SQL."
    # A comment after the last `;` comes back as a Semicolon node: not a statement.
    statements = [tree for tree in trees if tree is not None and not isinstance(tree, exp.Semicolon)]
    if len(statements) != 1:
        return f"only one statement per call (found {len(statements)})." if statements else _EMPTY
    if not isinstance(statements[0], exp.Expression):  # every parsed statement is one; fail closed if not
        return "could not parse this as T-SQL."
    outcome = _classify(statements[0], sql, words, read_only, allow_ddl, policy)
    if isinstance(outcome, Verdict) and _longest_dotted_name(words) > 3:
        return FOUR_PART_REASON
    if isinstance(outcome, Verdict):
        return _foreign_call(words) or outcome
    return outcome


def _foreign_call(words: list[Token]) -> str | None:
    """A call of another dialect's function whose name sqlglot's tree does not keep (CEIL for CEILING)."""
    for token, after in zip(words, words[1:], strict=False):
        name = token.text.upper()
        if after.token_type == TokenType.L_PAREN and name in functions.FOREIGN_NAMES_WITHOUT_POSITION:
            if token.token_type not in _QUOTED_TOKENS:
                return not_builtin(token.text)
    return None


def _longest_dotted_name(words: list[Token]) -> int:
    """The most parts in one dotted name, counting empty ones: sqlglot drops them (a...b reads as a.b),
    while SQL Server reads server.database.schema.object. Counted on tokens, so no spelling hides a part."""
    longest = dots = 0
    after_dot = False
    for token in words:
        if token.token_type == TokenType.DOT:
            dots += 1
            after_dot = True
            longest = max(longest, dots)
        else:
            if not after_dot:
                dots = 0  # two tokens in a row with no dot between them: a new name begins
            after_dot = False
    return longest + 1


def _brace_outside_strings(sql: str, tokens: list[Token]) -> bool:
    """True when { or } appears outside string literals (in code, a comment or a [name])."""
    outside = list(sql)
    for token in tokens:
        if token.token_type in _STRING_TOKENS:
            outside[token.start : token.end + 1] = " " * (token.end + 1 - token.start)
    return any(ch in "{}" for ch in outside)


def _classify(
    stmt: exp.Expression, sql: str, words: list[Token], read_only: bool, allow_ddl: bool, policy: Policy
) -> Verdict | str:
    lead = words[0].text.upper()
    if isinstance(stmt, (exp.Select, exp.SetOperation, exp.Subquery)):
        # SELECT ... INTO creates a table: with ALLOW_DDL in write mode it is DDL, otherwise refused.
        into = not read_only and allow_ddl and isinstance(stmt.args.get("into"), exp.Into)
        problem = _prefer_word(walk(stmt, "read", allow_top_into=into, policy=policy, sql=sql), words, "read")
        return problem or Verdict("ddl" if into else "read", stmt)
    word = rules.DML_TOP.get(type(stmt)) or rules.DDL_TOP.get(type(stmt))
    if word is not None:
        refused = _mode_reason(word, read_only, allow_ddl)
        if refused:
            return refused
        if word in _DDL_WORDS:
            walked = walk(stmt, "ddl", policy=policy, sql=sql)
            problem = _ddl_kind_problem(stmt, word) or _prefer_word(walked, words, "ddl")
            return problem or Verdict("ddl", stmt)
        return _prefer_word(walk(stmt, "dml", policy=policy, sql=sql), words, "dml") or Verdict("dml", stmt)
    if isinstance(stmt, exp.Command) and lead in _DML_WORDS | _DDL_WORDS:
        # e.g. CREATE LOGIN, ALTER DATABASE, CREATE TRIGGER: forms sqlglot does not model.
        return _mode_reason(lead, read_only, allow_ddl) or f"this form of {lead} is not supported by the gate."
    # A Command (or a misread shape) is best explained by its first word; a known type by its type.
    known = None if isinstance(stmt, exp.Command) else rules.ALWAYS_REFUSED.get(type(stmt))
    reason = known or _leading_reason(lead, read_only, allow_ddl)
    if reason:
        return reason
    allowed = "SELECT" if read_only else "SELECT, INSERT, UPDATE, DELETE or MERGE"
    return f"only {allowed} statements are allowed (this one starts with {lead})."


def _prefer_word(walked: str | None, words: list[Token], kind: Mode) -> str | None:
    """The tree's problem, else a statement word's. When the tree's problem is an unknown function and a
    statement word is present, sqlglot most likely read that word as a call (`IN TRUNCATE (...)`): say so."""
    word = _word_problem(words, kind)
    if walked and word and walked.startswith(NOT_BUILTIN):
        return word
    return walked or word


def _word_problem(words: list[Token], kind: Mode) -> str | None:
    """A bare word that begins another kind of statement, e.g. `SELECT 1 FETCH` or `IN TRUNCATE (...)`."""
    allowed = rules.STATEMENT_WORDS_ALLOWED[kind]
    for i, token in enumerate(words):
        if token.token_type in (TokenType.COLON, TokenType.DCOLON):
            return "':' has no place in a query here (GOTO labels, :name parameters and :: are not allowed)."
        word = token.text.upper()
        if word not in rules.STATEMENT_STARTERS or token.token_type in _QUOTED_TOKENS:
            continue
        before = words[i - 1] if i else None
        after = words[i + 1].text.upper() if i + 1 < len(words) else ""
        if before is not None and before.token_type in _NAME_PREFIXES:
            continue  # @update, #insert, t.delete: part of a name
        if word in allowed and (
            (word == "FETCH" and before is not None and before.token_type in (TokenType.ROW, TokenType.ROWS))
            or (word == "MERGE" and (after == "JOIN" or kind != "read"))
            or (word == "SET" and (kind == "dml" or words[0].text.upper() == "ALTER"))  # UPDATE/ALTER ... SET
            or word not in ("FETCH", "MERGE", "SET")
        ):
            continue
        where = "a read-only query" if kind == "read" else f"this {kind.upper()} statement"
        return f"{token.text} begins a statement of its own and cannot appear in {where}."
    return None


def _mode_reason(word: str, read_only: bool, allow_ddl: bool) -> str | None:
    """Why a DML/DDL statement word is refused in this mode, or None when the mode allows it."""
    if word in _DML_WORDS:
        return f"{word} modifies data; read-only mode allows only SELECT." if read_only else None
    if read_only:
        return f"{word} changes the schema; read-only mode allows only SELECT."
    return None if allow_ddl else f"{word} changes the schema; DDL also needs ALLOW_DDL=true."


def _leading_reason(lead: str, read_only: bool, allow_ddl: bool) -> str | None:
    """A specific reason from the first word, for statements sqlglot misreads or cannot parse."""
    if lead in rules.LEADING_WORD_REASONS:
        return rules.LEADING_WORD_REASONS[lead]
    if lead.startswith(rules.PROCEDURE_PREFIXES):
        return f"calling procedures ({lead.lower()}) is not allowed; query the catalog views instead."
    if lead in _DML_WORDS | _DDL_WORDS:
        return _mode_reason(lead, read_only, allow_ddl)
    return None


def _parse_reason(err: ParseError) -> str:
    return f"could not parse this as T-SQL: {parse_messages.describe(err)}."


def _ddl_kind_problem(stmt: exp.Expression, word: str) -> str | None:
    kind = str(stmt.args.get("kind") or "TABLE").upper()
    if kind == "TABLE" and isinstance(stmt, exp.Create) and isinstance(stmt.expression, exp.Query):
        return "CREATE TABLE ... AS SELECT is not T-SQL; use SELECT ... INTO."
    if kind in rules.DDL_KINDS:
        return None
    kinds = ", ".join(sorted(rules.DDL_KINDS))
    return f"{word} {kind} is not allowed even with ALLOW_DDL (only {kinds})."
