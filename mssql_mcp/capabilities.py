"""What a face says it offers: tools, and nothing else; and how long a client may keep the tool list.

mcp 2.3's `MCPServer` always registers prompt and resource handlers with its low-level server, and the
low-level server derives its capabilities from the registered handlers. So without this module both
generations announce `prompts` and `resources` (the 2025 revisions in the `initialize` result, 2026-07-28 in
`server/discover`), and `prompts/get` fails with an internal error instead of saying it is not offered.
The SDK has no switch to leave them out. Its public middleware hook sees every request, so
`OnlyTools`:
- answers every `prompts/*` and `resources/*` request with -32601 Method not found, the JSON-RPC code for
  a method the server does not offer (on the 2026-07-28 wire the SDK maps it to HTTP 404);
- removes `prompts` and `resources` from the capabilities of the `initialize` and `server/discover` results.

`create_app` passes `OnlyTools()`, `CACHE_HINTS` and `subscriptions=False` to `MCPServer`. The last leaves
`subscriptions/listen` unserved: the tool list never changes while the process runs, so there is nothing to
listen for, and the 2026-07-28 `listChanged` flags, which the SDK derives from that method, say so.
"""

from __future__ import annotations

from typing import Any

from mcp.server.caching import CacheHint
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import METHOD_NOT_FOUND

NOT_OFFERED = ("prompts", "resources")
_NOT_OFFERED_PREFIXES = tuple(f"{name}/" for name in NOT_OFFERED)
_ANNOUNCING = frozenset({"initialize", "server/discover"})

# The tool list and the discovery result are fixed for the life of the process and the same for every
# caller, so any cache may share them (scope "public", SEP-2549). They change only when a new version is
# deployed, and a client learns that only by asking again (no listChanged), so the hint is an hour
# rather than forever.
TOOL_LIST_TTL_MS = 3_600_000
CACHE_HINTS: dict[Any, CacheHint] = {
    "tools/list": CacheHint(ttl_ms=TOOL_LIST_TTL_MS, scope="public"),
    "server/discover": CacheHint(ttl_ms=TOOL_LIST_TTL_MS, scope="public"),
}


class OnlyTools(ServerMiddleware[Any]):
    """Refuse the prompt and resource methods, and keep them out of the announced capabilities."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method = ctx.method
        if method.startswith(_NOT_OFFERED_PREFIXES):
            raise MCPError(code=METHOD_NOT_FOUND, message="Method not found", data=method)
        result = await call_next(ctx)
        if method in _ANNOUNCING and isinstance(result, dict):
            capabilities = result.get("capabilities")
            if isinstance(capabilities, dict):
                result["capabilities"] = {k: v for k, v in capabilities.items() if k not in NOT_OFFERED}
        return result
