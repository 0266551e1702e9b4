"""Performance properties that are correctness in disguise, with generous bounds:

- large results stay cheap: `SELECT *` over the 1M-row OrderLines of the demo at --scale 10 returns the
  capped rows, the server's memory grows by under 50 MB, and the time follows the cap, not the table;
- the event loop stays free: /health answers within milliseconds while 8 slow queries run (the p99 < 20 ms
  goal itself is a verdict of `make bench`, on pinned CPUs; here the bounds only catch a real regression).

Throughput and latency targets against the peers belong to the benchmark (`make bench`), not here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from mssql_mcp.demo import generate
from tests.support.mcp_client import connect, structured, text_of
from tests.support.procs import ServerProcess, running_server

pytestmark = pytest.mark.anyio

CAP = 1000
DEV = {"ALLOW_UNAUTH_METHODS": "true", "ALLOW_UNAUTH_TOOLS_CALL": "true", "LOG_LEVEL": "WARNING"}
# A statement that runs until its timeout cuts it: the recursion never ends on its own in time.
SLOW = "WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000000) SELECT COUNT(*) FROM n"


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


def _reset_peak(pid: int) -> None:
    """Start VmHWM afresh (proc(5), /proc/PID/clear_refs "5"), so the peak is the call's, not start-up's."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.fixture(scope="module")
def scale10_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scale10") / "demo10.sqlite"
    counts = generate(path, scale=10)
    assert counts["OrderLines"] > 950_000, counts  # "about 1M": the line count per order is random
    return path


def _server(db: Path, tmp: Path, **env: str) -> Iterator[ServerProcess]:
    with running_server({"SQLITE_PATH": str(db), "MAX_ROWS": str(CAP), **DEV, **env}, tmp) as server:
        yield server


@pytest.fixture(scope="module")
def big_server(scale10_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server(scale10_db, tmp_path_factory.mktemp("big"))


@pytest.fixture(scope="module")
def small_server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server(demo_db, tmp_path_factory.mktemp("small"))


async def _select_all(server: ServerProcess, runs: int = 5) -> list[float]:
    """Server-side elapsed ms of `SELECT *` over OrderLines, `runs` times, each checked for the cap."""
    elapsed = []
    async with connect(server.base_url) as client:
        for _ in range(runs):
            result = structured(await client.call_tool("execute_sql", {"query": "SELECT * FROM dbo.OrderLines"}))
            assert result["row_count"] == CAP and len(result["rows"]) == CAP and result["truncated"] is True
            elapsed.append(result["elapsed_ms"])
    return elapsed


@pytest.mark.slow
async def test_select_star_over_a_million_rows_is_capped_and_cheap(big_server: ServerProcess) -> None:
    pid = big_server.pid
    await _select_all(big_server, runs=2)  # warm: connections, catalog, caches
    baseline = _status_kb(pid, "VmRSS")
    _reset_peak(pid)
    await _select_all(big_server, runs=5)
    growth_mb = (_status_kb(pid, "VmHWM") - baseline) / 1024
    assert growth_mb < 50, f"memory grew by {growth_mb:.1f} MB for a capped SELECT * over 1M rows"


@pytest.mark.slow
async def test_select_star_time_follows_the_cap_not_the_table(
    big_server: ServerProcess, small_server: ServerProcess
) -> None:
    # Same query, same cap, a table 10x larger: if the whole table were read, it would take ~10x longer.
    big = statistics.median(await _select_all(big_server))
    small = statistics.median(await _select_all(small_server))
    assert big < 3 * small + 20, f"1M rows: {big:.1f} ms, 100k rows: {small:.1f} ms"
    # And a tenth of the cap costs less (generous: per-call overhead does not shrink with the rows).
    async with connect(big_server.base_url) as client:
        tenth = []
        for _ in range(5):
            result = structured(
                await client.call_tool("execute_sql", {"query": f"SELECT TOP {CAP // 10} * FROM dbo.OrderLines"})
            )
            assert result["row_count"] == CAP // 10
            tenth.append(result["elapsed_ms"])
    assert statistics.median(tenth) < big, (tenth, big)


async def _health_timings(http: httpx2.AsyncClient, url: str, seconds: float) -> list[float]:
    timings = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.perf_counter()
        response = await http.get(url)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200 and response.json()["status"] == "ok", response.text
        await anyio.sleep(0.01)
    return sorted(timings)


def _p99(timings: list[float]) -> float:
    return timings[min(len(timings) - 1, int(len(timings) * 0.99))]


@pytest.mark.slow
async def test_health_stays_fast_while_eight_slow_queries_run(demo_db: Path, tmp_path: Path) -> None:
    timeout = 4.0
    # All 8 from one address: let that one caller hold every worker, so that all 8 really grind at once.
    env = {"QUERY_TIMEOUT_SECONDS": str(timeout), "DB_WORKERS": "8", "DB_WORKERS_PER_CALLER": "8"}
    with running_server({"SQLITE_PATH": str(demo_db), **DEV, **env}, tmp_path) as server:
        started = anyio.Event()
        running = 0

        async def slow_call() -> None:
            nonlocal running
            async with connect(server.base_url) as client:
                running += 1
                if running == 8:
                    started.set()
                result = await client.call_tool("execute_sql", {"query": SLOW})
                assert result.is_error and "timeout" in text_of(result).lower(), text_of(result)

        async with httpx2.AsyncClient(timeout=5) as http:
            url = server.base_url + "/health"
            # What this machine adds by itself (a shared 2-core box may be busy with other work).
            idle = await _health_timings(http, url, 1.0)
            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(slow_call)
                await started.wait()
                await anyio.sleep(0.3)  # all 8 are inside the database now
                busy = await _health_timings(http, url, timeout - 1.0)  # sampled only while all 8 still run
    assert len(busy) >= 50, len(busy)
    # The goal (p99 < 20 ms) is measured by `make bench` on a quiet machine. Here the bounds are generous,
    # for a shared 2-core box: a blocked event loop shows whole seconds, a starved one a slow median.
    summary = (
        f"/health with 8 slow queries running: median {statistics.median(busy):.1f} ms, p99 {_p99(busy):.1f} ms "
        f"(idle: median {statistics.median(idle):.1f} ms, p99 {_p99(idle):.1f} ms)"
    )
    assert statistics.median(busy) < 20, summary
    assert _p99(busy) < 250 + _p99(idle), summary
