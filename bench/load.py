"""The load client: MCP sessions over raw HTTP/1.1 keep-alive, one asyncio task and one socket per session.

A session opens one TCP connection and keeps it (as an MCP client's HTTP pool does), then calls
`tools/call` in a closed loop: the next call leaves when the last answer is in. It speaks one of two
protocol eras:

- "2025": `initialize` and `notifications/initialized` first (2025-06-18), then each call with the
  negotiated `MCP-Protocol-Version` header (and the session id, where the server gives one);
- "2026": the 2026-07-28 revision, as the MCP SDK's client sends it: no handshake and no session; one
  `server/discover` first, as a client learns the server's capabilities, then every request carries its
  own envelope in `params._meta` (protocol version, client info and capabilities) and names itself in
  the `MCP-Protocol-Version`, `Mcp-Method` and (for `tools/call`) `Mcp-Name` headers.

Raw sockets rather than an HTTP library, because the client shares nothing with the servers it measures
and must not be the bottleneck on its one CPU (httpx costs ~10x more per request).

Every answer is checked: HTTP 200, a JSON-RPC `result` (never `error`) and no `"isError":true`. The row
count is verified on each session's first call and on every `verify_every`-th call after it, by the
target's own `count_rows` (each peer shapes its result differently).

Responses are `application/json` or `text/event-stream` (dbhub answers with SSE even when stateless);
bodies come with Content-Length or chunked. Streamable HTTP: MCP 2025-06-18 and 2026-07-28, basic/transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = "2025-06-18"
MODERN_VERSION = "2026-07-28"
ERAS = ("2025", "2026")
CLIENT_INFO = {"name": "mssql-mcp-bench", "version": "1"}
# The envelope keys of 2026-07-28 (mcp_types' *_META_KEY); spelled out, the client shares no code with servers.
META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT = "io.modelcontextprotocol/clientInfo"
ACCEPT = "application/json, text/event-stream"


class CallFailed(Exception):
    """One call's answer was not a successful tool result."""


@dataclass
class Endpoint:
    """Where and how to call one server's SQL tool."""

    host: str
    port: int
    path: str
    tool: str
    arguments: dict[str, Any]
    count_rows: Callable[[dict[str, Any]], int]  # result object -> rows it holds
    expect_rows: int
    token: str | None = None  # sent by every session, unless `tokens` is given
    tokens: tuple[str, ...] = ()  # one per person: session i sends tokens[i % len(tokens)] (bench.auth)
    host_header: str | None = None
    tls: ssl.SSLContext | None = None  # HTTPS (through nginx); HTTP/1.1 over TLS, no ALPN

    def for_session(self, i: int) -> Endpoint:
        """The endpoint as session `i` uses it: with its person's token, when there are several people."""
        if not self.tokens:
            return self
        return dataclasses.replace(self, token=self.tokens[i % len(self.tokens)])


@dataclass
class PhaseResult:
    """What one measured window produced."""

    calls: int = 0  # successful calls inside the window
    errors: int = 0
    window_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str | None = None
    all_calls: int = 0  # every completed call, warm-up included (server CPU per call divides by this)
    server_cpu_s: float = 0.0  # filled in by the caller, which can see the server's /proc entry
    text_bytes: int = 0  # UTF-8 bytes of the text content of a verified answer: what a model reads

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.window_s if self.window_s else 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection speaking MCP streamable HTTP."""

    def __init__(
        self, endpoint: Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, era: str = "2025"
    ) -> None:
        if era not in ERAS:
            raise ValueError(f"era must be one of {ERAS}, not {era!r}")
        self.era = era
        self.endpoint = endpoint
        self.reader = reader
        self.writer = writer
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self._next_id = 0
        self.text_bytes = 0  # of the last verified answer

    @classmethod
    async def open(cls, endpoint: Endpoint, era: str = "2025") -> Connection:
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port, limit=1 << 22, ssl=endpoint.tls)
        return cls(endpoint, reader, writer, era)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):  # the peer may have gone first
            await self.writer.wait_closed()

    def _head(self, length: int, extra: tuple[str, ...] = ()) -> bytes:
        ep = self.endpoint
        lines = [
            f"POST {ep.path} HTTP/1.1",
            f"Host: {ep.host_header or f'{ep.host}:{ep.port}'}",
            "Content-Type: application/json",
            f"Accept: {ACCEPT}",
            f"Content-Length: {length}",
        ]
        if ep.token:
            lines.append(f"Authorization: Bearer {ep.token}")
        if self.session_id:
            lines.append(f"Mcp-Session-Id: {self.session_id}")
        if self.protocol_version:
            lines.append(f"MCP-Protocol-Version: {self.protocol_version}")
        lines.extend(extra)
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def post(self, message: dict[str, Any], extra: tuple[str, ...] = ()) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps(message, separators=(",", ":")).encode()
        self.writer.write(self._head(len(body), extra) + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            payload = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            payload = await self._read_chunked()
        elif status in (202, 204):
            payload = b""
        else:  # no framing: the server closes the connection after the body
            payload = await self.reader.read()
        return status, headers, payload

    async def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")  # no trailers are sent by any of the servers
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def rpc(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        extra: tuple[str, ...] = ()
        if self.era == "2026":
            params = {**params, "_meta": _ENVELOPE}
            extra = (f"Mcp-Method: {method}",)
            if method == "tools/call":
                extra += (f"Mcp-Name: {params['name']}",)
        status, headers, payload = await self.post(
            {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}, extra
        )
        if status != 200:
            raise CallFailed(f"{method}: HTTP {status}: {payload[:200]!r}")
        message = _decode(headers.get("content-type", ""), payload)
        if "error" in message or "result" not in message:
            raise CallFailed(f"{method}: {str(message)[:200]}")
        if method == "initialize":
            self.session_id = headers.get("mcp-session-id")
        result: dict[str, Any] = message["result"]
        return result

    async def initialize(self) -> None:
        """Begin as the era does: the handshake (2025), or one `server/discover` (2026-07-28)."""
        if self.era == "2026":
            self.protocol_version = MODERN_VERSION
            result = await self.rpc("server/discover", {})
            if MODERN_VERSION not in result.get("supportedVersions", []):
                raise CallFailed(f"server/discover: {MODERN_VERSION} not among {result.get('supportedVersions')}")
            return
        result = await self.rpc(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": CLIENT_INFO,
            },
        )
        self.protocol_version = result.get("protocolVersion", PROTOCOL_VERSION)
        status, _, payload = await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        if status not in (200, 202, 204):
            raise CallFailed(f"notifications/initialized: HTTP {status}: {payload[:200]!r}")

    async def call(self, verify: bool) -> None:
        result = await self.rpc("tools/call", {"name": self.endpoint.tool, "arguments": self.endpoint.arguments})
        if result.get("isError"):
            raise CallFailed(f"tool error: {str(result.get('content'))[:200]}")
        if verify:
            rows = self.endpoint.count_rows(result)
            if rows != self.endpoint.expect_rows:
                raise CallFailed(f"expected {self.endpoint.expect_rows} rows, got {rows}")
            self.text_bytes = text_bytes(result)


_ENVELOPE = {META_VERSION: MODERN_VERSION, META_CLIENT: CLIENT_INFO, META_CAPABILITIES: {}}


def text_bytes(result: dict[str, Any]) -> int:
    """UTF-8 bytes of a tool result's text content: the part of the answer a model reads as tokens."""
    return sum(len(item.get("text", "").encode()) for item in result.get("content", []) if item.get("type") == "text")


def _decode(content_type: str, payload: bytes) -> dict[str, Any]:
    """The JSON-RPC answer in a JSON body, or in the last `data:` event of an SSE body."""
    if content_type.startswith("text/event-stream"):
        data = [line[5:].strip() for line in payload.split(b"\n") if line.startswith(b"data:")]
        data = [d for d in data if d]
        if not data:
            raise CallFailed(f"empty event stream: {payload[:200]!r}")
        payload = data[-1]
    value: dict[str, Any] = json.loads(payload)
    return value


async def run_phase(
    endpoint: Endpoint,
    *,
    sessions: int,
    warmup_s: float,
    window_s: float,
    verify_every: int = 50,
    era: str = "2025",
) -> PhaseResult:
    """`sessions` concurrent closed-loop sessions: warm up, then count only what completes in the window."""
    result = PhaseResult(window_s=window_s)
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup_s  # sessions connect and initialise during the warm-up
    stop = start + window_s

    async def session(i: int) -> None:
        try:
            conn = await Connection.open(endpoint.for_session(i), era)
        except OSError as exc:
            result.errors += 1
            result.first_error = result.first_error or f"connect: {exc}"
            return
        try:
            await conn.initialize()
            n = 0
            while (now := loop.time()) < stop:
                began = time.perf_counter()
                try:
                    await conn.call(verify=n % verify_every == 0)
                    result.text_bytes = result.text_bytes or conn.text_bytes
                except (CallFailed, ValueError) as exc:
                    ok, error = False, str(exc)
                else:
                    ok, error = True, None
                n += 1
                result.all_calls += 1
                if now >= start and loop.time() <= stop:  # wholly inside the window
                    if ok:
                        result.calls += 1
                        result.latencies_ms.append((time.perf_counter() - began) * 1000)
                    else:
                        result.errors += 1
                        result.first_error = result.first_error or error
        except (CallFailed, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors += 1
            result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
        finally:
            await conn.close()

    await asyncio.gather(*(session(i) for i in range(sessions)))
    return result
