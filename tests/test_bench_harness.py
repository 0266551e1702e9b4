"""The benchmark harness on a tiny run: it starts every server, drives them, reports, and stops each by PID.

The timings of so short a run mean nothing; what is checked is that every server answered every call
correctly (the load client verifies the row count), that the report has its table, ratios and verdicts,
that our sessions are spread over several signed-in people, that both protocol revisions are driven (the
2026-07-28 one with no handshake and its envelope in `params._meta`), and that no server outlives the run.
The peers come from npm once (bench/.scratch/npm, ~25 s) and are reused after that.
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
from bench.load import Connection, Endpoint, _decode
from bench.report import Report, Row, make_row, markdown, percentile, summary, verdicts
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
        eras=("2025", "2026"),
        rounds=1,
        warmup_s=0.2,
        window_s=0.4,
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


@pytest.mark.slow  # a live run of the harness: every server started and driven (about 10 to 60 s)
def test_every_server_answers_correctly_and_is_stopped(tiny_report: Report) -> None:
    names = {r.target for r in tiny_report.rows}
    assert names == {
        "mssql-mcp (SQLite)",
        "mssql-mcp (SQL Server/TDS)",
        f"dbhub {peers.DBHUB_VERSION}",
        f"MCP Toolbox {peers.TOOLBOX_VERSION}",
    }
    assert {(r.era, r.sessions) for r in tiny_report.rows} == {(e, s) for e in ("2025", "2026") for s in (1, 2)}
    for row in tiny_report.rows:
        assert row.errors == 0, (row.target, row.era, row.sessions, row.first_error)
        assert row.calls > 0 and row.p50_ms > 0 and row.p99_ms >= row.p50_ms, row
        assert row.peak_rss_mb > 5, row
        assert row.cpu_ms_per_call > 0, row
        assert row.text_bytes > 1000, row  # the 100-row answer's text, read from a verified call
    pids = tiny_report.meta["pids"]
    assert len(pids) == 5  # four servers and the TDS test server
    assert not [name for name, pid in pids.items() if _alive(pid)], "a server outlived the run"


@pytest.mark.slow  # a live run of the harness: every server started and driven (about 10 to 60 s)
def test_ours_ran_signed_in(tiny_report: Report) -> None:
    for name in ("mssql-mcp (SQLite)", "mssql-mcp (SQL Server/TDS)"):
        assert any(n.startswith(name) and "sign-in on: 2 people" in n for n in tiny_report.notes), tiny_report.notes
    assert tiny_report.meta["people"] == 2


@pytest.mark.slow  # a live run of the harness: every server started and driven (about 10 to 60 s)
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


@pytest.mark.slow  # a live run of the harness: every server started and driven (about 10 to 60 s)
def test_report_has_ratios_and_a_verdict_per_goal(tiny_report: Report) -> None:
    text = summary(tiny_report, high=2, low=1)
    table = [line for line in text.splitlines() if line.startswith("| ") and "sessions" not in line]
    assert len(table) == 16  # 4 servers x 2 revisions x 2 levels
    assert sum("| 2026-07-28 |" in line for line in table) == 8
    assert all("x)" in line for line in table)  # every figure has its ratio to the best peer
    lines = verdicts(tiny_report, high=2, low=1)
    # SQLite: 2026 calls/s, p50, p99; 2025 calls/s; text bytes; RSS; errors.
    # SQL Server/TDS: capped (INFO), its CPU against the SQLite path's, RSS, errors.
    assert [line.split()[0] for line in lines].count("INFO") == 1
    assert len(lines) == 11 and all(line.split()[0] in ("PASS", "FAIL", "INFO") for line in lines)
    assert any("2026-07-28" in line and "p99" in line for line in lines)
    assert any("SQLite path's (goal <= 1.5x)" in line for line in lines)
    assert json.loads(tiny_report.to_json())["rows"][0]["calls_per_s"] > 0


def test_the_2026_client_sends_no_handshake_and_its_envelope_per_request() -> None:
    """What the 2026-07-28 client writes on the wire, read back by a loopback listener."""

    async def exchange() -> list[bytes]:
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = int(
                    next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
                )
                body = await reader.readexactly(length)
                seen.append(head + body)
                method = json.loads(body)["method"]
                result = {"supportedVersions": ["2026-07-28"]} if method == "server/discover" else {"content": []}
                answer = json.dumps({"jsonrpc": "2.0", "id": json.loads(body)["id"], "result": result}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                writer.write(b"Content-Length: %d\r\n\r\n" % len(answer) + answer)
                if len(seen) == 2:
                    break
            writer.close()

        listener = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        endpoint = dataclasses.replace(_endpoint(port), token="t0k")
        conn = await Connection.open(endpoint, "2026")
        try:
            await conn.initialize()
            await conn.call(verify=False)
        finally:
            await conn.close()
            listener.close()
            await listener.wait_closed()
        return seen

    discover, call = asyncio.run(exchange())
    for raw, method in ((discover, "server/discover"), (call, "tools/call")):
        head, _, body = raw.partition(b"\r\n\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (h.decode().partition(":") for h in head.split(b"\r\n")[1:])
        }
        message = json.loads(body)
        assert message["method"] == method and "initialize" not in body.decode()
        assert headers["mcp-protocol-version"] == "2026-07-28" and headers["mcp-method"] == method
        assert headers["authorization"] == "Bearer t0k" and "mcp-session-id" not in headers
        meta = message["params"]["_meta"]
        assert meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"
        assert "io.modelcontextprotocol/clientCapabilities" in meta and "io.modelcontextprotocol/clientInfo" in meta
    assert "mcp-name" not in discover.decode().lower()
    assert b"\r\nMcp-Name: execute_sql\r\n" in call


def _endpoint(port: int) -> Endpoint:
    return Endpoint("127.0.0.1", port, "/mcp", "execute_sql", {"query": "SELECT 1"}, lambda _r: 0, 0)


def _row(target: str, peer: bool, era: str, sessions: int, rate: float, p50: float, p99: float, **kw: float) -> Row:
    return Row(
        target, peer, sessions, int(rate), 0, 1.0, p50, p99, kw.get("rss", 100.0), kw.get("cpu", 1.0),
        era=era, calls_per_s=rate, text_bytes=int(kw.get("text", 0)),
    )  # fmt: skip


def test_verdicts_are_the_targets() -> None:
    """Each target at its edge: 1.1x calls/s (2026), 1.05x p50, p99 within 10%, 0.85x calls/s (2025), 0.7x text,
    0.5x dbhub's RSS, and the SQL Server path's CPU at 1.5x the SQLite path's."""
    rows = [
        _row("dbhub", True, "2026", 16, 1000, 2.0, 20.0, rss=200, text=10_000),
        _row("toolbox", True, "2026", 16, 800, 3.0, 30.0, rss=100, text=7000),
        _row("dbhub", True, "2026", 1, 500, 2.0, 4.0, rss=200),
        _row("dbhub", True, "2025", 16, 900, 2.0, 20.0, rss=200),
        _row("ours", False, "2026", 16, 1100, 9.0, 22.0, rss=100, text=4900, cpu=2.0),
        _row("ours", False, "2026", 1, 600, 2.1, 3.0, rss=100, cpu=2.0),
        _row("ours", False, "2025", 16, 765, 9.0, 30.0, rss=100, cpu=2.0),
        _row("ours-tds", False, "2026", 16, 90, 50.0, 90.0, rss=90, cpu=3.0),
    ]
    rows[-1].capped = True
    lines = verdicts(Report(rows), high=16, low=1)
    assert [line.split()[0] for line in lines] == ["PASS"] * 7 + ["INFO", "PASS", "PASS", "PASS"], lines
    assert "calls/s at 16 sessions, 2026-07-28, 1,100 = 1.10x" in lines[0]
    assert "p50 at 1 session, 2026-07-28, 2.10 ms = 1.05x" in lines[1]
    assert "p99 at 16 sessions, 2026-07-28, 22.00 ms = 1.10x" in lines[2]
    assert "calls/s at 16 sessions, 2025 (initialize), 765 = 0.85x" in lines[3]
    assert "text of the 100-row answer 4,900 B = 0.70x the best peer's 7,000 B" in lines[4]
    assert "1.50x at 16 (2026-07-28) the SQLite path's" in lines[8]
    # One step past each edge fails it.
    rows[4].calls_per_s, rows[5].p50_ms, rows[4].p99_ms, rows[6].calls_per_s = 1090, 2.2, 22.5, 760
    rows[4].text_bytes, rows[-1].cpu_ms_per_call = 5000, 3.1
    lines = verdicts(Report(rows), high=16, low=1)
    assert [line.split()[0] for line in lines] == ["FAIL"] * 5 + ["PASS", "PASS", "INFO", "FAIL", "PASS", "PASS"]


def test_rows_take_the_median_round() -> None:
    from bench.load import PhaseResult

    phases = [PhaseResult(calls=n, window_s=1.0, latencies_ms=[float(n)] * 10, all_calls=n) for n in (100, 300, 200)]
    row = make_row("ours", False, 16, phases, 50.0, era="2026")
    assert (row.calls_per_s, row.p50_ms, row.p99_ms, row.calls, row.rounds) == (200.0, 200.0, 200.0, 600, 3)


def test_ratios_are_to_the_best_peer_of_the_same_revision() -> None:
    def row(target: str, peer: bool, calls: int, p50: float, rss: float, era: str = "2026") -> Row:
        return _row(target, peer, era, 16, calls, p50, p50 * 2, rss=rss)

    report = Report(
        [
            row("ours", False, 3000, 1.0, 50),
            row("dbhub", True, 1000, 2.0, 200),
            row("toolbox", True, 1500, 4.0, 100),
            row("dbhub", True, 6000, 0.5, 200, era="2025"),  # another revision: not the yardstick
        ]
    )
    text = markdown(report)
    assert "| 2026-07-28 | ours | 16 | 3,000 (2.00x) | 1.00 (0.50x) |" in text
    assert "50 (0.50x)" in text  # RSS against the lowest peer
    assert verdicts(report, high=16, low=16)[0].startswith(
        "PASS ours: calls/s at 16 sessions, 2026-07-28, 3,000 = 2.00x"
    )
    assert any(v.startswith("PASS ours: peak RSS 50 MB = 0.25x dbhub's") for v in verdicts(report, high=16, low=16))


def test_percentile_and_sse_decoding() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    sse = b'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n'
    assert _decode("text/event-stream", sse) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert _decode("application/json", b'{"result": 1}') == {"result": 1}


@pytest.mark.slow  # a live run of the harness: every server started and driven (about 10 to 60 s)
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
