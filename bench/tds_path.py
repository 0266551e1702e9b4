"""Our server on its SQL Server path: pyodbc + ODBC Driver 18 to the TDS test server over the same SQLite file.

The TDS test server (tests/support/tds) speaks SQL Server's wire protocol and runs each statement in
SQLite. Here it runs in a process of its own (`python -m bench.tds_path DB DIR`, which prints its port),
pinned to the client's CPU: it stands in for a database on another machine, so our server's CPU carries
only our server. Its own cost (a Python protocol server) caps this row's throughput; the row shows what
our SQL Server path costs per call (server CPU ms/call), not what a real SQL Server would allow.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from bench import targets
from bench.targets import ROOT, Target

DRIVER_CASE = "msodbc18"  # Microsoft's ODBC Driver 18 without TLS (tests/support/tds/fixtures.py)


def available() -> bool:
    return (ROOT / "tests" / "support" / "tds" / "server.py").exists() and (
        ROOT / "mssql_mcp" / "db" / "mssql.py"
    ).exists()


def start_tds(db: Path, workdir: Path, cpu: int | None) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """The TDS server process and the environment that points our server at it."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = (["taskset", "-c", str(cpu)] if cpu is not None else []) + [
        sys.executable,
        "-m",
        "bench.tds_path",
        str(db),
        str(workdir),
    ]
    with open(workdir / "tds.log", "wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    with proc.stdout:  # the server prints one line, then only logs to tds.log
        line = proc.stdout.readline().decode()
    if not line.startswith("ENV "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"TDS server did not start: {line!r} {(workdir / 'tds.log').read_text()[-2000:]}")
    env = dict(pair.split("=", 1) for pair in line[4:].strip().split("\t"))
    return proc, env


def target(db: Path, backend: dict[str, str], extra_env: dict[str, str] | None = None) -> Target:
    t = targets.ours_sqlite(db, extra_env)
    t.name = "mssql-mcp (SQL Server/TDS)"
    t.capped = True
    del t.env["SQLITE_PATH"]
    t.env |= backend
    return t


def _serve(db: Path, workdir: Path) -> None:
    from tests.support.tds import TdsServer
    from tests.support.tds.fixtures import DRIVER_CASES, backend_env

    case = next(c for c in DRIVER_CASES if c.id == DRIVER_CASE)
    server = TdsServer(db, workdir, tls=case.tls).start()
    env = backend_env(server, case)
    print("ENV " + "\t".join(f"{k}={v}" for k, v in env.items()), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    _serve(Path(sys.argv[1]), Path(sys.argv[2]))
