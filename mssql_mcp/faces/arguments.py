"""A missing or bad tool argument, said in one line of our own words.

The SDK checks a call's arguments against the tool's input schema (bounds included) before the tool runs,
and on failure answers with pydantic's report: several lines, the model's class name and a link to
pydantic's docs per error. `ToolServer.call_tool` (the public method the SDK's `tools/call` handler calls)
rewrites that report, and only that one, into a sentence naming the argument, e.g.
"get_table_sample: limit must be at most 1000 (got 5000)." The argument names are the tool's own, so
each face speaks of its own tools.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult
from pydantic import ValidationError
from pydantic_core import ErrorDetails

_SHOWN_CHARS = 40  # of a rejected value, echoed back so the caller sees what was refused

_KINDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _sentence(error: ErrorDetails) -> str:
    name = ".".join(str(part) for part in error["loc"]) or "the arguments"
    kind, ctx, got = error["type"], error.get("ctx") or {}, _shown(error.get("input"))
    if kind == "missing":
        return f"{name} is required"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{name} must be at least {ctx.get('ge', ctx.get('gt'))} (got {got})"
    if kind in ("less_than_equal", "less_than"):
        return f"{name} must be at most {ctx.get('le', ctx.get('lt'))} (got {got})"
    if kind == "string_too_long":
        return f"{name} is longer than {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"{name} must not be empty" if ctx.get("min_length") == 1 else f"{name} is too short"
    if kind in _KINDS:
        return f"{name} must be {_KINDS[kind]} (got {got})"
    return f"{name} has a value this tool cannot take (got {got})"


def argument_message(tool: str, error: ValidationError) -> str:
    """One line: `tool: a sentence per bad argument.`"""
    sentences = list(dict.fromkeys(_sentence(e) for e in error.errors(include_url=False)))
    return " ".join(f"{tool}: {'; '.join(sentences)}.".split())


class ToolServer(MCPServer[Any]):
    """The SDK's server, with argument errors in our words (see the module docstring)."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            # Not UnexpectedToolError: a result that fails its output schema is our bug, not the caller's.
            if isinstance(exc.__cause__, ValidationError) and not isinstance(exc, UnexpectedToolError):
                raise ToolError(argument_message(name, exc.__cause__)) from exc.__cause__
            raise
