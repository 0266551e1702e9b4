"""`python -m bench profile`: where our server's time goes under the benchmark's load, sampled by py-spy.

Our server (signed in, pinned like in the benchmark) serves 16 sessions of the 100-row join while py-spy
samples it. Each sample's innermost Python frame is charged to a component, and idle samples (a thread
waiting in epoll, a queue or a condition) are left out, so the shares add up to the server's busy time.
py-spy is a tool, not a dependency: `pip install -r bench/requirements.txt`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bench import auth, targets, tds_path
from bench.load import run_phase
from bench.run import demo_database
from tests.support.procs import stop_pid

# (component, path prefixes of the innermost frame's file, as py-spy prints it), first match wins.
COMPONENTS: list[tuple[str, tuple[str, ...]]] = [
    ("database (our backend, sqlite3, pyodbc)", ("mssql_mcp/db/", "sqlite3/")),
    ("result shaping (json_rows, Markdown table)", ("mssql_mcp/serialize.py", "mssql_mcp/faces/")),
    ("sign-in (bearer token check)", ("mssql_mcp/oauth/", "mcp/server/auth/")),
    (
        "SQL gate and query service",
        (
            "mssql_mcp/sqlgate",
            "mssql_mcp/queries.py",
            "mssql_mcp/workers.py",
            "mssql_mcp/catalog.py",
            "sqlglot/",
            "cachetools/",
        ),
    ),
    ("audit log line", ("mssql_mcp/logs.py", "logging/")),
    (
        "MCP SDK (transport, dispatch, validation, serialisation)",
        ("mcp/", "mcp_types/", "pydantic", "opentelemetry/", "typing.py", "contextlib.py", "dataclasses.py"),
    ),
    ("anyio (the SDK's task groups and streams)", ("anyio/",)),
    ("HTTP server and ASGI (uvicorn, Starlette)", ("uvicorn/", "starlette/", "httptools/", "h11/", "email/")),
    (
        "event loop and thread hand-off (asyncio, concurrent.futures)",
        ("asyncio/", "concurrent/", "threading.py", "selectors.py", "queue.py", "uvloop/"),
    ),
]
# Where a thread waits rather than works: (function, file).
IDLE = {
    ("_worker", "concurrent/futures/thread.py"),
    ("select", "selectors.py"),
    ("wait", "threading.py"),
    ("get", "queue.py"),
    ("run_forever", "asyncio/base_events.py"),
    ("run", "asyncio/runners.py"),
    ("Condition.wait", "threading.py"),
    ("Queue.get", "queue.py"),
    ("Runner.run", "asyncio/runners.py"),
}
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*):\d+\)$")


def _parse(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame)
    return (m.group("func"), m.group("file")) if m else (frame, "")


def component(frame: str) -> str:
    _, file = _parse(frame)
    for name, prefixes in COMPONENTS:
        if file.startswith(prefixes):
            return name
    return "other (native or unknown frames)"


def aggregate(raw: Path, *, main_only: bool = True) -> tuple[collections.Counter[str], int, int]:
    """Busy samples per component from py-spy's raw (collapsed-stack) output.

    `main_only`: only the event-loop thread (its stacks start at runpy). Worker threads are left out: on
    a pinned CPU a runnable worker that waits for the CPU looks busy to a sampler; their share comes from
    /proc's per-thread CPU time instead.
    """
    shares: collections.Counter[str] = collections.Counter()
    busy = samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if main_only and not any("runpy" in f for f in frames[:3]):
            continue
        samples += int(count)
        func, file = _parse(frames[-1])
        if (func, file) in IDLE or (func.rsplit(".", 1)[-1], file) in IDLE:
            continue
        busy += int(count)
        shares[component(frames[-1])] += int(count)
    return shares, busy, samples


def thread_cpu(pid: int) -> tuple[float, float, float]:
    """CPU seconds so far: (main thread in user mode, main thread in the kernel, all other threads)."""
    user = kernel = other = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rpartition(")")[2].split()
            if int(task.name) == pid:
                user += int(fields[11]) / tick
                kernel += int(fields[12]) / tick
            else:
                other += (int(fields[11]) + int(fields[12])) / tick
    return user, kernel, other


def run(
    seconds: float = 10.0, sessions: int = 16, out: Path | None = None, *, mssql: bool = False, era: str = "2026"
) -> str:
    """Profile our SQLite path, or with `mssql` our SQL Server path (through the TDS test server)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: pip install -r bench/requirements.txt")
    scratch = targets.ROOT / "bench" / ".scratch"
    db = demo_database(scratch)
    helper = None
    if mssql:
        helper, backend = tds_path.start_tds(db, scratch / "tds", 1)
        target = tds_path.target(db, backend)
    else:
        target = targets.ours_sqlite(db)
    people = auth.prepare(target, scratch, sessions) if auth.signin_available() else None
    raw = out or scratch / "profile.raw"
    try:
        server = targets.start(target, 0, scratch / "logs")
    except BaseException:
        if helper is not None:
            stop_pid(helper)
        raise
    try:
        if people is not None:
            auth.sign_in(server, people)
        previous = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {1})
        asyncio.run(run_phase(target.endpoint, sessions=sessions, warmup_s=1.0, window_s=1.0, era=era))
        sampler = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(server.pid),
                "--format",
                "raw",
                "--output",
                str(raw),
                "--duration",
                str(int(seconds)),
                "--rate",
                "250",
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cpu_before = thread_cpu(server.pid)
        phase = asyncio.run(run_phase(target.endpoint, sessions=sessions, warmup_s=0.2, window_s=seconds, era=era))
        user_s, kernel_s, other_s = (now - then for now, then in zip(thread_cpu(server.pid), cpu_before, strict=True))
        sampler.wait()
        os.sched_setaffinity(0, previous)
    finally:
        server.stop()
        if helper is not None:
            stop_pid(helper)
    shares, busy, samples = aggregate(raw)
    calls = phase.all_calls or 1
    ms = {name: value * 1000 / calls for name, value in (("user", user_s), ("kernel", kernel_s), ("other", other_s))}
    python_share = busy / samples if samples else 0.0
    lines = [
        f"{target.name}, revision {era}, {sessions} sessions, {phase.calls_per_s:,.0f} calls/s while sampled. "
        "Server CPU per call "
        f"{sum(ms.values()):.2f} ms: event-loop thread {ms['user']:.2f} ms user + {ms['kernel']:.2f} ms kernel; "
        f"database threads {ms['other']:.2f} ms. py-spy finds the event-loop thread in Python code in "
        f"{python_share:.0%} of its samples (the rest: C code such as httptools and sqlite3, system calls, idle).",
        f"Python time of the event-loop thread by component ({busy} samples):",
        "| component | share |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {n / busy * 100:.1f}% |" for name, n in shares.most_common()] if busy else []
    return "\n".join(lines)
