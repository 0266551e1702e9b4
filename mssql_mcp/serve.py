"""Run one face under uvicorn. Used by `mssql-mcp serve` and the top-level entrypoints.

The port is bound before anything else is built, so a taken port is reported in one line naming PORT,
before any "startup complete". Once the server listens, a short block tells the person at the terminal
the MCP URLs, who can sign in, and where the logs go.
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn

from mssql_mcp.errors import ConfigError
from mssql_mcp.faces import FACES
from mssql_mcp.logs import configure_logging
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.serve")


def public_base(settings: Settings, face: str) -> str:
    """The face's root as clients see it, e.g. https://db.example.com/chatgpt."""
    spec = FACES[face]
    return settings.effective_public_url(spec.default_port) + spec.prefix


def mcp_url(settings: Settings, face: str) -> str:
    """The face's streamable HTTP endpoint as clients see it: what `mssql-mcp connect` hands out."""
    return public_base(settings, face) + "/mcp"


def serve(settings: Settings, *, face: str = "claude", demo: bool = False) -> int:
    # Imported here: `mssql-mcp connect` uses this module's URLs without paying for the SDK.
    from mssql_mcp.oauth import ensure_demo_user

    configure_logging(settings.log_level)
    spec = FACES[face]
    check_login_settings(settings)
    port = settings.effective_port(spec.default_port)
    sock = bind(settings.host, port)
    try:
        if not settings.read_only_mode:
            log.warning(
                "READ_ONLY_MODE=false: execute_sql can change data%s", " and schema" if settings.allow_ddl else ""
            )
        password = ensure_demo_user(settings) if demo else None
        banner = start_banner(settings, face, demo=demo, password=password)
        # Several processes: each builds its own app (database pool, store connections) on the shared socket.
        app = build_app(settings, face) if settings.web_concurrency == 1 else None
        log.info(
            "listening on http://%s:%d%s (public URL %s)", settings.host, port, spec.prefix, public_base(settings, face)
        )
        if app is None:
            from mssql_mcp.serve_workers import run_workers

            return run_workers(settings, face, sock, banner)
        _Server(uvicorn_config(app, settings), banner).run(sockets=[sock])
    finally:
        sock.close()
    return 0


def build_app(settings: Settings, face: str) -> Any:
    """The face's ASGI app, built and warmed up, with everything built so far frozen out of the collector."""
    from mssql_mcp.app import create_app
    from mssql_mcp.oauth.users import warm_up

    app = create_app(settings, face)
    warm_up()
    # Everything imported and built so far lives as long as the process: move it out of the collector's
    # sight, so a full collection no longer walks ~100k objects (a 30-40 ms pause; p99 at 16 sessions fell
    # from ~85 to ~55 ms). https://docs.python.org/3/library/gc.html#gc.freeze
    gc.collect()
    gc.freeze()
    return app


def uvicorn_config(app: Any, settings: Settings, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,  # keep our structured formatter
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=5,
        # asyncio's own loop, even where uvloop is installed: under 500 sessions through nginx uvloop
        # left some requests waiting 10-20 s while others were served in 0.6 s; asyncio served them in
        # turn (max 2.2 s). uvloop's ~3% less CPU per call is not worth that (docs/performance.md).
        loop="asyncio",
        **extra,
    )


def check_login_settings(settings: Settings) -> None:
    """A SQL Server login with a value missing is a ConfigError naming it, at start rather than as an 18456
    at every query. Integrated sign-in, a managed identity and a raw connection string need neither value."""
    if not settings.uses_mssql or settings.mssql_connection_string is not None or settings.trusted_connection:
        return
    if settings.mssql_authentication == "ActiveDirectoryMsi":
        return
    if not settings.mssql_user:
        raise ConfigError(
            "MSSQL_USER: not set. MSSQL_HOST is set, so a login is needed: set MSSQL_USER and MSSQL_PASSWORD "
            "(in .env or the environment), or Trusted_Connection=true."
        )
    if settings.mssql_password is None:
        raise ConfigError(f"MSSQL_PASSWORD: not set (MSSQL_USER is {settings.mssql_user}); set it in .env.")


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now; a taken or forbidden port is a ConfigError naming PORT."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        raise ConfigError(f"HOST: cannot listen on {host!r}: no such address on this machine.") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts need no wait
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"PORT: port {port} on {host} is already in use (another server is running there?); "
                "stop it or set PORT to a free port."
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"PORT: port {port} needs root here; set PORT to 1024 or above.") from None
        raise ConfigError(f"HOST: cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, printing our start block once it listens (uvicorn logs no address for given sockets)."""

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self._banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            print(self._banner, flush=True)


def start_banner(settings: Settings, face: str, *, demo: bool, password: str | None) -> str:
    """What the person who ran `make run` needs: the URLs, who signs in, where the logs are."""
    cli = cli_command()
    base = public_base(settings, face)
    clients = "chatgpt|inspector" if face == "chatgpt" else "claude-desktop|claude-ai|inspector"
    face_arg = " --face chatgpt" if face == "chatgpt" else ""
    database = f"SQL Server {settings.mssql_host}" if settings.uses_mssql else f"SQLite {settings.sqlite_path}"
    lines = [
        f"mssql-mcp is serving the {'ChatGPT' if face == 'chatgpt' else 'Claude'} face ({database})",
        f"  MCP URL:     {base}/mcp   (legacy SSE clients: {base}/sse)",
        f"  In a browser: {base}/",
        f"  Connect a client: {cli} connect {clients}{face_arg}",
    ]
    if password:
        lines.append(f"  Demo sign-in created.  user: demo   password: {password}")
        lines.append(f"  It is shown only this once; reset it with: {cli} users passwd demo")
    elif demo:
        lines.append(f"  Sign in as demo (password shown at its first start); reset it with: {cli} users passwd demo")
    lines.append(f"  People who may sign in: {cli} users list|add|passwd|remove")
    lines.append(
        f"  Logs: this terminal (standard error, one key=value line per event; LOG_LEVEL={settings.log_level})"
    )
    lines.append("  Stop: Ctrl+C")
    bar = "=" * 72
    return "\n".join(["", bar, *lines, bar, ""])


def cli_command() -> str:
    """How to run `mssql-mcp` from here: the bare name when the venv is on PATH, else its relative path."""
    exe = Path(sys.executable).parent / "mssql-mcp"
    if not exe.exists():
        return "python -m mssql_mcp"
    found = shutil.which("mssql-mcp")
    if found and Path(found).resolve() == exe.resolve():
        return "mssql-mcp"
    try:
        return str(exe.relative_to(Path.cwd()))
    except ValueError:
        return os.fspath(exe)
