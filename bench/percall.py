"""`python -m bench percall`: our server's own CPU per call, in-process, with no network and no load client.

The app is built as `serve` builds it (`create_app`, sign-in on, the audit line written), and driven
through its ASGI interface one request at a time: a 100-row `execute_sql` on the 2026-07-28 revision
(or the 2025 one), with a real access token in the sign-in store. The figure is the process's CPU time
(every thread: the event loop and the database threads) divided by the calls. It leaves out only the
HTTP parser and the socket, which are the same for every change to our code, so it is the steadiest
figure for an A/B of our per-call work on a shared machine. `--profile` adds a cProfile of the event-loop
thread, by component (bench.profile.COMPONENTS), and our own functions' cumulative time.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import targets
from bench.load import META_CAPABILITIES, META_CLIENT, META_VERSION, MODERN_VERSION
from bench.profile import component
from bench.run import demo_database

PUBLIC_URL = "http://127.0.0.1:8000"


def _mint_token(store_path: Path, username: str) -> str:
    """An access token for `username`, saved as the token endpoint saves one."""
    from mssql_mcp.oauth.provider import SCOPE
    from mssql_mcp.oauth.sqlite_store import SqliteStore
    from mssql_mcp.oauth.store import TokenRecord, digest

    token, now = secrets.token_urlsafe(32), time.time()
    store = SqliteStore(store_path)
    try:
        store.save_token(
            TokenRecord(
                digest(token), "access", "bench-client", username, (SCOPE,), f"{PUBLIC_URL}/mcp", now + 3600, "f1", now
            )
        )
    finally:
        store.close()
    return token


def _request(era: str, token: str, rid: int, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json, text/event-stream"),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    message = {"jsonrpc": "2.0", "id": rid, **body}
    if era == "2026":
        meta = {META_VERSION: MODERN_VERSION, META_CLIENT: {"name": "percall", "version": "1"}, META_CAPABILITIES: {}}
        message["params"] = {**message.get("params", {}), "_meta": meta}
        headers += [(b"mcp-protocol-version", MODERN_VERSION.encode()), (b"mcp-method", body["method"].encode())]
        if body["method"] == "tools/call":
            headers.append((b"mcp-name", body["params"]["name"].encode()))
    else:
        headers.append((b"mcp-protocol-version", b"2025-06-18"))
    raw = json.dumps(message).encode()
    headers.append((b"content-length", str(len(raw)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    return scope, raw


async def _call(app: Any, scope: dict[str, Any], raw: bytes) -> tuple[int, bytes]:
    sent = False
    status, parts = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client is still there; nothing more to read
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(parts)


def run(calls: int = 2000, *, era: str = "2026", profile: bool = False, query: str = targets.TSQL_QUERY) -> str:
    from mssql_mcp.app import create_app
    from mssql_mcp.logs import LogfmtFormatter
    from mssql_mcp.settings import load_settings

    scratch = targets.ROOT / "bench" / ".scratch"
    db = demo_database(scratch)
    # Sign-in on, with a fresh store; the token is saved straight into it (no password: the argon2 hash
    # would dominate a run under callgrind, and the token check never reads the user's record).
    store = scratch / "percall" / f"oauth-{secrets.token_hex(4)}.sqlite"
    store.parent.mkdir(parents=True, exist_ok=True)
    env = {
        "OAUTH_STORE_PATH": str(store),
        "PUBLIC_URL": PUBLIC_URL,
        "SQLITE_PATH": str(db),
        "READ_ONLY_MODE": "true",
        "LOG_LEVEL": "INFO",
    }
    token = _mint_token(store, "bench-1")
    # The audit line is formatted and written as in production, to /dev/null instead of stderr.
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    handler = logging.StreamHandler(sink)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    saved = root.handlers, root.level
    root.handlers, root.level = [handler], logging.INFO
    app = create_app(load_settings(environ=env, env_file=None), "claude")
    body = {"method": "tools/call", "params": {"name": "execute_sql", "arguments": {"query": query}}}

    async def drive() -> tuple[float, float, int, cProfile.Profile | None]:
        async with app.router.lifespan_context(app):
            for i in range(50):  # warm the caches: gate verdict, translation, catalog, imports
                status, answer = await _call(app, *_request(era, token, i, body))
                if status != 200 or b'"isError":true' in answer:
                    raise RuntimeError(f"warm-up call failed: HTTP {status}: {answer[:300]!r}")
            size = len(answer)
            prof = cProfile.Profile() if profile else None
            requests = [_request(era, token, 1000 + i, body) for i in range(calls)]
            cpu, wall = time.process_time(), time.perf_counter()
            if prof:
                prof.enable()
            for scope, raw in requests:
                await _call(app, scope, raw)
            if prof:
                prof.disable()
            return time.process_time() - cpu, time.perf_counter() - wall, size, prof

    try:
        cpu_s, wall_s, size, prof = asyncio.run(drive())
    finally:
        root.handlers, root.level = saved
        sink.close()
    lines = [
        f"in-process, revision {era}, {calls} sequential calls of a {size:,}-byte answer: "
        f"{cpu_s * 1e6 / calls:,.0f} us CPU per call ({wall_s * 1e6 / calls:,.0f} us wall)"
    ]
    if prof is not None:
        lines += _profile_lines(prof, calls)
    return "\n".join(lines)


def _profile_lines(prof: cProfile.Profile, calls: int) -> list[str]:
    stats = pstats.Stats(prof, stream=io.StringIO())
    by_component: Counter[str] = Counter()
    ours: list[tuple[float, str]] = []
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (file, line, func), (_cc, _nc, tottime, cumtime, _callers) in raw.items():
        path = _short(file)
        by_component[component(f"{func} ({path}:{line})")] += tottime
        if path.startswith("mssql_mcp/"):
            ours.append((cumtime, f"{path}:{line} {func}"))
    total = sum(by_component.values()) or 1.0
    out = ["", "event-loop thread under cProfile (its overhead inflates every figure; read the shares):"]
    out += [f"  {share / total:6.1%}  {name}" for name, share in by_component.most_common()]
    out += ["", "our functions, cumulative us per call:"]
    out += [f"  {cum * 1e6 / calls:8.1f}  {where}" for cum, where in sorted(ours, reverse=True)[:25]]
    return out


def _short(file: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", str(targets.ROOT) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    with contextlib.suppress(ValueError):
        return str(Path(file).relative_to(targets.ROOT))
    return file
