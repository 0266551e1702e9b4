"""What one statement may cost, enforced where the work happens (the query service and the SQLite backend):

- a statement over MAX_STATEMENT_BYTES is refused before it is parsed; parsing runs off the event loop;
- each cell is cut at MAX_CELL_BYTES with a mark, each result stops at MAX_RESULT_BYTES and says why;
- a value SQLite would build past MAX_VALUE_BYTES is an error that says so, never a NULL;
- the deadline holds even when every row is one expensive function call (the watchdog interrupts it);
- one caller holds at most DB_WORKERS_PER_CALLER workers, and the others' calls still go through.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from pathlib import Path

import anyio
import pytest

from mssql_mcp.db import tsql_strings
from mssql_mcp.db.cells import cut_mark
from mssql_mcp.db.sqlite import SqliteDatabase
from mssql_mcp.db.sqlite_limits import WATCHDOG
from mssql_mcp.db.tsql_sqlite import translate
from mssql_mcp.errors import QueryRefused, QueryTimeout, ServerBusy, TranslationError, ValueTooLarge
from mssql_mcp.queries import QueryService, caller_scope

pytestmark = pytest.mark.anyio

BIG_TEXT = 4_000_000  # characters of the one long value in the fixture
# Runs until its timeout: the recursion never ends on its own in time.
SLOW = "WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000000) SELECT COUNT(*) FROM n"


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 4 MB text, one 200 kB blob, a 2,000-row number table and 300 rows of 10 kB text."""
    path = tmp_path_factory.mktemp("limits") / "big.sqlite"
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE Big (id INTEGER PRIMARY KEY, v TEXT, b BLOB)")
        con.execute("INSERT INTO Big VALUES (1, ?, ?)", ("x" * BIG_TEXT, bytes(range(256)) * 800))
        con.execute("CREATE TABLE Nums (i INTEGER PRIMARY KEY)")
        con.executemany("INSERT INTO Nums VALUES (?)", [(i,) for i in range(2000)])
        con.execute("CREATE TABLE Wide (id INTEGER PRIMARY KEY, t TEXT)")
        con.executemany("INSERT INTO Wide VALUES (?, ?)", [(i, "é" * 5000) for i in range(300)])
    con.close()
    return path


def service(db: SqliteDatabase, *, timeout: float = 5.0, workers: int = 2, **kw: int) -> QueryService:
    return QueryService(db, max_rows=1000, timeout=timeout, workers=workers, read_only=True, **kw)


# -- statement size ---------------------------------------------------------------------------------


async def test_a_statement_over_the_limit_is_refused_before_parsing(big_db: Path) -> None:
    queries = service(SqliteDatabase(big_db), max_statement_bytes=65_536)
    try:
        # Half a million terms would take the parser minutes; the size check answers at once.
        started = time.perf_counter()
        with pytest.raises(QueryRefused, match=r"1000008 bytes; the limit is 65536 \(MAX_STATEMENT_BYTES\)"):
            await queries.run("SELECT " + "1+" * 500_000 + "1")
        assert time.perf_counter() - started < 0.5
        # Multi-byte text counts in UTF-8 bytes, not characters.
        with pytest.raises(QueryRefused, match="MAX_STATEMENT_BYTES"):
            await queries.run("SELECT '" + "é" * 33_000 + "'")
        outcome = await queries.run("SELECT '" + "x" * 60_000 + "' AS s")
        assert outcome.result.rows[0][0] == "x" * 60_000
    finally:
        queries.close()


async def test_long_statements_are_parsed_off_the_event_loop(big_db: Path) -> None:
    """Eight 40 kB expressions from one caller (seconds of parsing each) and the loop still answers at once."""
    queries = service(SqliteDatabase(big_db), workers=8)
    heavy = "SELECT " + "1+" * 20_000 + "1"
    lags: list[float] = []
    outcomes: list[str] = []

    async def hostile(i: int) -> None:
        with caller_scope("user:mallory"):
            try:
                await queries.run(heavy + " " * i)
                outcomes.append("ran")
            except (QueryRefused, QueryTimeout, ServerBusy) as exc:
                outcomes.append(type(exc).__name__)

    async def probe() -> None:
        await anyio.sleep(0.3)
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            began = time.perf_counter()
            await anyio.sleep(0.01)
            lags.append((time.perf_counter() - began) * 1000 - 10)

    async def other_user() -> float:
        await anyio.sleep(1.0)
        with caller_scope("user:bob"):
            began = time.perf_counter()
            outcome = await queries.run("SELECT COUNT(*) FROM Nums")
        assert outcome.result.rows == [(2000,)]
        return time.perf_counter() - began

    try:
        results = await asyncio.gather(*(hostile(i) for i in range(8)), probe(), other_user())
    finally:
        queries.close()
    lags.sort()
    summary = f"loop lag median {statistics.median(lags):.1f} ms, p90 {lags[int(len(lags) * 0.9)]:.1f} ms"
    assert statistics.median(lags) < 20, summary
    assert lags[int(len(lags) * 0.9)] < 100, summary
    assert results[-1] < 1.0, f"another person's query took {results[-1]:.2f} s"
    # One long statement per person is checked at a time; the others waited their turn, then were told.
    assert "ServerBusy" in outcomes, outcomes


# -- cells and results ------------------------------------------------------------------------------


async def test_long_cells_are_cut_with_a_mark(big_db: Path) -> None:
    db = SqliteDatabase(big_db, max_cell_bytes=1024)
    result = db.execute("SELECT v, b, LEN(v) AS n FROM Big", max_rows=10, timeout=5)
    text, blob, length = result.rows[0]
    assert text == "x" * 1024 + cut_mark(1024)
    assert blob.startswith("0x000102030405060708090A0B0C0D0E0F") and blob.endswith(cut_mark(1024))
    assert length == BIG_TEXT  # the database saw the whole value; only what is sent back is cut
    # Multi-byte text is cut on a character boundary, within the byte cap.
    (wide,) = db.execute("SELECT TOP 1 t FROM Wide", max_rows=10, timeout=5).rows[0]
    assert wide == "é" * 512 + cut_mark(1024)
    db.close()


async def test_results_stop_at_the_byte_cap_and_say_why(big_db: Path) -> None:
    queries = service(SqliteDatabase(big_db), max_result_bytes=1_000_000)
    try:
        # 300 rows of 5,000 two-byte characters: ~30 kB each as counted, so the cap stops well before MAX_ROWS.
        outcome = await queries.run("SELECT id, t FROM Wide ORDER BY id")
        r = outcome.result
        assert r.truncated and r.truncated_reason == "bytes"
        assert 20 <= r.row_count < 300 and r.row_count == len(r.rows)
        assert r.size_bytes is not None and r.size_bytes <= 1_000_000
        rows = await queries.run("SELECT TOP 2000 i FROM Nums")
        assert rows.result.truncated and rows.result.truncated_reason == "rows"
        assert rows.result.row_count == 1000
        whole = await queries.run("SELECT TOP 10 i FROM Nums")
        assert not whole.result.truncated and whole.result.truncated_reason is None
    finally:
        queries.close()


# -- values built in the database -------------------------------------------------------------------


async def test_a_value_past_the_length_limit_is_an_error_not_a_null(big_db: Path) -> None:
    queries = service(SqliteDatabase(big_db, max_value_bytes=1_000_000))
    doubling = (
        "WITH r(s, n) AS (SELECT CAST('x' AS varchar(8000)), 1 UNION ALL SELECT CONCAT(s, s), n + 1 FROM r "
        "WHERE n < 40) SELECT MAX(LEN(s)) FROM r"
    )
    try:
        with pytest.raises(ValueTooLarge, match=r"1000000-byte limit \(MAX_VALUE_BYTES\)"):
            await queries.run(doubling)
        with pytest.raises(ValueTooLarge):  # a stored value past the limit cannot be read either
            await queries.run("SELECT v FROM Big")
        small = await queries.run(doubling.replace("n < 40", "n < 10"))
        assert small.result.rows == [(512,)]
    finally:
        queries.close()


def test_the_translation_never_pads_with_printf() -> None:
    """SQLite's printf() answers NULL, not an error, past the length limit: padding must not be built with it."""
    for sql in (
        "SELECT REPLICATE('ab', 3)",
        "SELECT SPACE(10)",
        "SELECT FORMAT(1.5, 'N2')",
        "SELECT STR(1.5, 10, 2)",
        "SELECT RIGHT('0000' + CAST(5 AS varchar(10)), 4)",
        "SELECT CONCAT('a', 1, NULL)",
    ):
        try:
            text = translate(sql).upper()
        except TranslationError:
            continue  # refused outright (FORMAT, STR): then nothing is padded at all
        assert "PRINTF" not in text and "FORMAT(" not in text.replace("NUMBER_TO_STR", "")


def test_replace_over_a_large_value_is_one_short_call() -> None:
    """REPLACE runs as one SQLite function call, which no interrupt can stop midway: it must stay short on the
    largest value allowed, and keep the collation (case-insensitive, accent-sensitive) and a literal backslash."""
    started = time.process_time()
    assert tsql_strings.replace("xX" * 2_000_000, "x", "\\1") == "\\1" * 4_000_000
    assert time.process_time() - started < 2.0
    assert tsql_strings.replace("Zürich zurich", "ZÜRICH", "Z") == "Z zurich"


# -- time ---------------------------------------------------------------------------------------------


async def test_the_deadline_holds_when_each_row_is_one_expensive_call(big_db: Path) -> None:
    """2,000 rows, each one REPLACE over a 4 MB text (~15 ms, a handful of VM steps; it depends
    on the row, so SQLite cannot hoist it out of the loop): the progress handler alone
    would look at the clock only every few hundred rows, seconds late. The watchdog interrupts on time."""
    db = SqliteDatabase(big_db)
    heavy = "SELECT COUNT(*) FROM Big CROSS JOIN Nums WHERE LEN(REPLACE(Big.v, CHAR(120 + Nums.i % 2), 'y')) = 0"
    interrupts = WATCHDOG.interrupts
    started = time.perf_counter()
    with pytest.raises(QueryTimeout):
        db.execute(heavy, max_rows=10, timeout=1.0)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.5, f"stopped after {elapsed:.2f} s for a 1 s timeout"
    assert WATCHDOG.interrupts == interrupts + 1
    # The connection is fine afterwards: the interrupt does not leak into its next statement.
    assert db.execute("SELECT COUNT(*) FROM Nums", max_rows=10, timeout=5).rows == [(2000,)]
    db.close()


# -- fairness -------------------------------------------------------------------------------------------


async def test_one_caller_holds_at_most_half_the_workers(big_db: Path) -> None:
    queries = service(SqliteDatabase(big_db), timeout=2.0, workers=4)
    assert queries.per_caller == 2
    outcomes: list[str] = []
    held: list[int] = []

    async def hostile() -> None:
        with caller_scope("user:mallory"):
            try:
                await queries.run(SLOW)
                outcomes.append("ran")
            except (QueryTimeout, ServerBusy) as exc:
                outcomes.append(type(exc).__name__)

    async def watch() -> None:
        while len(outcomes) < 8:
            held.append(queries.in_flight("user:mallory"))
            await anyio.sleep(0.05)

    async def normal() -> float:
        await anyio.sleep(0.5)  # the hostile calls hold their share by now
        with caller_scope("user:bob"):
            began = time.perf_counter()
            outcome = await queries.run("SELECT 1 AS one")
        assert outcome.result.rows == [(1,)]
        return time.perf_counter() - began

    try:
        *_, latency = await asyncio.gather(*(hostile() for _ in range(8)), watch(), normal())
    finally:
        queries.close()
    assert latency < 0.5, f"another person's SELECT 1 took {latency:.2f} s"
    assert max(held) == 2, held
    # Two ran to their timeout; the others waited for a turn, and were told "busy" when none came in time
    # (one or two may get the turn the first two free, and run to their own timeout).
    assert outcomes.count("QueryTimeout") >= 2 and outcomes.count("ServerBusy") >= 4, outcomes
    assert outcomes.count("QueryTimeout") + outcomes.count("ServerBusy") == 8, outcomes
    busy = await _busy_message(big_db)
    assert "DB_WORKERS_PER_CALLER" in busy and "Try again" in busy


async def _busy_message(db: Path) -> str:
    queries = service(SqliteDatabase(db), timeout=0.5, workers=2, per_caller=1)
    try:
        with caller_scope("addr:127.0.0.9"):
            results = await asyncio.gather(queries.run(SLOW), queries.run(SLOW), return_exceptions=True)
    finally:
        queries.close()
    (busy,) = [r for r in results if isinstance(r, ServerBusy)]
    return busy.message
