"""The shipped nginx bounds connections in front of the apps: idle, slow-header and slow-body sockets are
closed, requests in progress are capped per client address, and normal calls go through.

The shipped values (10 s header and body timeouts, 30 s keep-alive, 1024 requests per address) are
checked as text; the behaviour is checked on a rendering of the same config with 1 s timeouts and a
per-address cap of 3 (each swap must match the shipped directive, so the test follows the config).
"""

from __future__ import annotations

import http.client
import inspect
import re
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import loadtest
from tests.support import nginx
from tests.support.deploy_stack import DOMAIN, Stack, can_bind, new_ports, render_for, stack
from tests.support.procs import ROOT

pytestmark = pytest.mark.slow

DEV = {"ALLOW_UNAUTH_METHODS": "true", "ALLOW_UNAUTH_TOOLS_CALL": "true", "LOG_LEVEL": "INFO"}
SHIPPED = {
    "client_header_timeout": "10s",
    "client_body_timeout": "10s",
    "keepalive_timeout": "30s",
    "limit_conn per_address": "1024",
}
SHORT = [
    ("client_header_timeout 10s;", "client_header_timeout 1s;"),
    ("client_body_timeout 10s;", "client_body_timeout 1s;"),
    ("keepalive_timeout 30s;", "keepalive_timeout 1s;"),
    ("limit_conn per_address 1024;", "limit_conn per_address 3;"),
]


@pytest.fixture(scope="module")
def short(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, int]]:
    """Both apps behind the shipped config, plus a second nginx with the short rendering; its https port."""
    tmp = tmp_path_factory.mktemp("nginx-limits")
    with stack(tmp / "stack", {**DEV, "SQLITE_PATH": str(demo_db)}) as deployed:
        ports = new_ports(deployed.claude.port, deployed.chatgpt.port)
        (tmp / "letsencrypt").symlink_to(deployed.conf.prefix.parent / "letsencrypt")
        with nginx.running_nginx(render_for(tmp, ports, SHORT), ports.https):
            yield deployed, ports.https


def test_the_shipped_config_bounds_connections() -> None:
    site = (ROOT / "nginx" / "conf.d" / "default.conf").read_text()
    for directive, value in SHIPPED.items():
        assert re.search(rf"^{directive} {value};", site, re.M), directive
    assert "limit_conn_zone $binary_remote_addr zone=per_address:" in site
    assert "keepalive_timeout" not in (ROOT / "nginx" / "nginx.conf").read_text()  # one place only
    # `make loadtest` opens its sessions from 127.0.0.1 at once: the per-address cap must let them all in.
    sessions = inspect.signature(loadtest.run).parameters["sessions"].default
    assert int(SHIPPED["limit_conn per_address"]) >= sessions + 1  # +1: the bench's own sign-in


def tls(port: int, ctx: ssl.SSLContext, source: str = "127.0.0.1") -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return ctx.wrap_socket(raw, server_hostname=DOMAIN)


def closed_after(sock: socket.socket, *, trickle: bytes = b"", every: float = 0.25, limit: float = 6.0) -> float:
    """Seconds until the peer closes `sock` (reading whatever it sends), writing `trickle` every `every` s."""
    started = time.monotonic()
    sock.settimeout(every)
    while time.monotonic() - started < limit:
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except TimeoutError:
            if trickle:
                try:
                    sock.sendall(trickle)
                except OSError:
                    return time.monotonic() - started
        except OSError:  # reset (reset_timedout_connection) or TLS torn down
            return time.monotonic() - started
    raise AssertionError(f"the connection was still open after {limit} s")


def get(sock: ssl.SSLSocket, path: str, *, keep_alive: bool = True) -> tuple[int, bytes]:
    """One request on `sock`; the status and the whole body are read, so the socket can carry the next."""
    connection = "keep-alive" if keep_alive else "close"
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: {connection}\r\n\r\n".encode())
    resp = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
    resp.begin()
    body = resp.read()
    resp.close()  # closes its file object only; the socket stays open for keep-alive
    return resp.status, body


def test_an_idle_socket_is_closed(short: tuple[Stack, int]) -> None:
    _, port = short
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:  # not even a TLS hello
        assert 0.8 < closed_after(raw) < 3.0


def test_a_slow_header_is_cut_off_while_still_arriving(short: tuple[Stack, int]) -> None:
    deployed, port = short
    with tls(port, deployed.tls_context()) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: {DOMAIN}\r\n".encode())
        # One header line every 0.25 s, never the blank line: the timeout counts the whole header.
        assert 0.8 < closed_after(sock, trickle=b"X-Slow: 1\r\n") < 3.0


def test_a_slow_body_is_cut_off(short: tuple[Stack, int]) -> None:
    deployed, port = short
    with tls(port, deployed.tls_context()) as sock:
        head = f"POST /mcp HTTP/1.1\r\nHost: {DOMAIN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        sock.sendall(head.encode() + b'{"jsonrpc":')
        assert closed_after(sock) < 3.0


def test_an_idle_keep_alive_connection_is_closed(short: tuple[Stack, int]) -> None:
    deployed, port = short
    with tls(port, deployed.tls_context()) as sock:
        assert get(sock, "/health")[0] == 200
        time.sleep(0.3)
        assert get(sock, "/health")[0] == 200  # kept alive while in use
        assert 0.5 < closed_after(sock) < 3.0


def test_normal_calls_go_through(short: tuple[Stack, int]) -> None:
    deployed, port = short
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    for path in ("/health", "/chatgpt/health"):
        with tls(port, deployed.tls_context()) as sock:
            assert get(sock, path, keep_alive=False)[0] == 200, path
    with tls(port, deployed.tls_context()) as sock:
        sock.sendall(
            (
                f"POST /mcp HTTP/1.1\r\nHost: {DOMAIN}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            + body
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'"result"' in answer, answer[:500]


def test_requests_in_progress_are_capped_per_address(short: tuple[Stack, int]) -> None:
    deployed, port = short
    ctx = deployed.tls_context()
    streams = [tls(port, ctx) for _ in range(3)]
    try:
        for sock in streams:  # three open SSE streams: three requests in progress from 127.0.0.1
            sock.sendall(f"GET /sse HTTP/1.1\r\nHost: {DOMAIN}\r\nAccept: text/event-stream\r\n\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        with tls(port, ctx) as fourth:
            assert get(fourth, "/health", keep_alive=False)[0] == 429
        if can_bind("127.0.0.2"):
            with tls(port, ctx, source="127.0.0.2") as other:  # another address is not affected
                assert get(other, "/health", keep_alive=False)[0] == 200
    finally:
        for sock in streams:
            sock.close()
    time.sleep(0.3)  # nginx notices the closed streams
    with tls(port, ctx) as again:
        assert get(again, "/health", keep_alive=False)[0] == 200
