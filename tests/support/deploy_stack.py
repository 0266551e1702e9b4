"""The production shape on loopback: both faces behind Debian's nginx running the project's config over TLS.

`stack(...)` starts the Claude and ChatGPT apps as real processes (tests/support/procs.py), issues a
certificate for 127.0.0.1 from a throwaway CA, renders nginx/ for loopback ports and runs it; everything
is stopped by PID on exit. `sse_delays` times events on a live SSE stream through the proxy.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import shutil
import socket
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support import nginx, tlsca
from tests.support.procs import ServerProcess, free_port, running_server

DOMAIN = "127.0.0.1"  # an IP: no name resolution involved, and Host/SNI stay within the apps' loopback allowlist


@dataclass
class Stack:
    ports: nginx.Ports
    conf: nginx.Rendered
    ca: tlsca.Pair
    webroot: Path
    claude: ServerProcess
    chatgpt: ServerProcess

    @property
    def https(self) -> str:
        return f"https://{DOMAIN}:{self.ports.https}"

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca.cert))

    def access_lines(self, needle: str) -> list[str]:
        return [line for line in self.conf.access_log.read_text().splitlines() if needle in line]

    def upstream_of(self, request_line: str) -> int:
        """The upstream port nginx sent the last request with this request line to."""
        # nginx logs a request after answering it, so the client can be a moment ahead of the log.
        deadline = time.monotonic() + 5
        while not (lines := self.access_lines(f'"{request_line} HTTP/')) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lines, f"no access-log line for {request_line!r}"
        match = re.search(r"upstream=127\.0\.0\.1:(\d+)", lines[-1])
        assert match, lines[-1]
        return int(match.group(1))


def can_bind(address: str) -> bool:
    """Whether this machine lets a client use `address` (e.g. 127.0.0.2) as its source address."""
    with socket.socket() as s:
        try:
            s.bind((address, 0))
        except OSError:
            return False
    return True


def install_certificate(ca: tlsca.Pair, letsencrypt: Path, domain: str) -> None:
    """What certbot leaves behind: live/<domain>/fullchain.pem and privkey.pem."""
    live = letsencrypt / "live" / domain
    leaf = tlsca.issue(ca, letsencrypt / "issued", [domain, "localhost"])
    live.mkdir(parents=True, exist_ok=True)
    shutil.copy(leaf.cert, live / "fullchain.pem")
    shutil.copy(leaf.key, live / "privkey.pem")


def render_for(tmp: Path, ports: nginx.Ports, edits: Sequence[tuple[str, str]] = ()) -> nginx.Rendered:
    return nginx.render(
        tmp / "nginx",
        domain=DOMAIN,
        ports=ports,
        letsencrypt=tmp / "letsencrypt",
        webroot=tmp / "www",
        site_edits=edits,
    )


def new_ports(claude: int, chatgpt: int) -> nginx.Ports:
    """Fresh nginx ports in front of the same two apps (for control configs beside the main one)."""
    return nginx.Ports(http=free_port(), https=free_port(), health=free_port(), claude=claude, chatgpt=chatgpt)


@contextlib.contextmanager
def stack(tmp: Path, app_env: Mapping[str, str], *, https_port: int | None = None) -> Iterator[Stack]:
    """Both faces (with `app_env`) behind nginx. PUBLIC_URL is the https URL clients use."""
    https_port = https_port or free_port()
    public = f"https://{DOMAIN}:{https_port}"
    ca = tlsca.make_ca(tmp / "ca")
    install_certificate(ca, tmp / "letsencrypt", DOMAIN)
    (tmp / "www").mkdir(exist_ok=True)
    # nginx connects from 127.0.0.1, so that is the proxy address the apps trust (FORWARDED_ALLOW_IPS).
    env = {**app_env, "PUBLIC_URL": public, "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with (
        running_server(env, tmp, face="claude") as claude,
        running_server(env, tmp, face="chatgpt", health_path="/chatgpt/health") as chatgpt,
    ):
        ports = nginx.Ports(
            http=free_port(), https=https_port, health=free_port(), claude=claude.port, chatgpt=chatgpt.port
        )
        conf = render_for(tmp, ports)
        with nginx.running_nginx(conf, ports.https):
            yield Stack(ports, conf, ca, tmp / "www", claude, chatgpt)


# -- SSE through the proxy ----------------------------------------------------------------------

_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "deploy-test", "version": "1"},
    },
}
_INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def _read_event(resp: http.client.HTTPResponse) -> tuple[str, str]:
    event, data = "message", []
    while True:
        line = resp.readline().decode().rstrip("\r\n")
        if not line:
            if data:
                return event, "\n".join(data)
            continue  # a blank line before any field (or a comment-only block)
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def sse_delays(port: int, ctx: ssl.SSLContext, prefix: str = "", limit: float = 2.0) -> list[float]:
    """Seconds from cause to arrival for three events on one legacy GET {prefix}/sse stream through nginx:
    the `endpoint` event (from opening the stream), then the answers to initialize and tools/list (from
    their POSTs). An event not there within `limit` seconds, while the stream is still open, fails."""
    stream = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=limit)
    delays: list[float] = []
    try:
        start = time.monotonic()
        stream.request("GET", f"{prefix}/sse", headers={"Accept": "text/event-stream"})
        resp = stream.getresponse()  # with buffering, even the response head waits
        assert resp.status == 200, resp.status
        event, endpoint = _read_event(resp)
        delays.append(time.monotonic() - start)
        assert event == "endpoint", event
        for message in (_INIT, _INITIALIZED, _LIST):
            sent = time.monotonic()
            _post(port, ctx, endpoint, message)
            if "id" not in message:
                continue  # a notification gets no answer
            _, body = _read_event(resp)
            delays.append(time.monotonic() - sent)
            assert json.loads(body)["id"] == message["id"], body
    except TimeoutError:
        raise AssertionError(f"an SSE event did not arrive within {limit} s (arrived so far: {delays})") from None
    finally:
        stream.close()
    return delays


def _post(port: int, ctx: ssl.SSLContext, path: str, message: Mapping[str, object]) -> None:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(message), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 202, resp.status
    finally:
        conn.close()
