"""The benchmark run: start every server on the server CPU, drive each in rotated order from the client CPU.

    for era in ("2025", "2026"):         # the protocol revision the load client speaks (bench.load)
        for sessions in (1, 16):         # each level is a block, so peak RSS can be read after it
            for round in range(rounds):
                for target in rotated(targets, round):   # no server always goes first (or last)
                    warm-up, then a fixed window of closed-loop calls

All servers run for the whole benchmark, each pinned to CPU 0 with taskset; the idle ones wait on their
sockets. This process pins itself to CPU 1 once they are up. Every server is stopped by PID at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench import auth, health, peers, targets, tds_path
from bench.load import PhaseResult, run_phase
from bench.report import Report, Row, make_row
from tests.support.procs import stop_pid

DEFAULT_DB_SCALE = 1
T = TypeVar("T")


@dataclass
class Config:
    sessions: tuple[int, ...] = (1, 16)
    eras: tuple[str, ...] = ("2025", "2026")  # 2025: initialize first; 2026: the 2026-07-28 envelope
    rounds: int = 3
    warmup_s: float = 2.0
    window_s: float = 5.0
    server_cpu: int | None = 0
    client_cpu: int | None = 1
    scratch: Path = peers.SCRATCH  # database, logs, sign-in stores
    npm_dir: Path = peers.SCRATCH / "npm"  # the peers' install, shared between runs
    include: tuple[str, ...] = ("ours", "ours-mssql", "dbhub", "toolbox", "health")
    people: int = 16  # our sessions are spread over this many signed-in people (bench.auth)
    ours_env: dict[str, str] = field(default_factory=dict)
    signin: bool = True
    quiet: bool = False


def demo_database(scratch: Path, scale: int = DEFAULT_DB_SCALE) -> Path:
    """The one SQLite file every server reads, made by the product's own demo generator."""
    from mssql_mcp.demo import generate

    path = scratch / f"demo-scale{scale}.sqlite"
    if not path.exists():
        generate(path, scale=scale)
    return path


def rotated(items: list[T], k: int) -> list[T]:
    k %= len(items)
    return items[k:] + items[:k]


def _pin_self(cpu: int | None) -> set[int] | None:
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    return before


@contextlib.contextmanager
def running(cfg: Config, db: Path) -> Iterator[tuple[list[targets.Running], list[str], dict[str, int]]]:
    """Start the selected servers; yield them, the notes they bring and helper PIDs; stop each by PID."""
    notes: list[str] = []
    logs = cfg.scratch / "logs"
    started: list[targets.Running] = []
    helpers: list[subprocess.Popen[bytes]] = []
    try:
        selected: list[targets.Target] = []
        if "ours" in cfg.include:
            selected.append(_signed_in(cfg, targets.ours_sqlite(db, cfg.ours_env), started, logs))
        if "ours-mssql" in cfg.include:
            if tds_path.available():
                tds, backend = tds_path.start_tds(db, cfg.scratch / "tds", cfg.client_cpu)
                helpers.append(tds)
                selected.append(_signed_in(cfg, tds_path.target(db, backend, cfg.ours_env), started, logs))
                notes.append(
                    f"{selected[-1].name}: the TDS test server (Python, {tds_path.DRIVER_CASE}) runs on the "
                    "client CPU and limits this row; its server CPU ms/call is our SQL Server path's cost"
                )
            else:
                notes.append("mssql-mcp (SQL Server/TDS): left out, the TDS test server or the backend is missing")
        if "dbhub" in cfg.include or "toolbox" in cfg.include:
            installed = peers.install(cfg.npm_dir, quiet=cfg.quiet)
            if "dbhub" in cfg.include:
                selected.append(targets.dbhub(installed, db, cfg.scratch, secrets.token_urlsafe(24)))
            if "toolbox" in cfg.include:
                selected.append(targets.toolbox(installed, db))
        for target in selected:
            if not any(r.target is target for r in started):
                started.append(targets.start(target, cfg.server_cpu, logs))
        notes += [f"{r.target.name}: {r.target.note}" for r in started if r.target.note]
        yield started, notes, ({"TDS test server": helpers[0].pid} if helpers else {})
    finally:
        for server in started:
            server.stop()
        for helper in helpers:
            stop_pid(helper)


def _signed_in(cfg: Config, target: targets.Target, started: list[targets.Running], logs: Path) -> targets.Target:
    """One of our servers, with sign-in on and a token from the real OAuth flow when the driver is in the tree."""
    if auth.signin_available() and cfg.signin:
        people = auth.prepare(target, cfg.scratch, cfg.people)
        server = targets.start(target, cfg.server_cpu, logs)
        started.append(server)
        auth.sign_in(server, people)
        target.note = (
            f"sign-in on: {people.count} people signed in through the real OAuth flow; every call carries "
            "an access token, sessions taking the people's in turn"
        )
    return target


def run(cfg: Config) -> Report:
    cfg.scratch.mkdir(parents=True, exist_ok=True)
    db = demo_database(cfg.scratch)
    report = Report(
        rows=[],
        meta={
            "sessions": list(cfg.sessions),
            "eras": list(cfg.eras),
            "rounds": cfg.rounds,
            "warmup_s": cfg.warmup_s,
            "window_s": cfg.window_s,
            "server_cpu": cfg.server_cpu,
            "client_cpu": cfg.client_cpu,
            "database": db.name,
            "query_tsql": targets.TSQL_QUERY,
            "query_sqlite": targets.SQLITE_QUERY,
            "people": cfg.people,
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        },
    )
    with running(cfg, db) as (servers, notes, helper_pids):
        report.notes += notes
        report.meta["pids"] = {s.target.name: s.pid for s in servers} | helper_pids
        # Peak RSS is measured under load: start-up (and our sign-in's argon2 hash) is not the steady state.
        startup = {s.target.name: s.reset_peak_rss() for s in servers}
        report.notes.append(
            "peak RSS is VmHWM under load (reset after start-up); start-up peaks: "
            + ", ".join(f"{name} {mb:.0f} MB" for name, mb in startup.items())
        )
        previous = _pin_self(cfg.client_cpu)
        try:
            for era in cfg.eras:
                for sessions in cfg.sessions:
                    report.rows += _level(servers, era, sessions, cfg)
        finally:
            if previous is not None:
                os.sched_setaffinity(0, previous)
    report.rows.sort(key=_order)
    if "health" in cfg.include:
        previous = _pin_self(cfg.client_cpu)
        try:
            result = health.run(db, cfg.scratch, cfg.server_cpu, signin=cfg.signin)
        finally:
            if previous is not None:
                os.sched_setaffinity(0, previous)
        report.extra_verdicts.append(result.verdict("mssql-mcp (SQLite)"))
        report.meta["health_under_slow_queries"] = {
            "p50_ms": result.p50,
            "p99_ms": result.p99,
            "samples": len(result.samples),
            "slow_errors": result.slow_errors,
        }
    return report


def _level(servers: list[targets.Running], era: str, sessions: int, cfg: Config) -> list[Row]:
    """Every server at one revision and concurrency, `cfg.rounds` times in rotated order: a row each."""
    phases: dict[str, list[PhaseResult]] = {s.target.name: [] for s in servers}
    for rnd in range(cfg.rounds):
        for server in rotated(servers, rnd):
            phase = _phase(server, sessions, cfg, era)
            phases[server.target.name].append(phase)
            if not cfg.quiet:
                print(
                    f"bench: {server.target.name:<24} era={era} sessions={sessions:<3} round={rnd + 1} "
                    f"{phase.calls_per_s:8,.0f} calls/s errors={phase.errors}",
                    flush=True,
                )
    return [
        make_row(
            s.target.name,
            s.target.peer,
            sessions,
            phases[s.target.name],
            s.peak_rss_mb(),
            s.target.capped,
            era,
        )
        for s in servers
    ]


def _phase(server: targets.Running, sessions: int, cfg: Config, era: str = "2025") -> PhaseResult:
    cpu_before = server.cpu_seconds()
    phase = asyncio.run(
        run_phase(server.target.endpoint, sessions=sessions, warmup_s=cfg.warmup_s, window_s=cfg.window_s, era=era)
    )
    phase.server_cpu_s = server.cpu_seconds() - cpu_before
    return phase


def _order(row: Row) -> tuple[int, str, int, str]:
    return (row.sessions, row.era, int(row.peer), row.target)
