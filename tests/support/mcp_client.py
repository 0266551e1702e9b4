"""Talk to a running server with the MCP SDK's own client, over either transport and either protocol era.

The era is the client's `mode`: "2025" is the initialize handshake (the SDK's "legacy" mode, which settles on
2025-11-25), "2026" the 2026-07-28 per-request envelope with no handshake (mode pinned to that revision).
`connect()` speaks the era `use_era()` set (tests/faces/conftest.py's `era` fixture sets it per test, so the
same tool tests run in both), else the SDK's "auto" (discover, then 2026-07-28 where the server has it).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

Transport = Literal["streamable", "sse", "sse-post"]
Era = Literal["2025", "2026"]
MODERN = "2026-07-28"
ERA_MODES: dict[Era, str] = {"2025": "legacy", "2026": MODERN}

_era: Era | None = None


@contextlib.contextmanager
def use_era(era: Era) -> Iterator[None]:
    """Within the block, `connect()` speaks `era` unless told a mode (tests run one at a time)."""
    global _era
    before, _era = _era, era
    try:
        yield
    finally:
        _era = before


@contextlib.asynccontextmanager
async def connect(
    base_url: str,
    transport: Transport = "streamable",
    *,
    auth: httpx2.Auth | None = None,
    prefix: str = "",
    mode: str | None = None,
    read_timeout: float = 60.0,
) -> AsyncIterator[Client]:
    """A connected, initialised SDK client.

    streamable: POST/GET {prefix}/mcp; sse-post: streamable HTTP at {prefix}/sse (the original URL);
    sse: the legacy GET {prefix}/sse stream with POSTs to its message endpoint.
    """
    era = _era if mode is None else None
    mode = mode or (ERA_MODES[era] if era else "auto")
    async with contextlib.AsyncExitStack() as stack:
        if transport == "sse":
            target: Any = sse_client(f"{base_url}{prefix}/sse", auth=auth)
            mode = "legacy"  # the legacy transport speaks only the handshake era
        else:
            path = "/mcp" if transport == "streamable" else "/sse"
            # The SDK does not close a client it was given: close it here, or its sockets leak (ResourceWarning).
            timeout = httpx2.Timeout(30.0, read=read_timeout)
            http = await stack.enter_async_context(httpx2.AsyncClient(auth=auth, timeout=timeout))
            target = streamable_http_client(f"{base_url}{prefix}{path}", http_client=http)
        client = await stack.enter_async_context(Client(target, mode=mode))
        if era is not None and transport != "sse":  # the era really is the one asked for
            assert (client.protocol_version == MODERN) == (era == "2026"), (era, client.protocol_version)
        yield client


def text_of(result: CallToolResult) -> str:
    assert len(result.content) >= 1
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    # Round-trip through JSON: what a client sees on the wire must be plain JSON.
    value: dict[str, Any] = json.loads(json.dumps(result.structured_content))
    return value
