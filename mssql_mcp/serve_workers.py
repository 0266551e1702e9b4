"""WEB_CONCURRENCY > 1: several worker processes of one face on one listening socket (uvicorn's supervisor).

The parent binds the port (serve.bind) and hands the socket to N spawned children. Each child builds the
face's app itself: its own event loop, database pool, store connections and catalog cache. Nothing a
client could multiply lives in a process: the login throttle, the registration and /authorize rates,
codes, tokens and revocations are all in the store (SQLite's file or Redis), which every process shares.

uvicorn's supervisor restarts a worker that dies or stops answering its health ping; a worker that fails
before serving (the store unreachable at start, say) stops the whole server, as a single process would.
"""

from __future__ import annotations

import functools
import logging
import socket
import sys

from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from mssql_mcp.errors import MssqlMcpError
from mssql_mcp.logs import configure_logging
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.serve")


def run_workers(settings: Settings, face: str, sock: socket.socket, banner: str) -> int:
    from mssql_mcp.serve import uvicorn_config

    if not settings.uses_mssql:
        from mssql_mcp.demo import ensure_demo

        ensure_demo(settings.sqlite_path)  # once, here, before the workers would race to write it
    # The app is a picklable factory: each spawned child calls it once (uvicorn's factory=True).
    factory = functools.partial(worker_app, settings, face)
    # A child answers the supervisor's health ping only once it has imported everything and begun to build
    # the app; on a busy host that takes seconds, and uvicorn's default 5 s would kill it as hung.
    config = uvicorn_config(
        factory, settings, factory=True, workers=settings.web_concurrency, timeout_worker_healthcheck=60
    )
    log.info("starting %d worker processes", settings.web_concurrency)
    print(banner, flush=True)
    supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()
    return 1 if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes) else 0


def worker_app(settings: Settings, face: str) -> object:
    """Runs in each child: our log format, then the app. A failure to build it is one line and the exit code
    uvicorn's supervisor reads as "cannot start", so it stops instead of restarting the worker forever."""
    from mssql_mcp.serve import build_app

    configure_logging(settings.log_level)
    try:
        return build_app(settings, face)
    except MssqlMcpError as exc:
        print(f"mssql-mcp: {exc.message}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILURE)
