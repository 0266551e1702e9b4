"""The benchmark harness on a tiny run: it starts every server, drives them, reports, and stops each by PID.

The timings of so short a run mean nothing; what is checked is that every server answered every call
correctly (the load client verifies the row count), that the report has its table, ratios and verdicts,
that our sessions are spread over several signed-in people, and that no server outlives the run. The
peers come from npm once (bench/.scratch/npm, ~25 s) and are reused after that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from bench import peers
from bench.load import _decode
from bench.report import Report, Row, markdown, percentile, summary, verdicts
from bench.run import Config, run


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    if shutil.which("npm") is None and peers.installed() is None:
        pytest.skip("npm is not installed, so the peers cannot be installed (make bootstrap-test installs it)")
    cfg = Config(
        sessions=(1, 2),
        rounds=1,
        warmup_s=0.2,
        window_s=0.6,
        quiet=True,
        scratch=tmp_path_factory.mktemp("bench"),
        include=("ours", "ours-mssql", "dbhub", "toolbox"),
        people=2,
    )
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        cfg.server_cpu = cfg.client_cpu = None
    report = run(cfg)
    assert os.sched_getaffinity(0) == cpus, "the harness must give the test process its CPUs back"
    return report


def test_every_server_answers_correctly_and_is_stopped(tiny_report: Report) -> None:
    names = {r.target for r in tiny_report.rows}
    assert names == {
        "mssql-mcp (SQLite)",
        "mssql-mcp (SQL Server/TDS)",
        f"dbhub {peers.DBHUB_VERSION}",
        f"MCP Toolbox {peers.TOOLBOX_VERSION}",
    }
    for row in tiny_report.rows:
        assert row.errors == 0, (row.target, row.sessions, row.first_error)
        assert row.calls > 0 and row.p50_ms > 0 and row.p99_ms >= row.p50_ms, row
        assert row.peak_rss_mb > 5, row
        assert row.cpu_ms_per_call > 0, row
    pids = tiny_report.meta["pids"]
    assert len(pids) == 5  # four servers and the TDS test server
    assert not [name for name, pid in pids.items() if _alive(pid)], "a server outlived the run"


def test_ours_ran_signed_in(tiny_report: Report) -> None:
    for name in ("mssql-mcp (SQLite)", "mssql-mcp (SQL Server/TDS)"):
        assert any(n.startswith(name) and "sign-in on: 2 people" in n for n in tiny_report.notes), tiny_report.notes
    assert tiny_report.meta["people"] == 2


def test_sessions_are_spread_over_people_each_with_their_share(tmp_path: Path) -> None:
    """K=2: two people sign in through the real flow; sessions take their tokens in turn, and two slow
    queries from two sessions both run, where one person (a share of one worker here) would get "Busy"."""
    from bench import auth, health, targets
    from bench.load import CallFailed, Connection
    from bench.run import demo_database
    from mssql_mcp.oauth.sqlite_store import SqliteStore
    from mssql_mcp.oauth.store import digest

    db = demo_database(tmp_path)
    env = {"DB_WORKERS": "2", "DB_WORKERS_PER_CALLER": "1", "QUERY_TIMEOUT_SECONDS": "1.5", "LOG_LEVEL": "WARNING"}
    target = targets.ours_sqlite(db, env)
    people = auth.prepare(target, tmp_path, 2)
    server = targets.start(target, None, tmp_path / "logs")
    try:
        auth.sign_in(server, people)
        endpoint = dataclasses.replace(target.endpoint, arguments={"query": health.SLOW})
        first, second, third = (endpoint.for_session(i).token for i in range(3))
        assert first != second and third == first, "sessions take the people's tokens round-robin"
        store = SqliteStore(Path(target.env["OAUTH_STORE_PATH"]))
        try:
            owners = [store.get_token(digest(token)) for token in target.endpoint.tokens]
        finally:
            store.close()
        assert [o.username if o else None for o in owners] == ["bench-1", "bench-2"]

        async def slow(i: int) -> str:
            conn = await Connection.open(endpoint.for_session(i))
            try:
                await conn.initialize()
                await conn.call(verify=False)
            except CallFailed as exc:
                return str(exc)
            finally:
                await conn.close()
            return "finished"

        async def both() -> list[str]:
            return list(await asyncio.gather(slow(0), slow(1)))

        answers = asyncio.run(both())
    finally:
        server.stop()
    # Each ran in the database until the timeout cut it; neither waited for the other's turn.
    assert all("timeout" in a.lower() and "busy" not in a.lower() for a in answers), answers


def test_report_has_ratios_and_a_verdict_per_goal(tiny_report: Report) -> None:
    text = summary(tiny_report, high=2, low=1)
    table = [line for line in text.splitlines() if line.startswith("| ") and "sessions" not in line]
    assert len(table) == 8
    assert all("x)" in line for line in table)  # every figure has its ratio to the best peer
    lines = verdicts(tiny_report, high=2, low=1)
    # SQLite: throughput, p50, RSS, errors; SQL Server/TDS: capped (INFO), RSS, errors.
    assert [line.split()[0] for line in lines].count("INFO") == 1
    assert len(lines) == 7 and all(line.split()[0] in ("PASS", "FAIL", "INFO") for line in lines)
    assert json.loads(tiny_report.to_json())["rows"][0]["calls_per_s"] > 0


def test_ratios_are_to_the_best_peer() -> None:
    def row(target: str, peer: bool, calls: int, p50: float, rss: float) -> Row:
        return Row(target, peer, 16, calls, 0, 1.0, p50, p50 * 2, rss, 1.0)

    report = Report(
        [row("ours", False, 3000, 1.0, 50), row("dbhub", True, 1000, 2.0, 200), row("toolbox", True, 1500, 4.0, 100)]
    )
    text = markdown(report)
    assert "| ours | 16 | 3,000 (2.00x) | 1.00 (0.50x) |" in text
    assert "50 (0.50x)" in text  # RSS against the lowest peer
    assert verdicts(report, high=16, low=16)[0].startswith("PASS ours: throughput at 16 sessions 3,000 calls/s = 2.00x")
    assert verdicts(report, high=16, low=16)[2].startswith("PASS ours: peak RSS 50 MB = 0.25x dbhub's")


def test_percentile_and_sse_decoding() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    sse = b'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n'
    assert _decode("text/event-stream", sse) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert _decode("application/json", b'{"result": 1}') == {"result": 1}


def test_loadtest_through_nginx_small(tmp_path: Path) -> None:
    """`make loadtest` in miniature: the production nginx config over TLS, signed in, every answer checked."""
    if not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed (make bootstrap-test installs it)")
    from bench import loadtest

    # 5 sessions a person, as in the full run: one more than a person's share of the workers.
    result = loadtest.run(sessions=20, calls=3, scratch=tmp_path, people=4)
    assert result.errors == [] and result.ok == 60, (result.summary(), result.errors[:3])
    assert result.people == 4


def test_health_verdict_reads_the_p99() -> None:
    from bench.health import HealthResult

    assert HealthResult([1.0] * 99 + [30.0], 0).verdict("x").startswith("PASS x: /health p99 1.0 ms")
    assert HealthResult([1.0] * 98 + [30.0] * 2, 0).verdict("x").startswith("FAIL x: /health p99 30.0 ms")
    assert HealthResult([], 0).verdict("x").startswith("FAIL")


def test_profile_charges_each_sample_to_a_component(tmp_path: Path) -> None:
    from bench.profile import aggregate

    main = "<module> (mssql_mcp/__main__.py:5);_run_module_as_main (<frozen runpy>:198);run (uvicorn/main.py:632)"
    raw = tmp_path / "profile.raw"
    raw.write_text(
        "\n".join(
            [
                f"{main};render_table (mssql_mcp/serialize.py:85) 30",
                f"{main};TypeAdapter.dump_python (pydantic/type_adapter.py:581) 20",
                f"{main};select (selectors.py:468) 50",  # idle: not counted
                "Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:81) 40",  # not the loop
            ]
        )
        + "\n"
    )
    shares, busy, samples = aggregate(raw)
    assert (busy, samples) == (50, 100)
    assert shares["result shaping (json_rows, Markdown table)"] == 30
    assert shares["MCP SDK (transport, dispatch, validation, serialisation)"] == 20
