"""Our server on its SQL Server path, talking TDS to the test server (tests/support/tds) over the same file."""

from __future__ import annotations

from pathlib import Path

from bench.targets import ROOT, Target


def target(db: Path, notes: list[str]) -> Target | None:
    if not (ROOT / "tests" / "support" / "tds").is_dir():
        notes.append("mssql-mcp (SQL Server via TDS): left out, the TDS test server is not in the tree")
        return None
    notes.append("mssql-mcp (SQL Server via TDS): not wired in yet")
    return None
