"""What checking the 100-row answer against its outputSchema costs (docs/performance.md, "Declared output shapes").

    .venv/bin/python scripts/measure_output_check.py

The benchmark's query (bench/targets.py) on the demo database, shaped as execute_sql shapes it, then checked
the two ways the SDK checks it: on the server, pydantic against the tool's declared shape (what
`FuncMetadata.convert_result` runs for every call); on a Python SDK client, jsonschema against the published
outputSchema. Each against our shape (rows an array of arrays) and a shape typed down to every cell.
CPU time (process_time), best of 15 rounds.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NotRequired

from jsonschema.validators import validator_for
from mcp.server.mcpserver.utilities.func_metadata import func_metadata
from mcp_types import CallToolResult, TextContent
from typing_extensions import TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.targets import SQLITE_QUERY  # noqa: E402
from mssql_mcp.db import sqlite as _converters  # noqa: E402, F401  (DECIMAL, MONEY and BIT converters)
from mssql_mcp.demo import generate  # noqa: E402
from mssql_mcp.faces.outputs import QueryResult  # noqa: E402
from mssql_mcp.serialize import json_rows  # noqa: E402


class PerCell(TypedDict):
    """The alternative: every cell typed, so every cell is walked."""

    columns: list[str]
    rows: list[list[int | float | str | bool | None | dict[str, str]]]
    row_count: int
    truncated: bool
    truncated_reason: NotRequired[str]
    elapsed_ms: float


async def ours() -> Annotated[CallToolResult, QueryResult]:
    raise NotImplementedError


async def per_cell() -> Annotated[CallToolResult, PerCell]:
    raise NotImplementedError


def best(fn: Callable[[], Any], n: int, rounds: int = 15) -> float:
    times = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            fn()
        times.append((time.process_time() - started) / n * 1e6)
    return min(times)


def measure(label: str, tool: Callable[[], Any], content: dict[str, Any], n: int) -> None:
    metadata = func_metadata(tool)
    schema = metadata.output_schema or {}
    validator = validator_for(schema)(schema)
    result = CallToolResult(content=[TextContent(type="text", text="")], structured_content=content)
    server = best(lambda: metadata.convert_result(result), 200)
    client = best(lambda: validator.validate(content), n)
    print(f"{label}: server (pydantic) {server:.0f} µs/call, client (jsonschema) {client:.0f} µs/call")


def main() -> None:
    db = Path(tempfile.mkdtemp()) / "demo.sqlite"
    generate(db, scale=1)
    with sqlite3.connect(db, detect_types=sqlite3.PARSE_DECLTYPES) as con:
        cursor = con.execute(SQLITE_QUERY)
        columns = [d[0] for d in cursor.description]
        rows = json_rows(cursor.fetchall())
    content = {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": False, "elapsed_ms": 1.0}
    measure("rows: array of arrays", ours, content, 200)
    measure("every cell typed", per_cell, content, 10)


if __name__ == "__main__":
    main()
