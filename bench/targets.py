"""The servers under test: how each starts (pinned to one CPU), how its SQL tool is called, how it stops.

Every server reads the same SQLite file and answers the same query: 100 rows from a 3-table join. Ours
takes T-SQL (`TOP 100`, `dbo.` names) through its read-only gate; the peers take SQLite's dialect.
Each is started as `taskset -c CPU <argv>` (taskset execs, so the PID is the server's own), stopped by
PID, and its peak RSS read from /proc/PID/status (VmHWM) plus any child processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load import Connection, Endpoint
from bench.peers import Peers
from tests.support.procs import free_port, stop_pid

ROOT = Path(__file__).resolve().parents[1]

JOIN = (
    "o.OrderID, o.OrderDate, c.CompanyName, c.Country, l.LineNumber, l.ProductID, l.Quantity, l.UnitPrice "
    "FROM {s}Orders o JOIN {s}Customers c ON c.CustomerID = o.CustomerID "
    "JOIN {s}OrderLines l ON l.OrderID = o.OrderID ORDER BY o.OrderID, l.LineNumber"
)
ROWS = 100
TSQL_QUERY = f"SELECT TOP {ROWS} " + JOIN.format(s="dbo.")
SQLITE_QUERY = "SELECT " + JOIN.format(s="") + f" LIMIT {ROWS}"


def ours_rows(result: dict[str, Any]) -> int:
    return len(result["structuredContent"]["rows"])


def _dbhub_rows(result: dict[str, Any]) -> int:
    data = json.loads(result["content"][0]["text"])["data"]
    return len(data["statements"][0]["rows"]) if "statements" in data else len(data["rows"])


def _toolbox_rows(result: dict[str, Any]) -> int:
    return len(result["content"])  # one text item per row


@dataclass
class Target:
    name: str
    peer: bool
    argv: list[str]
    env: dict[str, str]
    port: int
    endpoint: Endpoint
    note: str = ""
    health_path: str | None = None  # readiness: GET this; None: an MCP initialize must succeed
    capped: bool = False  # throughput limited outside the server (reported, not judged)


@dataclass
class Running:
    target: Target
    proc: subprocess.Popen[bytes]
    log_path: Path
    started_s: float
    extra_pids: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def peak_rss_mb(self) -> float:
        return sum(_vm_hwm_kb(pid) for pid in [self.pid, *_children(self.pid)]) / 1024

    def reset_peak_rss(self) -> float:
        """Start VmHWM afresh (proc(5), clear_refs "5"); returns the peak up to now. Needs root or the owner."""
        before = self.peak_rss_mb()
        for pid in [self.pid, *_children(self.pid)]:
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        return before

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its children so far (all threads)."""
        return sum(_cpu_ticks(pid) for pid in [self.pid, *_children(self.pid)]) / _TICKS

    def stop(self) -> None:
        stop_pid(self.proc)


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return 0


def _vm_hwm_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *_children(int(child))]
    return found


def ours_sqlite(db: Path, extra_env: dict[str, str] | None = None) -> Target:
    """Our Claude face on the SQLite file, read-only, in dev mode until `bench.auth.prepare` turns sign-in on."""
    port = free_port()
    env = {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SQLITE_PATH": str(db),
        "READ_ONLY_MODE": "true",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    env |= {"ALLOW_UNAUTH_METHODS": "true", "ALLOW_UNAUTH_TOOLS_CALL": "true"}
    endpoint = Endpoint("127.0.0.1", port, "/mcp", "execute_sql", {"query": TSQL_QUERY}, ours_rows, ROWS)
    return Target(
        "mssql-mcp (SQLite)",
        False,
        _ours_argv(),
        env,
        port,
        endpoint,
        health_path="/health",
        note="DEV MODE: no sign-in, no token checks (ALLOW_UNAUTH_*)",
    )


def _ours_argv() -> list[str]:
    return [sys.executable, "-m", "mssql_mcp", "--env-file", os.devnull, "serve", "--face", "claude"]


def dbhub(peers: Peers, db: Path, scratch: Path, token: str) -> Target:
    port = free_port()
    config = scratch / f"dbhub-{port}.toml"
    # Read-only and a row cap, like ours (dbhub configures both per tool in TOML since 1.x).
    config.write_text(
        f'[[sources]]\nid = "default"\ndsn = "sqlite://{db}"\n\n'
        '[[tools]]\nname = "execute_sql"\nsource = "default"\nreadonly = true\nmax_rows = 1000\n'
    )
    argv = [
        str(peers.node),
        str(peers.dbhub),
        f"--config={config}",
        "--transport=http",
        f"--port={port}",
        "--host=127.0.0.1",
        f"--auth-token={token}",
    ]
    endpoint = Endpoint("127.0.0.1", port, "/mcp", "execute_sql", {"sql": SQLITE_QUERY}, _dbhub_rows, ROWS, token)
    return Target(
        f"dbhub {peers.versions['dbhub']}",
        True,
        argv,
        {"NODE_ENV": "production"},
        port,
        endpoint,
        note="read-only, max_rows 1000, static bearer token",
    )


def toolbox(peers: Peers, db: Path) -> Target:
    port = free_port()
    argv = [
        str(peers.toolbox),
        "--prebuilt",
        "sqlite",
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--disable-version-check",
        "--disable-reload",
        "--log-level",
        "WARN",
    ]
    endpoint = Endpoint("127.0.0.1", port, "/mcp", "execute_sql", {"sql": SQLITE_QUERY}, _toolbox_rows, ROWS)
    return Target(
        f"MCP Toolbox {peers.versions['toolbox']}",
        True,
        argv,
        {"SQLITE_DATABASE": str(db)},
        port,
        endpoint,
        note="prebuilt sqlite tools; no auth, no read-only option",
    )


def start(target: Target, cpu: int | None, logdir: Path, timeout: float = 60.0) -> Running:
    """Start pinned to `cpu` (None: unpinned) and wait until an MCP initialize succeeds."""
    logdir.mkdir(parents=True, exist_ok=True)
    log_path = logdir / f"{target.name.split()[0]}-{target.port}.log"
    argv = (["taskset", "-c", str(cpu)] if cpu is not None else []) + target.argv
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSSQL_", "SQLITE_", "OAUTH_", "ALLOW_"))}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env | target.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    running = Running(target, proc, log_path, time.monotonic())
    try:
        _wait_ready(running, timeout)
    except BaseException:
        running.stop()
        raise
    return running


def _wait_ready(running: Running, timeout: float) -> None:
    import asyncio

    target = running.target

    async def probe() -> None:
        if target.health_path is not None:
            with urllib.request.urlopen(f"http://127.0.0.1:{target.port}{target.health_path}", timeout=2):
                return
        conn = await Connection.open(target.endpoint)
        try:
            await conn.initialize()
        finally:
            await conn.close()

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if running.proc.poll() is not None:
            raise RuntimeError(
                f"{running.target.name} exited with {running.proc.returncode}:\n"
                f"{running.log_path.read_text(errors='replace')[-3000:]}"
            )
        try:
            asyncio.run(probe())
            return
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.1)
    raise RuntimeError(
        f"{running.target.name} not ready within {timeout} s ({last}):\n"
        f"{running.log_path.read_text(errors='replace')[-3000:]}"
    )
