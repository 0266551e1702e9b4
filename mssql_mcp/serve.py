"""Run one face under uvicorn. Used by `mssql-mcp serve` and the top-level entrypoints."""

from __future__ import annotations

import gc
import logging

import uvicorn

from mssql_mcp.app import FACES, create_app
from mssql_mcp.logs import configure_logging
from mssql_mcp.oauth import ensure_demo_user
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.serve")


def serve(settings: Settings, *, face: str = "claude", demo: bool = False) -> int:
    configure_logging(settings.log_level)
    spec = FACES[face]
    if not settings.read_only_mode:
        log.warning("READ_ONLY_MODE=false: execute_sql can change data%s", " and schema" if settings.allow_ddl else "")
    if demo:
        _announce_demo_user(settings)
    app = create_app(settings, face)
    # Everything imported and built so far lives as long as the process: move it out of the collector's
    # sight, so a full collection no longer walks ~100k objects (a 30-40 ms pause; p99 at 16 sessions fell
    # from ~85 to ~55 ms). https://docs.python.org/3/library/gc.html#gc.freeze
    gc.collect()
    gc.freeze()
    port = settings.effective_port(spec.default_port)
    log.info(
        "listening on http://%s:%d%s (public URL %s)",
        settings.host,
        port,
        spec.prefix,
        settings.effective_public_url(spec.default_port) + spec.prefix,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        log_config=None,  # keep our structured formatter
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=5,
        # asyncio's own loop, even where uvloop is installed: under 500 sessions through nginx uvloop
        # left some requests waiting 10-20 s while others were served in 0.6 s; asyncio served them in
        # turn (max 2.2 s). uvloop's ~3% less CPU per call is not worth that (docs/performance.md).
        loop="asyncio",
    )
    return 0


def _announce_demo_user(settings: Settings) -> None:
    """`make run`: the demo is secure by default, so the first run creates a user and shows its password once."""
    password = ensure_demo_user(settings)
    if password:
        bar = "=" * 64
        print(
            f"\n{bar}\n  Demo sign-in created.  user: demo   password: {password}\n"
            f"  It is shown only this once (stored as an argon2 hash).\n"
            f"  Manage people with: mssql-mcp users add|list|remove|passwd\n{bar}\n",
            flush=True,
        )
