"""Database backends. `open_database(settings)` picks one: SQL Server when MSSQL_HOST is set, else SQLite."""

from __future__ import annotations

import logging

from mssql_mcp.db.base import Database
from mssql_mcp.settings import Settings

log = logging.getLogger("mssql_mcp.db")


def open_database(settings: Settings) -> Database:
    """Build the configured backend. It connects lazily, so an unreachable server does not stop the start."""
    if settings.uses_mssql:
        from mssql_mcp.db.mssql import MssqlDatabase

        return MssqlDatabase(settings)
    from mssql_mcp.db.sqlite import SqliteDatabase
    from mssql_mcp.demo import ensure_demo

    if ensure_demo(settings.sqlite_path):
        log.info("generated the demo database at %s", settings.sqlite_path)
    return SqliteDatabase(
        settings.sqlite_path,
        read_only=settings.read_only_mode,
        max_value_bytes=settings.max_value_bytes,
        max_cell_bytes=settings.max_cell_bytes,
        max_result_bytes=settings.max_result_bytes,
    )
