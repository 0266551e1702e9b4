"""The MCP request headers (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`) without surrounding whitespace.

A recipient parses a field value without its leading and trailing whitespace (RFC 9110 §5.5), and MCP
2026-07-28 asks servers to do so before comparing these headers with the request body. uvicorn's httptools
parser keeps trailing whitespace, and the SDK compares the values as they come, so `Mcp-Name: list_tables `
would be refused as a mismatch (-32020). This wrapper trims them before the SDK sees them; a request whose
values need no trimming (nearly all) passes through with its scope untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_OWS = b" \t"


def _padded(value: bytes) -> bool:
    return value[:1] in (b" ", b"\t") or value[-1:] in (b" ", b"\t")


class TrimMcpHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers", ())
        # ASGI header names are lower-case.
        if any(name.startswith(b"mcp-") and _padded(value) for name, value in headers):
            trimmed = [(n, v.strip(_OWS) if n.startswith(b"mcp-") else v) for n, v in headers]
            scope = {**scope, "headers": trimmed}
        await self.app(scope, receive, send)
