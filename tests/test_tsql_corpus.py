"""The T-SQL corpus (tests/tsql_corpus/*.toml) on the embedded database: each query returns SQL Server's
answer, as its cited reference page gives it, or is refused with one line naming what is not supported."""

from __future__ import annotations

import datetime as dt
import tomllib
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.errors import MssqlMcpError, QueryError, TranslationError

CORPUS = Path(__file__).parent / "tsql_corpus"
SOURCES = ("https://learn.microsoft.com/",)


def _load(kind: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.toml")):
        for entry in tomllib.loads(path.read_text("utf-8")).get(kind, []):
            entries.append({**entry, "file": path.name})
    return entries


CASES = _load("case")
REFUSALS = _load("refusal")


@pytest.fixture(scope="module")
def demo(demo_db: Path) -> Iterator[SqliteDatabase]:
    database = SqliteDatabase(demo_db, read_only=True)
    yield database
    database.close()


def same(expected: Any, got: Any) -> bool:
    """SQL Server's value (as TOML writes it) and a backend's, compared as values: the embedded database gives
    dates as text, pyodbc as datetime objects (tests/test_mssql_live_corpus.py shares this)."""
    if isinstance(expected, dict) and expected.get("null"):
        return got is None
    if isinstance(got, str) and isinstance(expected, dt.date):
        got = dt.datetime.fromisoformat(got) if isinstance(expected, dt.datetime) else dt.date.fromisoformat(got)
    if isinstance(expected, dt.date) and not isinstance(expected, dt.datetime) and isinstance(got, dt.datetime):
        return got == dt.datetime.combine(expected, dt.time())
    if isinstance(expected, dt.date):
        return bool(type(got) is type(expected) and got == expected)
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return isinstance(got, int | float | Decimal) and Decimal(str(got)) == Decimal(str(expected))
    if isinstance(got, uuid.UUID):
        return str(got).upper() == expected
    return bool(type(got) is type(expected) and got == expected)


def test_every_case_names_its_source_and_one_outcome() -> None:
    assert len(CASES) >= 200 and len(REFUSALS) >= 10
    for case in CASES:
        assert case["source"].startswith(SOURCES) and case["rule"].strip(), case["sql"]
        assert ("expect" in case) != ("error" in case), case["sql"]
    assert len({c["sql"] for c in CASES}) == len(CASES), "a query is in the corpus twice"


def _is_refusal(exc: MssqlMcpError) -> bool:
    text = str(exc)
    return isinstance(exc, TranslationError) and "\n" not in text and "not" in text


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']}:{c['sql'][:60]}" for c in CASES])
def test_sql_server_answer_or_a_one_line_refusal(demo: SqliteDatabase, case: dict[str, Any]) -> None:
    try:
        result = demo.execute(case["sql"], max_rows=5, timeout=10)
    except MssqlMcpError as exc:
        if "error" in case and isinstance(exc, QueryError):
            assert case["error"] in str(exc) and "\n" not in str(exc)
            return
        assert _is_refusal(exc), f"{case['sql']} -> {type(exc).__name__}: {exc}"
        return
    assert "error" not in case, f"{case['sql']} should fail as on SQL Server ({case['error']})"
    if "columns" in case:  # SQL Server's column names: an expression without an alias has none
        assert result.columns == case["columns"], f"{case['sql']}: columns {result.columns}"
    row = list(result.rows[0])
    expected = case["expect"]
    assert len(row) == len(expected), f"{case['sql']}: {row}"
    for want, got in zip(expected, row, strict=True):
        assert same(want, got), f"{case['sql']}: SQL Server gives {want!r}, the embedded database {got!r}"


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r["sql"][:60] for r in REFUSALS])
def test_refused_on_purpose_with_one_line(demo: SqliteDatabase, refusal: dict[str, Any]) -> None:
    with pytest.raises(TranslationError) as caught:
        demo.execute(refusal["sql"], max_rows=5, timeout=10)
    assert refusal["message"] in str(caught.value) and "\n" not in str(caught.value)
