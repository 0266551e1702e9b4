"""The faces: what each kind of client sees, over one shared core (queries, catalog, gate, database, OAuth).

`FACES` is the one registry of faces. It stays light (no MCP or Starlette import) so the command line can
list the faces without paying for them; a face's module is imported when the app is built.

    claude   port 8008, no prefix    list_tables, describe_table, execute_sql, get_table_sample
    chatgpt  port 8009, /chatgpt     search and fetch, plus the HTML record pages behind each result's url
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from mssql_mcp.faces.common import FaceContext


@dataclass(frozen=True)
class Face:
    name: str
    default_port: int
    prefix: str  # every route of the face sits under it ("" or "/chatgpt")
    module: str  # the module whose `register(ctx)` adds the tools and returns any extra routes

    def register(self, ctx: FaceContext) -> list[BaseRoute]:
        """Add this face's tools to `ctx.server`; return the routes it serves beside MCP (e.g. record pages)."""
        register = cast("Callable[[FaceContext], list[BaseRoute]]", importlib.import_module(self.module).register)
        return register(ctx)


FACES: dict[str, Face] = {
    "claude": Face("claude", 8008, "", "mssql_mcp.faces.claude"),
    "chatgpt": Face("chatgpt", 8009, "/chatgpt", "mssql_mcp.faces.chatgpt.tools"),
}
