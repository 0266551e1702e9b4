"""Properties of the embedded database's T-SQL semantics, checked through real queries on SQLite.

Collation, on a stated character set (ASCII letters and the Latin-1 letters): `=`, `<`, LIKE and ORDER BY
agree with a reference case-insensitive, accent-sensitive comparison, written here independently of the
backend's: equal when the lower-case spellings are equal; ordered first by the letters without their
accents, then by the accented spelling. (docs/embedded_database.md lists where SQL Server's Windows
collations differ outside this set.)

DATEDIFF and DATEADD agree with a reference model of boundaries crossed: each value truncated to the start
of its unit (weeks start on Sunday), the difference counted in whole units.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import sqlite3
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mssql_mcp.db.sqlite import SqliteDatabase

LATIN1_LETTERS = "".join(chr(c) for c in range(0xC0, 0x100) if chr(c).isalpha())
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" + LATIN1_LETTERS
words = st.text(alphabet=ALPHABET, min_size=0, max_size=6)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteDatabase]:
    path = tmp_path_factory.mktemp("props") / "p.sqlite"
    sqlite3.connect(path).close()
    database = SqliteDatabase(path, read_only=True)
    yield database
    database.close()


def one(db: SqliteDatabase, sql: str) -> object:
    return db.execute(sql, max_rows=1000, timeout=5).rows[0][0]


def ref_equal(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def ref_key(a: str) -> tuple[str, str]:
    lower = a.lower()
    unaccented = "".join(c for c in unicodedata.normalize("NFD", lower) if not unicodedata.combining(c))
    return unaccented, lower


def test_the_character_set_is_what_the_docs_state() -> None:
    assert len(LATIN1_LETTERS) == 62 and "ß" in LATIN1_LETTERS and "×" not in LATIN1_LETTERS


@SETTINGS
@given(words, words)
def test_equality_and_order_follow_the_reference(db: SqliteDatabase, a: str, b: str) -> None:
    eq = one(db, f"SELECT CASE WHEN N'{a}' = N'{b}' THEN 1 ELSE 0 END")
    lt = one(db, f"SELECT CASE WHEN N'{a}' < N'{b}' THEN 1 ELSE 0 END")
    assert eq == int(ref_equal(a, b))
    assert lt == int(not ref_equal(a, b) and ref_key(a) < ref_key(b))


@SETTINGS
@given(words, words)
def test_like_follows_the_reference(db: SqliteDatabase, a: str, b: str) -> None:
    assert one(db, f"SELECT CASE WHEN N'{a}' LIKE N'{b}' THEN 1 ELSE 0 END") == int(ref_equal(a, b))
    prefix = int(a.lower().startswith(b.lower()))
    assert one(db, f"SELECT CASE WHEN N'{a}' LIKE N'{b}%' THEN 1 ELSE 0 END") == prefix


@SETTINGS
@given(st.lists(words, min_size=1, max_size=8))
def test_order_by_follows_the_reference(db: SqliteDatabase, values: list[str]) -> None:
    union = " UNION ALL ".join(f"SELECT N'{v}' AS x" for v in values)
    got = [row[0] for row in db.execute(f"SELECT x FROM ({union}) AS t ORDER BY x", max_rows=100, timeout=5).rows]
    assert sorted(got) == sorted(values)
    assert all(ref_equal(x, y) or ref_key(x) <= ref_key(y) for x, y in itertools.pairwise(got))


moments = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2199, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)


def truncate(unit: str, d: dt.datetime) -> dt.datetime:
    if unit == "year":
        return d.replace(month=1, day=1, hour=0, minute=0, second=0)
    if unit == "quarter":
        return d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0)
    if unit == "month":
        return d.replace(day=1, hour=0, minute=0, second=0)
    if unit == "week":  # back to the Sunday on or before
        return (d - dt.timedelta(days=(d.weekday() + 1) % 7)).replace(hour=0, minute=0, second=0)
    fields = {"day": 3, "hour": 4, "minute": 5, "second": 6}[unit]
    parts = [d.year, d.month, d.day, d.hour, d.minute, d.second][:fields] + [0] * (6 - fields)
    return dt.datetime(*parts)  # type: ignore[arg-type,misc]


def ref_datediff(unit: str, a: dt.datetime, b: dt.datetime) -> int:
    ta, tb = truncate(unit, a), truncate(unit, b)
    if unit in ("year", "quarter", "month"):
        months = (tb.year - ta.year) * 12 + tb.month - ta.month
        return months // {"year": 12, "quarter": 3, "month": 1}[unit]
    size = {"week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1}[unit]
    return int((tb - ta).total_seconds()) // size


UNITS = ["year", "quarter", "month", "week", "day", "hour", "minute", "second"]


@SETTINGS
@given(st.sampled_from(UNITS), moments, moments)
def test_datediff_counts_boundaries_crossed(db: SqliteDatabase, unit: str, a: dt.datetime, b: dt.datetime) -> None:
    got = one(db, f"SELECT DATEDIFF({unit}, '{a:%Y-%m-%d %H:%M:%S}', '{b:%Y-%m-%d %H:%M:%S}')")
    assert got == ref_datediff(unit, a, b)


def ref_dateadd(unit: str, n: int, d: dt.datetime) -> dt.datetime:
    if unit in ("year", "quarter", "month"):
        months = d.month - 1 + n * {"year": 12, "quarter": 3, "month": 1}[unit]
        year, month = d.year + months // 12, months % 12 + 1
        return d.replace(year=year, month=month, day=min(d.day, calendar.monthrange(year, month)[1]))
    return d + dt.timedelta(
        seconds=n * {"week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1}[unit]
    )


@SETTINGS
@given(st.sampled_from(UNITS), st.integers(-500, 500), moments)
def test_dateadd_agrees_with_the_model_and_datediff(db: SqliteDatabase, unit: str, n: int, d: dt.datetime) -> None:
    expected = ref_dateadd(unit, n, d)
    got = one(db, f"SELECT DATEADD({unit}, {n}, '{d:%Y-%m-%d %H:%M:%S}')")
    assert isinstance(got, str) and dt.datetime.fromisoformat(got) == expected
    back = one(db, f"SELECT DATEDIFF({unit}, '{d:%Y-%m-%d %H:%M:%S}', DATEADD({unit}, {n}, '{d:%Y-%m-%d %H:%M:%S}'))")
    assert back == ref_datediff(unit, d, expected)


def guid_ref_key(text: str) -> str:
    """SQL Server's uniqueidentifier order, stated on the text form: the fifth group first, then the fourth,
    then the third, second and first with their bytes read right to left (they are stored little-endian)
    (https://learn.microsoft.com/dotnet/framework/data/adonet/sql/comparing-guid-and-uniqueidentifier-values)."""
    g1, g2, g3, g4, g5 = text.upper().split("-")

    def reversed_bytes(group: str) -> str:
        return "".join(group[i : i + 2] for i in range(len(group) - 2, -1, -2))

    return g5 + g4 + reversed_bytes(g3) + reversed_bytes(g2) + reversed_bytes(g1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.uuids(), min_size=2, max_size=8, unique=True))
def test_order_by_a_guid_follows_sql_servers_byte_groups(db: SqliteDatabase, values: list[object]) -> None:
    union = " UNION ALL ".join(f"SELECT CAST('{v}' AS UNIQUEIDENTIFIER) AS g" for v in values)
    rows = db.execute(f"SELECT g FROM ({union}) AS t ORDER BY g", max_rows=100, timeout=5).rows
    got = [row[0] for row in rows]
    assert got == sorted((str(v).upper() for v in values), key=guid_ref_key)
