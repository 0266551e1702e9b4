"""The SQL gate (mssql_mcp/sqlgate/) against the cases in tests/gate_cases.py, plus mutations of them."""

from __future__ import annotations

import dataclasses
import logging
import time
from importlib.metadata import version

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from mssql_mcp import sqlgate
from mssql_mcp.errors import QueryRefused
from mssql_mcp.sqlgate import functions, rules
from tests.gate_cases import (
    BAD_READS,
    GOOD_READS,
    INSERTED_STATEMENTS,
    MUTATION_BASES,
    WRITE_CASES,
    Bad,
    Good,
    WriteCase,
)


def refusal(sql: str, **mode: bool) -> str:
    with pytest.raises(QueryRefused) as info:
        sqlgate.check(sql, **mode)
    message = info.value.message
    assert message.startswith("Refused: ")
    assert "\n" not in message and len(message) < 300, message
    return message


def test_the_case_tables_are_big_enough() -> None:
    assert len(GOOD_READS) >= 30 and len(BAD_READS) >= 60
    assert len({c.sql for c in GOOD_READS}) == len(GOOD_READS)
    assert len({c.sql for c in BAD_READS}) == len(BAD_READS)


def test_sqlglot_is_the_pinned_version() -> None:
    # The allowlist names sqlglot's node types: another version may shape trees differently.
    assert version("sqlglot") == sqlglot.__version__ == "30.30.0"


@pytest.mark.parametrize("case", GOOD_READS, ids=lambda c: c.sql[:60])
def test_good_reads_are_accepted(case: Good) -> None:
    verdict = sqlgate.check(case.sql)
    assert verdict.kind == "read"
    assert isinstance(verdict.statement, (exp.Select, exp.SetOperation, exp.Subquery))


@pytest.mark.parametrize("case", GOOD_READS, ids=lambda c: c.sql[:60])
def test_good_reads_are_reads_in_write_mode_too(case: Good) -> None:
    assert sqlgate.check(case.sql, read_only=False, allow_ddl=True).kind == "read"


@pytest.mark.parametrize("case", BAD_READS, ids=lambda c: repr(c.sql[:60]))
def test_bad_reads_are_refused_with_their_reason(case: Bad) -> None:
    assert case.reason.lower() in refusal(case.sql).lower()


@pytest.mark.parametrize("case", WRITE_CASES, ids=lambda c: f"ddl={c.allow_ddl}:{c.sql[:50]}")
def test_write_mode(case: WriteCase) -> None:
    if case.expect in ("read", "dml", "ddl"):
        assert sqlgate.check(case.sql, read_only=False, allow_ddl=case.allow_ddl).kind == case.expect
    else:
        assert case.expect.lower() in refusal(case.sql, read_only=False, allow_ddl=case.allow_ddl).lower()


@pytest.mark.parametrize("case", [c for c in WRITE_CASES if c.expect in ("dml", "ddl")], ids=lambda c: c.sql[:50])
def test_writes_are_refused_in_read_only_mode_whatever_allow_ddl_says(case: WriteCase) -> None:
    assert "read-only mode allows only SELECT" in refusal(case.sql, read_only=True, allow_ddl=True)


def test_verdict_is_frozen_and_cached_results_are_stable() -> None:
    sql = "SELECT Name FROM Customers WHERE CustomerID = 7"
    first, second = sqlgate.check(sql), sqlgate.check(sql)
    assert first is second  # served from the cache, not parsed again
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.kind = "dml"  # type: ignore[misc]
    assert sqlgate.check(sql, read_only=False) is not first  # the mode is part of the cache key
    # A refusal is cached as its reason, and raised afresh each time.
    assert refusal("DROP TABLE Customers") == refusal("DROP TABLE Customers")


def test_long_statements_bypass_the_cache_but_are_checked() -> None:
    long_read = "SELECT 1 AS a" + ", 1 AS a" * 2000
    assert len(long_read) > 8192
    assert sqlgate.check(long_read).kind == "read"
    assert "found 2" in refusal(long_read + "; DROP TABLE Customers")


def test_the_command_fallback_warning_does_not_log_sql(caplog: pytest.LogCaptureFixture) -> None:
    # sqlglot logs the statement text at WARNING for Commands; SQL may only be logged at DEBUG.
    with caplog.at_level(logging.DEBUG):
        refusal("REVOKE SELECT ON secret_table_name FROM public")
    assert "secret_table_name" not in caplog.text


def test_checking_is_fast() -> None:
    # It runs on every execute_sql: a distinct, moderately complex query should take about a millisecond.
    statements = [
        f"WITH c AS (SELECT CustomerID, COUNT(*) AS n FROM Orders WHERE Quantity > {i} GROUP BY CustomerID) "
        f"SELECT TOP 10 cu.Name, c.n, ROW_NUMBER() OVER (ORDER BY c.n DESC) FROM c JOIN Customers cu "
        f"ON cu.CustomerID = c.CustomerID WHERE cu.City LIKE N'%{i}%' ORDER BY c.n DESC"
        for i in range(200)
    ]
    started = time.perf_counter()
    for sql in statements:
        sqlgate.check(sql)
    assert time.perf_counter() - started < 4.0  # typically ~0.5 s on one core; generous for a busy CI box


# --- mutations: nothing done to a bad statement makes it acceptable in read-only mode -------------

_GAPS = st.sampled_from([" ", "\t", "\n", "\r\n", "  \n\t", "/* c */", " /* a /* nested */ b */ ", "-- c\n", "--\r\n"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    sql = draw(st.sampled_from(MUTATION_BASES))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        how = draw(st.sampled_from(["case", "gaps", "cte", "subquery", "semicolon", "prefix"]))
        if how == "case":
            flips = draw(st.lists(st.booleans(), min_size=len(sql), max_size=len(sql)))
            sql = "".join(ch.swapcase() if flip else ch for ch, flip in zip(sql, flips, strict=True))
        elif how == "gaps":  # replace spaces (token boundaries) with other whitespace and whole comments
            parts = sql.split(" ")
            sql = parts[0] + "".join(draw(_GAPS) + part for part in parts[1:])
        elif how == "cte":
            sql = "WITH w AS (SELECT 1 AS one) " + sql
        elif how == "subquery":
            sql = "SELECT * FROM (" + sql + ") AS s"
        elif how == "semicolon":
            sql = sql + draw(st.sampled_from([";", ";;", " ; ", ";\n-- done"]))
        else:
            good = draw(st.sampled_from(["SELECT 1", "SELECT * FROM Customers", "(SELECT 1)", "SELECT 'a;b' AS s"]))
            sql = good + draw(st.sampled_from([";", " ", "\n", ";\n", "/* */", "\r\n", "\t;\t"])) + sql
    return sql


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_of_bad_statements_are_never_accepted(sql: str) -> None:
    refusal(sql)


# Whitespace only: sqlglot cannot parse a comment inside a two-word keyword (GROUP /* c */ BY), which
# the gate then refuses. That over-refuses, safely; docs/read_only.md mentions it.
@settings(max_examples=150, deadline=None, database=None)
@given(
    st.sampled_from([c.sql for c in GOOD_READS if not any(t in c.sql for t in ("--", "/*", "'", '"', "["))]),
    st.lists(st.sampled_from([" ", "\t", "\n", "\r\n", "  \n\t ", "\n\n"]), min_size=40, max_size=40),
)
def test_whitespace_does_not_change_a_good_read(sql: str, gaps: list[str]) -> None:
    parts = sql.split(" ")
    mutated_sql = parts[0] + "".join(gaps[i % len(gaps)] + part for i, part in enumerate(parts[1:]))
    assert sqlgate.check(mutated_sql).kind == "read"


_PLAIN_READS = [c.sql for c in GOOD_READS if not any(t in c.sql for t in ("--", "/*", "'", '"', "["))]


@settings(max_examples=400, deadline=None, database=None)
@given(st.sampled_from(_PLAIN_READS), st.sampled_from(INSERTED_STATEMENTS), st.data())
def test_a_statement_inserted_anywhere_into_a_good_read_is_refused(
    sql: str, inserted: str, data: st.DataObject
) -> None:
    # Insert at a token boundary (around whitespace, parentheses or commas), as its own words.
    cuts = sorted({0, len(sql)} | {m for i, ch in enumerate(sql) if ch in " \t\n(),;" for m in (i, i + 1)})
    cut = data.draw(st.sampled_from(cuts))
    gap = data.draw(st.sampled_from([" ", "\n", "\t"]))
    refusal(sql[:cut] + gap + inserted + gap + sql[cut:])


# --- built-in functions by allowlist, server-scoped objects, and the DBA's policy -----------------


def test_the_builtin_node_types_are_derived_from_the_names() -> None:
    """BUILTIN_NODES is data derived from BUILTIN_FUNCTIONS: recompute it, so neither drifts."""
    assert functions.derive_builtin_nodes() == functions.BUILTIN_NODES


def test_every_builtin_on_the_list_is_accepted() -> None:
    refused = []
    for name in sorted(functions.BUILTIN_FUNCTIONS):
        outcomes = []
        for args in functions.DERIVATION_ARGUMENTS:
            try:
                sqlgate.check(f"SELECT {name}({args}) AS v")
                break
            except QueryRefused as exc:
                outcomes.append(exc.message)
        else:
            if not all("could not parse" in o or "reserved word" in o for o in outcomes):
                refused.append(f"{name}: {outcomes[-1]}")
    assert refused == []


def test_user_functions_can_be_turned_off() -> None:
    no_udfs = sqlgate.Policy(user_functions=False)
    for sql in ("SELECT dbo.fn_total(CustomerID) FROM Customers", "SELECT * FROM dbo.fn_orders(1)"):
        assert sqlgate.check(sql).kind == "read"
        assert "ALLOW_USER_FUNCTIONS=false" in refusal(sql, policy=no_udfs)
    assert sqlgate.check("SELECT UPPER(Name), ROW_NUMBER() OVER (ORDER BY Name) FROM Customers", policy=no_udfs)


def test_server_views_can_be_allowed() -> None:
    dba = sqlgate.Policy(server_views=True)
    for sql in (
        "SELECT * FROM sys.dm_exec_sessions",
        "SELECT name FROM master.sys.databases",
        "SELECT name FROM sys.sql_logins",
        "SELECT * FROM msdb.dbo.sysjobs",
    ):
        assert "server-level" in refusal(sql)
        assert sqlgate.check(sql, policy=dba).kind == "read"
        assert sqlgate.check(sql, policy=dba) is not None
    # Functions that read files stay refused whatever the policy says.
    assert "fn_dblog" in refusal("SELECT * FROM sys.fn_dblog(NULL, NULL)", policy=dba)


def test_the_policy_is_part_of_the_cache_key() -> None:
    sql = "SELECT * FROM sys.server_principals"
    assert "server-level" in refusal(sql)
    assert sqlgate.check(sql, policy=sqlgate.Policy(server_views=True)).kind == "read"
    assert "server-level" in refusal(sql)


# --- mutations: empty name parts, hint lists, unknown functions ------------------------------------

_PLAIN = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s.upper() not in rules.STATEMENT_WORDS and s.upper() not in rules.TABLE_HINT_WORDS
)


@st.composite
def name_part(draw: st.DrawFn) -> str:
    name = draw(_PLAIN)
    return draw(st.sampled_from([name, f"[{name}]", f'"{name}"', f"[{name} x]"]))


_DOT = st.sampled_from([".", " . ", "/* c */.", ".\n", " /**/ . "])


@st.composite
def four_part_name(draw: st.DrawFn) -> str:
    """server.database.schema.object with any middle part empty, and any spacing: a...b, srv.db..t, ..."""
    parts = [draw(name_part()), draw(st.sampled_from(["", draw(name_part())])), draw(st.sampled_from(["", "dbo"]))]
    parts += [draw(name_part())] * draw(st.integers(min_value=1, max_value=2))  # five parts too
    return parts[0] + "".join(draw(_DOT) + part for part in parts[1:])


_NAME_SPOTS = [
    "SELECT * FROM {}",
    "SELECT * FROM {} AS t",
    "SELECT * FROM Customers c JOIN {} o ON o.CustomerID = c.CustomerID",
    "SELECT Name FROM Customers WHERE CustomerID IN (SELECT CustomerID FROM {})",
    "WITH x AS (SELECT * FROM {}) SELECT * FROM x",
    "SELECT * FROM Customers WHERE EXISTS (SELECT 1 FROM {} WITH (NOLOCK))",
]
_WRITE_SPOTS = [
    "UPDATE {} SET Quantity = 0",
    "DELETE FROM {}",
    "INSERT INTO {} (OrderID) VALUES (1)",
    "INSERT INTO Orders (OrderID) SELECT OrderID FROM {}",
    "MERGE {} AS t USING Orders AS s ON t.OrderID = s.OrderID WHEN MATCHED THEN DELETE;",
]


@settings(max_examples=150, deadline=None, database=None)
@given(four_part_name(), st.sampled_from(_NAME_SPOTS), st.sampled_from(_WRITE_SPOTS))
def test_four_part_names_are_refused_however_spelled(name: str, read: str, write: str) -> None:
    assert "four-part names" in refusal(read.format(name))
    assert "four-part names" in refusal(read.format(name), read_only=False, allow_ddl=True)
    assert "four-part names" in refusal(write.format(name), read_only=False, allow_ddl=True)


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(name_part(), min_size=2, max_size=3), st.sampled_from(_NAME_SPOTS))
def test_names_of_three_parts_or_fewer_are_not_four_part(parts: list[str], spot: str) -> None:
    try:
        sqlgate.check(spot.format(".".join(parts)))
    except QueryRefused as exc:
        assert "four-part" not in exc.message


_HINTS = sorted(rules.TABLE_HINT_WORDS - {"INDEX", "SPATIAL_WINDOW_MAX_CELLS"})


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(st.sampled_from(_HINTS), min_size=1, max_size=4, unique=True),
    st.sampled_from(["Customers {}", "Customers c {}", "Customers AS c {}", "dbo.Customers {}", "[Customers] {}"]),
    st.sampled_from(["({})", "WITH ({})"]),
    st.sampled_from([", ", ","]),
)
def test_hint_lists_are_checked_however_written(hints: list[str], table: str, wrap: str, comma: str) -> None:
    sql = "SELECT * FROM " + table.format(wrap.format(comma.join(hints)))
    if set(hints) <= rules.READ_TABLE_HINTS:
        assert sqlgate.check(sql).kind == "read"
    else:
        message = refusal(sql)
        assert "takes or holds locks" in message or "reserved word" in message  # HOLDLOCK is reserved


_TSQL_PARSER = Dialect.get_or_raise("tsql").parser_class
_SQLGLOT_KNOWS = set(_TSQL_PARSER.FUNCTIONS) | set(_TSQL_PARSER.FUNCTION_PARSERS)
# Names sqlglot does not know (those it knows are all tried above): refused, and named in the reason.
_NOT_BUILTIN = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{1,14}", fullmatch=True).filter(
    lambda s: (
        s.upper() not in functions.BUILTIN_FUNCTIONS
        and s.upper() not in _SQLGLOT_KNOWS
        and s.upper() not in rules.STATEMENT_WORDS
        and s.upper() not in rules.RESERVED_WORDS
        and not s.upper().startswith(rules.PROCEDURE_PREFIXES)
    )
)


@settings(max_examples=150, deadline=None, database=None)
@given(
    _NOT_BUILTIN,
    st.sampled_from(["", "sys.", "SYS.", "[sys].", "INFORMATION_SCHEMA."]),
    st.sampled_from(
        [
            "SELECT {}(1) AS v",
            "SELECT * FROM {}(1)",
            "SELECT Name FROM Customers WHERE Name = {}('x')",
            "SELECT Name FROM Customers c CROSS APPLY {}(c.Name) f",
            "SELECT UPPER({}(Name)) FROM Customers",
        ]
    ),
)
def test_unknown_functions_are_refused_by_name(name: str, schema: str, spot: str) -> None:
    message = refusal(spot.format(schema + name))
    assert name.lower() in message.lower()


def test_no_function_name_sqlglot_knows_slips_through() -> None:
    """Every name sqlglot's tsql parser turns into a function node is refused unless it is a T-SQL built-in."""
    parser = Dialect.get_or_raise("tsql").parser_class
    syntax = {"EXISTS", "COLLATE", "LIKE", "XOR"}  # operators sqlglot also accepts in call form
    accepted = []
    for name in sorted((set(parser.FUNCTIONS) | set(parser.FUNCTION_PARSERS)) - syntax):
        if name.upper() in functions.BUILTIN_FUNCTIONS:
            continue
        calls = [f"{name}({args})" for args in functions.DERIVATION_ARGUMENTS]
        # sqlglot folds some calls into the call around them (UPPER(HEX(x)) is one node): nest them too.
        for sql in [f"SELECT {c} AS v" for c in calls] + [f"SELECT UPPER({name}(1)), LOWER({name}(1, 2))"]:
            try:
                sqlgate.check(sql)
                accepted.append(sql)
                break
            except QueryRefused:
                pass
    assert accepted == []
